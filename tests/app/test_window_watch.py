"""Watching a run: the pace a person picks, live changes marked on the plots, and a clean slate for
every new experiment."""

from __future__ import annotations

import time
from typing import Any

from engine.spec import DataSpec, ExperimentSpec, LossSpec, TrainingSpec
from tests.app.conftest import small_spec
from workbench.app.panels.common import edit_spec


def _set_pace(window: Any, rate: float | None) -> None:
    combo = window.pace.combo
    combo.setCurrentIndex(combo.findData(rate))  # as a person picks it in the toolbar


def test_the_watch_pace_sets_how_fast_the_history_grows(qtbot: Any, window: Any) -> None:
    window.session.new(small_spec(epochs=10_000))
    _set_pace(window, 20.0)
    assert window.session.pace == 20.0 and window.pace.combo.currentText() == "20 steps/s"
    window.session.start()
    qtbot.waitUntil(lambda: window.session.history.n_steps >= 2, timeout=10_000)
    t0, n0 = time.monotonic(), window.session.history.n_steps
    qtbot.wait(2000)
    rate = (window.session.history.n_steps - n0) / (time.monotonic() - t0)
    assert 12 <= rate <= 28, f"{rate:.1f} steps/s drawn at a pace of 20"
    # Full speed takes effect at once, in the same run.
    window.pace.combo.setCurrentIndex(window.pace.combo.count() - 1)
    assert window.pace.combo.currentText() == "Full speed"
    qtbot.waitUntil(lambda: window.session.history.n_steps > n0 + 1000, timeout=10_000)
    window.session.stop(join=True)


def test_slower_and_faster_step_through_the_paces(window: Any) -> None:
    _set_pace(window, 100.0)
    window.slower_action.trigger()
    assert window.session.pace == 20.0
    window.faster_action.trigger()
    window.faster_action.trigger()
    assert window.session.pace == 300.0
    # The choice is remembered for the next start.
    assert window.settings.value("pace") == "300"


def test_a_live_change_leaves_a_labelled_marker_on_the_step_plots(qtbot: Any, window: Any) -> None:
    window.session.new(small_spec(epochs=10_000))
    _set_pace(window, 100.0)
    window.session.start()
    qtbot.waitUntil(lambda: window.session.history.n_steps > 10, timeout=10_000)
    old = window.session.spec.optimizer.lr
    assert edit_spec(window.session, lambda d: d["optimizer"].update(lr=0.1), lambda _m: None)
    assert window.session.is_running, "a learning-rate change does not restart the run"
    (step, text), = window.session.history.markers
    assert text == f"lr {old:g} → 0.1" and step > 10
    assert edit_spec(window.session, lambda d: d["regularization"].update(l2=0.001), lambda _m: None)
    window.refresh_views(force=True)
    expected = [f"lr {old:g} → 0.1", "L2 0 → 0.001"]
    assert window.loss_plot.marker_texts() == expected
    assert window.gradient_plot.marker_texts() == expected
    window.session.stop(join=True)
    # New weights start a new run: its plots carry no markers of the old one.
    window.session.reset_weights()
    window.refresh_views(force=True)
    assert window.session.history.markers == [] and window.loss_plot.marker_texts() == []


def test_a_new_experiment_starts_from_a_clean_slate(qtbot: Any, window: Any) -> None:
    regression = ExperimentSpec(
        name="Plane", data=DataSpec(source="plane", n_samples=200), loss=LossSpec(name="mse"),
        training=TrainingSpec(epochs=3, batch_size=32),
    )
    window.session.new(regression)
    with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
        window.session.start()
    window.refresh_views(force=True)
    metric_axis = window.metric_plot.plot_item.getAxis("left")
    assert metric_axis.labelText == "R²"
    window.workspace.open_page("runs")
    runs = window.views["runs"]
    assert [r.name for r in runs.shown_records()] == ["Session run 1"]
    window.loss_plot.plot_item.getViewBox().setRange(xRange=(-500, -100))  # a person zoomed away

    window.session.new(small_spec(epochs=2))
    window.refresh_views(force=True)
    assert metric_axis.labelText == "accuracy", "no R² left from the regression run"
    x, _y = window.loss_plot.train.getData()
    assert x is None or len(x) == 0, "no curve of the old experiment"
    box = window.loss_plot.plot_item.getViewBox()
    assert all(box.state["autoRange"]), "axes fit the new data"
    assert box.viewRange()[0][0] >= -1, "no negative steps left from the old view"
    health = window.views["gradient_health"]
    assert tuple(health.colour_bar.levels()) == (-8.0, 0.0), "no colour range left from the old run"
    assert health.plot_item.getViewBox().viewRange()[0][0] >= 0
    assert all(health.plot_item.getViewBox().state["autoRange"]), "the new run's heatmap will fit"
    # The old run stays listed under its own experiment, never compared with the new one.
    assert runs.shown_records() == []
    row = [runs.cell(0, c) for c in range(2)]
    assert row == ["Session run 1", "other experiment: Plane"]


def test_finished_runs_do_not_keep_their_trainers_alive(qtbot: Any, window: Any) -> None:
    """Restarting runs for hours must not pile up old trainers (each holds its whole history)."""
    import gc
    import weakref

    window.session.new(small_spec(epochs=2))
    trainers = []
    for _ in range(4):
        window.session.reset_weights()
        trainers.append(weakref.ref(window.session.trainer))
        with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
            window.session.start()
        qtbot.wait(50)
    gc.collect()
    assert [ref() is not None for ref in trainers] == [False, False, False, True]
