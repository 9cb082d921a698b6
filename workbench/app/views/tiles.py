"""A grid of small titled pictures inside a pyqtgraph layout, each one clickable.

Shared by the confusion view's gallery (one mistake per tile) and the feature-map view (one
channel or filter per tile). Tiles live in the view's GraphicsLayout, so a PNG/SVG export of
the view draws them too. Tiles are made once and reused: a redraw only sets images and titles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt


class TileBox(pg.ViewBox):
    """A fixed picture (no pan or zoom) that reports a left click."""

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False)
        self.on_click: Callable[[], None] | None = None
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.frame = QRectF()

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self.on_click is not None:
            ev.accept()
            self.on_click()
        else:
            ev.ignore()

    def show_picture(self, picture: np.ndarray, levels: tuple[float, float] | None = None,
                     lut: np.ndarray | None = None) -> None:
        """(H, W) values (with ``levels`` and ``lut``) or (H, W, 3) uint8/float RGB."""
        h, w = picture.shape[:2]
        self.image.setLookupTable(lut)
        if picture.ndim == 3:
            self.image.setImage(picture, levels=(0, 255) if picture.dtype == np.uint8 else (0.0, 1.0))
        else:
            self.image.setImage(picture, levels=levels)
        self.image.setRect(QRectF(0, 0, w, h))
        if self.frame != QRectF(0, 0, w, h):
            self.frame = QRectF(0, 0, w, h)
            self.setRange(self.frame, padding=0.0)


class TileGrid:
    """Up to ``capacity`` tiles, ``columns`` per row, in ``layout`` (a pg.GraphicsLayout)."""

    def __init__(self, layout: pg.GraphicsLayout, capacity: int, columns: int,
                 on_click: Callable[[int], None] | None = None, title_size: str = "8pt") -> None:
        self.layout = layout
        self.columns = columns
        self.title_size = title_size
        self.boxes: list[TileBox] = []
        self.titles: list[pg.LabelItem] = []
        for i in range(capacity):
            row, col = divmod(i, columns)
            title = pg.LabelItem("", size=title_size)
            box = TileBox()
            if on_click is not None:
                box.on_click = lambda i=i: on_click(i)
            layout.addItem(title, row=2 * row, col=col)
            layout.addItem(box, row=2 * row + 1, col=col)
            self.titles.append(title)
            self.boxes.append(box)
        self.shown = 0

    def show(self, n: int) -> None:
        """Show the first ``n`` tiles, hide the rest."""
        self.shown = min(n, len(self.boxes))
        for i, (box, title) in enumerate(zip(self.boxes, self.titles, strict=True)):
            box.setVisible(i < self.shown)
            title.setVisible(i < self.shown)
            if i >= self.shown:
                box.image.clear()
                title.setText("")

    def set_title(self, i: int, text: str, color: str = "#222") -> None:
        self.titles[i].setText(text, size=self.title_size, color=color)
