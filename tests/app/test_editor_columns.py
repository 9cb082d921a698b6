"""Each column of the network editor has one meaning: under Activation only activations, under
Init only weight initialisers. A row whose layer has neither (recurrent, pooling, dropout,
residual) leaves them blank or spans them with a cell that says in words what it holds."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QComboBox

from engine.activations import ACTIVATIONS
from engine.initializers import INITIALIZERS
from engine.shipped import example_path

COLUMN_CHOICES = {2: set(ACTIVATIONS.names()), 3: set(INITIALIZERS.names())}


def _open(qtbot, window, example: str):
    window.session.open(str(example_path(example)))
    table = window.network_panel.table
    layers = window.session.spec.model.layers
    # The rows are rebuilt after the edit's event has finished.
    qtbot.waitUntil(lambda: table.rowCount() > 0 and table.cellWidget(0, 0).currentData() == layers[0].type)
    return table


def _under(table, row: int, col: int):
    """The widget the user sees under header ``col`` in ``row``, and whether it spans beyond it."""
    for start in range(col + 1):
        span = table.columnSpan(row, start)
        if start + span > col:
            return table.cellWidget(row, start), span > 1 or start != col
    return None, False


@pytest.mark.parametrize("example", ["recurrent-adding", "digits-cnn", "residual-depth", "default-spiral"])
def test_activation_and_init_columns_hold_only_what_their_header_says(qtbot, window, example) -> None:
    table = _open(qtbot, window, example)
    assert [table.horizontalHeaderItem(c).text() for c in range(4)] == ["Type", "Size", "Activation", "Init"]
    for row in range(table.rowCount()):
        for col, choices in COLUMN_CHOICES.items():
            widget, spanned = _under(table, row, col)
            if isinstance(widget, QComboBox) and not spanned:
                shown = {widget.itemData(i) for i in range(widget.count())}
                header = table.horizontalHeaderItem(col).text()
                assert shown <= choices, f"row {row}: {sorted(shown)} under {header}"


def test_a_recurrent_row_says_what_its_spanned_cell_holds(qtbot, window) -> None:
    table = _open(qtbot, window, "recurrent-adding")
    cell, spanned = _under(table, 0, 3)
    assert spanned and table.columnSpan(0, 2) == 2
    assert cell.text() == "tanh · output last step"
    cell.output.setCurrentIndex(1)
    cell.output.activated.emit(1)
    assert window.session.spec.model.layers[0].return_sequences is True
    qtbot.waitUntil(lambda: table.cellWidget(0, 2).text() == "tanh · output all steps")
