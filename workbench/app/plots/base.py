"""What every plot dock shares: a PlotWidget, a control row, redraw-on-revision, export hooks.

Curves are created once and only ``setData`` afterwards; downsampling ('peak') and clip to
view keep a million-point history cheap to draw. Redraws are driven by the main window's one
frame timer and skipped when the history has not changed, so data is never dropped, only
redraws are throttled.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.app.plots.axes import LegendLabel, legend_entries, tick_axes
from workbench.model.history import History

pg.setConfigOptions(antialias=False, background="w", foreground="k")

# Maps computed from the weights (decision boundary, neuron maps, saliency, histograms) cost a
# forward pass or more on the GUI thread: while the weights keep changing, at most ~2 a second.
MAP_INTERVAL = 0.45


def on_screen(widget: QWidget) -> bool:
    """True when part of ``widget`` can be seen: not closed, hidden, or on a tab behind another.

    A widget whose children cover it whole (a plot with no control row) has an empty visible
    region of its own, so its direct children's regions count too."""
    if not widget.isVisible():
        return False
    if not widget.visibleRegion().isEmpty():
        return True
    children = widget.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
    return any(c.isVisible() and not c.visibleRegion().isEmpty() for c in children)


class MapThrottle:
    """Recompute a weights-driven map only when the weights changed, at most every ``interval`` s.

    ``changed()`` on new weights; ``due()`` in the refresh says whether to recompute now (a skipped
    change stays pending and is drawn on a later frame: the last weights are always drawn)."""

    def __init__(self, interval: float = MAP_INTERVAL) -> None:
        self.interval = interval
        self.revision = 0
        self._drawn = -1
        self._at = -np.inf

    def changed(self) -> None:
        self.revision += 1

    def reset(self) -> None:
        """Draw on the next ``due()`` whatever the time (a new trainer, a forced refresh)."""
        self._drawn, self._at = -1, -np.inf

    @property
    def pending(self) -> bool:
        return self._drawn != self.revision

    def due(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and (not self.pending or now - self._at < self.interval):
            return False
        self._drawn, self._at = self.revision, now
        return True


class SteadyViewBox(pg.ViewBox):
    """A ViewBox whose auto-range moves only when the data leaves the view or fills little of it.

    pyqtgraph's auto-range follows the data exactly, so a growing history changes the range on
    every frame and every axis is laid out and repainted again: the costliest part of a frame.
    Here, while ``steady``, a range that still holds the data is kept, and a range that must grow
    grows with headroom in that direction (HEADROOM of the span: x, y), so the axes change a
    logarithmic number of times over a run. User zoom/pan and the "A" button work as in pyqtgraph.
    """

    HEADROOM = (0.25, 0.05)
    LOOSE = 1.6  # a view more than this many times the data's span is shrunk to fit
    steady = False  # set per instance by PlotView.set_live
    _auto = False  # inside pyqtgraph's auto-range update

    def updateAutoRange(self) -> None:
        self._auto = True
        try:
            super().updateAutoRange()
        finally:
            self._auto = False

    fresh = False  # showing the empty placeholder view: the first data replaces it outright

    def setRange(self, rect=None, xRange=None, yRange=None, *args, **kwargs) -> None:
        if self._auto and self.fresh and rect is None and (xRange is not None or yRange is not None):
            self.fresh = False  # fit the first data exactly; the placeholder is no range to grow from
        elif self._auto and self.steady and rect is None:
            current = self.viewRange()
            xRange = self._settle(0, xRange, current[0])
            yRange = self._settle(1, yRange, current[1])
            if xRange is None and yRange is None:
                return
        super().setRange(rect, xRange, yRange, *args, **kwargs)

    def _settle(self, axis: int, needed: object, current: list[float]) -> list[float] | None:
        if needed is None:
            return None
        lo, hi = float(needed[0]), float(needed[1])
        c_lo, c_hi = current
        span = hi - lo
        if not span > 0:
            return [lo, hi]
        # ``needed`` holds pyqtgraph's padding, which grows with the data: only the data must fit.
        pad = self.suggestPadding(axis)
        slack = span * pad / (1 + 2 * pad)
        if c_lo <= lo + slack and hi - slack <= c_hi:
            return None if c_hi - c_lo <= self.LOOSE * span else [lo, hi]
        head = self.HEADROOM[axis] * span
        # Steps and epochs only grow to the right: no headroom below the first x (it showed as an
        # empty stretch of negative steps).
        low = lo if axis == 0 or lo >= c_lo else lo - head
        return [low, hi + head if hi > c_hi else hi]


class PlotView(QWidget):
    """A titled plot; subclasses implement ``redraw(history)`` and ``table()``."""

    title = "Plot"
    exportRequested = Signal(str)  # 'png' | 'svg' | 'csv' (the main window asks where)
    # Seconds between two redraws while the history keeps moving (0: every frame). Views whose
    # redraw costs more than a few curves set MAP_INTERVAL; a skipped change is drawn later.
    min_interval = 0.0
    # Plots whose x axis is the training step show the run's live changes as labelled lines.
    step_axis = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(type(self).__name__)
        self.plot_widget = pg.PlotWidget(viewBox=SteadyViewBox(), axisItems=tick_axes())
        self.plot_widget.setMinimumSize(220, 150)
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        # No grid: pyqtgraph paints grid lines through the axis items, which cost more per
        # frame than all curves together (profiled: ~45 % of the GUI thread while training).
        self.plot_item.showGrid(x=False, y=False)
        for side in ("left", "bottom"):
            # "accuracy (x0.001)" helps nobody: show values as they are.
            self.plot_item.getAxis(side).enableAutoSIPrefix(False)
        self.plot_item.setMenuEnabled(True)
        # pyqtgraph's own "Export…" dialog offers its broken SVG exporter: ours replace it.
        self.plot_widget.scene().contextMenu = []
        self.add_export_actions(self.plot_item)
        self.controls = QHBoxLayout()
        self.controls.setContentsMargins(4, 0, 4, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.controls)
        # Legends sit above the plot, never on the data (pyqtgraph's legend is drawn over it).
        self.legend_label = LegendLabel()
        layout.addWidget(self.legend_label)
        layout.addWidget(self.plot_widget, 1)
        self._revision = -1
        self._drawn_at = -np.inf
        self._marker_lines: list[pg.InfiniteLine] = []

    def add_export_actions(self, plot: pg.PlotItem) -> None:
        """PNG, SVG and CSV export in ``plot``'s context menu (they export this whole view)."""
        menu = plot.getViewBox().menu
        menu.addSeparator()
        for fmt, label in (("png", "Export PNG…"), ("svg", "Export SVG…"), ("csv", "Export data as CSV…")):
            action = menu.addAction(label)
            action.setData(fmt)
            # A bound method, not a closure over self: pyqtgraph's menu has no Qt parent, so a
            # closure it held would keep this view, and the session it shows, alive for good.
            action.triggered.connect(self._export_action)

    def _export_action(self) -> None:
        self.exportRequested.emit(self.sender().data())

    def use_grid_layout(self) -> pg.GraphicsLayoutWidget:
        """Swap the single plot for a grid of plots; exports then render the whole grid."""
        old = self.plot_widget
        new = pg.GraphicsLayoutWidget()
        new.setMinimumSize(300, 220)
        new.scene().contextMenu = []  # pyqtgraph's export dialog offers its broken SVG exporter
        self.layout().replaceWidget(old, new)
        old.setParent(None)
        old.deleteLater()
        self.plot_widget = new
        self.plot_item = new.ci  # a GraphicsLayout: what export_png/svg resize and render
        return new

    def add_log_toggle(self, checked: bool, tip: str) -> QCheckBox:
        box = QCheckBox("log y")
        box.setChecked(checked)
        box.setToolTip(tip)
        box.toggled.connect(lambda on: self.plot_item.setLogMode(y=on))
        self.plot_item.setLogMode(y=checked)
        self.controls.addWidget(box)
        return box

    def add_hint(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("color: #666;")
        label.setWordWrap(False)
        self.controls.addWidget(label, 1)
        return label

    def new_curve(self, name: str, color: object, width: float = 1.0, **kw: object) -> pg.PlotDataItem:
        curve = self.plot_item.plot(name=name, pen=pg.mkPen(color, width=width), **kw)
        curve.setDownsampling(auto=True, method="peak")
        curve.setClipToView(True)
        return curve

    def set_live(self, live: bool) -> None:
        """Training started (True) or ended (False): steady ranges while live, an exact fit after."""
        box = self.plot_item.getViewBox() if hasattr(self.plot_item, "getViewBox") else None
        if isinstance(box, SteadyViewBox) and box.steady != live:
            box.steady = live
            if not live and any(box.state["autoRange"]):
                box.queueUpdateAutoRange()

    def refresh(self, history: History, force: bool = False) -> None:
        """Redraw if the history moved since the last redraw (and ``min_interval`` has passed)."""
        if not force and history.revision == self._revision:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < self.min_interval:
            return
        self._revision, self._drawn_at = history.revision, now
        self.redraw(history)
        self.sync_legend()
        if self.step_axis:
            self.sync_markers(history.markers)

    def sync_markers(self, markers: list[tuple[int, str]]) -> None:
        """One dashed vertical line per live change, labelled with what changed."""
        if len(markers) < len(self._marker_lines):
            for line in self._marker_lines:
                self.plot_item.removeItem(line)
            self._marker_lines = []
        for step, text in markers[len(self._marker_lines):]:
            pen = pg.mkPen((120, 60, 160), width=1, style=Qt.PenStyle.DashLine)
            line = pg.InfiniteLine(
                pos=step, angle=90, movable=False, pen=pen,
                label=text, labelOpts={"position": 0.92, "color": (90, 40, 130), "fill": (255, 255, 255, 200),
                                       "anchors": [(0, 0.5), (0, 0.5)]})
            line.setToolTip(f"Changed during the run at step {step:,}: {text}")
            self.plot_item.addItem(line, ignoreBounds=True)
            self._marker_lines.append(line)

    def marker_texts(self) -> list[str]:
        """The labels of the markers drawn (tests read what a person sees)."""
        return [line.label.toPlainText() for line in self._marker_lines]

    def reset_view(self) -> None:
        """A new experiment or new weights: the axes fit the new data, nothing of the old remains."""
        plots = [self.plot_item] if isinstance(self.plot_item, pg.PlotItem) else [
            item for item in getattr(self.plot_item, "items", {}) if isinstance(item, pg.PlotItem)]
        for plot in plots:
            # With no data yet, auto-range keeps the old view: start from pyqtgraph's empty view.
            box = plot.getViewBox()
            box.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            plot.enableAutoRange()
            if isinstance(box, SteadyViewBox):
                box.fresh = True
        self._revision = -1

    def data_items(self) -> list[object]:
        """Every curve and scatter of the view, in drawing order (for the legend)."""
        plots = [self.plot_item] if isinstance(self.plot_item, pg.PlotItem) else [
            item for item in getattr(self.plot_item, "items", {}) if isinstance(item, pg.PlotItem)]
        return [item for plot in plots for item in plot.listDataItems()]

    def sync_legend(self) -> None:
        self.legend_label.set_entries(legend_entries(self.data_items()))

    def redraw(self, history: History) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def table(self) -> tuple[list[str], np.ndarray]:
        """The data behind the plot: column names and a 2-D array of rows."""
        raise NotImplementedError


def set_curve(curve: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
    n = min(len(x), len(y))
    curve.setData(x[:n], y[:n], connect="finite")


def columns(*arrays: np.ndarray) -> np.ndarray:
    n = max((len(a) for a in arrays), default=0)
    out = np.full((n, len(arrays)), np.nan)
    for i, a in enumerate(arrays):
        out[: len(a), i] = a
    return out


class WeightsMapView(PlotView):
    """A view computed from the weights rather than the history (maps, attributions, confusion):
    recomputed through ``self.throttle`` (a ``MapThrottle`` the subclass creates), and at once
    when the person changes one of its own choices."""

    throttle: MapThrottle

    def refresh(self, history: History, force: bool = False) -> None:
        if self.throttle.due(force):
            self.redraw(history)

    def _changed(self) -> None:
        """A choice of the view's own changed: answer at once, if it can be seen."""
        self.throttle.changed()
        if on_screen(self):
            self.refresh(History(), force=True)
