"""Off-GUI-thread analysis jobs and the small widgets the analysis views share.

``BackgroundJob`` runs one function at a time on its own QThread with progress, partial
results and cancel (training, sweeps, the LR range test, the landscape and the gradient check use it);
``JobRegistry`` joins a window's jobs when it closes; ``training_arrays`` copies the training
split on the GUI thread; ``progress_row`` and ``status_label`` build the common controls.
"""

from __future__ import annotations

import traceback
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

from engine.analysis import Cancelled
from engine.trainer import targets_for_loss
from workbench.app.plots.base import PlotView
from workbench.model.tasks import JobFn, TaskState


class _JobWorker(QObject):
    progress = Signal(float)
    partial = Signal(object)
    done = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    ended = Signal()

    def __init__(self, fn: JobFn) -> None:
        super().__init__()
        self.fn = fn
        # Reports become this worker's signals: queued to the GUI thread, in order.
        self.state = TaskState(self.progress.emit, self.partial.emit)

    @Slot()
    def run(self) -> None:
        state, fn = self.state, self.fn
        self.fn = None  # the worker outlives the job until Qt deletes it: it must not keep fn's data
        try:
            result = fn(state)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # shown in the view; the app stays usable
            if state.is_interruption_requested():
                self.cancelled.emit()
            else:
                self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            if state.is_interruption_requested() and result is None:
                self.cancelled.emit()
            else:
                self.done.emit(result)
        self.ended.emit()


class BackgroundJob(QObject):
    """Runs one job function (``fn(state: TaskState)``) at a time on its own QThread.

    Progress, partial results, the result, a failure or a cancel arrive as signals on the GUI
    thread. Every job is joined on ``cancel(join=True)`` and when the owning window closes.
    The training run, sweeps, the LR range test, the landscape and the gradient check all run
    through this one class.
    """

    progress = Signal(float)
    partial = Signal(object)
    finished = Signal(object)  # the function's result
    failed = Signal(str, str)
    cancelled = Signal()
    runningChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: _JobWorker | None = None

    def is_running(self) -> bool:
        return self._thread is not None

    @property
    def thread(self) -> QThread | None:
        """The running job's thread (tests check it was joined)."""
        return self._thread

    def start(self, fn: JobFn, name: str = "analysis") -> bool:
        """Start ``fn`` unless a job is already running (then False)."""
        if self._thread is not None:
            return False
        thread = QThread()
        thread.setObjectName(name)
        worker = _JobWorker(fn)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.ended.connect(thread.quit)
        # Bound slots of this GUI-thread object: queued, so they run on the GUI thread.
        worker.progress.connect(self._on_progress)
        worker.partial.connect(self._on_partial)
        worker.done.connect(self._on_done)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        self.runningChanged.emit(True)
        thread.start()
        return True

    def cancel(self, join: bool = False) -> None:
        if self._worker is not None:
            self._worker.state.request_interruption()
        if join:
            self.join()

    def join(self, timeout_ms: int = 30_000) -> None:
        """Wait for the thread and deliver its queued signals (tests and window close)."""
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(timeout_ms)
            from PySide6.QtCore import QCoreApplication

            QCoreApplication.sendPostedEvents()
            QCoreApplication.processEvents()
            self._on_thread_finished()

    def _sender_is_current(self) -> bool:
        return self.sender() is self._worker

    @Slot(float)
    def _on_progress(self, value: float) -> None:
        if self._sender_is_current():
            self.progress.emit(value)

    @Slot(object)
    def _on_partial(self, value: object) -> None:
        if self._sender_is_current():
            self.partial.emit(value)

    @Slot(object)
    def _on_done(self, value: object) -> None:
        if self._sender_is_current():
            self.finished.emit(value)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        if self._sender_is_current():
            self.failed.emit(message, details)

    @Slot()
    def _on_cancelled(self) -> None:
        if self._sender_is_current():
            self.cancelled.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is None or thread.isRunning():
            return
        self._thread = self._worker = None
        assert worker is not None
        worker.deleteLater()
        thread.deleteLater()
        self.runningChanged.emit(False)


class JobRegistry:
    """Every background job of a window, cancelled and joined in one place when it closes."""

    def __init__(self) -> None:
        self.jobs: list[BackgroundJob] = []

    def add(self, job: BackgroundJob) -> None:
        self.jobs.append(job)

    def cancel_all(self) -> None:
        for job in self.jobs:
            job.cancel(join=True)


def training_arrays(session: Any, max_samples: int | None = None,
                    rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs and loss targets of the training split, copied on the GUI thread.

    With ``max_samples``, a random subset (drawn from ``rng``) keeps long analyses quick.
    """
    trainer = session.trainer
    dtype = session.view_network.params.dtype
    ds = trainer.dataset
    x = np.array(ds.x_train, dtype=dtype)
    y = np.array(targets_for_loss(ds, ds.y_train, trainer.loss, dtype))
    if max_samples is not None and len(x) > max_samples:
        idx = np.sort((rng or np.random.default_rng(0)).choice(len(x), max_samples, replace=False))
        x, y = x[idx], y[idx]
    return x, y


def progress_row(
    view: PlotView, run_text: str, run_tip: str
) -> tuple[QPushButton, QPushButton, QProgressBar]:
    """Run button, Cancel button and a progress bar in a view's control row."""
    run = QPushButton(run_text)
    run.setToolTip(run_tip)
    cancel = QPushButton("Cancel")
    cancel.setToolTip("Stop the computation; nothing is changed.")
    cancel.setEnabled(False)
    bar = QProgressBar()
    bar.setRange(0, 100)
    bar.setMaximumWidth(140)
    bar.setTextVisible(True)
    bar.setValue(0)
    for w in (run, cancel, bar):
        view.controls.addWidget(w)
    return run, cancel, bar


def status_label(view: PlotView, text: str) -> QLabel:
    """A wrapped explanation line under a view's plot (the control row is too narrow for it)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #444; padding: 2px 4px;")
    view.layout().addWidget(label)
    return label
