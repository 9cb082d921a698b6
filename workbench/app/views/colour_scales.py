"""The colour scales the explanation views share, so one colour means one thing everywhere.

- ``DIVERGING``: signed values (feature maps, filters, Integrated Gradients): orange below zero,
  white at zero, blue above, as the neuron maps draw a unit's output. Always centred on 0 with
  ``symmetric_levels``, so white is exactly zero and equal |values| get equal strength.
- ``MAGNITUDE``: sizes ≥ 0 (saliency, SmoothGrad, Grad-CAM): inferno, dark at 0.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from workbench.app.views.neuron_maps import NEGATIVE, POSITIVE, WHITE

DIVERGING = pg.ColorMap([0.0, 0.5, 1.0], [tuple(NEGATIVE.astype(int)), tuple(WHITE.astype(int)),
                                          tuple(POSITIVE.astype(int))])
MAGNITUDE = pg.colormap.get("inferno")


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """(−m, m) with m the largest finite |value| (1 when there is none): 0 sits in the middle."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.abs(v[np.isfinite(v)])
    m = float(finite.max()) if finite.size else 0.0
    m = m if m > 0 else 1.0
    return (-m, m)


def magnitude_levels(values: np.ndarray) -> tuple[float, float]:
    """(0, largest finite value), 1 when there is none."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    top = float(finite.max()) if finite.size else 0.0
    return (0.0, top if top > 0 else 1.0)


def colour_bar(label: str, cmap: pg.ColorMap = MAGNITUDE) -> pg.ColorBarItem:
    """A read-only colour bar beside a map, its label the quantity and unit shown."""
    return pg.ColorBarItem(values=(0.0, 1.0), colorMap=cmap, label=label, interactive=False, width=14)


def set_bar_label(bar: pg.ColorBarItem, label: str) -> None:
    """Relabel a vertical colour bar (pyqtgraph writes the label on its left axis)."""
    bar.getAxis("left").setLabel(label)


def bar_label(bar: pg.ColorBarItem) -> str:
    return bar.getAxis("left").labelText
