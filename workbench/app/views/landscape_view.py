"""Analyze ▸ Loss Landscape: the loss on a 2-D slice of weight space around the current weights.

``engine.analysis.loss_landscape`` evaluates the loss on a grid on a worker thread, with
progress and Cancel, over two directions: random filter-normalised ones (Li et al. 2018), or
the top two principal components of the optimizer's path (Li et al. §7), which show the path's
real shape where random directions see it as a dot. PCA is the default once the path has three
snapshots. The view shows the loss as a colour map with a colour bar and contour lines, and the
path projected onto the plane from its start (square) to the current weights (star).

The path needs the weights over time: ``ParamPath`` records a copy of the flat parameters each
time the session reports newer weights, keeping at most a few hundred by decimation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QSpinBox, QWidget

from engine.analysis import LandscapeResult, loss_landscape
from workbench.app.jobs import (
    BackgroundJob,
    progress_row,
    status_label,
    training_arrays,
)
from workbench.app.plots.base import PlotView
from workbench.model.history import History
from workbench.model.tasks import TaskState
from workbench.model.training import ParamsSnapshot

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

MAX_SNAPSHOTS = 500
# Snapshots of a big network are big: never hold more than ~64 MB of them.
SNAPSHOT_BUDGET_FLOATS = 16_000_000
# A 41×41 grid is 1,681 full forward passes: evaluate on at most this many training samples.
MAX_SAMPLES = 2000
N_CONTOURS = 10
PATH_COLOUR = (255, 140, 0)  # orange: visible on viridis' dark and light ends and on the legend
# PCA needs a path with a shape: start, current weights and at least one point between.
MIN_PCA_SNAPSHOTS = 3
SPARSE_PATH = 8  # fewer snapshots than this: say that the path is only an outline
DIRECTIONS = (
    ("random", "random (filter-normalized)",
     "Two random directions, scaled per neuron to its weights' size: an unbiased look at the "
     "neighbourhood, but nearly orthogonal to the path in high dimension (the path shows as a dot)."),
    ("pca", "along the path (PCA)",
     "The two directions in which the optimizer's path moved most (principal components of the "
     "snapshots' offsets from the current weights; Li et al. 2018 §7). The grid is sized to the path. "
     "Needs a recorded path of at least 3 snapshots: train first."),
)

LANDSCAPE_TIP = (
    "The loss on a flat slice through weight space around the current weights (the star). The axes "
    "move all weights along two directions: either the two in which training moved most (PCA of the "
    "path, labelled with the share of the movement each holds), or two random ones scaled per neuron "
    "to the size of its weights (filter normalisation, Li et al. 2018) so that sharp and flat minima "
    "can be compared. Colour is the loss (log scale by default), lines are contours, the orange line "
    "is the path the optimizer took, projected onto this slice, from the square (start) to the star. "
    "A wide, round basin is easy to train and generalises well; narrow valleys and cliffs need small "
    "learning rates."
)


class ParamPath(QObject):
    """Copies of the flat parameters over a run, decimated to at most ``capacity`` snapshots.

    When full, every other snapshot is dropped and only every other later update is kept, so
    the path stays evenly spaced in updates from the start to now.
    """

    def __init__(self, capacity: int = MAX_SNAPSHOTS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self.snapshots: list[np.ndarray] = []
        self.stride = 1
        self._count = 0
        self._cap = capacity

    def clear(self) -> None:
        self.snapshots = []
        self.stride = 1
        self._count = 0
        self._cap = self.capacity

    @Slot(object)
    def record(self, network: Any) -> None:
        self.record_params(network.params)

    def record_params(self, params: np.ndarray) -> None:
        if self.snapshots and self.snapshots[-1].shape != params.shape:
            self.clear()  # another architecture: the old path means nothing here
        if not self.snapshots:
            self._cap = max(4, min(self.capacity, SNAPSHOT_BUDGET_FLOATS // max(params.size, 1)))
        if self._count % self.stride == 0:
            if self.snapshots and np.array_equal(self.snapshots[-1], params):
                return  # the same weights again (e.g. a pause flush): not a step of the path
            self.snapshots.append(params.copy())
            if len(self.snapshots) > self._cap:
                self.snapshots = self.snapshots[::2]
                self.stride *= 2
        self._count += 1


class LandscapeView(PlotView):
    title = "Loss landscape"

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.path = ParamPath(parent=self)
        self.result: LandscapeResult | None = None
        self.error = ""
        self.n_samples = 0
        self.job = BackgroundJob(self)
        p = self.plot_item
        p.setLabel("bottom", "α (direction 1)")
        p.setLabel("left", "β (direction 2)")
        p.setAspectLocked(True)
        p.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="col-major")
        p.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get("viridis"),
                                        interactive=False, width=18)
        self.colorbar.axis.enableAutoSIPrefix(False)
        self.colorbar.setImageItem(self.image, insert_in=p)
        self.contours: list[pg.IsocurveItem] = []
        self.path_curve = pg.PlotDataItem(pen=pg.mkPen(PATH_COLOUR, width=2), symbol="o", symbolSize=4,
                                          symbolBrush=PATH_COLOUR, symbolPen=None, name="optimizer path")
        self.start_marker = pg.ScatterPlotItem(size=11, symbol="s", brush=PATH_COLOUR,
                                               pen=pg.mkPen("k"), name="start")
        self.current_marker = pg.ScatterPlotItem(size=16, symbol="star", brush=(214, 39, 40),
                                                 pen=pg.mkPen("w"), name="current weights")
        for item in (self.path_curve, self.start_marker, self.current_marker):
            p.addItem(item)
            item.setZValue(20)
        # Named items are listed above the plot (PlotView's legend), not on the landscape.

        self.resolution = QSpinBox()
        self.resolution.setRange(5, 151)
        self.resolution.setSingleStep(2)
        self.resolution.setValue(41)
        self.resolution.setToolTip("Grid points per axis. Odd numbers put a point exactly on the current "
                                   "weights. Time grows with the square.")
        self.span = QDoubleSpinBox()
        self.span.setRange(0.01, 20.0)
        self.span.setDecimals(2)
        self.span.setSingleStep(0.25)
        self.span.setValue(1.0)
        self.span.setToolTip("How far along each direction to go: 1 moves every neuron's weights by "
                             "their own size.")
        self.margin = QDoubleSpinBox()
        self.margin.setRange(0.0, 3.0)
        self.margin.setDecimals(2)
        self.margin.setSingleStep(0.25)
        self.margin.setValue(0.25)
        self.margin.setToolTip("Room around the path, as a fraction of its extent on each axis: 0.25 "
                               "shows a quarter of the path's length beyond its ends.")
        self.directions = QComboBox()
        for i, (key, text, tip) in enumerate(DIRECTIONS):
            self.directions.addItem(text, key)
            self.directions.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.directions.setToolTip("Which plane through the current weights to look at. PCA shows the "
                                   "path the optimizer took; random shows an unbiased neighbourhood.")
        self._auto_directions = True  # follow the path's length until the user picks
        self._fallback_text = ""
        self._subset_text = ""
        self.log_box = QCheckBox("log colour")
        self.log_box.setChecked(True)
        self.log_box.setToolTip("Colour by log₁₀ of the loss: losses far from the minimum are orders of "
                                "magnitude larger and would wash out the basin.")
        self.uncentred_box = QCheckBox("uncentred")
        self.uncentred_box.setToolTip("PCA without centring the path's offsets on their mean: the plane "
                                      "closest to the whole path through the current weights. Its "
                                      "percentages are larger and not comparable with the paper's "
                                      "(centred) PCA, the default.")
        self._labels: dict[str, QLabel] = {}
        for text, w in (("directions", self.directions), ("grid", self.resolution), ("span ±", self.span),
                        ("margin", self.margin)):
            self._labels[text] = QLabel(text)
            self.controls.addWidget(self._labels[text])
            self.controls.addWidget(w)
        self.controls.addWidget(self.uncentred_box)
        self.controls.addWidget(self.log_box)
        self.run_button, self.cancel_button, self.progress = progress_row(
            self, "Compute", "Compute the loss around the current weights on a copy of the network.")
        self.controls.addStretch(1)
        self.hint = status_label(self, "Compute the landscape around the current weights. Once training has "
                                 "recorded a path, the directions follow it (PCA).")
        self.setToolTip(LANDSCAPE_TIP)
        self.plot_widget.setToolTip(LANDSCAPE_TIP)

        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(lambda: self.job.cancel())
        self.log_box.toggled.connect(lambda _on: self.redraw(None))
        self.directions.activated.connect(self._directions_picked)
        self.directions.currentIndexChanged.connect(lambda _i: self._show_scale_control())
        self.job.progress.connect(lambda v: self.progress.setValue(round(v * 100)))
        self.job.finished.connect(self._on_result)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(self._on_cancelled)
        self.job.runningChanged.connect(lambda _r: self._update_buttons())
        session.trainerChanged.connect(self._trainer_changed)
        # The path: the initial weights, then one snapshot per epoch from the worker (the live
        # weight updates come too rarely in a fast run to trace it).
        session.networkUpdated.connect(self._weights_updated)
        session.eventsArrived.connect(self._events_arrived)
        if session.view_network is not None:
            self.path.record(session.view_network)
        self._sync_directions()
        self._show_scale_control()

    @Slot(object)
    def _weights_updated(self, network: Any) -> None:
        if not self.path.snapshots:
            self.path.record(network)
            self._sync_directions()

    @Slot(object)
    def _events_arrived(self, events: list) -> None:
        snapshots = [e.params for e in events if type(e) is ParamsSnapshot]
        for params in snapshots:
            self.path.record_params(params)
        if snapshots:
            self._sync_directions()

    @Slot(object)
    def _trainer_changed(self, trainer: Any) -> None:
        # New weights from a fresh initialization: the path starts again (the session emits
        # networkUpdated with the initial weights right after this).
        self.path.clear()
        self._sync_directions()
        self._update_buttons()

    # -- directions ----------------------------------------------------------------------
    def path_for_run(self) -> list[np.ndarray]:
        """The recorded snapshots, ending at the current weights."""
        path = list(self.path.snapshots)
        net = self.session.view_network
        if net is not None and (not path or not np.array_equal(path[-1], net.params)):
            path.append(net.params.copy())
        return path

    def method(self) -> str:
        return str(self.directions.currentData())

    def set_method(self, key: str) -> None:
        """Choose the directions ("random" or "pca") as the user would: the choice then sticks."""
        self.directions.setCurrentIndex(self.directions.findData(key))
        self._auto_directions = False

    @Slot(int)
    def _directions_picked(self, _index: int) -> None:
        self._auto_directions = False

    def _sync_directions(self) -> None:
        """PCA once the path has a shape, random before: until the user picks one."""
        if not self._auto_directions or self.job.is_running():
            return
        n = len(self.path.snapshots)
        if n < MIN_PCA_SNAPSHOTS:  # only then can the current weights tip the balance
            n = len(self.path_for_run())
        key = "pca" if n >= MIN_PCA_SNAPSHOTS else "random"
        index = self.directions.findData(key)
        if index != self.directions.currentIndex():
            self.directions.setCurrentIndex(index)

    def _show_scale_control(self) -> None:
        pca = self.method() == "pca"
        for widget in (self.span, self._labels["span ±"]):
            widget.setVisible(not pca)
        for widget in (self.margin, self._labels["margin"], self.uncentred_box):
            widget.setVisible(pca)

    # -- running -------------------------------------------------------------------------
    def start(self) -> bool:
        s = self.session
        if self.job.is_running() or s.trainer is None or s.view_network is None:
            return False
        network = s.view_network.copy()
        loss = s.trainer.loss
        rng = np.random.default_rng(s.spec.seed)
        x, y = training_arrays(s, MAX_SAMPLES, rng)
        self.n_samples = len(x)
        n_total = len(s.trainer.dataset.x_train)
        path = self.path_for_run()  # the path ends at the current weights
        resolution, span, margin = self.resolution.value(), self.span.value(), self.margin.value()
        method = self.method()
        self._fallback_text = ""
        if method == "pca" and len(path) < MIN_PCA_SNAPSHOTS:
            method = "random"
            self._fallback_text = (f" Random directions: the recorded path has {len(path)} snapshot"
                                   f"{'s' if len(path) != 1 else ''}; train a few steps to see the "
                                   "landscape along the optimizer's path (PCA).")
        seed = s.spec.seed
        centred = not self.uncentred_box.isChecked()
        self.error = ""

        def work(state: TaskState) -> object:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1, user_api="blas"):
                return loss_landscape(network, loss, x, y, rng=np.random.default_rng(seed),
                                      resolution=resolution, span=span, path=path, directions=method,
                                      margin=margin, pca_centered=centred,
                                      progress=state.set_progress_value,
                                      cancelled=state.is_interruption_requested)

        self.progress.setValue(0)
        subset = f" on {len(x):,} of {n_total:,} training samples" if len(x) < n_total else ""
        along = "along the path's principal components" if method == "pca" else "along random directions"
        self.hint.setText(f"Computing a {resolution}×{resolution} grid {along}{subset}…"
                          + self._fallback_text)
        self._subset_text = subset
        return self.job.start(work, "loss-landscape")

    def cancel(self, join: bool = False) -> None:
        self.job.cancel(join=join)

    @Slot(object)
    def _on_result(self, result: object) -> None:
        assert isinstance(result, LandscapeResult)
        self.set_result(result)

    def set_result(self, result: LandscapeResult) -> None:
        self.result = result
        self.redraw(None)
        r = result
        text = (
            f"Loss at the current weights: {r.center_loss:.4g}{self._subset_text}; "
            f"range over the slice {np.nanmin(r.losses):.3g} – {np.nanmax(r.losses):.3g}. "
            f"{len(r.path_xy)} path points."
        )
        if r.explained_variance is not None:
            v1, v2 = r.explained_variance
            what = ("variance about its mean (centred PCA, as Li et al.)" if r.pca_centered else
                    "squared distance from the current weights (uncentred PCA: not comparable with the "
                    "paper)")
            text += (f" The two principal components hold {100 * (v1 + v2):.0f} % of the path's {what} "
                     f"({100 * v1:.1f} % and {100 * v2:.1f} %); axes are distances in weight space.")
            if len(r.path_xy) < SPARSE_PATH:
                text += (f" Only {len(r.path_xy)} snapshots were recorded (the app receives the weights "
                         "about ten times a second, so a short run leaves few): the path is only an outline.")
        elif len(r.path_xy) > 1 and np.abs(r.path_xy).max() < 0.02 * float(np.abs(r.alphas).max()):
            text += (" The path barely shows: training moved the weights mostly along other directions "
                     "than these two random ones (choose \"along the path (PCA)\").")
        self.hint.setText(text + self._fallback_text)
        self.sync_legend()

    @Slot(str, str)

    def _on_failed(self, message: str, _details: str) -> None:
        self.error = message
        self.hint.setText(f"The landscape could not be computed: {message}")

    @Slot()
    def _on_cancelled(self) -> None:
        self.progress.setValue(0)
        self.hint.setText("Cancelled." if self.result is None else "Cancelled; showing the previous result.")

    def _update_buttons(self) -> None:
        running = self.job.is_running()
        self.run_button.setEnabled(not running and self.session.trainer is not None)
        self.cancel_button.setEnabled(running)
        for w in (self.resolution, self.span, self.margin, self.directions):
            w.setEnabled(not running)

    # -- drawing -------------------------------------------------------------------------
    def display_values(self) -> np.ndarray:
        """What the colour map shows: the losses, or their log₁₀; non-finite values clipped."""
        assert self.result is not None
        losses = np.array(self.result.losses, dtype=np.float64)
        finite = np.isfinite(losses)
        if not finite.any():
            return np.zeros_like(losses)
        # An overflowing corner is "very high", not a hole in the picture.
        losses[~finite] = losses[finite].max()
        if self.log_box.isChecked():
            tiny = max(float(losses[losses > 0].min()) if (losses > 0).any() else 1e-12, 1e-12)
            return np.log10(np.maximum(losses, tiny))
        return losses

    def redraw(self, history: History | None) -> None:
        r = self.result
        if r is None:
            return
        values = self.display_values()
        lo, hi = float(values.min()), float(values.max())
        if hi <= lo:
            hi = lo + 1e-9
        self.image.setImage(values, autoLevels=False, levels=(lo, hi))
        a0, a1, b0, b1 = float(r.alphas[0]), float(r.alphas[-1]), float(r.betas[0]), float(r.betas[-1])
        # Pixel centres at the grid coordinates: the image extends half a cell beyond them.
        da = (a1 - a0) / max(len(r.alphas) - 1, 1)
        db = (b1 - b0) / max(len(r.betas) - 1, 1)
        self.image.setRect(QRectF(a0 - da / 2, b0 - db / 2, a1 - a0 + da, b1 - b0 + db))
        self.colorbar.setLevels((lo, hi))
        self.colorbar.axis.setLabel("log₁₀ loss" if self.log_box.isChecked() else "loss")
        self._draw_contours(values, lo, hi)
        path = r.path_xy
        self.path_curve.setData(path[:, 0], path[:, 1]) if len(path) else self.path_curve.setData([], [])
        if len(path):
            self.start_marker.setData([float(path[0, 0])], [float(path[0, 1])])
        else:
            self.start_marker.setData([], [])
        self.current_marker.setData([0.0], [0.0])
        x_label, y_label = self.axis_labels()
        self.plot_item.setLabel("bottom", x_label)
        self.plot_item.setLabel("left", y_label)
        # PC2 usually holds a few per cent of the movement: equal scales would squash it to a line.
        self.plot_item.setAspectLocked(r.method != "pca")
        self.plot_item.setRange(xRange=(a0 - da / 2, a1 + da / 2), yRange=(b0 - db / 2, b1 + db / 2),
                                padding=0.0)

    def axis_labels(self) -> tuple[str, str]:
        r = self.result
        if r is None or r.explained_variance is None:
            return "α (direction 1)", "β (direction 2)"
        v1, v2 = r.explained_variance
        how = "centred" if r.pca_centered else "uncentred"
        return f"PC1 ({100 * v1:.1f} %, {how})", f"PC2 ({100 * v2:.1f} %, {how})"

    def _draw_contours(self, values: np.ndarray, lo: float, hi: float) -> None:
        for iso in self.contours:
            iso.setParentItem(None)
            if iso.scene() is not None:
                iso.scene().removeItem(iso)
        self.contours = []
        levels = np.linspace(lo, hi, N_CONTOURS + 2)[1:-1]
        for level in levels:
            # A child of the image shares its transform: the contours land on the grid coordinates.
            iso = pg.IsocurveItem(data=values, level=float(level), pen=pg.mkPen((255, 255, 255, 110)),
                                  axisOrder="col-major")
            iso.setParentItem(self.image)
            iso.setZValue(5)
            self.contours.append(iso)

    def refresh(self, history: History, force: bool = False) -> None:
        if force:
            self.redraw(history)

    def table(self) -> tuple[list[str], np.ndarray]:
        r = self.result
        header = ["pc1", "pc2", "loss"] if r is not None and r.method == "pca" else ["alpha", "beta", "loss"]
        if r is None:
            return header, np.empty((0, 3))
        aa, bb = np.meshgrid(r.alphas, r.betas, indexing="ij")
        return header, np.column_stack([aa.ravel(), bb.ravel(), r.losses.ravel()])


def install(host: ViewHost) -> None:
    """Analyze ▸ Loss Landscape: opens its page and computes the surface."""
    view = LandscapeView(host.session)
    host.add_analysis("landscape", view, "Loss Landscape", LANDSCAPE_TIP, run=view.start)
