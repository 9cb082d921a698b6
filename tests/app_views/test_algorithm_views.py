"""Step Through Backprop and Optimizer Race, used as a person uses them: menus, clicks, keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from engine.shipped import example_path
from tests.app.conftest import menu_texts
from workbench.app.export import export_csv, export_png, export_svg
from workbench.experiment import load_experiment


def _trigger(window: Any, text: str) -> None:
    for action in window.analyze_menu.actions():
        if action.text().replace("&", "") == text:
            action.trigger()
            return
    raise LookupError(text)


def test_both_views_are_in_the_analyze_menu(window: Any) -> None:
    texts = menu_texts(window.analyze_menu)
    assert "Step Through Backprop" in texts and "Optimizer Race" in texts


def test_step_through_forward_and_back_with_buttons_and_keys(window: Any, qtbot: Any) -> None:
    _trigger(window, "Step Through Backprop")
    view = window.views["step_through"]
    qtbot.waitUntil(lambda: view.walk is not None and view.isVisible())
    total = len(view.walk.steps)
    assert view.counter.text() == f"step 0 of {total}"
    assert not view.back_button.isEnabled()
    # Opening the page gives it the focus: the Right arrow steps at once, as the panel says.
    assert view.hasFocus() or view.isAncestorOf(QApplication.focusWidget())
    qtbot.mouseClick(view.forward_button, Qt.MouseButton.LeftButton)
    assert view.position == 1 and "Input x" in view.panel_text()
    qtbot.mouseClick(view.forward_button, Qt.MouseButton.LeftButton)
    text = view.panel_text()
    assert "weighted sum" in text and "z[0] =" in text
    # Keys: Right goes on to the activation, Left comes back.
    view.forward_button.setFocus()
    qtbot.keyClick(view.forward_button, Qt.Key.Key_Right)
    assert view.position == 3 and "activation" in view.panel_text()
    qtbot.keyClick(view.forward_button, Qt.Key.Key_Left)
    assert view.position == 2
    # On to the first chain-rule step: the product in numbers, and the edge lit up.
    while view.current.phase != "backward" or not view.current.node.endswith(".z"):
        qtbot.keyClick(view.forward_button, Qt.Key.Key_Space)
    assert "∂L/∂z = ∂L/∂a · f′(z)" in view.panel_text()
    assert len(view.hot.getData()[0]) > 0
    step = view.current
    np.testing.assert_array_equal(step.value, view.walk.grads[step.node][0])
    qtbot.mouseClick(view.end_button, Qt.MouseButton.LeftButton)
    assert view.position == total and "W_new = W − lr · direction" in view.panel_text()
    assert not view.forward_button.isEnabled()
    qtbot.mouseClick(view.back_button, Qt.MouseButton.LeftButton)
    assert view.position == total - 1
    header, rows = view.table()
    assert header[0] == "column" and np.isfinite(rows[:, 2]).any()


def test_step_through_minibatch_shows_the_average(window: Any, qtbot: Any) -> None:
    _trigger(window, "Step Through Backprop")
    view = window.views["step_through"]
    qtbot.waitUntil(lambda: view.walk is not None)
    view.batch.setValue(4)
    assert view.walk.batch == 4
    view.go_to(len(view.walk.steps) - 1)
    assert "samples average" in view.panel_text() and "mean =" in view.panel_text()


def test_saturated_sigmoid_example_shows_the_collapse(qtbot: Any, tmp_path: Path, dialogs: Any) -> None:
    from tests.app.conftest import open_window

    spec = load_experiment(example_path("saturated-sigmoid"))
    for window in open_window(qtbot, tmp_path, dialogs, spec):
        _trigger(window, "Step Through Backprop")
        view = window.views["step_through"]
        qtbot.waitUntil(lambda: view.walk is not None)  # noqa: B023
        notes = [i for i, s in enumerate(view.walk.steps) if "vanishing" in s.note]
        assert notes, "the saturated sigmoid example shows a collapsed product"
        view.go_to(notes[0] + 1)
        assert "saturated" in view.panel_text() and "f′(z) ≈" in view.panel_text()


def _click_plot(qtbot: Any, view: Any, x: float, y: float) -> None:
    vb = view.contour.getViewBox()
    scene = vb.mapViewToScene(pg_point(x, y))
    widget_pos = view.plot_widget.mapFromScene(scene)
    qtbot.mouseClick(view.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(round(widget_pos.x()),
                                                                                          round(widget_pos.y())))


def pg_point(x: float, y: float) -> Any:
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_race_click_a_start_point_race_save_and_export(window: Any, qtbot: Any, tmp_path: Path) -> None:
    _trigger(window, "Optimizer Race")
    view = window.views["race"]
    qtbot.waitUntil(view.isVisible)
    view.surface_box.setCurrentIndex(view.surface_box.findData("ill_conditioned"))
    qtbot.wait(50)
    # The contours lie as the surface does: ½(x² + 50y²) is steep in y, so each ellipse is wide.
    inner = view.isocurves[0]
    box = view.image.mapRectToParent(inner.mapRectToParent(inner.boundingRect()))
    assert box.width() > 3 * box.height()
    _click_plot(qtbot, view, -3.0, 0.8)
    assert view.start_point == pytest.approx((-3.0, 0.8), abs=0.1)
    view.racers_edit.setText("sgd lr=0.015; sgd lr=0.015 momentum=0.9; adam lr=0.1")
    view.steps.setValue(200)
    view.pace.setCurrentIndex(view.pace.findData(1000.0))
    qtbot.mouseClick(view.race_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(view.paths), timeout=10_000)  # computed off the GUI thread
    assert view.running  # then drawn at the chosen pace
    qtbot.waitUntil(lambda: not view.running, timeout=5000)
    names = [p.racer.name for p in view.paths]
    assert names == ["sgd lr 0.015", "sgd lr 0.015 (momentum 0.9)", "adam lr 0.1"]
    assert view.paths[0].points[0] == pytest.approx(view.start_point)
    assert "within 0.05 of a minimum at step" in view.hint.text()
    drawn = view.path_items[1].getData()
    assert len(drawn[0]) == 201 and drawn[0].max() > 0  # the heavy ball crossed x = 0
    # Saved into the experiment (undoable), and back in a reloaded file.
    assert view.save_to_experiment()
    race = window.session.spec.race
    assert race.surface == "ill_conditioned" and len(race.racers) == 3
    assert race.racers[1].options == {"momentum": 0.9}
    path = tmp_path / "race.json"
    window.session.save(path)
    assert load_experiment(path).race == race
    # Exports: PNG, SVG, CSV like every plot, and the GIF.
    assert QImage(str(export_png(view, tmp_path / "race.png", 800, 400))).width() == 800
    assert export_svg(view, tmp_path / "race.svg").read_text().startswith("<?xml")
    csv = export_csv(view, tmp_path / "race.csv").read_text().splitlines()
    assert csv[0].startswith("step,sgd lr 0.015 x") and len(csv) == 202
    gif = view.export_gif(tmp_path / "race.gif", frames=12)
    from PIL import Image

    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == 12


def test_race_refuses_a_hostile_formula_and_bad_racers(window: Any, qtbot: Any) -> None:
    _trigger(window, "Optimizer Race")
    view = window.views["race"]
    view.surface_box.setCurrentIndex(view.surface_box.findData("formula"))
    assert view.formula.isVisible()
    view.formula.setText("__import__('os').system('true')")
    view.formula.editingFinished.emit()
    assert "refused" in view.hint.text() and "unknown function" in view.hint.text()
    assert not view.race()
    view.formula.setText("(x - 1)**2 + (y + 0.5)**2")
    view.formula.editingFinished.emit()
    view.racers_edit.setText("adma lr=0.1")
    assert not view.race() and "adam" in view.hint.text()
    view.racers_edit.setText("adam lr=0.1")
    view.pace.setCurrentIndex(view.pace.findData(None))
    assert view.race()
    qtbot.waitUntil(lambda: bool(view.paths), timeout=10_000)
    assert not view.running and view.shown == view.steps.value()  # full speed: the whole race at once
    assert view.paths[0].final == pytest.approx((1.0, -0.5), abs=0.05)


def test_race_examples_load_their_race(qtbot: Any, tmp_path: Path, dialogs: Any) -> None:
    from tests.app.conftest import open_window

    spec = load_experiment(example_path("race-momentum-adam-sgd"))
    for window in open_window(qtbot, tmp_path, dialogs, spec):
        _trigger(window, "Optimizer Race")
        view = window.views["race"]
        assert view.race_spec().racers == spec.race.racers
        assert view.start_point == pytest.approx(spec.race.start)


def test_a_long_race_runs_off_the_gui_thread_and_can_be_cancelled(window: Any, qtbot: Any) -> None:
    _trigger(window, "Optimizer Race")
    view = window.views["race"]
    view.racers_edit.setText("; ".join(["adam lr=0.01"] * 12))
    view.steps.setValue(20_000)
    assert view.race()
    assert view.job.is_running() and view.cancel_button.isEnabled() and not view.race_button.isEnabled()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.job.is_running(), timeout=10_000)
    assert view.paths == [] and "cancelled" in view.hint.text()
    assert view.race_button.isEnabled()


def test_step_through_follows_a_new_experiment(window: Any, qtbot: Any) -> None:
    _trigger(window, "Step Through Backprop")
    view = window.views["step_through"]
    qtbot.waitUntil(lambda: view.walk is not None)
    window.session.new(load_experiment(example_path("saturated-sigmoid")))
    qtbot.waitUntil(lambda: view.walk is not None and view.walk.dense == ["dense1", "dense2", "output"])
    assert view.columns[0] == "x" and view.columns[-1] == "loss"


def test_racers_are_typed_as_text_and_bad_text_is_named() -> None:
    from workbench.model.race_text import format_racers, parse_racers

    racers = parse_racers("sgd lr=0.01 momentum=0.9 nesterov=true; adam lr=0.05 beta1=0.8")
    assert [(r.name, r.lr, r.options) for r in racers] == [
        ("sgd", 0.01, {"momentum": 0.9, "nesterov": True}), ("adam", 0.05, {"beta1": 0.8})]
    assert parse_racers(format_racers(racers)) == racers
    assert parse_racers("rmsprop")[0].lr == 0.01  # the optimizer's default lr
    for text, message in (("sgd lr", "key=value"), ("sgd lr=fast", "not a number"), ("sgd lr=nan", "finite"),
                          ("sgd momentun=0.9", "no option 'momentun'"), ("adma", "adam"), ("", "no racers"),
                          ("; ".join(["sgd"] * 13), "at most 12")):
        with pytest.raises(ValueError, match=message):
            parse_racers(text)


def test_a_diverging_racer_is_drawn_to_the_plots_edge(qtbot: Any, tmp_path: Path, dialogs: Any) -> None:
    from tests.app.conftest import open_window

    spec = load_experiment(example_path("race-lr-too-high"))
    for window in open_window(qtbot, tmp_path, dialogs, spec):
        _trigger(window, "Optimizer Race")
        view = window.views["race"]
        view.pace.setCurrentIndex(view.pace.findData(None))
        assert view.race()
        qtbot.waitUntil(lambda: bool(view.paths), timeout=10_000)  # noqa: B023
        fast = view.paths[2]
        assert fast.diverged_at is not None and f"diverged at step {fast.diverged_at}" in view.hint.text()
        xs, ys = view.path_items[2].getData()
        _, _, y0, y1 = view.surface.region
        assert len(xs) < len(fast.points) and ys.min() >= y0 and ys.max() <= y1
        assert view.paths[0].reached_at is not None and view.paths[0].diverged_at is None


def test_step_through_draws_dropout_and_batchnorm_unit_by_unit(qtbot: Any, tmp_path: Path,
                                                                dialogs: Any) -> None:
    from engine.spec import BatchNormSpec, DenseSpec, DropoutSpec
    from tests.app.conftest import open_window
    from tests.app_views.conftest import spiral_spec

    spec = spiral_spec().model_copy(update={"model": spiral_spec().model.model_copy(update={"layers": (
        DenseSpec(units=3, activation="relu"), BatchNormSpec(), DropoutSpec(rate=0.3))})})
    for window in open_window(qtbot, tmp_path, dialogs, spec):
        _trigger(window, "Step Through Backprop")
        view = window.views["step_through"]
        qtbot.waitUntil(lambda: view.walk is not None)  # noqa: B023
        assert view.columns == ["x", "dense1.z", "dense1.a", "batchnorm1.a", "dropout1.a", "output.z",
                                "output.a", "loss"]
        step = next(i for i, s in enumerate(view.walk.steps) if s.node == "batchnorm1.a")
        view.go_to(step + 1)
        assert len(view.hot.getData()[0]) == 2 * 3  # one edge per unit, not 3 × 3
        assert "batchnorm" in view.panel_text()
