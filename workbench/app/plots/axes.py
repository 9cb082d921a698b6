"""Axes whose labels never pile up, and legends that stay out of the data.

pyqtgraph labels every minor decade of a log axis (1e-3, 2e-3, … 9e-3, 1e-2, …) and packs
linear labels until they touch ("010000 20000" on a narrow heatmap). ``TickAxis`` keeps at most
MAX_LABELS labels, fewer when the axis is short, and labels a log axis at decades (or at 1-2-5
steps when it spans less than two decades).

Every log axis of the app is a ``TickAxis`` and writes its numbers one way (``log_labels``): plain
decimals (0.001 … 1000) when all its labels are that readable, else every label in short
e-notation (1e-5, 1e-4, … 1e0), so one axis never mixes "1e-4" with "0.001" and no view uses
pyqtgraph's own "10⁻⁵" labels.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

MAX_LABELS = 6
CHAR_PX = 7  # a tick label's character, at the default font
LINE_PX = 28  # a vertical axis's label with room around it


class TickAxis(pg.AxisItem):
    def _max_labels(self, size: float, values: list[float] | None = None) -> int:
        if self.orientation in ("left", "right"):
            fit = size / LINE_PX
        else:
            sample = self.tickStrings(values or [0.0], self.scale, 1.0) if values else ["0000"]
            chars = max((len(s) for s in sample), default=4)
            fit = size / (chars * CHAR_PX + 16)
        return int(max(2, min(MAX_LABELS, fit)))

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        minVal, maxVal = sorted((minVal, maxVal))
        if not (math.isfinite(minVal) and math.isfinite(maxVal)) or maxVal == minVal:
            return super().tickValues(minVal, maxVal, size)
        if self.logMode:
            return [(1.0, log_ticks(minVal, maxVal, self._max_labels(size)))]
        levels = super().tickValues(minVal, maxVal, size)
        if not levels:
            return levels
        spacing, values = levels[0]
        limit = self._max_labels(size, list(values))
        values = list(values)
        step = 1
        while len(values[::step]) > limit:
            step += 1
        kept = [(spacing * step, values[::step])]
        # A finer level only if all its labels still fit.
        for finer, finer_values in levels[1:]:
            if step == 1 and len(values) + len(finer_values) <= limit:
                kept.append((finer, list(finer_values)))
        return kept

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self.logMode:
            return log_labels([10.0 ** v for v in values])
        return super().tickStrings(values, scale, spacing)


def log_ticks(lo: float, hi: float, limit: int = MAX_LABELS) -> list[float]:
    """Tick positions (log10 units) between ``lo`` and ``hi``: decades, or 1-2-5 steps."""
    decades = [float(k) for k in range(math.ceil(lo), math.floor(hi) + 1)]
    if len(decades) >= 2:
        step = math.ceil(len(decades) / limit)
        return decades[::step]
    steps = (1, 2, 5) if hi - lo > 0.5 else (1, 1.5, 2, 3, 5, 7)
    values = [math.log10(m) + k for k in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in steps]
    inside = [v for v in values if lo <= v <= hi]
    step = math.ceil(len(inside) / limit) if inside else 1
    return inside[::step] if len(inside) >= 2 else [lo, hi]


PLAIN_RANGE = (1e-3, 1e4)  # a log axis whose labels all lie here writes them as decimals


def log_labels(values: list[float]) -> list[str]:
    """One log axis's labels, all in one format: decimals, or all in short e-notation."""
    finite = [v for v in values if v > 0 and np.isfinite(v)]
    lo, hi = PLAIN_RANGE
    plain = all(lo * (1 - 1e-9) <= v < hi for v in finite)
    return [_plain(v) if plain else _exponent(v) for v in values]


def _plain(value: float) -> str:
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    return f"{float(f'{value:.3g}'):.10f}".rstrip("0").rstrip(".")


def _exponent(value: float) -> str:
    if value <= 0 or not np.isfinite(value):
        return f"{value:g}"
    text = f"{value:.2e}"  # e.g. 2.00e-03
    mantissa, exponent = text.split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def tick_axes() -> dict[str, TickAxis]:
    return {"left": TickAxis("left"), "bottom": TickAxis("bottom")}


class LegendLabel(QLabel):
    """The curves' names and colours in a line above the plot; past four, the rest fold away."""

    FOLD_AFTER = 4

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("legend")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setContentsMargins(6, 0, 6, 0)
        self.linkActivated.connect(self._toggle)
        self.entries: list[tuple[str, str]] = []
        self.expanded = False
        self.hide()

    def set_entries(self, entries: list[tuple[str, str]]) -> None:
        if entries != self.entries:
            self.entries = entries
            self._render()

    def _toggle(self, link: str) -> None:
        self.expanded = link == "more"
        self._render()

    def _render(self) -> None:
        shown = self.entries if self.expanded or len(self.entries) <= self.FOLD_AFTER + 1 else (
            self.entries[: self.FOLD_AFTER])
        parts = [f'<span style="color:{c}">&#9473;&#9473;</span>&nbsp;{escape(n)}' for n, c in shown]
        hidden = len(self.entries) - len(shown)
        if hidden:
            parts.append(f'<a href="more">+{hidden} more</a>')
        elif self.expanded and len(self.entries) > self.FOLD_AFTER + 1:
            parts.append('<a href="less">fewer</a>')
        self.setText("&nbsp;&nbsp; ".join(parts))
        self.setVisible(bool(self.entries))

    def texts(self) -> list[str]:
        """The names shown (tests read what a person sees)."""
        shown = self.entries if self.expanded or len(self.entries) <= self.FOLD_AFTER + 1 else (
            self.entries[: self.FOLD_AFTER])
        return [n for n, _c in shown]


def legend_entries(items: list[object]) -> list[tuple[str, str]]:
    """(name, colour) of every named, visible data item."""
    entries = []
    for item in items:
        name = item.name() if hasattr(item, "name") else None
        if not name or not item.isVisible():
            continue
        opts = getattr(item, "opts", {})
        if isinstance(item, pg.ScatterPlotItem):  # markers only: their fill is their colour
            colour = pg.mkBrush(opts.get("brush", (0, 0, 0))).color()
        else:
            pen = opts.get("pen")
            colour = pg.mkPen(pen).color() if pen is not None else None
            if colour is None or colour.alpha() == 0:
                colour = pg.mkBrush(opts.get("symbolBrush", (0, 0, 0))).color()
        entries.append((str(name), colour.name()))
    return entries
