"""A one-line note along the bottom of a table row, under its controls, across its columns.

The network editor writes each layer's output shape and parameter count there. The note is kept
in a role of one cell's item (``NOTE_ROLE``, its colour in ``NOTE_COLOUR_ROLE``) and every cell
of the row paints its own stretch of it, so it runs on across cells whatever order they are
painted in and however narrow one column is; the cell widgets keep the row's top part
(``cap_widgets``).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QStyledItemDelegate, QTableWidget

NOTE_ROLE = Qt.ItemDataRole.UserRole + 17
NOTE_COLOUR_ROLE = Qt.ItemDataRole.UserRole + 18
NOTE_HEIGHT = 15


class RowNoteDelegate(QStyledItemDelegate):
    def __init__(self, table: QTableWidget, note_column: int) -> None:
        super().__init__(table)
        self.table = table
        self.note_column = note_column

    def paint(self, painter, option, index) -> None:
        super().paint(painter, option, index)
        item = self.table.item(index.row(), self.note_column)
        text = item.data(NOTE_ROLE) if item is not None else None
        if not text:
            return
        start = self.table.visualRect(self.table.model().index(index.row(), self.note_column)).left() + 4
        rect = option.rect
        if rect.right() < start:
            return
        painter.save()
        painter.setClipRect(rect)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 0.85)
        painter.setFont(font)
        painter.setPen(QColor(item.data(NOTE_COLOUR_ROLE) or "#666"))
        painter.drawText(QRect(start, rect.bottom() - NOTE_HEIGHT, 2000, NOTE_HEIGHT),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        painter.restore()


def cap_widgets(table: QTableWidget, row_height: int) -> None:
    """Keep every cell widget in the top of its row, above the note."""
    for row in range(table.rowCount()):
        for col in range(table.columnCount()):
            w = table.cellWidget(row, col)
            if w is not None:
                w.setMaximumHeight(row_height - NOTE_HEIGHT - 1)
