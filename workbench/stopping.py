"""Signals in the CLI: the first SIGINT, SIGTERM or SIGHUP stops cleanly, a second aborts.

What the first signal does depends on the phase of the command:

- ``loading`` (reading the experiment and its data): nothing to save, so it aborts at once;
- ``training``: the trainer is asked to stop after the current step (or L-BFGS iteration),
  and the run folder is then written as usual;
- ``saving``: the save is short and atomic, so it is allowed to finish.

A second signal raises :class:`Aborted` wherever the program is; a run folder being written
is then removed (it only ever exists under a temporary name until complete).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import TracebackType
from typing import Any, Literal, TextIO

Phase = Literal["loading", "training", "saving"]

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Aborted(BaseException):
    """The run was abandoned after a signal; ``signum`` says which.

    A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception`` may swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal's number (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
    return 128 + int(signum)


class SignalGuard:
    """Installs the handlers for the duration of a ``with`` block (main thread only)."""

    def __init__(self, err: TextIO | None = None) -> None:
        self.err = err or sys.stderr
        self.phase: Phase = "loading"
        self.trainer: Any = None
        self.signum: int | None = None  # the first signal received
        self._previous: dict[int, Any] = {}
        self._active = threading.current_thread() is threading.main_thread()

    def training(self, trainer: Any) -> None:
        self.phase, self.trainer = "training", trainer

    def saving(self) -> None:
        self.phase = "saving"

    def handle(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            raise Aborted(signum)
        self.signum = signum
        name = signal.Signals(signum).name
        if self.phase == "loading":
            raise Aborted(signum)
        if self.phase == "training" and self.trainer is not None:
            self.trainer.request_stop()
            print(f"\n{name}: stopping after this step and saving (send it again to abort)",
                  file=self.err, flush=True)
        else:
            print(f"\n{name}: finishing the save (send it again to abort)", file=self.err, flush=True)

    def __enter__(self) -> SignalGuard:
        if self._active:
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
