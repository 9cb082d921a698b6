"""A training run as a background job: ``TrainingTask(trainer, epochs)(state)``.

The task drives ``Trainer.run()`` and hands its events on in batches through
``state.set_partial_result((events, weights))``: at most every ``interval`` seconds (and on
finish, and on an explicit ``flush`` from another thread when paused), so the GUI thread is
never flooded and nothing is dropped. A fast run (more than ``busy_events`` per interval) is
batched up to ``max_interval``: each batch costs the GUI thread a fixed amount of Python
besides its rows, and the GUI thread's Python is the trainer's lost time.

Stop, pause and "change the learning rate now" go straight to the Trainer's own thread-safe
methods. The pace clock holds the loop to a watch pace between steps.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.events import EpochMetrics, RunFinished, StepMetrics
from engine.recurrent import time_gradient_probe
from workbench.model.pace import PaceClock
from workbench.model.tasks import TaskState


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


class TrainingTask:
    def __init__(self, trainer: Any, epochs: int | None, clock: PaceClock | None = None,
                 interval: float = 0.05, max_interval: float = 0.2, busy_events: int = 200) -> None:
        self.trainer = trainer
        self.epochs = epochs
        self.clock = clock or PaceClock(None)
        self.interval = interval
        self.max_interval = max(max_interval, interval)
        self.busy_events = busy_events
        self.emits = 0  # batches sent: tests check it is far below the number of steps
        self._lock = threading.Lock()
        self._pending: list[object] = []
        self._state_dirty = False
        self._stopping = False
        self._pause_at_epoch_end = False
        self._state: TaskState | None = None

    def __call__(self, state: TaskState) -> RunFinished | None:
        self._state = state
        result: RunFinished | None = None
        last = time.monotonic()
        try:
            # Trainer.run limits BLAS to the spec's thread count itself.
            probe = time_gradient_probe(self.trainer.network)  # recurrent layers only
            for event in self.trainer.run(self.epochs):
                with self._lock:
                    self._pending.append(event)
                    if probe is not None and type(event) is StepMetrics:
                        # The generator is suspended right after this step: its record is current.
                        self._pending.append(probe(event.step))
                    if type(event) is EpochMetrics:
                        params = self.trainer.network.params.copy()
                        self._pending.append(ParamsSnapshot(event.epoch, event.step, params))
                    self._state_dirty = True
                if isinstance(event, RunFinished):
                    result = event
                if type(event) is EpochMetrics and self._pause_at_epoch_end:
                    # Step Epoch on a paused run: stop exactly here, before the next step begins.
                    self._pause_at_epoch_end = False
                    self.trainer.pause()
                    self.flush()
                    last = time.monotonic()
                    continue
                now = time.monotonic()
                waited = now - last
                if waited >= self.interval and (
                    waited >= self.max_interval or len(self._pending) < self.busy_events
                ):
                    self.flush()
                    last = now
                if type(event) is StepMetrics:
                    if state.is_interruption_requested() and not self._stopping:
                        self.request_stop()  # the window is closing: end the run cleanly
                    self.clock.wait_for_next(self._is_stopping)
        finally:
            self.flush()  # nothing the run produced before a failure is lost
            # The state reports through its job's signals: holding it would keep the job's worker,
            # and through it this task and its trainer, alive after the run (a leak per run).
            self._state = None
        return result

    def flush(self) -> None:
        """Send what is buffered. Safe from any thread (the GUI calls it when a run pauses)."""
        if self._state is None:
            return
        with self._lock:
            events, self._pending = self._pending, []
            dirty, self._state_dirty = self._state_dirty, False
            # Between steps the generator is suspended (or paused), so a copy here is consistent.
            weights = _state_copy(self.trainer) if dirty else None
        if events or weights is not None:
            self.emits += 1
            self._state.set_partial_result((events, weights))

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

    def pause_at_epoch_end(self) -> None:
        """Let the run go on to the end of the current epoch, then pause it (thread-safe)."""
        self._pause_at_epoch_end = True

    def resume(self) -> None:
        self.trainer.resume()

    def set_hyperparameters(self, **changes: float) -> None:
        self.trainer.set_hyperparameters(**changes)


def _state_copy(trainer: Any) -> dict | None:
    try:
        return trainer.network.state_dict()
    except Exception:
        return None
