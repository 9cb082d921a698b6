"""LR range test and loss landscape views: the plotted data is the analysis result, Apply edits
the experiment (undoably, live while training), cancel stops and leaves the app usable."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from engine.events import StepMetrics
from tests.app.conftest import menu_action
from workbench.app.jobs import training_arrays
from workbench.app.views.landscape_view import MIN_PCA_SNAPSHOTS, N_CONTOURS, ParamPath

from .conftest import digits_spec, spiral_spec, train


def lr_view(window: Any) -> Any:
    return window.views["lr_finder"]


def ls_view(window: Any) -> Any:
    return window.views["landscape"]


def run_job(qtbot: Any, view: Any, start: Any, timeout: int = 20_000) -> Any:
    with qtbot.waitSignal(view.job.finished, timeout=timeout) as blocker:
        assert start()
    qtbot.waitUntil(lambda: not view.job.is_running(), timeout=timeout)
    return blocker.args[0]


def finite_equal(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    ok = np.isfinite(b)
    np.testing.assert_array_equal(a[ok], b[ok])
    assert np.isnan(a[~ok]).all()


# ----------------------------------------------------------------------------- LR range test
def test_lr_view_plots_the_result_and_marks_the_suggestion(qtbot: Any, window: Any) -> None:
    window.session.new(spiral_spec(optimizer={"name": "sgd", "lr": 0.01}))
    view = lr_view(window)
    assert not window.workspace.is_open("lr_finder")
    with qtbot.waitSignal(view.job.finished, timeout=20_000) as blocker:
        menu_action(window.analyze_menu, "Learning-Rate Range Test").trigger()
    qtbot.waitUntil(lambda: not view.job.is_running())
    result = blocker.args[0]
    assert window.workspace.current_name() == "lr_finder" and view.isVisible() and view.result is result
    assert view.optimizer_used == "sgd"
    assert result.suggested_lr is not None

    x, y = view.raw_curve.getOriginalDataset()
    np.testing.assert_array_equal(x, result.lrs)
    finite_equal(y, result.losses)
    x, y = view.smooth_curve.getOriginalDataset()
    np.testing.assert_array_equal(x, result.lrs)
    finite_equal(y, result.smoothed)
    assert view.plot_item.getAxis("bottom").logMode  # learning rates on a log axis
    assert view.line.isVisible()
    assert 10 ** view.line.value() == pytest.approx(result.suggested_lr, rel=1e-9)
    assert f"{result.suggested_lr:.2g}" in view.line.label.toPlainText()
    assert f"{result.suggested_lr:.2g}" in view.hint.text()
    assert view.progress.value() == 100
    assert view.apply_button.isEnabled()

    header, rows = view.table()
    assert header == ["lr", "loss", "smoothed", "fixed-batch loss"]
    np.testing.assert_array_equal(rows[:, 0], result.lrs)
    np.testing.assert_array_equal(rows[:, 3], result.eval_losses)
    x, y = view.eval_curve.getOriginalDataset()
    finite_equal(y, result.eval_smoothed)

    view.steps.setValue(40)  # the steps control reaches the engine
    shorter = run_job(qtbot, view, view.start)
    assert len(shorter.lrs) <= 40 and shorter.lrs[1] / shorter.lrs[0] > result.lrs[1] / result.lrs[0]


def test_lr_view_tests_the_initial_weights_unless_asked_for_current(qtbot: Any, window: Any) -> None:
    window.session.new(spiral_spec(optimizer={"name": "sgd", "lr": 0.1}))
    view = lr_view(window)
    view.steps.setValue(20)
    train(qtbot, window)
    trainer = window.session.trainer
    x, y = training_arrays(window.session)
    initial = trainer.initial_network()
    fresh = run_job(qtbot, view, view.start)
    # The first minibatch loss is the untouched initial weights' loss on the first batch.
    spec = window.session.spec
    first = np.random.default_rng(spec.seed).permutation(len(x))[: spec.training.batch_size]
    expected = float(trainer.loss(initial.forward(x[first]), y[first])[0])
    assert fresh.losses[0] == pytest.approx(expected, rel=1e-5)
    view.current_weights.setChecked(True)
    trained = run_job(qtbot, view, view.start)
    assert trained.eval_losses[0] < fresh.eval_losses[0]


def test_lr_view_says_inconclusive_and_why(qtbot: Any, window: Any) -> None:
    from engine.analysis import lr_range_test

    view = lr_view(window)
    s = window.session
    x, y = training_arrays(s)
    result = lr_range_test(s.view_network, s.trainer.loss, x, y, rng=np.random.default_rng(0),
                           start=1e-14, end=1e-13, steps=30)
    view.set_result(result)
    assert result.verdict == "inconclusive"
    assert view.hint.text().startswith("Inconclusive: the loss fell by")
    assert "valley" in view.hint.text() and "fastai" in view.hint.text()
    assert not view.line.isVisible() and not view.apply_button.isEnabled()


def test_apply_sets_the_learning_rate_undoably(qtbot: Any, window: Any) -> None:
    view = lr_view(window)
    session = window.session
    before = session.spec.optimizer.lr
    run_job(qtbot, view, view.start)
    value = view.apply_value
    assert value is not None and value == pytest.approx(view.suggested_lr, rel=0.06)
    trainer = session.trainer
    view.apply_button.click()
    assert session.spec.optimizer.lr == value
    assert session.trainer is trainer  # a learning-rate change keeps the weights
    assert window.training_panel.lr.currentText() == f"{value:g}"
    window.undo_action.trigger()
    assert session.spec.optimizer.lr == before


def test_apply_during_a_run_takes_effect_at_the_next_step(qtbot: Any, window: Any) -> None:
    view = lr_view(window)
    session = window.session
    run_job(qtbot, view, view.start)
    value = view.apply_value
    assert value != session.spec.optimizer.lr
    session.set_spec(session.spec.with_overrides({"training.epochs": 2000}))
    trainer = session.trainer
    seen: list[float] = []
    session.eventsArrived.connect(
        lambda events: seen.extend(e.lr for e in events if isinstance(e, StepMetrics))
    )
    session.start()
    qtbot.waitUntil(lambda: len(seen) > 0, timeout=10_000)
    assert view.apply()
    assert session.is_running and session.trainer is trainer  # no restart
    qtbot.waitUntil(lambda: seen[-1] == pytest.approx(value), timeout=10_000)
    session.stop(join=True)


def test_lr_cancel_leaves_the_view_usable(qtbot: Any, window: Any) -> None:
    view = lr_view(window)
    with qtbot.waitSignal(view.job.cancelled, timeout=20_000):
        assert view.start()
        assert not view.run_button.isEnabled() and view.cancel_button.isEnabled()
        view.cancel_button.click()
    qtbot.waitUntil(lambda: not view.job.is_running())
    assert view.result is None and "Cancelled" in view.hint.text()
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled()
    assert not view.apply_button.isEnabled()
    run_job(qtbot, view, view.start)  # and it runs again afterwards
    assert view.result is not None


# ----------------------------------------------------------------------------- loss landscape
def test_landscape_image_is_the_loss_grid_centred_on_the_current_loss(qtbot: Any, window: Any) -> None:
    view = ls_view(window)
    train(qtbot, window)
    session = window.session
    assert len(view.path.snapshots) >= 2  # the initial weights and at least one update
    view.set_method("random")
    view.resolution.setValue(21)
    view.log_box.setChecked(False)
    with qtbot.waitSignal(view.job.finished, timeout=20_000) as blocker:
        menu_action(window.analyze_menu, "Loss Landscape").trigger()  # Analyze ▸ Loss Landscape
    qtbot.waitUntil(lambda: not view.job.is_running())
    result = blocker.args[0]
    assert window.workspace.current_name() == "landscape" and view.isVisible()
    assert result.losses.shape == (21, 21)
    np.testing.assert_array_equal(view.image.image, result.losses)

    # The centre of the grid is the current weights: the loss there is the model's loss now.
    x, y = training_arrays(session)
    loss, _ = session.trainer.loss(session.view_network.forward(x, training=False), y)
    assert result.center_loss == pytest.approx(float(loss), rel=1e-6)
    assert view.image.image[10, 10] == pytest.approx(result.center_loss, rel=1e-6)
    assert view.image.image.min() == pytest.approx(result.losses.min())
    assert view.colorbar.levels() == pytest.approx((result.losses.min(), result.losses.max()))
    rect = view.image.mapRectToParent(view.image.boundingRect())
    assert (rect.center().x(), rect.center().y()) == pytest.approx((0.0, 0.0), abs=1e-9)
    assert len(view.contours) == N_CONTOURS

    # Path: every snapshot plus the current weights, projected; the current point sits at (0, 0).
    px, py = view.path_curve.getOriginalDataset()
    np.testing.assert_array_equal(np.column_stack([px, py]), result.path_xy)
    assert len(result.path_xy) >= 2
    np.testing.assert_allclose(result.path_xy[-1], [0.0, 0.0], atol=1e-4)
    cx, cy = view.current_marker.getData()
    assert (float(cx[0]), float(cy[0])) == (0.0, 0.0)
    assert f"{result.center_loss:.4g}" in view.hint.text()

    view.log_box.setChecked(True)  # log colours: the same grid, in decades
    np.testing.assert_allclose(view.image.image, np.log10(result.losses))
    header, rows = view.table()
    assert header == ["alpha", "beta", "loss"] and rows.shape == (21 * 21, 3)


def step_epochs(qtbot: Any, window: Any, n: int) -> None:
    """Train epoch by epoch (F10): every finished run hands the view one more snapshot."""
    for _ in range(n):
        with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
            window.session.step_epoch()


def test_landscape_along_the_path_shows_the_path_in_pca_coordinates(qtbot: Any, window: Any) -> None:
    view = ls_view(window)
    session = window.session
    assert view.method() == "random"  # one snapshot: no path to follow yet
    assert not view.margin.isVisibleTo(view) and view.span.isVisibleTo(view)
    step_epochs(qtbot, window, 6)
    path = view.path_for_run()
    assert len(path) >= MIN_PCA_SNAPSHOTS
    assert view.method() == "pca"  # chosen by itself once the path has a shape
    assert view.margin.isVisibleTo(view) and not view.span.isVisibleTo(view)
    view.resolution.setValue(15)
    view.log_box.setChecked(False)
    with qtbot.waitSignal(view.job.finished, timeout=20_000) as blocker:
        menu_action(window.analyze_menu, "Loss Landscape").trigger()
    qtbot.waitUntil(lambda: not view.job.is_running())
    result = blocker.args[0]
    assert result.method == "pca"
    np.testing.assert_array_equal(view.image.image, result.losses)

    # The curve is the path projected on the principal components, from the start to the star.
    px, py = view.path_curve.getOriginalDataset()
    np.testing.assert_array_equal(np.column_stack([px, py]), result.path_xy)
    current = session.view_network.params.astype(np.float64)
    basis = np.stack([d.astype(np.float64) for d in result.directions])
    offsets = np.stack(path).astype(np.float64) - current
    np.testing.assert_allclose(result.path_xy, offsets @ basis.T, atol=1e-4)
    np.testing.assert_allclose(result.path_xy[-1], [0.0, 0.0], atol=1e-6)
    sx, sy = view.start_marker.getData()
    assert (float(sx[0]), float(sy[0])) == (float(px[0]), float(py[0]))
    cx, cy = view.current_marker.getData()
    assert (float(cx[0]), float(cy[0])) == (0.0, 0.0)
    # The path is visible: its start sits far from the current weights on the grid's scale.
    assert abs(px[0]) > 0.3 * (result.alphas[-1] - result.alphas[0])
    rect = view.image.mapRectToParent(view.image.boundingRect())
    assert rect.left() < px.min() and rect.right() > px.max()
    assert rect.top() < py.min() and rect.bottom() > py.max()

    # Labels and hint carry the explained variance; the centre is the current loss.
    v1, v2 = result.explained_variance
    assert 1.0 >= v1 >= v2 >= 0.0
    assert result.pca_centered  # the paper's centred PCA by default, and the labels say so
    assert view.plot_item.getAxis("bottom").labelText == f"PC1 ({100 * v1:.1f} %, centred)"
    assert view.plot_item.getAxis("left").labelText == f"PC2 ({100 * v2:.1f} %, centred)"
    assert f"{100 * v1:.1f} %" in view.hint.text() and "centred PCA" in view.hint.text()
    x, y = training_arrays(session)
    loss, _ = session.trainer.loss(session.view_network.forward(x, training=False), y)
    assert result.center_loss == pytest.approx(float(loss), rel=1e-6)
    i, j = list(result.alphas).index(0.0), list(result.betas).index(0.0)
    assert view.image.image[i, j] == result.center_loss
    header, rows = view.table()
    assert header == ["pc1", "pc2", "loss"] and rows.shape == (15 * 15, 3)
    # The uncentred variant is an option, and labelled as such.
    assert view.uncentred_box.isVisibleTo(view)
    view.uncentred_box.setChecked(True)
    uncentred = run_job(qtbot, view, view.start)
    assert uncentred.pca_centered is False and uncentred.explained_variance != result.explained_variance
    assert view.plot_item.getAxis("bottom").labelText.endswith(", uncentred)")
    assert "uncentred PCA" in view.hint.text()
    view.uncentred_box.setChecked(False)

    # A choice the user made sticks; random directions label their axes as such.
    view.set_method("random")
    step_epochs(qtbot, window, 1)
    assert view.method() == "random"
    random_result = run_job(qtbot, view, view.start)
    assert random_result.method == "random" and random_result.explained_variance is None
    assert view.plot_item.getAxis("bottom").labelText == "α (direction 1)"


def test_landscape_along_a_short_path_falls_back_to_random_with_a_hint(qtbot: Any, window: Any) -> None:
    view = ls_view(window)
    assert len(view.path_for_run()) == 1
    view.set_method("pca")
    view.resolution.setValue(5)
    result = run_job(qtbot, view, view.start)
    assert result.method == "random"
    assert "train a few steps" in view.hint.text()


def test_landscape_cancel_is_prompt_and_the_app_stays_usable(qtbot: Any, window: Any) -> None:
    window.session.new(digits_spec())
    view = ls_view(window)
    view.resolution.setValue(151)  # ~23,000 forward passes over 1,400 images: long
    with qtbot.waitSignal(view.job.progress, timeout=20_000):
        assert view.start()
    view.cancel(join=True)  # returns once the worker stopped between two grid rows
    assert not view.job.is_running()
    assert view.result is None and "Cancelled" in view.hint.text()
    assert view.run_button.isEnabled() and view.resolution.isEnabled()
    view.resolution.setValue(5)
    result = run_job(qtbot, view, view.start)
    assert result.losses.shape == (5, 5)
    train(qtbot, window)  # training still works


def test_param_path_decimates_evenly_and_keeps_the_start() -> None:
    class Net:
        def __init__(self, i: int) -> None:
            self.params = np.full(3, float(i), np.float32)

    path = ParamPath(capacity=8)
    for i in range(100):
        path.record(Net(i))
    values = [float(p[0]) for p in path.snapshots]
    assert 4 <= len(values) <= 8
    assert values[0] == 0.0
    steps = np.diff(values)
    assert (steps == steps[0]).all()  # evenly spaced in updates
    path.record(type("N", (), {"params": np.zeros(5, np.float32)})())  # another architecture
    assert len(path.snapshots) == 1

    again = ParamPath(capacity=100)
    again.record(Net(1))
    again.record(Net(1))  # the same weights again (a pause flush) are not a step
    again.record(Net(2))
    assert [float(p[0]) for p in again.snapshots] == [1.0, 2.0]


def test_landscape_path_restarts_with_new_weights(qtbot: Any, window: Any) -> None:
    view = ls_view(window)
    train(qtbot, window)
    assert len(view.path.snapshots) >= 2
    window.reset_action.trigger()
    assert len(view.path.snapshots) == 1
    assert view.method() == "random"  # no path to follow any more
    np.testing.assert_array_equal(view.path.snapshots[0], window.session.view_network.params)
    assert math.isfinite(float(view.path.snapshots[0].sum()))


def test_a_fast_run_still_records_one_path_point_per_epoch(qtbot: Any, window: Any) -> None:
    view = ls_view(window)
    window.session.set_spec(spiral_spec(epochs=25))
    train(qtbot, window)  # the whole run takes milliseconds: far fewer live weight updates than epochs
    assert len(view.path.snapshots) == 26  # the initial weights and one per epoch
    np.testing.assert_array_equal(view.path.snapshots[-1], window.session.view_network.params)
    assert view.method() == "pca"
