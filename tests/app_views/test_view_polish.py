"""What a newcomer sees in the analysis views at 1280×720: panels meant to be compared by eye
are drawn at one scale, labels stay readable above the lines, and every label says what it shows."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.shipped import example_path
from tests.app.conftest import menu_action
from tests.app_views.conftest import train
from workbench.experiment import load_experiment


def _shapes(window: Any, qtbot: Any, epochs: int = 1) -> None:
    spec = load_experiment(example_path("shapes-gradcam")).with_overrides(
        {"data.n_samples": 240, "training.epochs": epochs})
    window.session.new(spec)
    window.resize(1280, 720)
    train(qtbot, window, timeout=60_000)


def _on_screen(item: Any) -> tuple[float, float, float, float]:
    """An image item's left, top, width and height in the view's pixels."""
    rect = item.mapRectToScene(item.boundingRect())
    return rect.left(), rect.top(), rect.width(), rect.height()


def test_gradcam_draws_the_image_and_the_map_at_one_scale_side_by_side(qtbot, window) -> None:
    _shapes(window, qtbot)
    menu_action(window.analyze_menu, "Grad-CAM").trigger()
    view = window.views["gradcam"]
    view.sample_box.setValue(2)
    window.refresh_views(force=True)
    qtbot.wait(300)  # the page is laid out once shown
    _, image_top, image_w, image_h = _on_screen(view.image)
    cam_left, cam_top, cam_w, cam_h = _on_screen(view.cam_image)
    assert image_w > 150 and image_h > 150  # large enough to see pixels at 1280×720
    assert abs(image_w - cam_w) < 1 and abs(image_h - cam_h) < 1, "one pixel is one size in both panels"
    assert abs(image_top - cam_top) < 1, "the two pictures are level"
    assert np.allclose(view.image_plot.viewRange(), view.cam_plot.viewRange())
    bar_left = view.bar.mapRectToScene(view.bar.boundingRect()).left()
    assert cam_left + cam_w <= bar_left, "the colour bar never covers the map"


def test_step_through_labels_sit_on_opaque_cards_above_the_highlighted_edges(qtbot, window) -> None:
    window.session.open(str(example_path("saturated-sigmoid")))
    menu_action(window.analyze_menu, "Step Through Backprop").trigger()
    view = window.views["step_through"]
    steps = view.walk.steps
    view.go_to(next(i + 1 for i, s in enumerate(steps) if s.phase == "parameters" and s.edge is not None))
    hx, _ = view.hot.getData()
    assert hx is not None and len(hx) >= 8  # the four thick edges into the output are lit
    values = [t for t in view.texts if t.textItem.toPlainText() in ("1", "0.998", "0.997", "0.989")]
    assert len(values) >= 4, [t.textItem.toPlainText() for t in view.texts]
    for label in view.texts:
        assert label.zValue() > max(view.hot.zValue(), view.edges.zValue(), view.nodes.zValue())
        assert label.fill.color().alpha() == 255, "no edge shows through a value"


def test_confusion_colour_bar_says_what_the_colour_means_in_both_modes(qtbot, window) -> None:
    from workbench.app.views.colour_scales import bar_label

    train(qtbot, window)
    menu_action(window.analyze_menu, "Confusion Matrix and Mistakes").trigger()
    view = window.views["confusion"]
    qtbot.waitUntil(lambda: view.result is not None)
    window.refresh_views(force=True)
    counts = view.result.counts
    assert view.show_box.currentText() == "cells: counts"
    assert [t.textItem.toPlainText() for t in view.cell_texts] == [str(c) for c in counts.ravel()]
    assert bar_label(view.colour_bar) == "colour: % of true class · cells: counts"
    view.show_box.setCurrentIndex(view.show_box.findData("percent"))
    window.refresh_views(force=True)
    assert view.cell_texts[0].textItem.toPlainText().endswith("%")
    assert bar_label(view.colour_bar) == "colour and cells: % of true class"
    # The colour really is the share of the true class in both modes.
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    np.testing.assert_allclose(np.asarray(view.matrix_image.image, dtype=float), 100 * share, atol=1e-6)


def test_without_a_plane_the_right_column_shows_a_live_confusion_matrix(qtbot, window) -> None:
    from engine.analysis.confusion import classify
    from tests.app_views.conftest import digits_spec
    from workbench.model.samples import network_input

    screen = window.training_screen
    assert screen.right.currentWidget() is screen.picture  # the spiral has its plane
    window.session.new(digits_spec(epochs=500))
    view = window.views["live_predictions"]
    assert screen.right.currentWidget() is screen.task and view.isVisible()
    assert not window.boundary_plot.isVisible()
    window.session.start()
    qtbot.waitUntil(lambda: view.counts.sum() > 0, timeout=20_000)
    first = view.counts.copy()
    assert window.session.is_running, "drawn while the network trains"
    qtbot.waitUntil(lambda: not np.array_equal(view.counts, first), timeout=30_000)  # it follows the weights
    window.session.stop(join=True)
    qtbot.wait(50)
    window.refresh_views(force=True)
    t, net = window.session.trainer, window.session.view_network
    ds = t.dataset
    expected = classify(net, t.loss, network_input(ds.x_val, net), ds.y_val, ds.class_names)
    np.testing.assert_array_equal(view.counts, expected.counts)
    assert view.plot.titleLabel.text.startswith(f"validation accuracy {100 * expected.accuracy:.1f} %")
    assert [c.textItem.toPlainText() for c in view.cell_texts] == [str(c) for c in expected.counts.ravel()]


def test_a_sequence_regression_shows_predicted_against_true(qtbot, window) -> None:
    spec = load_experiment(example_path("recurrent-adding")).with_overrides(
        {"data.n_samples": 200, "data.sequence_length": 10, "training.epochs": 1, "variants": []})
    window.session.new(spec)
    window.workspace.open_page("training")
    train(qtbot, window, timeout=60_000)
    window.refresh_views(force=True)
    view = window.views["live_predictions"]
    screen = window.training_screen
    assert screen.right.currentWidget() is screen.task and view.isVisible()
    ds = window.session.trainer.dataset
    true, _predicted = view.pairs.T
    np.testing.assert_allclose(true, np.asarray(ds.y_val, float).reshape(-1))
    assert len(view.points.data) == len(ds.y_val)
    assert view.plot.titleLabel.text.startswith("validation R²")
    assert view.plot.getAxis("bottom").labelText == "true value"
