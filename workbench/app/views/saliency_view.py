"""Saliency: which inputs move the network's score the most, by three methods.

For 2-D data, |∂score/∂p| over the input plane (``engine.analysis.saliency_map_2d``), with the
data on top: bright where a small move of the point changes the decision, i.e. along the
boundaries the network has drawn; beside it, one chosen validation sample's attribution per
input feature. For images (digits, shapes, image folders), the chosen validation image beside
its attribution map. For other tables (CSV), the chosen sample's attribution per feature.

The method picker (``attribution_controls``) chooses the plain gradient, SmoothGrad or
Integrated Gradients (``engine.analysis.attribution``); Integrated Gradients' completeness
error is written in the map's title. Everything is computed on copies of ``session.view_network``
on the GUI thread: one forward/backward over a 60×60 grid, or a few dozen over one sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox

from engine.analysis import saliency_map_2d
from workbench.app.plots.base import MapThrottle, WeightsMapView
from workbench.app.plots.boundary_plot import PALETTE
from workbench.app.views.attribution_controls import AttributionControls
from workbench.app.views.colour_scales import (
    DIVERGING,
    MAGNITUDE,
    colour_bar,
    magnitude_levels,
    set_bar_label,
    symmetric_levels,
)
from workbench.model.history import History
from workbench.model.samples import as_picture_grid, network_input, picture, picture_shape, sample_kind

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

RESOLUTION = 60
MAX_BARS = 40  # features drawn as bars; wider tables show their largest attributions


class SaliencyView(WeightsMapView):
    title = "Saliency"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.layout_widget = self.use_grid_layout()
        self.left = pg.PlotItem()
        self.right = pg.PlotItem()
        self.bars = pg.PlotItem()
        self.left_bar = colour_bar("|∂score/∂x|")
        self.right_bar = colour_bar("|∂score/∂pixel|")
        for p in (self.left, self.right, self.bars):
            p.getAxis("left").enableAutoSIPrefix(False)
            p.getAxis("bottom").enableAutoSIPrefix(False)
            self.add_export_actions(p)
        self.left_image = pg.ImageItem(axisOrder="col-major")
        self.left.addItem(self.left_image)
        self.right_image = pg.ImageItem(axisOrder="col-major")
        self.right_image.setColorMap(MAGNITUDE)
        self.right.addItem(self.right_image)
        self.left_bar.setImageItem(self.left_image)
        self.right_bar.setImageItem(self.right_image)
        self.points = pg.ScatterPlotItem(size=5, pen=pg.mkPen(255, 255, 255, 200))
        self.left.addItem(self.points)
        self.chosen_point = pg.ScatterPlotItem(size=18, symbol="star", pen=pg.mkPen("k", width=1.5),
                                               brush=pg.mkBrush(255, 255, 255))
        self.left.addItem(self.chosen_point)
        self.bar_item = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.bars.addItem(self.bar_item)
        self.bars.addLine(y=0, pen=pg.mkPen((120, 120, 120)))
        self.bars.setLabel("left", "attribution")
        self._placed: list[Any] = []

        self.method = AttributionControls(self._changed)
        self.target_box = QComboBox()
        self.target_box.setToolTip(
            "Whose score to differentiate: each point's predicted class, or one fixed class/output"
        )
        self.target_box.currentIndexChanged.connect(lambda _i: self._changed())
        self.sample_label = QLabel("sample")
        self.sample_box = QSpinBox()
        self.sample_box.setToolTip("Which validation sample to explain")
        self.sample_box.valueChanged.connect(lambda _v: self._changed())
        for w in (self.method, self.target_box, self.sample_label, self.sample_box):
            self.controls.addWidget(w)
        self.hint = self.add_hint("")
        self.setToolTip(
            "Saliency: how much each input moves the network's score (the logit of the chosen class). "
            "Bright means a small change of that input changes the score a lot: on 2-D data these are "
            "the decision boundaries; on images, the pixels the prediction depends on. Integrated "
            "Gradients are signed: blue raises the score, orange lowers it."
        )
        self.trainer: Any = None
        self.network: Any = None
        self.mode = "none"  # '2d' | 'image' | 'features' | 'none'
        self.bounds: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.values = np.empty((0, 0))  # the map shown (2-D: the plane, values[i, j] at (xs[i], ys[j]))
        self.sample = np.empty(0)  # images: the image shown
        self.attribution: Any = None  # the chosen sample's engine Attribution
        self.throttle = MapThrottle()  # new weights: recomputed a few times a second at most

    # ------------------------------------------------------------------ inputs
    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self.throttle.reset()
        ds = getattr(trainer, "dataset", None)
        self.values = np.empty((0, 0))
        self.attribution = None
        for image in (self.left_image, self.right_image):
            image.clear()
        self.points.clear()
        self.chosen_point.clear()
        self.bar_item.setOpts(x=[], height=[])
        if ds is None:
            self.mode = "none"
        elif ds.points_train is not None and ds.featurize is not None:
            self.mode = "2d"
        else:
            self.mode = {"image": "image", "points": "features", "features": "features"}[sample_kind(ds)]
        self._set_layout()
        self._fill_targets(trainer)
        has_samples = ds is not None and len(ds.x_val) > 0
        self.sample_box.setVisible(has_samples)
        self.sample_label.setVisible(has_samples)
        if has_samples:
            self.sample_box.blockSignals(True)
            self.sample_box.setRange(0, len(ds.x_val) - 1)
            self.sample_box.blockSignals(False)
        if self.mode == "image":
            _, h, w = picture_shape(ds)
            for p in (self.left, self.right):
                p.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)
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
        self.hint.setText("" if trainer is not None else "Fix the experiment to see saliency.")
        self._changed()

    def _fill_targets(self, trainer: Any) -> None:
        n_out = getattr(trainer, "n_outputs", 1) if trainer is not None else 1
        self.target_box.blockSignals(True)
        self.target_box.clear()
        if trainer is not None and trainer.loss.task == "multiclass":
            names = tuple(trainer.dataset.class_names)
            self.target_box.addItem("predicted class", None)
            for k in range(n_out):
                self.target_box.addItem(f"class {names[k] if len(names) == n_out else k}", k)
        else:
            self.target_box.addItem("output" if n_out == 1 else "output 1", 0)
            for k in range(1, n_out):
                self.target_box.addItem(f"output {k + 1}", k)
        self.target_box.blockSignals(False)

    def set_network(self, network: Any) -> None:
        self.network = network
        self.throttle.changed()

    def show_sample(self, index: int, target_class: int | None = None) -> None:
        """Explain validation sample ``index`` (for ``target_class``, if the outputs are classes)."""
        self.sample_box.blockSignals(True)
        self.sample_box.setValue(index)
        self.sample_box.blockSignals(False)
        at = self.target_box.findData(target_class) if target_class is not None else -1
        self.target_box.blockSignals(True)
        self.target_box.setCurrentIndex(max(at, 0))
        self.target_box.blockSignals(False)
        self.throttle.changed()
        self.refresh(History(), force=True)

    def _set_layout(self) -> None:
        wanted = {"2d": [self.left, self.left_bar, self.bars],
                  "image": [self.left, self.right, self.right_bar],
                  "features": [self.bars], "none": []}[self.mode]
        if wanted != self._placed:
            ci = self.layout_widget.ci
            for item in self._placed:
                ci.removeItem(item)
                item.setVisible(False)
            for col, item in enumerate(wanted):
                ci.addItem(item, row=0, col=col)
                item.setVisible(True)
            self._placed = wanted
        image = self.mode == "image"
        self.left.setAspectLocked(image or self.mode == "2d")
        self.left.invertY(image)  # images: row 0 on top
        self.left.setLabel("bottom", "column" if image else "x₁")
        self.left.setLabel("left", "row" if image else "x₂")
        if image:
            self.right.setAspectLocked(True)
            self.right.invertY(True)
            self.right.setLabel("bottom", "column")
            self.left_image.setColorMap(pg.colormap.get("CET-L1"))  # grey: ink dark on light paper
            self.left.setTitle("image")
            self.left.setToolTip("The chosen validation image as the network sees it (standardised, "
                                 "shown over its own mean ± 2 standard deviations)")
        else:
            self.left_image.setColorMap(MAGNITUDE)
            self.left.setTitle("|∂score/∂x| over the input plane" if self.mode == "2d" else "")

    @property
    def target_class(self) -> int | None:
        return self.target_box.currentData()

    # ------------------------------------------------------------------ drawing
    def redraw(self, history: History) -> None:
        if self.trainer is None or self.network is None or self.mode == "none":
            return
        try:
            with np.errstate(all="ignore"):
                if self.mode == "2d":
                    self._draw_2d()
                if self.mode == "image":
                    self._draw_image()
                else:
                    self._draw_bars()
        except Exception as exc:  # a half-edited network never takes the app down
            self.hint.setText(f"Saliency not available: {exc}")

    def _draw_2d(self) -> None:
        t = self.trainer
        result = saliency_map_2d(self.network, t.loss, t.dataset.featurize, bounds=self.bounds,
                                 resolution=RESOLUTION, target_class=self.target_class)
        self.values = result.values
        (x0, x1), (y0, y1) = self.bounds
        levels = magnitude_levels(result.values)
        self.left_image.setImage(np.nan_to_num(result.values), levels=levels)
        self.left_bar.setLevels(levels)
        # Pixel centres sit on the grid points: widen the rect by half a cell on each side.
        dx, dy = (x1 - x0) / (RESOLUTION - 1), (y1 - y0) / (RESOLUTION - 1)
        self.left_image.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
        i = self.sample_box.value()
        self.chosen_point.setData(pos=t.dataset.points_val[i : i + 1])

    def _explain(self) -> tuple[np.ndarray, int, int, Any]:
        """(input rows, sample index, true label, attribution) of the chosen sample."""
        ds = self.trainer.dataset
        i = self.sample_box.value()
        x = network_input(ds.x_val[i : i + 1], self.network)
        self.attribution = self.method.compute(self.network, self.trainer.loss, x, ds, self.target_class)
        label = np.asarray(ds.y_val).reshape(len(ds.y_val), -1)[i, 0]
        return x, i, label, self.attribution

    def _prediction(self, x: np.ndarray) -> str:
        out = np.asarray(self.trainer.loss.transform(self.network.forward(x)))
        if self.trainer.dataset.task == "regression":
            return f"predicted {float(out.reshape(-1)[0]):.3g}"
        pred = int(np.argmax(out[0])) if out.shape[-1] > 1 else int(out[0, 0] > 0.5)
        names = self.trainer.dataset.class_names
        return f"predicted {names[pred] if pred < len(names) else pred}"

    def _method_title(self, a: Any) -> str:
        target = int(a.target[0])
        names = self.trainer.dataset.class_names
        whose = f"class {names[target]}" if self.trainer.loss.task == "multiclass" and target < len(names) \
            else "the output"
        if a.method == "integrated_gradients":
            err = float(a.completeness_error[0])
            change = float(a.score_change[0])
            rel = abs(err) / abs(change) if change else float("inf")
            return (f"Integrated Gradients for {whose}: Σ = {change + err:.4g}, "
                    f"score change {change:.4g}, error {err:.2g} ({100 * rel:.2g} %)")
        return f"{self.method.method_box.currentText()} for {whose}"

    def _draw_image(self) -> None:
        ds = self.trainer.dataset
        x, i, label, a = self._explain()
        c, h, w = picture_shape(ds)
        signed = a.method == "integrated_gradients"
        self.values = as_picture_grid(a.values[0], ds, magnitude=not signed)
        pixels = np.asarray(ds.x_val[i], dtype=np.float64).reshape(c, h, w)
        self.sample = pixels[0] if c == 1 else np.moveaxis(pixels, 0, -1)
        shown = picture(ds.x_val[i], ds)
        # Column-major images are indexed [x, y]; grey is negated: ink dark on light paper.
        self.left_image.setImage(-shown.T if c == 1 else np.transpose(shown, (1, 0, 2)),
                                 levels=(-1.0, 0.0) if c == 1 else (0.0, 1.0))
        levels = symmetric_levels(self.values) if signed else magnitude_levels(self.values)
        cmap = DIVERGING if signed else MAGNITUDE
        self.right_image.setColorMap(cmap)
        self.right_bar.setColorMap(cmap)
        self.right_image.setImage(self.values.T, levels=levels)
        self.right_bar.setLevels(levels)
        set_bar_label(self.right_bar, {"gradient": "|∂score/∂pixel|", "smoothgrad": "|mean ∂score/∂pixel|",
                                      "integrated_gradients": "attribution (score units)"}[a.method])
        for image in (self.left_image, self.right_image):
            image.setRect(QRectF(0, 0, w, h))
        names = ds.class_names
        shown_label = names[int(label)] if ds.task != "regression" and int(label) < len(names) else label
        self.left.setTitle(f"sample {i}: label {shown_label}, {self._prediction(x)}", size="9pt")
        self.right.setTitle(self._method_title(a), size="9pt")
        self.hint.setText("")

    def _draw_bars(self) -> None:
        ds = self.trainer.dataset
        x, i, _label, a = self._explain()
        values = np.asarray(a.values[0], dtype=np.float64).reshape(-1)
        names = list(ds.feature_names) if len(ds.feature_names) == values.size else \
            [f"x{k + 1}" for k in range(values.size)]
        keep = np.arange(values.size)
        if values.size > MAX_BARS:
            keep = np.sort(np.argsort(-np.abs(values))[:MAX_BARS])
        shown = values[keep]
        colours = [pg.mkBrush(*(DIVERGING.map(0.75 if v >= 0 else 0.25, mode="byte")[:3])) for v in shown]
        self.bar_item.setOpts(x=np.arange(len(keep)), height=shown, width=0.7, brushes=colours)
        self.bars.getAxis("bottom").setTicks([[(k, names[j]) for k, j in enumerate(keep)]])
        self.bars.setXRange(-0.6, len(keep) - 0.4, padding=0)
        where = f"sample {i} (★)" if self.mode == "2d" else f"sample {i}"
        self.bars.setTitle(f"{where}: {self._prediction(x)} · {self._method_title(a)}", size="9pt")
        if self.mode == "features":
            self.values = shown.reshape(1, -1)
        more = f" (the {MAX_BARS} largest of {values.size} features)" if values.size > MAX_BARS else ""
        self.hint.setText(f"one bar per input feature: blue raises the score, orange lowers it{more}")

    def table(self) -> tuple[list[str], np.ndarray]:
        if self.values.size == 0:
            return ["x1", "x2", "saliency"], np.empty((0, 3))
        if self.mode == "2d":
            (x0, x1), (y0, y1) = self.bounds
            xs, ys = np.linspace(x0, x1, RESOLUTION), np.linspace(y0, y1, RESOLUTION)
            gx, gy = np.meshgrid(xs, ys, indexing="ij")
            return ["x1", "x2", "saliency"], np.column_stack([gx.ravel(), gy.ravel(), self.values.ravel()])
        if self.mode == "features":
            return ["feature", "attribution"], np.column_stack(
                [np.arange(self.values.size), self.values.ravel()])
        rows, cols = np.indices(self.values.shape)
        pixels = self.sample if self.sample.ndim == 2 else self.sample.mean(axis=-1)
        return ["row", "col", "pixel", "saliency"], np.column_stack(
            [rows.ravel(), cols.ravel(), pixels.ravel(), self.values.ravel()]
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
                      "Which inputs the network's score is most sensitive to (gradient, SmoothGrad, "
                      "Integrated Gradients)")
