"""Swept value against final metric: one point per run, the best run marked.

The x axis is one swept setting (chosen when a sweep varies several): numbers on a log axis when
they span two decades or more, names (activations, optimizers) as evenly spaced categories.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from workbench.app.plots.base import PlotView
from workbench.app.views.runs_table import best_val_metric
from workbench.model.history import History
from workbench.model.runs import RunRecord

# (label, value of a run, higher is better)
MEASURES: dict[str, tuple[str, Any, bool]] = {
    "val_metric": ("final val metric", lambda r: r.last("val_metric"), True),
    "best_val_metric": ("best val metric", best_val_metric, True),
    "val_loss": ("final val loss", lambda r: r.last("val_loss"), False),
    "train_loss": ("final train loss", lambda r: r.last("train_loss"), False),
}


EMPTY_TEXT = ("No sweep of this experiment yet.\nSweep… plots each run's setting\n"
              "against its result here.")


class SweepScatterPlot(PlotView):
    title = "Sweep: value against result"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x_choice = QComboBox()
        self.x_choice.setToolTip("The swept setting on the x axis.")
        self.y_choice = QComboBox()
        for key, (label, _, _) in MEASURES.items():
            self.y_choice.addItem(label, key)
        self.y_choice.setToolTip("The result on the y axis; the best run by it is marked with a star.")
        self.controls.addWidget(QLabel("x"))
        self.controls.addWidget(self.x_choice, 1)
        self.controls.addWidget(QLabel("y"))
        self.controls.addWidget(self.y_choice, 1)
        self.setToolTip("One point per run: the swept setting against its result, in the run's colour. "
                        "The star marks the best run (highest accuracy or R², lowest loss).")
        # Data items (not bare scatter items) so that a log x axis transforms them too.
        self.points = pg.PlotDataItem(pen=None, symbol="o", symbolSize=9, symbolPen=pg.mkPen(60, 60, 60, 160))
        star = {"symbol": "star", "symbolSize": 22, "symbolBrush": pg.mkBrush(255, 215, 0)}
        self.best = pg.PlotDataItem(pen=None, symbolPen=pg.mkPen(0, 0, 0, width=1.5), **star)
        self.best_text = pg.TextItem(anchor=(0, 1), color=(40, 40, 40))
        for item in (self.points, self.best, self.best_text):
            self.plot_item.addItem(item)
        self.records: list[RunRecord] = []
        self.x: np.ndarray = np.empty(0)
        self.y: np.ndarray = np.empty(0)
        self.shown: list[RunRecord] = []
        self.best_record: RunRecord | None = None
        self.categories: list[str] = []
        self.x_choice.currentIndexChanged.connect(lambda _i: self._draw())
        self.y_choice.currentIndexChanged.connect(lambda _i: self._draw())
        self.plot_item.setLabel("bottom", "swept value")

    def set_runs(self, records: list[RunRecord]) -> None:
        self.records = [r for r in records if r.extra.get("values")]
        paths: list[str] = []
        for r in self.records:
            paths += [p for p in r.extra["values"] if p not in paths]
        current = self.x_choice.currentText()
        self.x_choice.blockSignals(True)
        self.x_choice.clear()
        self.x_choice.addItems(paths)
        if current in paths:
            self.x_choice.setCurrentText(current)
        self.x_choice.blockSignals(False)
        self._draw()

    def _draw(self) -> None:
        path = self.x_choice.currentText()
        key = self.y_choice.currentData()
        label, measure, higher = MEASURES[key]
        runs = [r for r in self.records if r.has_curves and path in r.extra["values"]]
        if not runs:
            self._draw_empty()
            return
        for side in ("bottom", "left"):
            self.plot_item.showAxis(side)
        raw = [r.extra["values"][path] for r in runs]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
        y = np.array([measure(r) for r in runs], dtype=float)
        if numeric:
            x = np.array(raw, dtype=float)
            log = bool(len(x) and np.all(x > 0) and x.max() / x.min() >= 100)
            self.categories = []
            ticks = None
        else:
            self.categories = sorted({str(v) for v in raw})
            x = np.array([self.categories.index(str(v)) for v in raw], dtype=float)
            log = False
            ticks = [list(enumerate(self.categories))]
        self.plot_item.setLogMode(x=log, y=False)
        self.plot_item.getAxis("bottom").setTicks(ticks)
        self.plot_item.setLabel("bottom", path or "swept value")
        self.plot_item.setLabel("left", label)
        finite = np.isfinite(y)
        self.x, self.y, self.shown = x, y, runs
        brushes = [pg.mkBrush(*r.colour) for r, ok in zip(runs, finite, strict=True) if ok]
        self.points.setData(x=x[finite], y=y[finite], symbolBrush=brushes)
        self.best_record = None
        if finite.any():
            i = int(np.nanargmax(y) if higher else np.nanargmin(y))
            self.best_record = runs[i]
            bx = math.log10(x[i]) if log else x[i]
            self.best.setData(x=[x[i]], y=[y[i]])
            self.best_text.setText(f"best: {runs[i].name} ({y[i]:.4g})")
            # The label reads away from the nearer edge, so it is never cut off.
            xs = np.log10(x[finite]) if log else x[finite]
            right = xs.max() > xs.min() and bx > (xs.min() + xs.max()) / 2
            self.best_text.setAnchor((1.05, 1) if right else (-0.05, 1))
            self.best_text.setPos(bx, y[i])
        else:
            self.best.setData(x=[], y=[])
            self.best_text.setText("")
        self.plot_item.enableAutoRange()

    def _draw_empty(self) -> None:
        """No sweep of this experiment: say so, instead of axes over nothing."""
        self.x, self.y, self.shown, self.best_record, self.categories = np.empty(0), np.empty(0), [], None, []
        self.points.setData(x=[], y=[])
        self.best.setData(x=[], y=[])
        self.plot_item.setLogMode(x=False, y=False)
        for side in ("bottom", "left"):
            self.plot_item.hideAxis(side)
        self.best_text.setText(EMPTY_TEXT)
        self.best_text.setAnchor((0.5, 0.5))
        self.best_text.setPos(0.5, 0.5)
        self.plot_item.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)

    def refresh(self, history: History, force: bool = False) -> None:
        pass  # drawn from the runs list when it changes, not from the live history

    def redraw(self, history: History) -> None:
        pass

    def table(self) -> tuple[list[str], np.ndarray]:
        """Named values export as their category's index (the axis shows the names)."""
        name = self.x_choice.currentText() or "value"
        rows = np.column_stack([self.x, self.y]) if len(self.x) else np.empty((0, 2))
        return [name, MEASURES[self.y_choice.currentData()][0]], rows
