"""Analyze ▸ Learning-Rate Range Test: where does the loss fall fastest as the learning rate grows?

The test (``engine.analysis.lr_range_test``) trains a copy of the current model for a hundred
steps while the learning rate grows exponentially; it runs on a worker thread with a progress
bar and Cancel. The plot shows the raw minibatch losses (faint) and their smoothed curve on a
log learning-rate axis, with the suggested rate marked; "Apply" makes it the experiment's
learning rate through the same undoable edit the Training panel uses (live at the next step
while training).

This module also holds ``BackgroundJob``, the small off-GUI-thread runner the landscape and
sweep views share.
"""

from __future__ import annotations

import math
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QSpinBox, QWidget

from engine.analysis import Cancelled, LRRangeResult, lr_range_test
from engine.optimizers import OPTIMIZERS
from engine.trainer import targets_for_loss
from workbench.app.history import History
from workbench.app.panels.common import edit_spec
from workbench.app.plots.base import PlotView, columns

if TYPE_CHECKING:
    from workbench.app.main_window import MainWindow

# (progress, cancelled, partial): what a job function receives to report and to stop.
JobFn = Callable[[Callable[[float], None], Callable[[], bool], Callable[[object], None]], object]


# ----------------------------------------------------------------------------- background jobs
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
        self.cancel_event = threading.Event()
        self._last_percent = -1

    def _progress(self, fraction: float) -> None:
        # Emit only when the shown percentage moves: a few hundred signals at most per job.
        percent = int(max(0.0, min(1.0, float(fraction))) * 100)
        if percent != self._last_percent:
            self._last_percent = percent
            self.progress.emit(percent / 100.0)

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn(self._progress, self.cancel_event.is_set, self.partial.emit)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # shown in the view; the app stays usable
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.done.emit(result)
        self.ended.emit()


class BackgroundJob(QObject):
    """Runs one function at a time on its own QThread; signals arrive on the GUI thread.

    The function gets ``progress(fraction)``, ``cancelled() -> bool`` and ``partial(obj)``;
    it should check ``cancelled()`` often and raise ``engine.analysis.Cancelled``. Every
    job is joined on ``cancel(join=True)`` and when the owning window closes.
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
            self._worker.cancel_event.set()
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


class _CloseWatcher(QObject):
    """Cancels and joins a window's analysis jobs when it closes: no QThread outlives it."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.jobs: list[BackgroundJob] = []
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            for job in self.jobs:
                job.cancel(join=True)
        return False


def register_job(window: QWidget, job: BackgroundJob) -> None:
    """Join ``job`` when ``window`` closes."""
    watcher = getattr(window, "_analysis_close_watcher", None)
    if watcher is None:
        watcher = _CloseWatcher(window)
        window._analysis_close_watcher = watcher  # type: ignore[attr-defined]
    watcher.jobs.append(job)


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


# ----------------------------------------------------------------------------- the view
LR_TIP = (
    "The learning-rate range test trains a copy of the model for a few steps while the learning rate "
    "grows exponentially. The loss first barely moves (rate too low), then falls fastest, then explodes "
    "(rate too high). A good learning rate sits where the smoothed loss falls fastest, well before it "
    "blows up (Smith 2017; fastai's lr_find)."
)


class LRFinderView(PlotView):
    title = "Learning-rate range test"

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.result: LRRangeResult | None = None
        self.optimizer_used = ""
        self.error = ""
        self.job = BackgroundJob(self)
        p = self.plot_item
        p.setLogMode(x=True, y=False)
        p.setLabel("bottom", "learning rate")
        p.setLabel("left", "loss")
        p.addLegend(offset=(-10, 10))
        self.raw_curve = self.new_curve("minibatch loss", (150, 170, 220, 140))
        self.smooth_curve = self.new_curve("smoothed", (31, 119, 180), width=2)
        for curve in (self.raw_curve, self.smooth_curve):
            curve.setDownsampling(auto=False)  # ~100 points: draw them all
        # InfiniteLine does not follow log mode: its value is log10(lr).
        self.line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((214, 39, 40), width=2,
                                                                           style=Qt.PenStyle.DashLine),
                                    label="", labelOpts={"position": 0.06, "color": (214, 39, 40),
                                                         "fill": (255, 255, 255, 200)})
        self.line.setVisible(False)
        p.addItem(self.line, ignoreBounds=True)

        self.steps = QSpinBox()
        self.steps.setRange(20, 5000)
        self.steps.setSingleStep(50)
        self.steps.setValue(100)
        self.steps.setToolTip("Training steps of the test, spread over 1e-6 … 10. Hard problems show "
                              "their descent only with more steps.")
        self.controls.addWidget(QLabel("steps"))
        self.controls.addWidget(self.steps)
        self.run_button, self.cancel_button, self.progress = progress_row(
            self, "Run test", "Run the range test on a copy of the current model and training data "
            "(your model and its training are not touched).")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Use the suggested learning rate for this experiment (undoable with "
                                     "Ctrl+Z; while training, it takes effect at the next step).")
        self.apply_button.setEnabled(False)
        self.controls.addWidget(self.apply_button)
        self.controls.addStretch(1)
        self.hint = status_label(self, "Run the test to find a learning rate.")
        self.setToolTip(LR_TIP)
        self.plot_widget.setToolTip(LR_TIP)

        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(lambda: self.job.cancel())
        self.apply_button.clicked.connect(self.apply)
        self.job.progress.connect(lambda v: self.progress.setValue(round(v * 100)))
        self.job.finished.connect(self._on_result)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(self._on_cancelled)
        self.job.runningChanged.connect(self._running_changed)
        session.trainerChanged.connect(lambda _t: self._update_buttons())

    # -- running -------------------------------------------------------------------------
    @property
    def suggested_lr(self) -> float | None:
        return self.result.suggested_lr if self.result is not None else None

    @property
    def apply_value(self) -> float | None:
        """The suggestion rounded to 2 significant digits: a rate a person can read and type."""
        lr = self.suggested_lr
        return float(f"{lr:.2g}") if lr is not None else None

    def start(self) -> bool:
        s = self.session
        if self.job.is_running() or s.trainer is None or s.view_network is None:
            return False
        spec = s.spec
        name, options = spec.optimizer.name, dict(spec.optimizer.options)
        if OPTIMIZERS.get(name).needs_closure:
            # L-BFGS takes full-batch line-search steps: the test needs minibatch steps.
            name, options = "sgd", {}
        network = s.view_network.copy()
        loss = s.trainer.loss
        x, y = training_arrays(s)
        batch = spec.training.batch_size
        seed = spec.seed
        steps = self.steps.value()
        self.optimizer_used = name
        self.error = ""

        def work(progress: Callable[[float], None], cancelled: Callable[[], bool], _partial: Any) -> object:
            from threadpoolctl import threadpool_limits

            # One BLAS thread, as training: the GUI thread keeps a core.
            with threadpool_limits(limits=1, user_api="blas"):
                return lr_range_test(network, loss, x, y, rng=np.random.default_rng(seed),
                                     optimizer_name=name, optimizer_options=options, batch_size=batch,
                                     steps=steps, progress=progress, cancelled=cancelled)

        self.progress.setValue(0)
        self.hint.setText(f"Running the range test with {name}…")
        return self.job.start(work, "lr-range-test")

    def cancel(self, join: bool = False) -> None:
        self.job.cancel(join=join)

    @Slot(object)
    def _on_result(self, result: object) -> None:
        assert isinstance(result, LRRangeResult)
        self.set_result(result)

    def set_result(self, result: LRRangeResult) -> None:
        self.result = result
        self.redraw(None)
        self._update_buttons()

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self.error = message
        self.hint.setText(f"The test failed: {message}")

    @Slot()
    def _on_cancelled(self) -> None:
        self.progress.setValue(0)
        self.hint.setText("Cancelled." if self.result is None else "Cancelled; showing the previous result.")

    @Slot(bool)
    def _running_changed(self, running: bool) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.job.is_running()
        self.run_button.setEnabled(not running and self.session.trainer is not None)
        self.cancel_button.setEnabled(running)
        self.apply_button.setEnabled(not running and self.apply_value is not None)

    # -- applying ------------------------------------------------------------------------
    def apply(self) -> bool:
        value = self.apply_value
        if value is None:
            return False
        ok = edit_spec(self.session, lambda d: d["optimizer"].__setitem__("lr", value),
                       lambda msg: msg and self.hint.setText(msg))
        if ok:
            self.hint.setText(f"Learning rate set to {value:g} (Ctrl+Z undoes it).")
        return ok

    # -- drawing -------------------------------------------------------------------------
    def redraw(self, history: History | None) -> None:
        r = self.result
        if r is None:
            return
        # Non-finite losses (the explosion at the end) are left out: log/auto-range choke on them.
        raw = np.where(np.isfinite(r.losses), r.losses, np.nan)
        self.raw_curve.setData(r.lrs, raw, connect="finite")
        self.smooth_curve.setData(r.lrs, r.smoothed, connect="finite")
        finite = np.concatenate([raw[np.isfinite(raw)], r.smoothed[np.isfinite(r.smoothed)]])
        if finite.size:
            # Clip the view to the interesting range: the exploding tail would flatten the rest.
            smooth = r.smoothed[np.isfinite(r.smoothed)]
            lo, hi = float(finite.min()), float(smooth.max()) if smooth.size else float(finite.max())
            first = float(r.smoothed[0]) if np.isfinite(r.smoothed[0]) else hi
            top = max(first * 1.5, lo * 1.1, min(hi, 4 * first))
            self.plot_item.setXRange(math.log10(r.lrs[0]), math.log10(r.lrs[-1]), padding=0.02)
            self.plot_item.setYRange(lo - 0.05 * (top - lo), top, padding=0.02)
        lr = r.suggested_lr
        if lr is not None:
            self.line.setVisible(True)  # before the label: a hidden label ignores new text
            self.line.setValue(math.log10(lr))
            self.line.label.setFormat(f"suggested {lr:.2g}")
            tail = " (stopped early: the loss exploded)" if r.diverged else ""
            opt = self.optimizer_used or "the optimizer"
            text = f"Suggested learning rate ≈ {lr:.2g} for {opt}{tail}. Apply uses {self.apply_value:g}."
            if not self.clear_descent():
                text += (" Caution: the loss barely fell during the test, so this suggestion is weak; try "
                         "more steps.")
            self.hint.setText(text)
        else:
            self.line.setVisible(False)
            self.hint.setText("No suggestion: the loss never fell clearly. Try another range or model.")

    def clear_descent(self) -> bool:
        """Whether the smoothed loss fell clearly (≥ 10 %) below its early level during the test."""
        r = self.result
        if r is None:
            return False
        smooth = r.smoothed[np.isfinite(r.smoothed)]
        if len(smooth) < 5:
            return False
        early = float(np.median(smooth[: max(2, len(smooth) // 5)]))
        return float(smooth.min()) < 0.9 * early

    def refresh(self, history: History, force: bool = False) -> None:
        # The curves come from the last test, not from the training history.
        if force:
            self.redraw(history)

    def table(self) -> tuple[list[str], np.ndarray]:
        r = self.result
        if r is None:
            return ["lr", "loss", "smoothed"], np.empty((0, 3))
        return ["lr", "loss", "smoothed"], columns(r.lrs, r.losses, r.smoothed)


def install(window: MainWindow) -> None:
    from workbench.app.views import analyze_menu

    view = LRFinderView(window.session)
    dock = window.add_view_dock(view.title, view)
    dock.hide()
    register_job(window, view.job)
    window.lr_finder_view = view  # type: ignore[attr-defined]

    def open_and_run() -> None:
        dock.show()
        dock.raise_()
        view.start()

    action = QAction("Learning-Rate Range Test", window)
    action.setToolTip(LR_TIP)
    action.setStatusTip("Find a good learning rate: train a copy briefly while the rate grows.")
    action.triggered.connect(lambda _checked=False: open_and_run())
    analyze_menu(window).addAction(action)
    window.lr_finder_action = action  # type: ignore[attr-defined]
