"""The one object widgets talk to: the current experiment, its file, its trainer and run.

Widgets never touch the engine while a run is going. They edit the spec through
``set_spec`` and steer training through ``start``/``pause``/``stop``; views read the
``history`` and ``view_network`` (a GUI-thread copy of the network that holds the weights
the worker last sent), and listen to the signals below.

Signals that views (plots, the "explain the gradients" docks) can use:

- ``specChanged(spec)``: after any edit, open, new or undo.
- ``trainerChanged(trainer | None)``: a new Trainer (fresh weights, dataset built); None when
  the current spec cannot be built (see ``buildError``). Read ``trainer.dataset``/``loss``
  freely; do not call into ``trainer.network`` while ``is_running``: use ``view_network``.
- ``networkUpdated(network)``: ``view_network`` now holds newer weights (≤ ~20×/s while
  training, and once per new trainer).
- ``historyUpdated()``: new rows in ``history`` (≤ ~20×/s while training).
- ``eventsArrived(list)``: the raw batch of StepMetrics / EpochMetrics / RunFinished (declared
  ``object`` so the list is passed as is: ``Signal(list)`` copies it for every connection).
- ``runStateChanged(str)``: 'idle' | 'running' | 'paused' | 'stopping' | 'stopped' |
  'finished' | 'diverged' | 'early_stopped' | 'error'.
- ``runFinished(RunFinished | None)``, ``runError(message, traceback)``.
- ``dirtyChanged(bool)``, ``pathChanged(str)``, ``buildError(str)``.
- ``changeRefused(message)``: an edit could not build (a broken CSV, a loss that does not fit the
  data) and was not applied, so the trained run it would have cleared is kept.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.events import EpochMetrics, RunFinished, StepMetrics
from engine.spec import ExperimentSpec
from workbench.app.jobs import BackgroundJob
from workbench.model.document import ExperimentDocument
from workbench.model.history import History
from workbench.model.live import describe_changes, live_changes
from workbench.model.pace import PaceClock
from workbench.model.training import TrainingTask


class Session(QObject):
    specChanged = Signal(object)
    dirtyChanged = Signal(bool)
    pathChanged = Signal(str)
    buildError = Signal(str)
    trainerChanged = Signal(object)
    networkUpdated = Signal(object)
    historyUpdated = Signal()
    eventsArrived = Signal(object)  # a list
    runStateChanged = Signal(str)
    runFinished = Signal(object)
    runError = Signal(str, str)
    changeRefused = Signal(str)  # an edit that cannot build was refused; the trained run is kept

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = ExperimentDocument()
        self.history = History()
        self.trainer: Any = None
        self.view_network: Any = None
        self.build_error = ""
        # The current run's task (None between runs) and the one job that runs every training.
        self.run: TrainingTask | None = None
        self.training_job = BackgroundJob(self)
        self.training_job.partial.connect(self._on_batch)
        self.training_job.failed.connect(self._on_error)
        self.training_job.finished.connect(self._on_finished)
        self.training_job.cancelled.connect(lambda: self._on_finished(None))
        self.run_state = "idle"
        self.last_epoch: EpochMetrics | None = None
        self.last_step: StepMetrics | None = None
        self.last_finished: RunFinished | None = None
        self.target_epoch = self.spec.training.epochs
        self.steps_per_second = 0.0
        self._rate_mark: tuple[float, int] | None = None
        self.run_started_at: float | None = None
        self.elapsed_before = 0.0
        self.pace_clock = PaceClock(None)  # full speed until the window sets a watch pace
        self._stepping = False  # the current run is one Step Epoch
        self._pause_after_epoch = False
        self.paused_after_epoch: int | None = None  # set when a pause falls on an epoch's end
        # Called before a running training is stopped to apply a structural edit; the main
        # window replaces it with a question to the user.
        self.confirm_reset = lambda: True
        self._rebuild()

    # ------------------------------------------------------------------ spec & files
    @property
    def spec(self) -> ExperimentSpec:
        return self.document.spec

    @property
    def path(self) -> Path | None:
        return self.document.path

    @property
    def dirty(self) -> bool:
        return self.document.dirty

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path else None

    def set_spec(self, spec: ExperimentSpec, undoable: bool = True) -> bool:
        """Make ``spec`` current. Returns False when the user declined stopping a run."""
        if spec == self.spec:
            return True
        old = self.spec
        changes = live_changes(old, spec) if self.trainer is not None else None
        built = None
        if changes is None and self.trainer is not None and (self.is_running or self.trainer.step > 0):
            # A trained run is never thrown away for data (or anything) that cannot be used:
            # build first, and only then ask to clear the run.
            from engine.trainer import Trainer

            try:
                built = Trainer(spec, base_dir=self.base_dir)
            except Exception as exc:
                self.changeRefused.emit(_full_message(exc))
                self.specChanged.emit(self.spec)  # editors snap back to the values in use
                return False
        trained = self.trainer is not None and (self.is_running or self.trainer.step > 0)
        if changes is None and trained:
            if not self.confirm_reset():
                self.specChanged.emit(self.spec)  # editors snap back to the current values
                return False
            self.stop(join=True)
        was_dirty = self.dirty
        self.document.edit(spec, undoable)
        if changes is None:
            self._rebuild(built)
        elif changes:
            self.trainer.set_hyperparameters(**changes)
            if self.trainer.step > 0 or self.is_running:
                self.history.add_marker(self._current_step(), describe_changes(old, spec))
                self.historyUpdated.emit()
        if not self.is_running and old.training.epochs != spec.training.epochs:
            # "done / planned": the plan is the file's epochs, never less than what is done.
            self.target_epoch = max(spec.training.epochs, self.trainer.epoch if self.trainer else 0)
        self.specChanged.emit(spec)
        if self.dirty != was_dirty:
            self.dirtyChanged.emit(self.dirty)
        return True

    def undo(self) -> None:
        target, current = self.document.undo_target(), self.spec
        if target is not None and self.set_spec(target, undoable=False):
            self.document.undone(current)
            self.specChanged.emit(self.spec)  # Redo's state changed even if the spec did not

    def redo(self) -> None:
        target, current = self.document.redo_target(), self.spec
        if target is not None and self.set_spec(target, undoable=False):
            self.document.redone(current)
            self.specChanged.emit(self.spec)

    @property
    def can_undo(self) -> bool:
        return self.document.can_undo

    @property
    def can_redo(self) -> bool:
        return self.document.can_redo

    def _replace(self, spec: ExperimentSpec, path: Path | None) -> None:
        self.stop(join=True)
        self.document.replace(spec, path)
        self.target_epoch = spec.training.epochs
        self._rebuild()
        self.pathChanged.emit(str(path) if path else "")
        self.specChanged.emit(spec)
        self.dirtyChanged.emit(False)

    def new(self, spec: ExperimentSpec | None = None) -> None:
        self._replace(spec or ExperimentSpec(), None)

    def open(self, path: str | Path) -> None:
        """Load a file; raises ExperimentError (with .problems) and leaves everything untouched."""
        from workbench.experiment import load_experiment

        path = Path(path).resolve()
        spec = load_experiment(path)
        self._replace(spec, path)

    def open_run(self, folder: str | Path) -> str:
        """Show a saved run folder: its experiment, its curves and, if present, its weights.

        Everything is read and checked before the current experiment is replaced; returns a
        one-line note for the status bar."""
        from workbench.runs import read_run

        folder = Path(folder)
        record = read_run(folder)
        if not isinstance(record.summary, dict):
            raise ValueError("summary.json does not hold an object")
        metric = record.metric_name
        rename = {f"train_{metric}": "train_metric", f"val_{metric}": "val_metric"}
        columns = {rename.get(k, k): v for k, v in record.columns.items()}
        keep = {k: v for k, v in columns.items()
                if k in ("epoch", "step", "train_loss", "val_loss", "train_metric", "val_metric", "lr",
                         "seconds") or k.startswith("grad_norm/")}
        self.new(record.spec)
        self.history.load_columns(keep, metric)
        note = f"Run {folder.name}: {record.summary.get('status', '')}"
        if record.weights is not None and self.trainer is not None:
            try:
                from workbench.export import fit_weights

                fit_weights(self.trainer.network, record.weights, source=str(folder / "weights.npz"))
                self.view_network.load_state_dict(self.trainer.network.state_dict())
                self.networkUpdated.emit(self.view_network)
            except Exception as exc:
                note = f"{note} · weights not loaded: {exc}"
        elif record.weights_error:
            note = f"{note} · weights not loaded: {record.weights_error}"
        self.historyUpdated.emit()
        return note

    def save(self, path: str | Path | None = None) -> Path:
        from workbench.experiment import save_experiment

        target = Path(path).resolve() if path is not None else self.path
        if target is None:
            raise ValueError("no file name: use save(path)")
        save_experiment(self.spec, target)
        moved = target != self.path
        self.document.mark_saved(target)
        if moved:
            self.pathChanged.emit(str(target))
        self.dirtyChanged.emit(False)
        return target

    # ------------------------------------------------------------------ trainer
    def _rebuild(self, built: Any = None) -> None:
        """A fresh Trainer for the current spec (new weights, or ``built``); history starts over."""
        from engine.trainer import Trainer

        self.history.clear()
        self.last_epoch = self.last_step = self.last_finished = None
        self.elapsed_before = 0.0
        self.steps_per_second = 0.0
        try:
            self.trainer = built if built is not None else Trainer(self.spec, base_dir=self.base_dir)
            self.view_network = self.trainer.network.copy()
            self.history.metric_name = self.trainer.metric_name
            self.build_error = ""
        except Exception as exc:  # shown inline by the editors; never a crash
            self.trainer = None
            self.view_network = None
            self.build_error = _friendly(exc)
        self.target_epoch = self.spec.training.epochs
        self._set_state("idle")
        self.buildError.emit(self.build_error)
        self.trainerChanged.emit(self.trainer)
        self.historyUpdated.emit()
        if self.view_network is not None:
            self.networkUpdated.emit(self.view_network)

    def reset_weights(self) -> None:
        self.stop(join=True)
        self._rebuild()

    # ------------------------------------------------------------------ running
    @property
    def is_running(self) -> bool:
        return self.run is not None and self.training_job.is_running()

    def _set_state(self, state: str) -> None:
        if state != self.run_state:
            self.run_state = state
            self.runStateChanged.emit(state)

    def start(self) -> None:
        """Start, or resume a paused run (F5)."""
        if self.is_running:
            if self.run_state == "paused":
                self.resume()
            return
        if self.trainer is None:
            return
        if self.trainer.status == "diverged":
            self._rebuild()  # NaN weights cannot continue
        remaining = self.target_epoch - self.trainer.epoch
        if remaining <= 0:
            self.target_epoch = self.trainer.epoch + self.spec.training.epochs
            remaining = self.spec.training.epochs
        self._launch(remaining)

    def step_epoch(self) -> None:
        """Train exactly one more epoch (F10), then pause; while running, does nothing."""
        if self.trainer is None:
            return
        if self.run_state == "paused" and self.is_running:
            # Paused mid-run: finish the current epoch; the task pauses itself at its end.
            self._pause_after_epoch = True
            self.run.pause_at_epoch_end()
            self.resume()
            return
        if self.is_running:
            return
        if self.trainer.status == "diverged":
            self._rebuild()
        self.target_epoch = max(self.target_epoch, self.trainer.epoch + 1)
        self._stepping = True
        self._launch(1)

    def _launch(self, epochs: int) -> None:
        self._join_finished()
        self.paused_after_epoch = None
        self.run = TrainingTask(self.trainer, epochs, clock=self.pace_clock)
        self.run_started_at = time.monotonic()
        self._rate_mark = (time.monotonic(), self.trainer.step)
        self._set_state("running")
        self.training_job.start(self.run, "training")

    def _current_step(self) -> int:
        if self.last_step is not None:
            return int(self.last_step.step)
        return int(self.trainer.step) if self.trainer is not None else 0

    @property
    def pace(self) -> float | None:
        """Training steps per second, or None for full speed."""
        return self.pace_clock.rate

    def set_pace(self, rate: float | None) -> None:
        """Change the watch pace; a running run follows from its next step."""
        self.pace_clock.set_rate(rate)

    def pause(self) -> None:
        if self.run is not None and self.run_state == "running":
            self.run.pause()
            self._stop_clock()
            self._set_state("paused")
            # The worker is blocked once paused: pull what it had buffered.
            QTimer.singleShot(120, self._flush_paused)

    def _flush_paused(self) -> None:
        if self.run is not None and self.run_state == "paused":
            self.run.flush()

    def _stop_clock(self) -> None:
        """Paused time is not training time: bank what ran so far."""
        if self.run_started_at is not None:
            self.elapsed_before += time.monotonic() - self.run_started_at
            self.run_started_at = None

    def resume(self) -> None:
        self.paused_after_epoch = None
        if self.run is not None and self.run_state == "paused":
            self.run_started_at = time.monotonic()
            self._rate_mark = (time.monotonic(), self.trainer.step)
            self.run.resume()
            self._set_state("running")

    def toggle_pause(self) -> None:
        if self.run_state == "paused":
            self.resume()
        else:
            self.pause()

    def stop(self, join: bool = False) -> None:
        """Ask the run to stop (Shift+F5); with ``join`` wait until the thread has ended."""
        if self.run is None:
            return
        if self.is_running:
            self._set_state("stopping")
            self.run.request_stop()
        if join:
            self._join_finished()

    def shutdown(self) -> None:
        """On close: stop and join; never leaves a running thread behind."""
        self.stop(join=True)

    def _join_finished(self) -> None:
        """Wait for the run's thread and take in what it sent before it ended."""
        if self.run is not None:
            self.run.request_stop()
        self.training_job.join()
        self.run = None

    @property
    def elapsed(self) -> float:
        if self.trainer is None:
            return 0.0
        if not self.is_running:
            return float(self.trainer.seconds)
        started = self.run_started_at
        return self.elapsed_before + (time.monotonic() - started if started is not None else 0.0)

    # ------------------------------------------------------------------ worker slots
    @Slot(object)
    def _on_batch(self, batch: object) -> None:
        if self.run is None:
            return  # a late batch from a run that was stopped and replaced
        events, state = batch  # type: ignore[misc]
        self.history.extend(events)
        # The latest of each kind: from the end, a batch holds hundreds of steps per epoch.
        last_step = last_epoch = None
        for event in reversed(events):
            if last_step is None and isinstance(event, StepMetrics):
                last_step = event
            elif last_epoch is None and isinstance(event, EpochMetrics):
                last_epoch = event
            if last_step is not None and last_epoch is not None:
                break
        self.last_step = last_step or self.last_step
        self.last_epoch = last_epoch or self.last_epoch
        if last_epoch is not None and self._pause_after_epoch and self.run_state == "running":
            self._pause_after_epoch = False  # the task has paused itself at this epoch's end
            self._stop_clock()
            self._set_state("paused")
            self.paused_after_epoch = last_epoch.epoch
        if self.last_step is not None and self._rate_mark is not None and self.run_state == "running":
            t0, s0 = self._rate_mark
            now = time.monotonic()
            if now - t0 >= 0.5:
                rate = (self.last_step.step - s0) / (now - t0)
                self.steps_per_second = rate if self.steps_per_second == 0 else (
                    0.5 * self.steps_per_second + 0.5 * rate
                )
                self._rate_mark = (now, self.last_step.step)
        if isinstance(state, dict) and self.view_network is not None:
            try:
                self.view_network.load_state_dict(state)
                self.networkUpdated.emit(self.view_network)
            except ValueError:
                pass
        if events:
            self.eventsArrived.emit(events)
            self.historyUpdated.emit()

    @Slot(str, str)
    def _on_error(self, message: str, details: str) -> None:
        if self.run is None:
            return
        self._set_state("error")
        self.runError.emit(message, details)
        self._on_finished(None)

    @Slot(object)
    def _on_finished(self, result: object) -> None:
        if self.run is None:
            return
        self.run = None
        if self.trainer is not None:
            self.elapsed_before = float(self.trainer.seconds)
        self.last_finished = result if isinstance(result, RunFinished) else None
        stepped, self._stepping = self._stepping, False
        if self.run_state != "error":
            status = result.status if isinstance(result, RunFinished) else "stopped"
            if stepped and status == "finished" and self.trainer is not None and (
                    self.trainer.epoch < self.target_epoch):
                status = "paused"  # one epoch stepped: the run goes on with F5 or F10
                self.paused_after_epoch = self.trainer.epoch
            self._set_state(status)
        self.runFinished.emit(result)


def _full_message(exc: Exception) -> str:
    """Every line of why a spec cannot be built, for a dialog (never clipped)."""
    return str(exc).strip() or type(exc).__name__


def _friendly(exc: Exception) -> str:
    """Why the spec cannot be built, whole, for the inline message (which wraps; never clipped).

    The readers cap their own problem lists, so this stays a few lines."""
    return str(exc).strip() or type(exc).__name__
