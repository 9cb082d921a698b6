"""The network's output over the plane of a 2-D data set, with the data points on top."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox

from workbench.app.plots.base import MapThrottle, PlotView
from workbench.model.history import History

PALETTE = np.array(
    [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ],
    dtype=float,
)
GRID = 90


class BoundaryPlot(PlotView):
    title = "Decision boundary"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot_item.setAspectLocked(False)
        self.plot_item.setLabel("bottom", "x₁")
        self.plot_item.setLabel("left", "x₂")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image)
        self.points = pg.ScatterPlotItem(size=6, pen=pg.mkPen(40, 40, 40, 160))
        self.plot_item.addItem(self.points)
        self.message = pg.TextItem("", color=(90, 90, 90), anchor=(0.5, 0.5))
        self.plot_item.addItem(self.message, ignoreBounds=True)
        # The note stays centred whatever range the view is later given (a reset sets its own).
        self.plot_item.vb.sigRangeChanged.connect(lambda *_a: self._centre_message())
        self.split = QComboBox()
        self.split.addItems(["training points", "validation points"])
        self.split.setToolTip(
            "Show the points the network learns from, or the held-out points it never trains on: a "
            "boundary that hugs every training point but misses validation points is overfitting."
        )
        self.split.currentIndexChanged.connect(lambda _i: self.update_points())
        self.controls.addWidget(self.split)
        self.add_hint("")
        self.setToolTip(
            "Colour shows what the network predicts at every point of the plane (blended by "
            "confidence); dots are the data. Refreshed live while training."
        )
        self.trainer: Any = None
        self.network: Any = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._rect = QRectF(0, 0, 1, 1)
        self._prediction: np.ndarray | None = None
        # Weights, not history rows, drive this view: a forward pass over 8,100 points holds the
        # GIL, so it runs only when the weights changed, a few times a second at most.
        self.throttle = MapThrottle()

    # The session feeds the dataset/loss (trainerChanged) and weights (networkUpdated).
    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self._grid = None
        self._prediction = None
        self.throttle.reset()
        dataset = getattr(trainer, "dataset", None)
        usable = dataset is not None and dataset.points_train is not None and dataset.featurize is not None
        self.split.setEnabled(usable)
        # Without a 2-D plane there is nothing to draw: no empty axes, a note centred in the pane
        # that names where this data's pictures are.
        for side in ("left", "bottom"):
            self.plot_item.showAxis(side, usable)
        if not usable:
            self.image.clear()
            self.points.clear()
            self.message.setText(_elsewhere(trainer) if trainer is not None else
                                 "Fix the experiment to see\nthe decision boundary.")
            self.plot_item.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            self._centre_message()
            return
        self.message.setText("")
        pts = np.concatenate([dataset.points_train, dataset.points_val])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.08 * (hi - lo) + 1e-9
        lo, hi = lo - pad, hi + pad
        gx, gy = np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID)
        self._grid = (gx, gy)
        self._rect = QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])
        self.plot_item.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0)
        self.update_points()

    def _centre_message(self) -> None:
        (x0, x1), (y0, y1) = self.plot_item.vb.viewRange()
        self.message.setPos((x0 + x1) / 2, (y0 + y1) / 2)

    def set_network(self, network: Any) -> None:
        self.network = network
        self.throttle.changed()

    def update_points(self) -> None:
        dataset = getattr(self.trainer, "dataset", None)
        if dataset is None or dataset.points_train is None:
            return
        val = self.split.currentIndex() == 1
        pts = dataset.points_val if val else dataset.points_train
        y = dataset.y_val if val else dataset.y_train
        if dataset.task == "regression":
            values = np.asarray(y, float).reshape(len(y), -1)[:, 0]
            span = np.ptp(values) or 1.0
            colors = pg.colormap.get("viridis").map((values - values.min()) / span, mode="qcolor")
            brushes = [pg.mkBrush(c) for c in colors]
        else:
            labels = np.asarray(y).reshape(len(y), -1)[:, 0].astype(int)
            cache = [pg.mkBrush(*PALETTE[i % len(PALETTE)]) for i in range(max(dataset.n_classes, 2))]
            brushes = [cache[i] for i in labels]
        self.points.setData(pos=pts, brush=brushes)

    def redraw(self, history: History, force: bool = False) -> None:
        if self._grid is None or self.network is None or not self.throttle.due(force):
            return
        gx, gy = self._grid
        xx, yy = np.meshgrid(gx, gy)
        raw = np.column_stack([xx.ravel(), yy.ravel()])
        trainer = self.trainer
        try:
            features = trainer.dataset.featurize(raw).astype(self.network.params.dtype)
            out = trainer.loss.transform(self.network.forward(features, training=False))
        except Exception:  # a half-updated view network never takes the app down
            return
        out = np.asarray(out, float).reshape(len(raw), -1)
        self._prediction = out
        self.image.setImage(_colours(out, trainer.dataset.task).reshape(GRID, GRID, 3), levels=(0, 255))
        self.image.setRect(self._rect)  # after setImage: the scale depends on the image size

    def refresh(self, history: History, force: bool = False) -> None:
        self.redraw(history, force=force)

    def table(self) -> tuple[list[str], np.ndarray]:
        if self._grid is None or self._prediction is None:
            return ["x1", "x2", "output"], np.empty((0, 3))
        gx, gy = self._grid
        xx, yy = np.meshgrid(gx, gy)
        out = self._prediction
        names = ["output"] if out.shape[1] == 1 else [f"p_class{i}" for i in range(out.shape[1])]
        return ["x1", "x2", *names], np.column_stack([xx.ravel(), yy.ravel(), out])


def _colours(out: np.ndarray, task: str) -> np.ndarray:
    """RGB per grid point: class colours blended by probability, pale so the dots stand out."""
    out = np.nan_to_num(out, nan=0.0)
    if task == "regression":
        v = out[:, 0]
        span = np.ptp(v) or 1.0
        rgb = pg.colormap.get("viridis").map((v - v.min()) / span, mode="float")[:, :3] * 255
    elif out.shape[1] == 1:  # binary: P(class 1)
        p = np.clip(out[:, :1], 0, 1)
        rgb = (1 - p) * PALETTE[0] + p * PALETTE[1]
    else:
        k = out.shape[1]
        rgb = out @ PALETTE[np.arange(k) % len(PALETTE)]
    return 0.55 * rgb + 0.45 * 255


def _elsewhere(trainer: Any) -> str:
    """Where this data's pictures are, when it has no 2-D plane to draw."""
    dataset = getattr(trainer, "dataset", None)
    dims = len(getattr(dataset, "input_shape", ()))
    if dims == 2:  # sequences
        views = ["Gradient Through Time", "Recurrent Gates and Hidden State"]
    else:
        classifier = getattr(dataset, "task", "") != "regression"
        views = (["Confusion Matrix and Mistakes"] * classifier + ["Saliency Map"]
                 + ["Grad-CAM"] * (dims == 3))
    return "No 2-D plane to draw for this data.\n\nSee Analyze ▸\n" + ",\n".join(views) + "."
