"""Build a residual network in the editor as a person would, train it, and read the gradient views."""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import Qt

from tests.app.conftest import small_spec


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_build_a_residual_block_edit_inside_it_undo_and_train(qtbot, window) -> None:
    window.session.new(small_spec(epochs=2))
    panel = window.network_panel
    before = panel.table.rowCount()  # the default's Dense layers
    w = window.session.spec.model.layers[-1].units
    panel.add_type.setCurrentIndex(panel.add_type.findData("residual"))
    _click(qtbot, panel.add_button)
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 3)  # the block and its two layers
    block = window.session.spec.model.layers[-1]
    assert block.type == "residual" and [la.units for la in block.layers] == [w, w]  # keeps the width
    headers = [panel.table.verticalHeaderItem(r).text().strip() for r in range(before, before + 3)]
    assert headers == [str(before + 1), f"{before + 1}.1", f"{before + 1}.2"]
    assert "x + f(x)" in panel.table.cellWidget(before, 1).text()
    assert panel.block_button.isEnabled()  # the new block is selected

    # Add a layer inside the block, change its width, remove the block's first layer.
    panel.add_type.setCurrentIndex(panel.add_type.findData("dense"))
    _click(qtbot, panel.block_button)
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 4)
    assert len(window.session.spec.model.layers[-1].layers) == 3
    units = panel.table.cellWidget(before + 3, 1)
    units.setText("6")
    units.editingFinished.emit()
    qtbot.waitUntil(lambda: window.session.spec.model.layers[-1].layers[-1].units == 6)
    panel.table.selectRow(before + 1)
    _click(qtbot, panel.remove_button)
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 3)
    assert [la.units for la in window.session.spec.model.layers[-1].layers] == [w, 6]
    # Width w in, 6 out: the block projects its input (the parameter count says so).
    net = window.session.trainer.network
    assert "res1.proj.W" in net.parameters() and f"{net.n_parameters:,}" in panel.params_label.text()

    # The last layer of a block cannot be removed on its own; the message says what to do instead.
    panel.table.selectRow(before + 1)
    _click(qtbot, panel.remove_button)
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 2)
    panel.table.selectRow(before + 1)
    _click(qtbot, panel.remove_button)
    assert "remove the block itself" in panel.error.text()
    assert len(window.session.spec.model.layers[-1].layers) == 1

    # Undo walks back one edit at a time; the rows follow.
    window.session.undo()  # the second removal (of the other layer of width w)
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 3)
    assert [la.units for la in window.session.spec.model.layers[-1].layers] == [w, 6]
    window.session.undo()
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 4)
    assert [la.units for la in window.session.spec.model.layers[-1].layers] == [w, w, 6]

    # Train one epoch: every gradient view lists the block's inner layers by name.
    qtbot.keyClick(window, Qt.Key.Key_F10)
    s = window.session
    qtbot.waitUntil(lambda: s.run is None and s.history.n_epochs == 1, timeout=20_000)
    inner = ["res1.dense1", "res1.dense2", "res1.dense3", "res1.proj"]
    assert all(name in s.history.layers for name in inner)
    assert s.history.layers.index("res1.dense1") < s.history.layers.index("output")
    health = window.views["gradient_health"]
    qtbot.waitUntil(lambda: health.layers == s.history.layers, timeout=5_000)
    assert health.data.shape[0] == len(s.history.layers) and health.data.size
    qtbot.waitUntil(lambda: all(n in window.gradient_plot.curves for n in inner), timeout=5_000)
    layers_box = window.views["histograms"].layer_box
    assert all(layers_box.findText(n) >= 0 for n in inner)
    diagnostics = window.views["diagnostics"]
    diagnostics.update_diagnoses()
    assert any("Skip paths" in text and "res1" in text for text in diagnostics.texts())


def test_heatmap_names_every_row_only_where_it_fits() -> None:
    from workbench.app.views.gradient_health import ALWAYS_LABELLED, row_ticks

    names = ["dense1", *(f"res{i // 2 + 1}.dense{i % 2 + 1}" for i in range(18)), "output"]
    always, where_room = row_ticks(names)
    assert always[0] == (0.5, "dense1") and always[-1] == (19.5, "output")
    assert len(always) <= ALWAYS_LABELLED
    assert sorted(always + where_room) == [(i + 0.5, n) for i, n in enumerate(names)]  # each row once
    assert all(b[0] - a[0] >= 2 for a, b in pairwise(always))  # no crowding pair
    few = ["dense1", "dense2", "output"]
    assert row_ticks(few) == [[(0.5, "dense1"), (1.5, "dense2"), (2.5, "output")], []]


def test_the_runs_table_says_a_variant_adds_residual_blocks() -> None:
    from engine.shipped import example_path
    from workbench.experiment import load_experiment
    from workbench.model.runs import spec_diff

    spec = load_experiment(example_path("residual-depth"))
    assert spec_diff(spec, spec.variant("residual")).startswith("19 hidden layers in 9 residual blocks")
