"""Weights/gradients histograms, neuron maps and saliency: the numbers behind what is drawn."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from engine.analysis import saliency, saliency_map_2d
from tests.app.conftest import menu_texts, small_spec
from tests.app_views.conftest import digits_spec, train
from workbench.app.export import export_csv, export_png

PAGES = {"Weights and gradients": "histograms", "Neurons": "neurons", "Neuron map": "neurons",
         "Saliency": "saliency"}


def _menu_texts(menu: Any) -> list[str]:
    return menu_texts(menu)


def _show(window: Any, title: str) -> None:
    window.workspace.open_page(PAGES[title])


# ---------------------------------------------------------------------------------------- histograms


def test_histogram_counts_add_up_to_the_layers_parameters(qtbot: Any, window: Any, tmp_path: Any) -> None:
    view = window.views["histograms"]
    assert "Weights and gradients" in _menu_texts(window.view_menu)
    assert "Weight and Gradient Histograms" in _menu_texts(window.analyze_menu)
    _show(window, "Weights and gradients")
    layers = [view.layer_box.itemText(i) for i in range(view.layer_box.count())]
    assert layers == ["dense1", "dense2", "output"]
    before = len(view.snapshots["dense2"])
    train(qtbot, window)
    view.layer_box.setCurrentText("dense2")
    window.refresh_views(force=True)
    sizes = dict((name, n) for name, _kind, _shape, n in window.session.view_network.summary())
    assert view.counts["weights"].sum() == sizes["dense2"] == 16 * 16 + 16
    assert view.counts["gradients"].sum() == sizes["dense2"]
    # The weights shown are the view network's, after training.
    net = window.session.view_network
    values = np.concatenate([net.parameters()["dense2.W"].ravel(), net.parameters()["dense2.b"].ravel()])
    expected, _ = np.histogram(values, bins=view.edges["weights"])
    np.testing.assert_array_equal(view.counts["weights"], expected)
    assert np.any(view.counts["gradients"][: len(view.counts["gradients"]) // 2 + 1] > 0)
    # The evolution gained a snapshot (the end of the run) and is drawn as bins × time.
    assert len(view.snapshots["dense2"]) > before
    density = view.evolution["weights"]
    assert density.shape[0] == 60 and density.shape[1] >= 2
    np.testing.assert_allclose(density.sum(axis=0), 1.0, atol=1e-9)
    view.layer_box.setCurrentText("output")
    assert view.counts["weights"].sum() == sizes["output"]
    header, rows = view.table()
    assert header[2] == "weights_count" and rows[:, 2].sum() == sizes["output"]
    assert export_png(view, tmp_path / "hist.png", 500, 400).stat().st_size > 1000
    assert export_csv(view, tmp_path / "hist.csv").exists()


def test_histogram_gradients_match_a_manual_backward_pass(window: Any) -> None:
    from engine.trainer import targets_for_loss
    from workbench.app.views.histograms import BATCH, measure

    view = window.views["histograms"]
    t = window.session.trainer
    net = window.session.view_network.copy()
    ds = t.dataset
    out = net.forward(ds.x_train[:BATCH], training=False)
    _, g = t.loss(out, targets_for_loss(ds, ds.y_train[:BATCH], t.loss, net.params.dtype))
    net.backward(g)
    grads = measure(window.session.view_network, t, view._batch)["dense1"]["gradients"]
    manual = np.concatenate([net.gradients()["dense1.W"].ravel(), net.gradients()["dense1.b"].ravel()])
    np.testing.assert_allclose(grads, manual, rtol=1e-5, atol=1e-7)
    # Measuring never touches the shared view network's gradients.
    assert not np.shares_memory(grads, window.session.view_network.grads)


# ---------------------------------------------------------------------------------------- neuron maps


def test_one_thumbnail_per_hidden_unit_and_click_enlarges(qtbot: Any, window: Any, tmp_path: Any) -> None:
    view, big = window.views["neuron_maps"], window.views["neuron_map"]
    assert "Neurons" in _menu_texts(window.view_menu)
    assert "Neuron Maps" in _menu_texts(window.analyze_menu)
    train(qtbot, window)
    _show(window, "Neurons")
    view.tick()
    assert sorted(view.buttons) == [(layer, u) for layer in ("dense1", "dense2") for u in range(16)]
    assert all(not b.icon().isNull() for b in view.buttons.values())
    assert view.message.text() == "32 hidden units in 2 layer(s)"
    # The colours are explained on screen, not only in a tooltip: negative orange, positive blue.
    assert view.colour_key.isVisible()
    words = [w.text() for w in view.colour_key.findChildren(QLabel) if w.text()]
    assert words == ["negative", "positive"]
    strip = view.colour_key.findChild(QLabel, "colourKeyStrip").pixmap().toImage()
    left, right = strip.pixelColor(0, 5), strip.pixelColor(strip.width() - 1, 5)
    assert left.red() > left.blue() and right.blue() > right.red()
    # A thumbnail is that unit's output: compare with a forward pass of the view network.
    net = window.session.view_network
    assert view.maps["dense1"].shape == (32, 32, 16)
    corner = window.session.trainer.dataset.featurize(_plane_lo(window).reshape(1, 2))  # grid [0, 0]
    net.forward(corner.astype(net.params.dtype))
    np.testing.assert_allclose(view.maps["dense1"][0, 0], net.layers[0].a[0], rtol=1e-5, atol=1e-6)

    big.refresh(window.session.history, force=True)
    output_values = big.values.copy()
    assert big.selected is None and output_values.shape == (90, 90)
    qtbot.mouseClick(view.buttons[("dense2", 5)], Qt.MouseButton.LeftButton)
    assert big.selected == ("dense2", 5) and view.buttons[("dense2", 5)].isChecked()
    assert big.values.shape == (90, 90) and not np.allclose(big.values, output_values)
    unit5 = big.values.copy()
    qtbot.mouseClick(view.buttons[("dense1", 0)], Qt.MouseButton.LeftButton)
    assert not np.allclose(big.values, unit5) and not view.buttons[("dense2", 5)].isChecked()
    assert "dense1 · unit 1" in big.hint.text()
    qtbot.mouseClick(big.output_button, Qt.MouseButton.LeftButton)  # back to the network output
    assert big.selected is None
    np.testing.assert_allclose(big.values, output_values)
    assert export_png(big, tmp_path / "n.png", 300, 300).stat().st_size > 1000


def _plane_lo(window: Any) -> np.ndarray:
    ds = window.session.trainer.dataset
    pts = np.concatenate([ds.points_train, ds.points_val])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return lo - (0.08 * (hi - lo) + 1e-9)


def test_neuron_maps_explain_themselves_on_non_2d_data(qtbot: Any, window: Any) -> None:
    window.session.new(digits_spec())
    _show(window, "Neurons")
    window.views["neuron_maps"].tick()
    assert window.views["neuron_maps"].buttons == {}
    assert "2-D data" in window.views["neuron_maps"].message.text()


# ---------------------------------------------------------------------------------------- saliency


def test_saliency_map_matches_the_engine(qtbot: Any, window: Any, tmp_path: Any) -> None:
    view = window.views["saliency"]
    assert "Saliency" in _menu_texts(window.view_menu) and "Saliency Map" in _menu_texts(window.analyze_menu)
    train(qtbot, window)
    _show(window, "Saliency")
    window.refresh_views(force=True)
    t, net = window.session.trainer, window.session.view_network
    expected = saliency_map_2d(net, t.loss, t.dataset.featurize, bounds=view.bounds, resolution=60)
    assert view.mode == "2d"
    np.testing.assert_allclose(view.values, expected.values, rtol=1e-6)
    np.testing.assert_allclose(view.left_image.image, expected.values, rtol=1e-6)
    # A fixed class differentiates that class's logit everywhere.
    view.target_box.setCurrentIndex(view.target_box.findText("class 2"))
    window.refresh_views(force=True)
    fixed = saliency_map_2d(net, t.loss, t.dataset.featurize, bounds=view.bounds, resolution=60,
                            target_class=2)
    np.testing.assert_allclose(view.values, fixed.values, rtol=1e-6)
    assert export_csv(view, tmp_path / "s.csv").read_text().splitlines()[0] == "x1,x2,saliency"


def test_digit_saliency_is_shown_beside_the_chosen_image(qtbot: Any, window: Any) -> None:
    view = window.views["saliency"]
    window.session.new(digits_spec())
    train(qtbot, window)
    _show(window, "Saliency")
    view.sample_box.setValue(7)
    window.refresh_views(force=True)
    t, net = window.session.trainer, window.session.view_network
    x = t.dataset.x_val[7:8]
    assert view.mode == "image" and view.sample_box.isVisible()
    np.testing.assert_allclose(view.sample, x.reshape(8, 8))
    np.testing.assert_allclose(view.values, saliency(net, t.loss, x).reshape(8, 8), rtol=1e-6)
    np.testing.assert_allclose(view.right_image.image, view.values.T, rtol=1e-6)
    label = int(t.dataset.y_val[7])
    assert view.left.titleLabel.text.startswith(f"sample 7: label {label}, predicted ")


def test_the_boundary_pane_names_the_views_for_data_without_a_plane(qtbot: Any, window: Any) -> None:
    """Digits have no 2-D plane: the pane shows no empty axes, and a note centred in view that
    names where this data's pictures are."""
    window.session.new(digits_spec())
    plot = window.boundary_plot
    text = plot.message.toPlainText()
    assert "No 2-D plane" in text and "Confusion Matrix and Mistakes" in text and "Saliency Map" in text
    assert not plot.plot_item.getAxis("left").isVisible()
    (x0, x1), (y0, y1) = plot.plot_item.vb.viewRange()
    pos = plot.message.pos()
    assert x0 < pos.x() < x1 and y0 < pos.y() < y1
    window.session.new(small_spec())  # back to a 2-D set: axes again, no note
    assert plot.message.toPlainText() == "" and plot.plot_item.getAxis("left").isVisible()


def test_the_boundary_note_names_the_views_that_fit_the_data() -> None:
    from types import SimpleNamespace

    from workbench.app.plots.boundary_plot import _elsewhere

    def note(shape: tuple[int, ...], task: str) -> str:
        return _elsewhere(SimpleNamespace(dataset=SimpleNamespace(input_shape=shape, task=task)))

    assert "Gradient Through Time" in note((50, 2), "regression")
    assert "Confusion" not in note((50, 2), "regression") and "Confusion" not in note((13,), "regression")
    assert "Grad-CAM" in note((1, 24, 24), "multiclass") and "Grad-CAM" not in note((64,), "multiclass")
    assert "Confusion Matrix and Mistakes" in note((64,), "multiclass")
