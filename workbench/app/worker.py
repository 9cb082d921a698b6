"""Drive ``Trainer.run()`` on a QThread and hand its events to the GUI in batches.

The worker's ``run`` blocks its thread's event loop for the whole run, so queued slot calls
would never reach it: stop, pause and "change the learning rate now" go straight to the
Trainer's own thread-safe methods instead. Events are buffered and emitted at most every
``interval`` seconds (and on finish, and on an explicit ``flush`` from the GUI thread when
paused), so the GUI thread is never flooded and nothing is dropped. A fast run (more than
``busy_events`` per interval) is batched up to ``max_interval``: each batch costs the GUI thread
a fixed amount of Python besides its rows, and the GUI thread's Python is the trainer's lost time.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.events import EpochMetrics, RunFinished, StepMetrics
from workbench.model.pace import PaceClock


@dataclass(frozen=True)
class ParamsSnapshot:
    """The flat parameters at the end of an epoch, sent along with that epoch's metrics.

    Weight snapshots sent for drawing come at most a few times a second, which a fast run
    outpaces (30 epochs of the default spiral take ~40 ms); views that need the weights'
    path over time (the loss landscape) read these instead: one per epoch, however fast.
    """

    epoch: int
    step: int
    params: np.ndarray


class TrainingWorker(QObject):
    """Runs one ``trainer.run(epochs)`` call; lives on its own QThread."""

    # events (list of StepMetrics / EpochMetrics / RunFinished) and a copy of the network state;
    # declared ``object``: a ``list`` signal argument is copied element by element on every emit.
    batch = Signal(object, object)
    error = Signal(str, str)  # message, traceback
    finished = Signal(object)  # the RunFinished, or None after an exception

    def __init__(self, trainer: Any, epochs: int | None, interval: float = 0.05,
                 max_interval: float = 0.2, busy_events: int = 200, clock: PaceClock | None = None) -> None:
        super().__init__()
        self.trainer = trainer
        self.clock = clock or PaceClock(None)
        self._stopping = False
        self.epochs = epochs
        self.interval = interval
        self.max_interval = max(max_interval, interval)
        self.busy_events = busy_events
        self.emits = 0  # batches sent: tests check it is far below the number of steps
        self._lock = threading.Lock()
        self._pending: list[object] = []
        self._state_dirty = False

    @Slot()
    def run(self) -> None:
        result: RunFinished | None = None
        try:
            # Trainer.run limits BLAS to the spec's thread count itself.
            last = time.monotonic()
            for event in self.trainer.run(self.epochs):
                with self._lock:
                    self._pending.append(event)
                    if type(event) is EpochMetrics:
                        params = self.trainer.network.params.copy()
                        self._pending.append(ParamsSnapshot(event.epoch, event.step, params))
                    self._state_dirty = True
                if isinstance(event, RunFinished):
                    result = event
                now = time.monotonic()
                waited = now - last
                if waited >= self.interval and (
                    waited >= self.max_interval or len(self._pending) < self.busy_events
                ):
                    self.flush()
                    last = now
                if type(event) is StepMetrics:
                    self.clock.wait_for_next(self._is_stopping)
            self.flush()
        except Exception as exc:  # the GUI shows it; the app stays usable
            self.flush()
            self.error.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        self.finished.emit(result)

    def flush(self) -> None:
        """Emit what is buffered. Safe from any thread (the GUI calls it when a run pauses)."""
        with self._lock:
            events, self._pending = self._pending, []
            dirty, self._state_dirty = self._state_dirty, False
            # Between steps the generator is suspended (or paused), so a copy here is consistent.
            state = _state_copy(self.trainer) if dirty else None
        if events or state is not None:
            self.emits += 1
            self.batch.emit(events, state)

    # -- thread-safe controls: the Trainer reads them between steps ---------------------------
    def _is_stopping(self) -> bool:
        return self._stopping

    def request_stop(self) -> None:
        self._stopping = True
        self.clock.wake()  # a run held to a slow pace must not sleep through the stop
        self.trainer.request_stop()
        self.trainer.resume()  # a paused run must wake up to notice the stop

    def pause(self) -> None:
        self.trainer.pause()

    def resume(self) -> None:
        self.trainer.resume()

    def set_hyperparameters(self, **changes: float) -> None:
        self.trainer.set_hyperparameters(**changes)


def _state_copy(trainer: Any) -> dict | None:
    try:
        return trainer.network.state_dict()
    except Exception:
        return None


class TrainingThread(QObject):
    """Owns a worker and its QThread: start, stop and always join."""

    def __init__(self, trainer: Any, epochs: int | None, parent: QObject | None = None,
                 clock: PaceClock | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("training")
        self.worker = TrainingWorker(trainer, epochs, clock=clock)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.thread.quit)

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def stop_and_join(self, timeout_ms: int = 10_000) -> bool:
        """Ask the run to stop, wait for the thread; True when it has ended."""
        if self.thread.isRunning():
            self.worker.request_stop()
            self.thread.quit()
            return bool(self.thread.wait(timeout_ms))
        self.thread.wait(timeout_ms)
        return True
