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
        # A thin frame: a picture that is white at its edges (a zero map) still shows where it ends.
        super().__init__(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False,
                         border=pg.mkPen((200, 200, 200)))
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
                 on_click: Callable[[int], None] | None = None, title_size: str = "8pt",
                 max_height: float = 130.0) -> None:
        self.layout = layout
        self.columns = columns
        self.title_size = title_size
        self.boxes: list[TileBox] = []
        self.titles: list[pg.LabelItem] = []
        for i in range(capacity):
            title = pg.LabelItem("", size=title_size)
            title.setMaximumHeight(18)  # rows of pictures stay together, the spare height below
            box = TileBox()
            box.setMaximumHeight(max_height)
            if on_click is not None:
                box.on_click = lambda i=i: on_click(i)
            box.setVisible(False)
            title.setVisible(False)
            self.titles.append(title)
            self.boxes.append(box)
        self.shown = 0

    def show(self, n: int) -> None:
        """Show the first ``n`` tiles. Only those are in the layout: a hidden item would still
        take its share of a pyqtgraph layout and push the shown ones apart."""
        n = min(n, len(self.boxes))
        for i in range(len(self.boxes)):
            box, title = self.boxes[i], self.titles[i]
            if i < n and i >= self.shown:
                row, col = divmod(i, self.columns)
                self.layout.addItem(title, row=2 * row, col=col)
                self.layout.addItem(box, row=2 * row + 1, col=col)
            elif i >= n and i < self.shown:
                self.layout.removeItem(title)
                self.layout.removeItem(box)
            box.setVisible(i < n)
            title.setVisible(i < n)
            if i >= n:
                box.image.clear()
                title.setText("")
        self.shown = n

    def set_title(self, i: int, text: str, color: str = "#222") -> None:
        self.titles[i].setText(text, size=self.title_size, color=color)
