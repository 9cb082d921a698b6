"""The editor's row model over nested residual blocks (Qt-free)."""

from __future__ import annotations

import pytest

from workbench.model import layer_tree
from workbench.model.layer_tree import TreeEditError

D8 = {"type": "dense", "units": 8}
LAYERS = [
    {"type": "dense", "units": 12},
    {"type": "residual", "layers": [{"type": "dense", "units": 5}, {"type": "dropout", "rate": 0.1}]},
    {"type": "batchnorm"},
]


def test_rows_list_a_block_then_its_layers_with_nested_labels() -> None:
    rows = layer_tree.rows(LAYERS)
    assert [r.label for r in rows] == ["1", "2", "2.1", "2.2", "3"]
    assert [r.depth for r in rows] == [0, 0, 1, 1, 0]
    assert [r.is_block for r in rows] == [False, True, False, False, False]


def test_edits_inside_a_block_leave_the_input_untouched() -> None:
    inserted = layer_tree.insert(LAYERS, (1, 1), D8)
    assert [la["type"] for la in inserted[1]["layers"]] == ["dense", "dense", "dropout"]
    assert len(LAYERS[1]["layers"]) == 2  # a new list, not an edit in place
    appended, at = layer_tree.append_to_block(LAYERS, (1,), D8)
    assert at == (1, 2) and appended[1]["layers"][-1] == D8
    moved, to = layer_tree.move(LAYERS, (1, 1), -1)
    assert to == (1, 0) and moved[1]["layers"][0]["type"] == "dropout"
    same, stay = layer_tree.move(LAYERS, (1, 0), -1)  # never leaves its block
    assert stay == (1, 0) and same == LAYERS
    assert layer_tree.set_field(LAYERS, (1, 0), "units", 7)[1]["layers"][0]["units"] == 7
    assert layer_tree.remove(LAYERS, (1, 1))[1]["layers"] == [{"type": "dense", "units": 5}]
    assert [la["type"] for la in layer_tree.remove(LAYERS, (1,))] == ["dense", "batchnorm"]


def test_a_block_never_becomes_empty() -> None:
    one = layer_tree.remove(LAYERS, (1, 1))
    with pytest.raises(TreeEditError, match="residual block 2 needs at least one layer"):
        layer_tree.remove(one, (1, 0))
    with pytest.raises(TreeEditError, match="select a residual block"):
        layer_tree.append_to_block(LAYERS, (0,), D8)


def test_a_new_block_keeps_the_width_it_receives() -> None:
    assert layer_tree.width_before(LAYERS, (1,), 2) == 12
    assert layer_tree.width_before(LAYERS, (2,), 2) == 5  # after the block's last Dense
    assert layer_tree.width_before(LAYERS, (1, 1), 2) == 5  # inside the block, after its dense
    assert layer_tree.width_before(LAYERS, (0,), 2) == 2  # the data's width when nothing precedes
