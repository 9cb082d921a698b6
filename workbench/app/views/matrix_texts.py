"""One centred text item per cell of a k×k matrix plot (the confusion views' cell labels)."""

from __future__ import annotations

import pyqtgraph as pg


def matrix_cell_texts(plot: pg.PlotItem, k: int, texts: list[pg.TextItem]) -> list[pg.TextItem]:
    """``texts`` if it already has k·k items, else new ones at the cells' centres (row-major),
    replacing the old ones in ``plot``. The texts never widen the plot's range."""
    if len(texts) == k * k:
        return texts
    for t in texts:
        plot.removeItem(t)
    texts = []
    for i in range(k):
        for j in range(k):
            t = pg.TextItem("", anchor=(0.5, 0.5))
            t.setPos(j + 0.5, i + 0.5)
            plot.addItem(t, ignoreBounds=True)
            texts.append(t)
    return texts
