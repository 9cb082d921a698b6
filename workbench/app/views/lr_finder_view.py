"""Analyze ▸ Learning-Rate Range Test: where does the loss fall fastest as the learning rate grows?

The test (``engine.analysis.lr_range_test``) trains a copy of the experiment's initial weights
(or, when "current weights" is ticked, of the current model) for a hundred steps while the
learning rate grows exponentially; it runs on a worker thread with a progress bar and Cancel.
The plot shows the raw minibatch losses (faint), their smoothed curve and the loss on a fixed
evaluation batch on a log learning-rate axis, with the suggested rate marked, or "inconclusive"
and why; the published rules (fastai, pytorch-lr-finder) are listed beside it. "Apply" makes it
the experiment's learning rate through the same undoable edit the Training panel uses (live at the next step
while training).

The off-thread runner and the shared controls live in ``workbench.app.jobs``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QSpinBox, QWidget

from engine.analysis import LRRangeResult, lr_range_test
from engine.optimizers import OPTIMIZERS
from workbench.app.jobs import BackgroundJob, progress_row, status_label, training_arrays
from workbench.app.panels.common import edit_spec
from workbench.app.plots.base import PlotView, columns
from workbench.model.history import History
from workbench.model.tasks import TaskState

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

LR_TIP = (
    "The learning-rate range test trains a copy of the model for a few steps while the learning rate "
    "grows exponentially. The loss first barely moves (rate too low), then falls fastest, then explodes "
    "(rate too high). The suggestion is where the loss on a fixed evaluation batch falls fastest, "
    "and only when it fell by more than 3x its own noise; otherwise the test says \"inconclusive\" "
    "and why (Smith 2017; the loop is fastai's lr_find)."
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
        self.raw_curve = self.new_curve("minibatch loss", (150, 170, 220, 140))
        self.smooth_curve = self.new_curve("smoothed", (31, 119, 180), width=2)
        self.eval_curve = self.new_curve("fixed-batch loss", (44, 160, 44), width=2)
        for curve in (self.raw_curve, self.smooth_curve, self.eval_curve):
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
        self.current_weights = QCheckBox("current weights")
        self.current_weights.setToolTip("Test the current (trained) weights instead of a copy of the "
                                        "experiment's initial weights.")
        self.controls.addWidget(self.current_weights)
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
        network = s.view_network.copy() if self.current_weights.isChecked() else s.trainer.initial_network()
        loss = s.trainer.loss
        x, y = training_arrays(s)
        batch = spec.training.batch_size
        seed = spec.seed
        steps = self.steps.value()
        self.optimizer_used = name
        self.error = ""

        def work(state: TaskState) -> object:
            from threadpoolctl import threadpool_limits

            # One BLAS thread, as training: the GUI thread keeps a core.
            with threadpool_limits(limits=1, user_api="blas"):
                return lr_range_test(network, loss, x, y, rng=np.random.default_rng(seed),
                                     optimizer_name=name, optimizer_options=options, batch_size=batch,
                                     steps=steps, progress=state.set_progress_value,
                                      cancelled=state.is_interruption_requested)

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
        self.sync_legend()

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
        if len(r.eval_smoothed) == len(r.lrs):
            self.eval_curve.setData(r.lrs, r.eval_smoothed, connect="finite")
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
            text = (f"Suggested learning rate ≈ {lr:.2g} for {opt}{tail}: {r.reason}. "
                    f"Apply uses {self.apply_value:g}.")
            self.hint.setText(text + self.rules_text())
        else:
            self.line.setVisible(False)
            self.hint.setText(f"Inconclusive: {r.reason}." + self.rules_text())

    def rules_text(self) -> str:
        """The published rules side by side, each with its source (they do not test significance)."""
        r = self.result
        if r is None or not r.rules:
            return ""
        parts = [f"{rule.name} {rule.lr:.2g}" if rule.lr is not None else f"{rule.name} none"
                 for rule in r.rules]
        sources = sorted({rule.reference for rule in r.rules})
        return f" Published rules on the smoothed minibatch loss: {', '.join(parts)} ({'; '.join(sources)})."

    def refresh(self, history: History, force: bool = False) -> None:
        # The curves come from the last test, not from the training history.
        if force:
            self.redraw(history)

    def table(self) -> tuple[list[str], np.ndarray]:
        r = self.result
        header = ["lr", "loss", "smoothed", "fixed-batch loss"]
        if r is None:
            return header, np.empty((0, 4))
        return header, columns(r.lrs, r.losses, r.smoothed, r.eval_losses)


def install(host: ViewHost) -> None:
    """Analyze ▸ Learning-Rate Range Test: opens its page and runs the test."""
    view = LRFinderView(host.session)
    host.add_analysis("lr_finder", view, "Learning-Rate Range Test", LR_TIP, run=view.start,
                      separator=True)
