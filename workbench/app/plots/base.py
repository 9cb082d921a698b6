"""What every plot dock shares: a PlotWidget, a control row, redraw-on-revision, export hooks.

Curves are created once and only ``setData`` afterwards; downsampling ('peak') and clip to
view keep a million-point history cheap to draw. Redraws are driven by the main window's one
frame timer and skipped when the history has not changed, so data is never dropped, only
redraws are throttled.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.app.history import History

pg.setConfigOptions(antialias=False, background="w", foreground="k")


class PlotView(QWidget):
    """A titled plot; subclasses implement ``redraw(history)`` and ``table()``."""

    title = "Plot"
    exportRequested = Signal(str)  # 'png' | 'svg' | 'csv' (the main window asks where)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(type(self).__name__)
        self.plot_widget = pg.PlotWidget()
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
        menu = self.plot_item.getViewBox().menu
        menu.addSeparator()
        for fmt, label in (("png", "Export PNG…"), ("svg", "Export SVG…"), ("csv", "Export data as CSV…")):
            action = menu.addAction(label)
            action.triggered.connect(lambda _=False, f=fmt: self.exportRequested.emit(f))
        self.controls = QHBoxLayout()
        self.controls.setContentsMargins(4, 0, 4, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.controls)
        layout.addWidget(self.plot_widget, 1)
        self._revision = -1

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

    def refresh(self, history: History, force: bool = False) -> None:
        """Redraw if the history moved since the last frame."""
        if force or history.revision != self._revision:
            self._revision = history.revision
            self.redraw(history)

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
