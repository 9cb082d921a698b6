"""Confusion matrix, mistakes gallery and the saliency methods, used as a person would:
open them from the Analyze menu, click a cell, click a mistake, pick a method."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt

from engine.analysis.attribution import integrated_gradients, smoothgrad
from engine.analysis.confusion import classify
from tests.app.conftest import menu_action
from tests.app_views.conftest import digits_spec, train
from workbench.app.export import export_csv, export_png
from workbench.app.views.colour_scales import bar_label


def click_item(qtbot: Any, view: Any, item: Any) -> None:
    """A left click on the middle of a graphics item, through the real view widget."""
    widget = view.plot_widget
    scene_point = item.mapToScene(item.boundingRect().center())
    qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=widget.mapFromScene(scene_point))


def click_at(qtbot: Any, view: Any, item: Any, x: float, y: float) -> None:
    """A left click at (x, y) in ``item``'s own coordinates (an image's pixels), once it is drawn
    where the plot shows it (pyqtgraph moves items to a new range when it next paints)."""
    box = item.getViewBox()
    qtbot.waitUntil(lambda: box.sceneBoundingRect().contains(item.sceneBoundingRect().center()))
    widget = view.plot_widget
    point = widget.mapFromScene(item.mapToScene(QPointF(x, y)))
    qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=point)


def open_confusion(qtbot: Any, window: Any) -> Any:
    menu_action(window.analyze_menu, "Confusion Matrix and Mistakes").trigger()
    view = window.views["confusion"]
    assert window.workspace.current_name() == "confusion"
    qtbot.waitUntil(lambda: view.result is not None)
    # pyqtgraph lays its items out from the event loop: wait until the page has its size.
    qtbot.waitUntil(lambda: view.matrix_plot.vb.width() > 100)
    return view


def test_digits_confusion_matrix_counts_and_the_gallery_open_saliency(qtbot: Any, window: Any,
                                                                       tmp_path: Any) -> None:
    window.session.new(digits_spec())
    train(qtbot, window)
    view = open_confusion(qtbot, window)
    window.refresh_views(force=True)
    t, net = window.session.trainer, window.session.view_network
    expected = classify(net, t.loss, t.dataset.x_val, t.dataset.y_val, t.dataset.class_names)
    np.testing.assert_array_equal(view.result.counts, expected.counts)
    assert view.result.counts.sum() == len(t.dataset.y_val)
    # What the cells say: counts, then shares of the true class.
    texts = [item.textItem.toPlainText() for item in view.cell_texts]
    assert texts == [str(c) for c in expected.counts.ravel()]
    view.show_box.setCurrentIndex(view.show_box.findData("percent"))
    window.refresh_views(force=True)
    row3 = [view.cell_texts[3 * 10 + j].textItem.toPlainText() for j in range(10)]
    assert row3 == [f"{100 * v:.0f}%" for v in expected.row_normalized()[3]]
    assert f"{100 * expected.accuracy:.1f} %" in view.hint.text()
    ticks = view.matrix_plot.getAxis("bottom")._tickLevels[0]
    assert [name for _, name in ticks] == list(t.dataset.class_names)

    # The gallery: the most confident mistakes, each titled "true→predicted confidence%".
    top = expected.mistakes(16)
    np.testing.assert_array_equal(view.shown, top)
    first = int(top[0])
    names = t.dataset.class_names
    assert view.tiles.titles[0].text.startswith(f"{names[expected.labels[first]]}→"
                                               f"{names[expected.predicted[first]]} ")
    assert [box.isVisible() for box in view.tiles.boxes] == [k < len(top) for k in range(16)]

    # Clicking a cell keeps that cell's mistakes.
    cells = np.argwhere((expected.counts > 0) & ~np.eye(10, dtype=bool))
    i, j = (int(v) for v in cells[np.argmax(expected.counts[cells[:, 0], cells[:, 1]])])
    click_at(qtbot, view, view.matrix_image, j + 0.5, i + 0.5)
    assert view.cell == (i, j)
    np.testing.assert_array_equal(view.shown, expected.mistakes(16, i, j))
    assert f"(true {names[i]} → {names[j]})" in view.gallery_title.text
    assert view.all_button.isEnabled()
    qtbot.mouseClick(view.all_button, Qt.MouseButton.LeftButton)
    assert view.cell is None

    # Clicking a mistake opens its saliency, for the class the model predicted.
    click_item(qtbot, view, view.tiles.boxes[0])
    saliency = window.views["saliency"]
    assert window.workspace.current_name() == "saliency"
    assert saliency.sample_box.value() == first
    assert saliency.target_class == int(expected.predicted[first])
    assert saliency.left.titleLabel.text.startswith(f"sample {first}: label {names[expected.labels[first]]}")
    assert export_png(view, tmp_path / "confusion.png", 900, 500).stat().st_size > 2000
    header = export_csv(view, tmp_path / "confusion.csv").read_text().splitlines()[0]
    assert header == "true,predicted,count,share_of_true"


def test_saliency_method_picker_matches_the_engine(qtbot: Any, window: Any) -> None:
    window.session.new(digits_spec())
    train(qtbot, window)
    menu_action(window.analyze_menu, "Saliency Map").trigger()
    view = window.views["saliency"]
    view.sample_box.setValue(5)
    t, net = window.session.trainer, window.session.view_network
    x = t.dataset.x_val[5:6]

    view.method.set_method("integrated_gradients")
    assert view.method.steps_box.isVisible() and not view.method.noise_box.isVisible()
    view.method.steps_box.setValue(120)
    window.refresh_views(force=True)
    ig = integrated_gradients(net, t.loss, x, steps=120)
    np.testing.assert_allclose(view.values, ig.values.reshape(8, 8), rtol=1e-5, atol=1e-7)
    # Signed: a colour scale centred on zero, and the completeness error in the title.
    lo, hi = view.right_bar.levels()
    assert lo == -hi and hi == np.abs(view.values).max()
    title = view.right.titleLabel.text
    assert "Integrated Gradients" in title and f"error {float(ig.completeness_error[0]):.2g}" in title

    view.method.set_method("smoothgrad")
    assert view.method.noise_box.isVisible() and not view.method.steps_box.isVisible()
    window.refresh_views(force=True)
    sg = smoothgrad(net, t.loss, x, np.random.default_rng(0), n_samples=25, noise=0.15)
    np.testing.assert_allclose(view.values, np.abs(sg.values).reshape(8, 8), rtol=1e-5, atol=1e-7)
    assert view.right_bar.levels()[0] == 0.0
    assert bar_label(view.right_bar) == "|mean ∂score/∂pixel|"


def test_two_d_mistakes_are_points_and_open_their_features(qtbot: Any, window: Any) -> None:
    train(qtbot, window)  # the 3-class spiral, three epochs: plenty of mistakes
    view = open_confusion(qtbot, window)
    window.refresh_views(force=True)
    assert view.points_plot.isVisible() and not view.tiles.boxes[0].isVisible()
    t = window.session.trainer
    shown = view.shown
    assert len(shown) > 0
    first = view.mistake_points.points()[0].pos()
    np.testing.assert_allclose([first.x(), first.y()], t.dataset.points_val[shown[0]])
    view.open_example(int(shown[0]))  # what a click on the ring does
    saliency = window.views["saliency"]
    assert window.workspace.current_name() == "saliency"
    assert saliency.sample_box.value() == int(shown[0])
    star = saliency.chosen_point.points()[0].pos()
    np.testing.assert_allclose([star.x(), star.y()], t.dataset.points_val[shown[0]])
    heights = saliency.bar_item.opts["height"]
    assert len(heights) == len(t.dataset.feature_names)
    np.testing.assert_allclose(heights, saliency.attribution.values[0], rtol=1e-6)


def test_a_gallery_of_mistakes_gives_way_to_the_points_of_a_2d_set(qtbot: Any, window: Any) -> None:
    """Digits with mistakes shown, then a new experiment on the spiral: the view swaps its
    gallery for the points plot without an error (emptying the gallery after it had left the
    scene raised in pyqtgraph)."""
    from tests.app_views.conftest import spiral_spec

    window.session.new(digits_spec())
    train(qtbot, window)
    view = open_confusion(qtbot, window)
    window.refresh_views(force=True)
    assert view.tiles.shown > 0
    window.session.new(spiral_spec())
    assert view.kind == "points"
    assert view.tiles.shown == 0
    assert view.points_plot in view.gallery_layout.items
    assert view.tile_layout not in view.gallery_layout.items
