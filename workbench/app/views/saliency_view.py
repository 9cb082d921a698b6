"""Saliency (Simonyan et al. 2013): which inputs move the network's score the most.

For 2-D data, |∂score/∂p| over the input plane (``engine.analysis.saliency_map_2d``), with the
data on top: bright where a small move of the point changes the decision, i.e. along the
boundaries the network has drawn. For digits, a chosen validation image beside its per-pixel
saliency (``engine.analysis.saliency``): the pixels the predicted class depends on. Both are
computed on copies of ``session.view_network`` (the engine copies), on the GUI thread: one
forward/backward over a 60×60 grid or one image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox

from engine.analysis import saliency, saliency_map_2d
from workbench.app.plots.base import MapThrottle, PlotView, on_screen
from workbench.app.plots.boundary_plot import PALETTE
from workbench.model.history import History

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

RESOLUTION = 60


class SaliencyView(PlotView):
    title = "Saliency"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.layout_widget = self.use_grid_layout()
        self.left = self.layout_widget.addPlot(row=0, col=0)
        self.right = self.layout_widget.addPlot(row=0, col=1)
        for p in (self.left, self.right):
            p.getAxis("left").enableAutoSIPrefix(False)
            p.getAxis("bottom").enableAutoSIPrefix(False)
            self.add_export_actions(p)
        self.left_image = pg.ImageItem(axisOrder="col-major")
        self.left.addItem(self.left_image)
        self.right_image = pg.ImageItem(axisOrder="col-major")
        self.right_image.setColorMap(pg.colormap.get("inferno"))
        self.right.addItem(self.right_image)
        self.points = pg.ScatterPlotItem(size=5, pen=pg.mkPen(255, 255, 255, 200))
        self.left.addItem(self.points)

        self.target_box = QComboBox()
        self.target_box.setToolTip(
            "Whose score to differentiate: each point's predicted class, or one fixed class/output"
        )
        self.target_box.currentIndexChanged.connect(lambda _i: self._changed())
        self.sample_label = QLabel("sample")
        self.sample_box = QSpinBox()
        self.sample_box.setToolTip("Which validation image to explain")
        self.sample_box.valueChanged.connect(lambda _v: self._changed())
        for w in (self.target_box, self.sample_label, self.sample_box):
            self.controls.addWidget(w)
        self.hint = self.add_hint("")
        self.setToolTip(
            "Saliency: the size of the gradient of the network's score (the logit of the chosen class) "
            "with respect to the input. Bright means a small change of that input changes the score a "
            "lot: on 2-D data these are the decision boundaries; on digits, the pixels the prediction "
            "depends on."
        )
        self.trainer: Any = None
        self.network: Any = None
        self.mode = "none"  # '2d' | 'image' | 'none'
        self.bounds: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.values = np.empty((0, 0))  # the saliency shown (2-D: values[i, j] at (xs[i], ys[j]))
        self.sample = np.empty(0)  # digits: the image shown
        self.throttle = MapThrottle()  # new weights: recomputed a few times a second at most

    # ------------------------------------------------------------------ inputs
    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self.throttle.reset()
        ds = getattr(trainer, "dataset", None)
        self.values = np.empty((0, 0))
        self.left_image.clear()
        self.right_image.clear()
        self.points.clear()
        if ds is not None and ds.points_train is not None and ds.featurize is not None:
            self.mode = "2d"
        elif ds is not None and ds.image_shape is not None:
            self.mode = "image"
        else:
            self.mode = "none"
        self._set_layout()
        n_out = getattr(trainer, "n_outputs", 1) if trainer is not None else 1
        self.target_box.blockSignals(True)
        self.target_box.clear()
        if trainer is not None and trainer.loss.task == "multiclass":
            self.target_box.addItem("predicted class", None)
            for k in range(n_out):
                self.target_box.addItem(f"class {k}", k)
        else:
            self.target_box.addItem("output" if n_out == 1 else "output 1", 0)
            for k in range(1, n_out):
                self.target_box.addItem(f"output {k + 1}", k)
        self.target_box.blockSignals(False)
        image = self.mode == "image"
        self.sample_box.setVisible(image)
        self.sample_label.setVisible(image)
        if image:
            h, w = ds.image_shape
            for p in (self.left, self.right):
                p.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)
            self.right.setLabel("bottom", "column")
            self.sample_box.blockSignals(True)
            self.sample_box.setRange(0, max(len(ds.x_val) - 1, 0))
            self.sample_box.blockSignals(False)
        if self.mode == "2d":
            pts = np.concatenate([ds.points_train, ds.points_val])
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            pad = 0.08 * (hi - lo) + 1e-9
            lo, hi = lo - pad, hi + pad
            self.bounds = ((float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])))
            self.left.setRange(xRange=self.bounds[0], yRange=self.bounds[1], padding=0)
            labels = np.asarray(ds.y_train).reshape(len(ds.y_train), -1)[:, 0]
            if ds.task == "regression":
                brushes = [pg.mkBrush(200, 200, 200, 160)] * len(labels)
            else:
                cache = [pg.mkBrush(*PALETTE[i % len(PALETTE)]) for i in range(max(ds.n_classes, 2))]
                brushes = [cache[int(i)] for i in labels]
            self.points.setData(pos=ds.points_train, brush=brushes)
        else:
            self.bounds = None
        self.hint.setText({"none": "Saliency is drawn for 2-D data sets and images (digits).",
                           "2d": "", "image": ""}[self.mode] if trainer is not None else
                          "Fix the experiment to see saliency.")
        self._changed()

    def set_network(self, network: Any) -> None:
        self.network = network
        self.throttle.changed()

    def _changed(self) -> None:
        """A new target class or sample: answer the person at once (if they can see it)."""
        self.throttle.changed()
        if on_screen(self):
            self.refresh(History(), force=True)

    def _set_layout(self) -> None:
        ci = self.layout_widget.ci
        two = self.mode == "image"
        if two and self.right not in ci.items:
            ci.addItem(self.right, row=0, col=1)
        elif not two and self.right in ci.items:
            ci.removeItem(self.right)
        self.right.setVisible(two)
        self.left.setAspectLocked(two)
        self.left.invertY(two)  # images: row 0 on top
        self.left.setLabel("bottom", "column" if two else "x₁")
        self.left.setLabel("left", "row" if two else "x₂")
        if two:
            self.right.setAspectLocked(True)
            self.right.invertY(True)
            self.left_image.setColorMap(pg.colormap.get("CET-L1"))  # grey: ink dark on light paper
            self.left.setTitle("image")
            self.right.setTitle("|∂score/∂pixel|")
        else:
            self.left_image.setColorMap(pg.colormap.get("inferno"))
            self.left.setTitle("|∂score/∂x| over the input plane" if self.mode == "2d" else "")

    @property
    def target_class(self) -> int | None:
        return self.target_box.currentData()

    # ------------------------------------------------------------------ drawing
    def refresh(self, history: History, force: bool = False) -> None:
        if self.throttle.due(force):
            self.redraw(history)

    def redraw(self, history: History) -> None:
        if self.trainer is None or self.network is None or self.mode == "none":
            return
        try:
            with np.errstate(all="ignore"):
                if self.mode == "2d":
                    self._draw_2d()
                else:
                    self._draw_image()
        except Exception as exc:  # a half-edited network never takes the app down
            self.hint.setText(f"Saliency not available: {exc}")

    def _draw_2d(self) -> None:
        t = self.trainer
        result = saliency_map_2d(self.network, t.loss, t.dataset.featurize, bounds=self.bounds,
                                 resolution=RESOLUTION, target_class=self.target_class)
        self.values = result.values
        (x0, x1), (y0, y1) = self.bounds
        finite = result.values[np.isfinite(result.values)]
        top = float(finite.max()) if finite.size else 1.0
        self.left_image.setImage(np.nan_to_num(result.values), levels=(0.0, top if top > 0 else 1.0))
        # Pixel centres sit on the grid points: widen the rect by half a cell on each side.
        dx, dy = (x1 - x0) / (RESOLUTION - 1), (y1 - y0) / (RESOLUTION - 1)
        self.left_image.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
        self.hint.setText(f"max |∂score/∂x| = {top:.3g}")

    def _draw_image(self) -> None:
        t = self.trainer
        ds = t.dataset
        i = self.sample_box.value()
        x = ds.x_val[i : i + 1]
        sal = saliency(self.network, t.loss, x, target_class=self.target_class)
        shape = ds.image_shape
        self.sample = x.reshape(shape)
        self.values = sal.reshape(shape)
        # Column-major images are indexed [x, y]: transpose the (row, col) image.
        ink = -self.sample.T.astype(float)  # negated: ink (high values) dark on light paper
        lo, hi = float(ink.min()), float(ink.max())
        self.left_image.setImage(ink, levels=(lo, hi if hi > lo else lo + 1.0))
        top = float(np.max(self.values)) if self.values.size else 1.0
        self.right_image.setImage(self.values.T.astype(float), levels=(0.0, top if top > 0 else 1.0))
        h, w = shape
        for image in (self.left_image, self.right_image):
            image.setRect(QRectF(0, 0, w, h))
        with np.errstate(all="ignore"):
            out = np.asarray(t.loss.transform(self.network.forward(x.astype(self.network.params.dtype))))
        label = int(np.asarray(ds.y_val).reshape(len(ds.y_val), -1)[i, 0])
        pred = int(np.argmax(out[0])) if out.shape[-1] > 1 else int(out[0, 0] > 0.5)
        self.left.setTitle(f"sample {i}: label {label}, predicted {pred} (standardised input)")
        self.hint.setText(f"max |∂score/∂pixel| = {top:.3g}")

    def table(self) -> tuple[list[str], np.ndarray]:
        if self.values.size == 0:
            return ["x1", "x2", "saliency"], np.empty((0, 3))
        if self.mode == "2d":
            (x0, x1), (y0, y1) = self.bounds
            xs, ys = np.linspace(x0, x1, RESOLUTION), np.linspace(y0, y1, RESOLUTION)
            gx, gy = np.meshgrid(xs, ys, indexing="ij")
            return ["x1", "x2", "saliency"], np.column_stack([gx.ravel(), gy.ravel(), self.values.ravel()])
        rows, cols = np.indices(self.values.shape)
        return ["row", "col", "pixel", "saliency"], np.column_stack(
            [rows.ravel(), cols.ravel(), self.sample.ravel(), self.values.ravel()]
        )


def install(host: ViewHost) -> None:
    """Analyze ▸ Saliency Map: a workspace page."""
    view = SaliencyView()
    s = host.session
    s.trainerChanged.connect(view.set_trainer)
    s.networkUpdated.connect(view.set_network)
    view.set_network(s.view_network)
    view.set_trainer(s.trainer)
    host.add_analysis("saliency", view, "Saliency Map",
                      "Which inputs the network's score is most sensitive to")
