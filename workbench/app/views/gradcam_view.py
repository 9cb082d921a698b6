"""Grad-CAM: where in the image a convolutional layer found the evidence for a class.

Left, the chosen validation image; right, the same image with the Grad-CAM map of the chosen
class at the chosen layer laid over it (``engine.analysis.gradcam.grad_cam``: α = spatial mean
of ∂score/∂A, map = ReLU(Σ α·A), upsampled), with its colour scale. For a set that keeps each
object's bounding box (shapes), the box is drawn and the title says whether the map's peak
falls inside it. Computed on copies of ``session.view_network`` on the GUI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QSpinBox

from engine.analysis.gradcam import grad_cam, image_layers
from workbench.app.plots.base import MapThrottle, WeightsMapView
from workbench.app.views.colour_scales import MAGNITUDE, colour_bar, magnitude_levels
from workbench.model.history import History
from workbench.model.samples import network_input, picture, picture_shape

if TYPE_CHECKING:
    from workbench.app.host import ViewHost


class GradCamView(WeightsMapView):
    title = "Grad-CAM"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        grid = self.use_grid_layout()
        self.image_plot = grid.addPlot(row=0, col=0)
        self.cam_plot = grid.addPlot(row=0, col=1)
        self.bar = colour_bar("Grad-CAM (ReLU(Σ α·A))")
        grid.addItem(self.bar, row=0, col=2)
        # The map is compared with the image by eye: both panels get the same width whatever
        # their titles say, the same axis widths, and one shared view range, so a pixel of the
        # image and the same pixel under the map are the same size on screen and side by side.
        layout = grid.ci.layout
        for col, stretch in ((0, 1), (1, 1), (2, 0)):
            layout.setColumnStretchFactor(col, stretch)
        for p in (self.image_plot, self.cam_plot):
            p.setAspectLocked(True)
            p.invertY(True)
            p.setLabel("bottom", "column")
            p.setLabel("left", "row")
            p.setMouseEnabled(False, False)
            for side in ("left", "bottom"):
                p.getAxis(side).enableAutoSIPrefix(False)  # "column (x0.001)" helps nobody
            p.setRange(xRange=(0, 16), yRange=(0, 16), padding=0.02)
            p.getAxis("left").setWidth(40)
            p.setMinimumWidth(120)
            p.setPreferredWidth(400)
            self.add_export_actions(p)
        self.image_plot.setXLink(self.cam_plot)
        self.image_plot.setYLink(self.cam_plot)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image_plot.addItem(self.image)
        self.under = pg.ImageItem(axisOrder="row-major")  # the image again, under the map
        self.cam_image = pg.ImageItem(axisOrder="row-major")
        self.cam_image.setColorMap(MAGNITUDE)
        self.cam_plot.addItem(self.under)
        self.cam_plot.addItem(self.cam_image)
        self.bar.setImageItem(self.cam_image)
        self.boxes = [pg.PlotCurveItem(pen=pg.mkPen((0, 200, 80), width=2)) for _ in range(2)]
        self.image_plot.addItem(self.boxes[0])
        self.cam_plot.addItem(self.boxes[1])
        self.peak = pg.ScatterPlotItem(size=14, symbol="+", pen=pg.mkPen((0, 255, 255), width=2))
        self.cam_plot.addItem(self.peak)

        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The convolution or pool whose feature maps A are weighed. Later "
                                  "layers see larger parts of the image but in coarser cells.")
        self.class_box = QComboBox()
        self.class_box.setToolTip("Whose evidence to show: the predicted class, or any class")
        self.sample_box = QSpinBox()
        self.sample_box.setToolTip("Which validation image")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.setMaximumWidth(90)
        self.opacity.setToolTip("How strongly the map covers the image")
        for label, w in (("layer", self.layer_box), ("class", self.class_box), ("sample", self.sample_box),
                         ("map opacity", self.opacity)):
            self.controls.addWidget(QLabel(label))
            self.controls.addWidget(w)
        self.layer_box.currentIndexChanged.connect(lambda _i: self._changed())
        self.class_box.currentIndexChanged.connect(lambda _i: self._changed())
        self.sample_box.valueChanged.connect(lambda _v: self._changed())
        self.opacity.valueChanged.connect(lambda v: self.cam_image.setOpacity(v / 100.0))
        self.cam_image.setOpacity(0.6)
        self.hint = self.add_hint("")
        self.setToolTip(
            "Grad-CAM: for the chosen class, each feature map of the chosen layer is weighted by the "
            "average gradient of the class score over it; the weighted sum, negatives cut to 0, is "
            "drawn over the image (bright = evidence for the class). The green frame is the object's "
            "box where the data set knows it; + marks the map's peak."
        )
        self.trainer: Any = None
        self.network: Any = None
        self.values = np.empty((0, 0))  # the map shown (H, W)
        self.peak_inside: bool | None = None
        self.throttle = MapThrottle()

    # ------------------------------------------------------------------ inputs
    def available(self) -> bool:
        """Whether the current network has a layer with feature maps."""
        return self.network is not None and bool(image_layers(self.network))

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self.throttle.reset()
        self.values = np.empty((0, 0))
        for item in (self.image, self.under, self.cam_image):
            item.clear()
        ds = getattr(trainer, "dataset", None)
        self.class_box.blockSignals(True)
        self.class_box.clear()
        if ds is not None and ds.task != "regression":
            self.class_box.addItem("predicted class", None)
            for k in range(getattr(trainer, "n_outputs", 0)):
                names = ds.class_names
                self.class_box.addItem(names[k] if k < len(names) else str(k), k)
        self.class_box.blockSignals(False)
        self.sample_box.blockSignals(True)
        self.sample_box.setRange(0, max(len(ds.x_val) - 1, 0) if ds is not None else 0)
        self.sample_box.blockSignals(False)
        if ds is not None and picture_shape(ds) is not None:
            _, h, w = picture_shape(ds)
            for p in (self.image_plot, self.cam_plot):
                p.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)
        self._changed()

    def set_network(self, network: Any) -> None:
        layers = image_layers(network) if network is not None else []
        if [self.layer_box.itemText(i) for i in range(self.layer_box.count())] != layers:
            self.layer_box.blockSignals(True)
            self.layer_box.clear()
            self.layer_box.addItems(layers)
            convs = [name for name in layers if network.layer(name).kind == "conv2d"]
            # The last convolution: its maps are the most class-specific that still keep a grid.
            self.layer_box.setCurrentText(convs[-1] if convs else (layers[-1] if layers else ""))
            self.layer_box.blockSignals(False)
        self.network = network
        self.throttle.changed()

    def show_sample(self, index: int, class_index: int | None = None) -> None:
        self.sample_box.blockSignals(True)
        self.sample_box.setValue(index)
        self.sample_box.blockSignals(False)
        at = self.class_box.findData(class_index) if class_index is not None else 0
        self.class_box.blockSignals(True)
        self.class_box.setCurrentIndex(max(at, 0))
        self.class_box.blockSignals(False)
        self.throttle.changed()
        self.refresh(History(), force=True)

    # ------------------------------------------------------------------ drawing
    def redraw(self, history: History) -> None:
        if self.trainer is None or self.network is None:
            self.hint.setText("Fix the experiment to see Grad-CAM.")
            return
        ds = self.trainer.dataset
        if not self.available() or picture_shape(ds) is None or ds.task == "regression":
            self.hint.setText("Grad-CAM needs a classifier of images with a convolution (add a Conv2D "
                              "layer first in the network editor).")
            for item in (self.image, self.under, self.cam_image):
                item.clear()
            return
        try:
            self._draw(ds)
        except Exception as exc:  # a half-edited network never takes the app down
            self.hint.setText(f"Grad-CAM not available: {exc}")

    def _draw(self, ds: Any) -> None:
        i = self.sample_box.value()
        x = network_input(ds.x_val[i : i + 1], self.network)
        with np.errstate(all="ignore"):
            out = np.asarray(self.trainer.loss.transform(self.network.forward(x))).reshape(1, -1)
        predicted = int(np.argmax(out[0])) if out.shape[1] > 1 else int(out[0, 0] > 0.5)
        chosen = self.class_box.currentData()
        cls = predicted if chosen is None else int(chosen)
        n_out = int(np.prod(self.network.output_shape))
        index = min(cls, n_out - 1)  # one sigmoid output: its logit is class 1's evidence
        layer = self.layer_box.currentText()
        if n_out == 1 and cls == 0:
            cam = grad_cam_negated(self.network, x[0], layer)
        else:
            cam = grad_cam(self.network, x[0], index, layer)
        self.values = cam
        shown = picture(ds.x_val[i], ds)
        grey = shown.ndim == 2
        pic = 1.0 - shown if grey else shown
        self.image.setImage(pic, levels=(0.0, 1.0))
        self.under.setImage(pic, levels=(0.0, 1.0))
        levels = magnitude_levels(cam)
        self.cam_image.setImage(cam, levels=levels)
        self.bar.setLevels(levels)
        h, w = cam.shape
        for item in (self.image, self.under, self.cam_image):
            item.setRect(QRectF(0, 0, w, h))
        r, c = np.unravel_index(int(np.argmax(cam)), cam.shape)
        self.peak.setData(pos=[(c + 0.5, r + 0.5)] if cam.max() > 0 else [])
        names = ds.class_names
        label = int(np.asarray(ds.y_val).reshape(-1)[i])
        confidence = out[0].max() if out.shape[1] > 1 else max(out[0, 0], 1.0 - out[0, 0])
        # Two short lines each: a long one-line title would widen its panel and shrink the other.
        self.image_plot.setTitle(f"sample {i}: {names[label]}<br>predicted {names[predicted]} "
                                 f"({100 * confidence:.0f}%)", size="9pt")
        where = self._draw_box(ds, i, r, c)
        self.cam_plot.setTitle(f"Grad-CAM of class {names[cls]} at {layer}<br>{where}", size="9pt")
        self.hint.setText("" if cam.max() > 0 else
                          f"No positive evidence for class {names[cls]} at {layer}: the map is all zero.")

    def _draw_box(self, ds: Any, i: int, r: int, c: int) -> str:
        boxes = getattr(ds, "boxes_val", None)
        if boxes is None:
            for b in self.boxes:
                b.setData([], [])
            self.peak_inside = None
            return ""
        top, left, bottom, right = (float(v) for v in boxes[i])
        xs = [left, right, right, left, left]
        ys = [top, top, bottom, bottom, top]
        for b in self.boxes:
            b.setData(xs, ys)
        self.peak_inside = bool(top <= r < bottom and left <= c < right)
        return "peak inside the object's box" if self.peak_inside else "peak outside the object's box"

    def table(self) -> tuple[list[str], np.ndarray]:
        if self.values.size == 0:
            return ["row", "col", "gradcam"], np.empty((0, 3))
        rows, cols = np.indices(self.values.shape)
        return ["row", "col", "gradcam"], np.column_stack([rows.ravel(), cols.ravel(), self.values.ravel()])


def grad_cam_negated(network: Any, x: np.ndarray, layer: str) -> np.ndarray:
    """Class 0's Grad-CAM for a single-logit binary network: the evidence against class 1
    (α from −∂logit/∂A), computed from a copy whose output layer is negated."""
    net = network.copy()
    out = net.layer("output")
    for key in ("W", "b"):
        out.params[key][...] *= -1
    return grad_cam(net, x, 0, layer)


def install(host: ViewHost) -> None:
    """Analyze ▸ Grad-CAM: a workspace page."""
    view = GradCamView()
    s = host.session
    s.trainerChanged.connect(view.set_trainer)
    s.networkUpdated.connect(view.set_network)
    view.set_network(s.view_network)
    view.set_trainer(s.trainer)
    host.add_analysis("gradcam", view, "Grad-CAM",
                      "Where in the image a convolutional layer found the evidence for a class")
