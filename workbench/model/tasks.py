"""Background work as plain functions: a job reports through a ``TaskState``, as Orange3's do.

A job is ``fn(state) -> result``. It calls ``state.set_progress_value(fraction)`` and
``state.set_partial_result(value)`` to report, and checks ``state.is_interruption_requested()``
(or ``state.raise_if_cancelled()``) between units of work. The state knows nothing of threads
or Qt: ``workbench.app.jobs.BackgroundJob`` runs a job on a QThread and turns the reports into
signals; the CLI and the tests call the same functions directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from engine.analysis import Cancelled

JobFn = Callable[["TaskState"], Any]


def _ignore(_value: object) -> None:
    pass


class TaskState:
    def __init__(self, on_progress: Callable[[float], None] = _ignore,
                 on_partial: Callable[[object], None] = _ignore) -> None:
        self._on_progress = on_progress
        self._on_partial = on_partial
        self._interrupt = threading.Event()
        self._percent = -1

    def set_progress_value(self, fraction: float) -> None:
        """Report progress in [0, 1]; passed on only when the shown percentage moves."""
        percent = int(max(0.0, min(1.0, float(fraction))) * 100)
        if percent != self._percent:
            self._percent = percent
            self._on_progress(percent / 100.0)

    def set_partial_result(self, value: object) -> None:
        self._on_partial(value)

    def request_interruption(self) -> None:
        self._interrupt.set()

    def is_interruption_requested(self) -> bool:
        return self._interrupt.is_set()

    def raise_if_cancelled(self) -> None:
        if self._interrupt.is_set():
            raise Cancelled()
