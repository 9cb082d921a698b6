"""A convolutional network as a person builds one: choose the shapes set, stack image layers in
the network editor (watching each layer's output shape), train a few epochs, look at the feature
maps and at Grad-CAM for a chosen image and class, and export that Grad-CAM as a PNG. The
gradient views list the conv layers like dense ones."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from engine.analysis.feature_maps import feature_maps, filter_strips
from engine.analysis.gradcam import grad_cam
from tests.app.conftest import menu_action
from tests.app_views.conftest import train
from workbench.app.panels.network_panel import SHAPE_COLUMN
from workbench.app.panels.row_notes import NOTE_ROLE


def choose(combo: Any, data: Any) -> None:
    """Pick an entry of a combo box the way a click does (``activated`` follows)."""
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def shape_texts(panel: Any) -> list[str]:
    """The note under each row of the editor, without its "→ output" and "parameters" words."""
    notes = [panel.table.item(r, SHAPE_COLUMN).data(NOTE_ROLE) for r in range(panel.table.rowCount())]
    return [n.removeprefix("→ output ").removesuffix(" parameters") for n in notes]


def build_cnn(qtbot: Any, window: Any) -> Any:
    panel = window.network_panel
    choose(window.data_panel.dataset, "shapes")
    qtbot.waitUntil(lambda: window.session.spec.data.source == "shapes")
    while panel.table.rowCount():
        panel.table.selectRow(0)
        n = panel.table.rowCount()
        qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda n=n: panel.table.rowCount() == n - 1)
    for kind in ("conv2d", "maxpool2d", "conv2d", "global_avgpool"):
        panel.add_type.setCurrentIndex(panel.add_type.findData(kind))
        n = panel.table.rowCount()
        qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda n=n: panel.table.rowCount() == n + 1)
    return panel


def test_build_train_and_explain_a_cnn_on_shapes(qtbot: Any, window: Any, dialogs: Any,
                                                 tmp_path: Any) -> None:
    panel = build_cnn(qtbot, window)
    assert [layer.type for layer in window.session.spec.model.layers] == [
        "conv2d", "maxpool2d", "conv2d", "global_avgpool"]
    # Output shape and parameters beside every layer, as they are built: 16×16 grey shapes,
    # 8 filters of 3×3 with 'same' padding, then a 2×2 pool, then 8 more filters.
    assert shape_texts(panel) == ["8×16×16 · 80", "8×8×8 · 0", "8×8×8 · 584", "8 · 0"]
    assert panel.input_label.text().startswith("Input: 1×16×16 images")
    net = window.session.trainer.network
    assert [(name, shape, n) for name, _kind, shape, n in net.summary()][:4] == [
        ("conv1", (8, 16, 16), 80), ("maxpool1", (8, 8, 8), 0), ("conv2", (8, 8, 8), 584),
        ("global_avgpool1", (8,), 0)]
    # The first conv's own form: valid padding instead of same.
    button = panel.table.cellWidget(0, 1)
    assert button.text() == "8 × 3×3"
    choose(button.padding, "valid")
    qtbot.waitUntil(lambda: shape_texts(panel)[0] == "8×14×14 · 80")
    assert shape_texts(panel)[2] == "8×7×7 · 584"
    # A window larger than its input is marked on its row, with the engine's message naming the
    # layer; the rows above keep their shapes.
    panel.set_layer_field(1, "pool_size", 15)
    qtbot.waitUntil(lambda: shape_texts(panel)[1] == "✗ does not fit")
    assert shape_texts(panel)[0] == "8×14×14 · 80" and shape_texts(panel)[2] == "—"
    assert "maxpool1: a 15×15 pool does not fit a 14×14 input" in panel.table.item(1, SHAPE_COLUMN).toolTip()
    panel.set_layer_field(1, "pool_size", 2)
    qtbot.waitUntil(lambda: shape_texts(panel)[1] == "8×7×7 · 0")

    window.session.set_spec(window.session.spec.with_overrides({"training.epochs": 4}))
    train(qtbot, window, timeout=60_000)

    # The gradient views treat conv layers like dense ones.
    layers = list(window.session.history.layers)
    assert layers[:2] == ["conv1", "conv2"] and layers[-1] == "output"
    health = window.views["gradient_health"]
    window.workspace.open_page("gradient_health")
    window.refresh_views(force=True)
    ticks = [name for _, name in health.plot_item.getAxis("left")._tickLevels[0]]
    assert ticks == layers
    assert np.all(np.isfinite(health.data)) and health.data.shape[0] == len(layers)
    histograms = window.views["histograms"]
    assert [histograms.layer_box.itemText(i) for i in range(histograms.layer_box.count())] == [
        "conv1", "conv2", "output"]
    window.workspace.open_page("histograms")
    histograms.layer_box.setCurrentText("conv2")
    window.refresh_views(force=True)
    assert histograms.counts["weights"].sum() == 584

    # Feature maps of the first convolution for image 3, one tile per channel, one scale.
    menu_action(window.analyze_menu, "Feature Maps and Filters").trigger()
    maps = window.views["feature_maps"]
    maps.sample_box.setValue(3)
    maps.layer_box.setCurrentText("conv1")
    window.refresh_views(force=True)
    t, net = window.session.trainer, window.session.view_network
    x3 = t.dataset.x_val[3]
    np.testing.assert_allclose(maps.values, feature_maps(net, x3)["conv1"], rtol=1e-5, atol=1e-6)
    assert maps.tiles.shown == 8
    lo, hi = maps.bar.levels()
    assert lo == -hi and np.isclose(hi, np.abs(maps.values).max())
    choose(maps.what_box, "filters")
    np.testing.assert_allclose(np.nan_to_num(maps.values), np.nan_to_num(filter_strips(
        net.layer("conv1").params["W"])))

    # Grad-CAM for a chosen image and class, over the input, with the object's box.
    menu_action(window.analyze_menu, "Grad-CAM").trigger()
    view = window.views["gradcam"]
    assert window.workspace.current_name() == "gradcam"
    assert view.layer_box.currentText() == "conv2"  # the last convolution by default
    view.sample_box.setValue(3)
    circle = t.dataset.class_names.index("circle")
    choose(view.class_box, circle)
    window.refresh_views(force=True)
    expected = grad_cam(net, x3, circle, "conv2")
    np.testing.assert_allclose(view.values, expected, rtol=1e-5, atol=1e-9)
    assert view.cam_plot.titleLabel.text.startswith("Grad-CAM of class circle at conv2")
    assert view.peak_inside is not None
    top, left, bottom, right = t.dataset.boxes_val[3]
    xs, ys = view.boxes[1].getData()
    assert (min(xs), max(xs), min(ys), max(ys)) == (left, right, top, bottom)
    choose(view.class_box, None)  # back to the predicted class
    window.refresh_views(force=True)

    # Export it as a person does: the plot's context menu, a file name, a size.
    dialogs.save_path = str(tmp_path / "gradcam.png")
    dialogs.png_size = (640, 360)
    export = next(a for a in view.cam_plot.getViewBox().menu.actions() if a.text() == "Export PNG…")
    export.trigger()
    image = QImage(str(tmp_path / "gradcam.png"))
    assert not image.isNull() and (image.width(), image.height()) == (640, 360)
    assert dialogs.errors == []
