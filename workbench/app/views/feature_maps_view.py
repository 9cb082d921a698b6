"""Inside a convolutional network: each layer's feature maps for one input, and its filters.

As CNN Explainer shows them: one small picture per channel, in a diverging colour scale centred
on 0 (orange negative, white zero, blue positive) shared by the whole layer, so channels can be
compared, with the scale drawn beside them. "Filters" shows a convolution's weights, one
picture per filter with its kernels for each input channel side by side. Computed by
``engine.analysis.feature_maps`` on copies of ``session.view_network``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox

from engine.analysis.feature_maps import feature_maps, filter_strips
from engine.analysis.gradcam import image_layers
from workbench.app.plots.base import MapThrottle, WeightsMapView
from workbench.app.views.colour_scales import DIVERGING, colour_bar, set_bar_label, symmetric_levels
from workbench.app.views.tiles import TileGrid
from workbench.model.history import History
from workbench.model.samples import network_input, picture, picture_shape

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

MAX_TILES = 32
COLUMNS = 8
LUT = DIVERGING.getLookupTable(nPts=256)


class FeatureMapsView(WeightsMapView):
    title = "Feature maps"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        grid = self.use_grid_layout()
        self.input_plot = grid.addPlot(row=0, col=0)
        self.input_plot.setAspectLocked(True)
        self.input_plot.invertY(True)
        self.input_plot.setMouseEnabled(False, False)
        self.input_plot.hideAxis("left")
        self.input_plot.hideAxis("bottom")
        self.input_image = pg.ImageItem(axisOrder="row-major")
        self.input_plot.addItem(self.input_image)
        self.add_export_actions(self.input_plot)
        self.tile_layout = grid.addLayout(row=0, col=1)
        self.tiles = TileGrid(self.tile_layout, MAX_TILES, COLUMNS)
        self.bar = colour_bar("activation", DIVERGING)
        grid.addItem(self.bar, row=0, col=2)
        self.input_plot.setPreferredWidth(120)
        self.input_plot.setMaximumWidth(200)
        self.input_plot.setMaximumHeight(220)
        for item in (self.input_plot, self.tile_layout):
            grid.ci.layout.setAlignment(item, Qt.AlignmentFlag.AlignTop)
        grid.ci.layout.setColumnStretchFactor(1, 5)

        self.layer_box = QComboBox()
        self.layer_box.setToolTip("A convolution or pool of the network")
        self.what_box = QComboBox()
        self.what_box.addItem("feature maps", "maps")
        self.what_box.addItem("filters", "filters")
        self.what_box.setToolTip("Feature maps: the layer's output for the chosen image, one picture per "
                                 "channel. Filters: a convolution's weights, one picture per filter (its "
                                 "kernel for each input channel side by side).")
        self.sample_box = QSpinBox()
        self.sample_box.setToolTip("Which validation image goes in")
        for label, w in (("layer", self.layer_box), ("show", self.what_box), ("sample", self.sample_box)):
            self.controls.addWidget(QLabel(label))
            self.controls.addWidget(w)
        self.layer_box.currentIndexChanged.connect(lambda _i: self._changed())
        self.what_box.currentIndexChanged.connect(lambda _i: self._changed())
        self.sample_box.valueChanged.connect(lambda _v: self._changed())
        self.hint = self.add_hint("")
        self.setToolTip(
            "What a convolutional layer computes: one map per channel for the input on the left "
            "(orange below zero, white at zero, blue above, one scale for the whole layer), or the "
            "filters that made them."
        )
        self.trainer: Any = None
        self.network: Any = None
        self.values = np.empty((0, 0, 0))  # what the tiles show: (channels or filters, h, w)
        self.throttle = MapThrottle()

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self.throttle.reset()
        ds = getattr(trainer, "dataset", None)
        self.sample_box.blockSignals(True)
        self.sample_box.setRange(0, max(len(ds.x_val) - 1, 0) if ds is not None else 0)
        self.sample_box.blockSignals(False)
        self._changed()

    def set_network(self, network: Any) -> None:
        layers = image_layers(network) if network is not None else []
        if [self.layer_box.itemText(i) for i in range(self.layer_box.count())] != layers:
            current = self.layer_box.currentText()
            self.layer_box.blockSignals(True)
            self.layer_box.clear()
            self.layer_box.addItems(layers)
            if current in layers:
                self.layer_box.setCurrentText(current)
            self.layer_box.blockSignals(False)
        self.network = network
        self.throttle.changed()

    def redraw(self, history: History) -> None:
        ds = getattr(self.trainer, "dataset", None)
        if self.network is None or ds is None or picture_shape(ds) is None or not image_layers(self.network):
            self.tiles.show(0)
            self.input_image.clear()
            self.values = np.empty((0, 0, 0))
            self.hint.setText("Feature maps need image data and a convolution (add a Conv2D layer first "
                              "in the network editor)." if self.trainer is not None else
                              "Fix the experiment to see feature maps.")
            return
        try:
            self._draw(ds)
        except Exception as exc:  # a half-edited network never takes the app down
            self.hint.setText(f"Feature maps not available: {exc}")

    def _draw(self, ds: Any) -> None:
        i = self.sample_box.value()
        layer = self.layer_box.currentText()
        shown = picture(ds.x_val[i], ds)
        self.input_image.setImage(1.0 - shown if shown.ndim == 2 else shown, levels=(0.0, 1.0))
        label = int(np.asarray(ds.y_val).reshape(-1)[i])
        names = ds.class_names
        self.input_plot.setTitle(f"input: sample {i} ({names[label] if label < len(names) else label})",
                                 size="9pt")
        filters = self.what_box.currentData() == "filters"
        kind = self.network.layer(layer).kind
        if filters and kind != "conv2d":
            self.values = np.empty((0, 0, 0))
            self.tiles.show(0)
            self.hint.setText(f"{layer} is a {kind}: it has no filters. Choose a conv layer.")
            return
        if filters:
            weights = self.network.layer(layer).params["W"]
            self.values = filter_strips(weights)
            quantity, what = "weight", "filter"
            f_, c_, kh, kw = weights.shape
            extra = f"{f_} filters of {c_} input channel(s), {kh}×{kw} each"
        else:
            x = network_input(ds.x_val[i : i + 1], self.network)[0]
            self.values = feature_maps(self.network, x)[layer]
            quantity, what = "activation", "channel"
            c, h, w = self.values.shape
            extra = f"{c} channels of {h}×{w}"
        levels = symmetric_levels(self.values)
        n = min(len(self.values), MAX_TILES)
        self.tiles.show(n)
        for k in range(n):
            self.tiles.boxes[k].show_picture(np.nan_to_num(self.values[k], nan=0.0), levels=levels, lut=LUT)
            self.tiles.set_title(k, f"{what} {k + 1}")
            lo, hi = np.nanmin(self.values[k]), np.nanmax(self.values[k])
            self.tiles.boxes[k].setToolTip(f"{layer}, {what} {k + 1}: from {lo:.3g} to {hi:.3g}")
        self.bar.setLevels(levels)
        set_bar_label(self.bar, f"{quantity} (white = 0)")
        more = f" (first {MAX_TILES} shown)" if len(self.values) > MAX_TILES else ""
        self.hint.setText(f"{layer}: {extra}{more} · one colour scale for the layer")

    def table(self) -> tuple[list[str], np.ndarray]:
        if self.values.size == 0:
            return ["channel", "row", "col", "value"], np.empty((0, 4))
        c, r, k = np.indices(self.values.shape)
        return ["channel", "row", "col", "value"], np.column_stack(
            [c.ravel(), r.ravel(), k.ravel(), self.values.ravel()])


def install(host: ViewHost) -> None:
    """Analyze ▸ Feature Maps and Filters: a workspace page."""
    view = FeatureMapsView()
    s = host.session
    s.trainerChanged.connect(view.set_trainer)
    s.networkUpdated.connect(view.set_network)
    view.set_network(s.view_network)
    view.set_trainer(s.trainer)
    host.add_analysis("feature_maps", view, "Feature Maps and Filters",
                      "Each convolutional layer's output for one image, and its filters")

