"""The network editor's cell for a recurrent row (RNN, LSTM, GRU).

A recurrent layer has a cell type instead of an activation choice and no weight-init choice, but
it has an output mode. So its row does not put anything under the Init header: one cell across
Activation and Init says in words what it holds, "tanh · output [last step]".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableWidget, QWidget

OUTPUT_MODES = {False: "last step", True: "all steps"}
CELL_WORDS = {"rnn": "tanh", "lstm": "gated", "gru": "gated"}


class RecurrentCell(QWidget):
    def __init__(self, layer: Any, set_return_sequences: Callable[[bool], None]) -> None:
        super().__init__()
        box = QHBoxLayout(self)
        box.setContentsMargins(4, 0, 0, 0)
        box.setSpacing(4)
        self.label = QLabel(f"{CELL_WORDS.get(layer.type, layer.type)} · output")
        self.label.setToolTip("rnn: h' = tanh(W x + U h + b). lstm and gru: gated cells, as PyTorch's.")
        self.output = QComboBox()
        for value, text in OUTPUT_MODES.items():
            self.output.addItem(text, value)
        self.output.setCurrentIndex(self.output.findData(bool(layer.return_sequences)))
        self.output.setToolTip("Output the last step's hidden state, or every step's (for a loss per step).")
        self.output.activated.connect(lambda _i: set_return_sequences(self.output.currentData()))
        box.addWidget(self.label)
        box.addWidget(self.output, 1)

    def text(self) -> str:
        """What the row reads, e.g. "tanh · output last step"."""
        return f"{self.label.text()} {self.output.currentText()}"


def recurrent_cell(layer: Any, set_return_sequences: Callable[[bool], None]) -> RecurrentCell:
    return RecurrentCell(layer, set_return_sequences)


def fit_recurrent_cells(table: QTableWidget, column: int = 2) -> None:
    """Give a recurrent row's cell (spanning ``column`` and the next) the width it needs: a
    spanned cell does not count when its columns fit their contents, and the stretching Size
    column would otherwise squeeze it to "tanh · o… last"."""
    header = table.horizontalHeader()
    cells = [w for r in range(table.rowCount())
             if isinstance(w := table.cellWidget(r, column), RecurrentCell)]
    if not cells:
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        return
    need = max(c.sizeHint().width() for c in cells)
    own = max(table.sizeHintForColumn(column), header.sectionSizeHint(column))
    header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
    header.resizeSection(column, max(own, need - header.sectionSize(column + 1)))
