"""Axes and legends a person can read: at most ~6 tick labels, none overlapping; legends above the
plot, folded past four entries."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from workbench.app.plots.axes import LegendLabel, TickAxis, log_ticks
from workbench.app.plots.gradient_plot import GradientPlot


@pytest.mark.parametrize(("lo", "hi"), [(-9, 1), (-3, 0), (-1.2, 0.3), (-0.2, 0.1), (2, 2.05)])
def test_log_axes_label_at_most_six_readable_values(lo: float, hi: float) -> None:
    ticks = log_ticks(lo, hi)
    assert 2 <= len(ticks) <= 6
    assert all(lo - 1e-9 <= t <= hi + 1e-9 for t in ticks)
    if hi - lo >= 2:
        assert all(float(t).is_integer() for t in ticks), "decades only on a wide log axis"


def _labels(axis: TickAxis, lo: float, hi: float, size: float) -> list[str]:
    levels = axis.tickValues(lo, hi, size)
    values = [v for _spacing, vs in levels for v in vs]
    return axis.tickStrings(values, 1.0, levels[0][0] if levels else 1.0)


def test_a_narrow_step_axis_never_packs_its_labels_together(qtbot: Any) -> None:
    axis = TickAxis("bottom")
    labels = _labels(axis, 0, 24_000, 180)  # the heatmap's step axis at its default width
    width = sum(len(s) for s in labels) * 7 + 16 * len(labels)
    assert len(labels) <= 6 and width <= 180, labels


def test_gradient_plot_in_log_mode_labels_at_most_six_ticks(qtbot: Any) -> None:
    plot = GradientPlot()
    qtbot.addWidget(plot)
    plot.resize(320, 240)
    plot.show()
    plot.plot_item.plot(np.arange(100), np.logspace(-9, 0, 100))
    qtbot.wait(50)
    left = plot.plot_item.getAxis("left")
    lo, hi = left.range
    levels = left.tickValues(lo, hi, left.height())
    shown = [v for _s, vs in levels for v in vs]
    assert len(shown) <= 6 and all(math.isfinite(v) for v in shown)


def test_legend_lists_every_curve_above_the_plot_and_folds_past_four(qtbot: Any) -> None:
    legend = LegendLabel()
    qtbot.addWidget(legend)
    legend.set_entries([(f"variant {i}", "#336699") for i in range(8)])
    assert legend.texts() == [f"variant {i}" for i in range(4)]
    assert "+4 more" in legend.text()
    legend.linkActivated.emit("more")
    assert legend.texts() == [f"variant {i}" for i in range(8)], "the last entry is never cut off"
    legend.linkActivated.emit("less")
    assert len(legend.texts()) == 4


def _plot_items(view: Any) -> list[Any]:
    import pyqtgraph as pg

    found = [v for v in vars(view).values() if isinstance(v, pg.PlotItem)]
    layout = getattr(view, "plot_item", None)
    if isinstance(layout, pg.PlotItem):
        found.append(layout)
    elif isinstance(layout, pg.GraphicsLayout):
        found += [item for item in layout.items if isinstance(item, pg.PlotItem)]
    return found


def test_every_log_axis_in_every_view_writes_its_numbers_one_way(window) -> None:
    plots = [window.loss_plot, window.metric_plot, window.gradient_plot, *window.views.values()]
    log_axes = []
    for view in plots:
        for plot in _plot_items(view):
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                if axis.logMode:
                    log_axes.append((type(view).__name__, side, axis))
    names = {name for name, _side, _axis in log_axes}
    assert {"LossPlot", "GradientPlot", "RaceView", "TimeGradientView", "LRFinderView"} <= names, names
    for name, side, axis in log_axes:
        assert isinstance(axis, TickAxis), f"{name}'s {side} axis labels its own way"
        assert axis.tickStrings([-5, -4, -3, -2, -1, 0], 1.0, 1.0) == ["1e-5", "1e-4", "1e-3", "1e-2", "1e-1",
                                                                      "1e0"]
        assert axis.tickStrings([-3, -2, -1, 0, 1], 1.0, 1.0) == ["0.001", "0.01", "0.1", "1", "10"]
