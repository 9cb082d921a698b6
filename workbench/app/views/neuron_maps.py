"""Inside the network for 2-D data: what every hidden unit computes over the input plane.

TensorFlow Playground's neuron thumbnails: each hidden Dense unit's output over a grid of the
plane (through ``dataset.featurize``, on ``session.view_network``), one column per layer. Early
units draw lines, later ones combine them into curves: the decision boundary being assembled.

Clicking a thumbnail enlarges it. The main "Decision boundary" plot (BoundaryPlot) only draws
the network's output and has no API to show another map (it recomputes its image from the
network on every weight update), so the enlarged map lives in its own "Neuron map" plot dock
here, with the data points on top and a "Network output" button to go back to the output.
What BoundaryPlot would need to host it instead: ``show_map(values (GRID×GRID), label)`` that
pins an arbitrary scalar map (and ``show_output()`` to unpin), plus its grid (``_grid``) public.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.app.plots.base import MapThrottle, WeightsMapView, on_screen
from workbench.app.plots.boundary_plot import PALETTE, _colours
from workbench.model.history import History

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

THUMB_RES = 32  # grid points per side of a thumbnail
THUMB_PX = 52
BIG_RES = 90  # as the decision boundary
MAX_UNITS_SHOWN = 64  # per layer; wide layers on 2-D data are rare and would not fit anyway
# TensorFlow Playground's colours: orange for negative outputs, white at zero, blue for positive.
NEGATIVE = np.array([245.0, 147.0, 34.0])
POSITIVE = np.array([8.0, 119.0, 189.0])
WHITE = np.array([255.0, 255.0, 255.0])


def _diverging_lut() -> np.ndarray:
    """511 uint8 colours for t = -1 … 1 in steps of 1/255: orange, white at the middle, blue."""
    t = np.linspace(-1.0, 1.0, 511)[:, None]
    rgb = np.where(t >= 0, WHITE + t * (POSITIVE - WHITE), WHITE - t * (NEGATIVE - WHITE))
    return np.rint(rgb).clip(0, 255).astype(np.uint8)


DIVERGING_LUT = _diverging_lut()


def diverging_rgb(values: np.ndarray, scale: float | np.ndarray | None = None) -> np.ndarray:
    """uint8 RGB: orange below zero, white at zero, blue above; ``scale`` maps to full colour.

    ``scale`` may be an array that broadcasts against ``values`` (one scale per unit, so every
    thumbnail of a layer is coloured in one call); by default the largest |value|. NaN is white.
    One table look-up per pixel: the per-pixel arithmetic happens once, on 511 colours."""
    v = np.asarray(values, float)
    if scale is None:
        finite = np.abs(v[np.isfinite(v)])
        scale = float(finite.max()) if finite.size else 1.0
    s = np.where(np.asarray(scale, float) > 0, scale, 1.0)
    with np.errstate(invalid="ignore"):
        idx = np.rint(v * (255.0 / s))
    idx = np.nan_to_num(idx, nan=0.0, posinf=255.0, neginf=-255.0).clip(-255, 255).astype(np.intp)
    return DIVERGING_LUT[idx + 255]


def plane(dataset: Any, res: int) -> tuple[np.ndarray, np.ndarray, QRectF]:
    """(x grid, y grid, rect) over the data's extent, padded like the decision boundary."""
    pts = np.concatenate([dataset.points_train, dataset.points_val])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.08 * (hi - lo) + 1e-9
    lo, hi = lo - pad, hi + pad
    return (np.linspace(lo[0], hi[0], res), np.linspace(lo[1], hi[1], res),
            QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]))


def unit_maps(network: Any, dataset: Any, res: int) -> dict[str, np.ndarray]:
    """Hidden Dense layer name -> outputs over a res×res grid, shape (res, res, units).

    Row i is the i-th y value, column j the j-th x value (image row-major order)."""
    gx, gy, _ = plane(dataset, res)
    xx, yy = np.meshgrid(gx, gy)
    features = dataset.featurize(np.column_stack([xx.ravel(), yy.ravel()]))
    with np.errstate(all="ignore"):
        network.forward(np.asarray(features, network.params.dtype), training=False)
    maps: dict[str, np.ndarray] = {}
    for layer in network.flat_layers[:-1]:  # the last layer is the output; blocks' inner layers too
        a = getattr(layer, "a", None)
        if layer.kind == "dense" and isinstance(a, np.ndarray):
            maps[layer.name] = np.asarray(a, float).reshape(res, res, -1).copy()
    return maps


def _pixmap(rgb: np.ndarray, size: int) -> QPixmap:
    # Image rows run top to bottom, the plane's y bottom to top: flip so thumbnails match the plot.
    rgb = np.ascontiguousarray(rgb[::-1])
    h, w, _ = rgb.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


def colour_key() -> QWidget:
    """A visible legend for the thumbnails' colours (the tooltip alone was easy to miss)."""
    key = QWidget()
    row = QHBoxLayout(key)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    strip = QLabel()
    strip.setObjectName("colourKeyStrip")
    lut = np.ascontiguousarray(np.repeat(DIVERGING_LUT[None, :, :], 2, axis=0))
    image = QImage(lut.data, lut.shape[1], 2, 3 * lut.shape[1], QImage.Format.Format_RGB888).copy()
    strip.setPixmap(QPixmap.fromImage(image).scaled(96, 10))
    for widget in (QLabel("negative"), strip, QLabel("positive")):
        row.addWidget(widget)
    key.setToolTip("0 is white; each map is scaled to its own largest |output|")
    row.addStretch(1)
    return key


class NeuronMapPlot(WeightsMapView):
    """The enlarged map of one unit (or the network output) over the plane, data on top."""

    title = "Neuron map"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot_item.setLabel("bottom", "x₁")
        self.plot_item.setLabel("left", "x₂")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image)
        self.points = pg.ScatterPlotItem(size=6, pen=pg.mkPen(40, 40, 40, 160))
        self.plot_item.addItem(self.points)
        self.output_button = QPushButton("Network output")
        self.output_button.setToolTip("Back to the network's output (the decision boundary)")
        self.output_button.clicked.connect(lambda: self.select(None))
        self.controls.addWidget(self.output_button)
        self.hint = self.add_hint("")
        self.setToolTip(
            "One hidden unit's output over the input plane (orange negative, white zero, blue positive), "
            "or the network's output. Click a thumbnail in 'Neurons' to choose the unit."
        )
        self.trainer: Any = None
        self.network: Any = None
        self.selected: tuple[str, int] | None = None  # None: the network output
        self.values = np.empty((0, 0))  # what is drawn: the unit's outputs, or the output's first column
        self._grid: tuple[np.ndarray, np.ndarray, QRectF] | None = None
        self.throttle = MapThrottle()  # new weights: redrawn a few times a second at most

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self.throttle.reset()
        ds = getattr(trainer, "dataset", None)
        self._grid = plane(ds, BIG_RES) if _is_2d(ds) else None
        self.selected = None
        self.values = np.empty((0, 0))
        self.image.clear()
        self.points.clear()
        if self._grid is None:
            self.hint.setText("Neuron maps are drawn for 2-D data sets.")
            return
        rect = self._grid[2]
        self.plot_item.setRange(xRange=(rect.left(), rect.right()), yRange=(rect.top(), rect.bottom()),
                                padding=0)
        labels = np.asarray(ds.y_train).reshape(len(ds.y_train), -1)[:, 0]
        if ds.task == "regression":
            brushes = [pg.mkBrush(80, 80, 80, 160)] * len(labels)
        else:
            cache = [pg.mkBrush(*PALETTE[i % len(PALETTE)]) for i in range(max(ds.n_classes, 2))]
            brushes = [cache[int(i)] for i in labels]
        self.points.setData(pos=ds.points_train, brush=brushes)
        self.throttle.changed()

    def set_network(self, network: Any) -> None:
        self.network = network
        self.throttle.changed()

    def select(self, unit: tuple[str, int] | None) -> None:
        self.selected = unit
        self.throttle.changed()
        self.refresh(History(), force=True)

    def redraw(self, history: History) -> None:
        if self._grid is None or self.network is None or self.trainer is None:
            return
        ds = self.trainer.dataset
        try:
            if self.selected is None:
                gx, gy, _ = self._grid
                xx, yy = np.meshgrid(gx, gy)
                feats = np.asarray(ds.featurize(np.column_stack([xx.ravel(), yy.ravel()])),
                                   self.network.params.dtype)
                with np.errstate(all="ignore"):
                    out = self.trainer.loss.transform(self.network.forward(feats, training=False))
                out = np.asarray(out, float).reshape(BIG_RES * BIG_RES, -1)
                self.values = out[:, 0].reshape(BIG_RES, BIG_RES)
                rgb = _colours(out, ds.task).reshape(BIG_RES, BIG_RES, 3)
                self.hint.setText("network output")
            else:
                layer, unit = self.selected
                self.values = unit_maps(self.network, ds, BIG_RES)[layer][:, :, unit]
                rgb = diverging_rgb(self.values)
                lo, hi = float(np.nanmin(self.values)), float(np.nanmax(self.values))
                self.hint.setText(f"{layer} · unit {unit + 1}: output from {lo:.3g} to {hi:.3g}")
        except Exception:  # a half-edited network never takes the app down
            return
        self.image.setImage(rgb, levels=(0, 255))
        self.image.setRect(self._grid[2])

    def table(self) -> tuple[list[str], np.ndarray]:
        if self._grid is None or self.values.size == 0:
            return ["x1", "x2", "value"], np.empty((0, 3))
        gx, gy, _ = self._grid
        xx, yy = np.meshgrid(gx, gy)
        return ["x1", "x2", "value"], np.column_stack([xx.ravel(), yy.ravel(), self.values.ravel()])


class NeuronMapsView(QWidget):
    """Thumbnails of every hidden unit, one column per layer; a click enlarges one."""

    def __init__(self, enlarged: NeuronMapPlot, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("NeuronMapsView")
        self.enlarged = enlarged
        self.message = QLabel("")
        self.message.setStyleSheet("color: #666;")
        self.message.setWordWrap(True)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setSpacing(3)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.message, 1)
        self.colour_key = colour_key()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        self.colour_key.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.colour_key)
        layout.addWidget(scroll, 1)
        self.setToolTip(
            "What each hidden unit computes: its output over the input plane (orange negative, white "
            "zero, blue positive; each thumbnail scaled to its own largest |output|). The first layer "
            "can only cut the plane with lines; later layers combine them into curves. Click one to "
            "enlarge it."
        )
        self.trainer: Any = None
        self.network: Any = None
        self.buttons: dict[tuple[str, int], QToolButton] = {}
        self.maps: dict[str, np.ndarray] = {}
        self._layout_key: tuple = ()
        self.throttle = MapThrottle()

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self.throttle.reset()
        self.throttle.changed()

    def set_network(self, network: Any) -> None:
        self.network = network
        self.throttle.changed()

    def tick(self) -> None:
        """From the frame timer: redraw if the weights moved and the thumbnails are on screen
        (not in a tab behind another dock); at most a few times a second while training."""
        if self.throttle.pending and on_screen(self) and self.throttle.due():
            self.update_maps()

    def update_maps(self) -> None:
        self.throttle.due(force=True)
        ds = getattr(self.trainer, "dataset", None)
        if self.network is None or not _is_2d(ds):
            self._rebuild({})
            self.message.setText("Neuron maps are drawn for 2-D data sets (spiral, circles, xor, …)."
                                 if self.trainer is not None else "Fix the experiment to see neuron maps.")
            return
        try:
            self.maps = unit_maps(self.network, ds, THUMB_RES)
        except Exception:  # featurize/shape mismatch during an edit
            return
        self._rebuild({name: m.shape[2] for name, m in self.maps.items()})
        for layer, maps in self.maps.items():
            shown = maps[:, :, :MAX_UNITS_SHOWN]
            # One colour look-up for the whole layer, each unit scaled to its own largest |output|.
            with warnings.catch_warnings():  # an all-NaN unit (a diverged run) is drawn white
                warnings.simplefilter("ignore", RuntimeWarning)
                lows, highs = np.nanmin(shown, axis=(0, 1)), np.nanmax(shown, axis=(0, 1))
            scale = np.nan_to_num(np.maximum(np.abs(lows), np.abs(highs)), nan=0.0, posinf=0.0)
            rgb = diverging_rgb(shown, scale)
            for unit in range(shown.shape[2]):
                button = self.buttons.get((layer, unit))
                if button is None:
                    continue
                button.setIcon(QIcon(_pixmap(rgb[:, :, unit], THUMB_PX)))
                button.setToolTip(f"{layer}, unit {unit + 1}: output from {lows[unit]:.3g} to "
                                  f"{highs[unit]:.3g}. Click to enlarge.")
        n = sum(m.shape[2] for m in self.maps.values())
        self.message.setText(f"{n} hidden units in {len(self.maps)} layer(s)" if n else
                             "This network has no hidden Dense layer: see the decision boundary.")

    def _rebuild(self, units: dict[str, int]) -> None:
        key = tuple(units.items())
        if key == self._layout_key:
            return
        self._layout_key = key
        for button in self.buttons.values():
            button.deleteLater()
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.buttons = {}
        for col, (layer, n) in enumerate(units.items()):
            shown = min(n, MAX_UNITS_SHOWN)
            head = QLabel(f"<b>{layer}</b><br>{n} units" + (f" ({shown} shown)" if shown < n else ""))
            head.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.grid.addWidget(head, 0, col)
            for unit in range(shown):
                button = QToolButton()
                button.setIconSize(QSize(THUMB_PX, THUMB_PX))
                button.setCheckable(True)
                button.setAutoRaise(True)
                button.clicked.connect(lambda _=False, k=(layer, unit): self.choose(k))
                self.grid.addWidget(button, unit + 1, col, Qt.AlignmentFlag.AlignHCenter)
                self.buttons[(layer, unit)] = button

    def choose(self, unit: tuple[str, int] | None) -> None:
        for key, button in self.buttons.items():
            button.setChecked(key == unit)
        self.enlarged.select(unit)
        dock = self.enlarged.parent()
        while dock is not None and not hasattr(dock, "toggleViewAction"):
            dock = dock.parent()
        if dock is not None:
            dock.show()
            dock.raise_()


def _is_2d(dataset: Any) -> bool:
    return dataset is not None and dataset.points_train is not None and dataset.featurize is not None


def install(host: ViewHost) -> None:
    """Analyze ▸ Neuron Maps: thumbnails beside the enlarged map, one workspace page."""
    enlarged = NeuronMapPlot()
    view = NeuronMapsView(enlarged)
    host.register("neuron_maps", view)
    host.register("neuron_map", enlarged)
    s = host.session
    for target in (view, enlarged):
        s.trainerChanged.connect(target.set_trainer)
        s.networkUpdated.connect(target.set_network)
        target.set_trainer(s.trainer)
        target.set_network(s.view_network)
    enlarged.output_button.clicked.connect(lambda: view.choose(None))
    host.on_frame(view.tick)
    page = QSplitter(Qt.Orientation.Horizontal)
    page.addWidget(view)
    page.addWidget(enlarged)
    page.setStretchFactor(0, 1)
    page.setStretchFactor(1, 2)
    page.setChildrenCollapsible(False)
    page.setSizes([320, 640])  # thumbnails a third, the enlarged map the rest
    tip = "What every hidden unit computes over the input plane (2-D data)"
    host.add_page("neurons", "Neurons", page, tip)
    host.register_plot(enlarged)
    host.add_action("Neuron Maps", lambda: host.open_page("neurons"), tip)
