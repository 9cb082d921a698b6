"""Runs list, overlaid comparisons, sweeps off the GUI thread and experiment variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.spec import DenseSpec, ExperimentSpec, ModelSpec, VariantSpec
from tests.app.conftest import menu_action
from workbench.app.views import runs_view
from workbench.app.views.runs_view import SweepChoice, SweepDialog, build_sweep, parse_values, spec_diff
from workbench.experiment import save_experiment
from workbench.model.sweep.executor import default_workers

from .conftest import spiral_spec, train


def runs(window: Any) -> Any:
    return window.views["runs"]


def wait_job(qtbot: Any, view: Any, start: Any, timeout: int = 30_000) -> None:
    with qtbot.waitSignal(view.job.finished, timeout=timeout):
        assert start()
    qtbot.waitUntil(lambda: not view.job.is_running(), timeout=timeout)


def cell(view: Any, row: int, col: int) -> str:
    return view.cell(row, col)


def test_a_finished_session_run_is_listed_with_its_history(qtbot: Any, window: Any) -> None:
    view = runs(window)
    session = window.session
    assert view.records == []
    train(qtbot, window)
    assert len(view.records) == 1
    record = view.records[0]
    assert record.status == "finished" and record.source == "session"
    assert record.history.n_epochs == session.history.n_epochs == 3
    assert record.history is not session.history  # a copy: the next run does not overwrite it
    assert cell(view, 0, 0) == "Session run 1" and cell(view, 0, 1) == "same as base"
    assert cell(view, 0, 2) == "finished"
    assert cell(view, 0, 3) == f"{session.history.last('train_loss'):.4g}"
    assert cell(view, 0, 6) == f"{session.history.last('val_metric'):.4g}"

    # An edit then a second run: listed with what differs from the experiment as opened.
    window.training_panel.set_learning_rate(0.1)
    window.session.reset_weights()
    train(qtbot, window)
    assert [r.name for r in view.records] == ["Session run 1", "Session run 2"]
    assert cell(view, 1, 1) == "lr=0.1"
    # Nothing selected: both runs overlaid, one colour each.
    assert [(name, which) for name, which, _ in view.loss_plot.curves] == [
        ("Session run 1", "train"), ("Session run 1", "val"),
        ("Session run 2", "train"), ("Session run 2", "val"),
    ]
    view.select_records([view.records[1]])
    assert {name for name, _, _ in view.loss_plot.curves} == {"Session run 2"}


def test_sweep_of_three_learning_rates_overlays_three_runs(qtbot: Any, window: Any) -> None:
    view = runs(window)
    session = window.session
    trainer, before = session.trainer, session.spec
    asked: list[bool] = []

    def choose() -> SweepChoice:
        asked.append(True)
        return SweepChoice("lr", (1.0, 0.03, 1e-4), 2)

    view.ask_sweep = choose
    with qtbot.waitSignal(view.job.finished, timeout=30_000):
        menu_action(window.analyze_menu, "Sweep…").trigger()  # Analyze ▸ Sweep…
        assert view.job.is_running() and not view.sweep_button.isEnabled()
    qtbot.waitUntil(lambda: not view.job.is_running())
    assert asked and window.workspace.current_name() == "runs"
    assert [r.name for r in view.records] == ["lr=1", "lr=0.03", "lr=0.0001"]
    assert [r.spec.optimizer.lr for r in view.records] == [1.0, 0.03, 1e-4]
    assert all(r.status == "finished" and r.history.n_epochs == 2 for r in view.records)
    finals = [r.last("train_loss") for r in view.records]
    assert len(set(finals)) == 3
    assert [cell(view, i, 3) for i in range(3)] == [f"{v:.4g}" for v in finals]
    assert view.progress.value() == 100
    # The session's own experiment and trainer are untouched.
    assert session.spec == before and session.trainer is trainer and trainer.epoch == 0

    # Three overlaid runs on each comparison plot, one colour per run, data = each run's history.
    for plot in (view.loss_plot, view.metric_plot, view.grad_plot):
        names = [name for name, which, _ in plot.curves if which in ("train", "grad")]
        assert names == ["lr=1", "lr=0.03", "lr=0.0001"]
    # The gradient curves come from the workers' step rows.
    assert all(r.history.n_steps > 0 for r in view.records)
    colours = {r.name: r.colour for r in view.records}
    assert len(set(colours.values())) == 3
    for name, which, curve in view.loss_plot.curves:
        record = next(r for r in view.records if r.name == name)
        x, y = curve.getOriginalDataset()
        np.testing.assert_array_equal(x, record.history.epochs("epoch"))
        np.testing.assert_array_equal(y, record.history.epochs(f"{which}_loss"))
        assert curve.opts["pen"].color().getRgb()[:3] == colours[name]
    legend = view.loss_plot.legend_label.texts()  # above the plot, never on the curves
    assert legend == ["lr=1", "lr=0.03", "lr=0.0001"]
    header, rows = view.loss_plot.table()
    assert header[:2] == ["lr=1 epoch", "lr=1 train"] and rows.shape == (2, 12)


def test_sweep_cancel_keeps_finished_runs_and_stays_usable(qtbot: Any, window: Any) -> None:
    view = runs(window)
    first_done: list[object] = []
    view.job.partial.connect(lambda m: first_done.append(m) if m[0] == "done" else None)
    with qtbot.waitSignal(view.job.cancelled, timeout=30_000):
        assert view.start_sweep(SweepChoice("batch_size", (16, 8, 4), 400))
        qtbot.waitUntil(lambda: len(first_done) >= 1, timeout=30_000)
        view.cancel_button.click()
    qtbot.waitUntil(lambda: not view.job.is_running())
    assert view.records[0].name == "batch_size=16" and view.records[0].status == "finished"
    assert all(r.status not in ("queued", "running") for r in view.records)
    assert len(view.records) < 3 or view.records[-1].status == "finished"
    assert "cancelled" in view.hint.text()
    assert view.sweep_button.isEnabled() and not view.cancel_button.isEnabled()
    wait_job(qtbot, view, lambda: view.start_sweep(SweepChoice("lr", (0.1,), 1)))
    assert view.records[-1].name == "lr=0.1" and view.records[-1].status == "finished"


def test_closing_the_window_joins_a_running_sweep(qtbot: Any, window: Any) -> None:
    view = runs(window)
    assert view.start_sweep(SweepChoice("lr", (0.1, 0.01), 5000))
    qtbot.waitUntil(lambda: any(r.status == "running" for r in view.records), timeout=10_000)
    window.close()
    assert not view.job.is_running()


def test_variant_files_open_as_a_comparison(qtbot: Any, window: Any, tmp_path: Path) -> None:
    view = runs(window)
    spec = spiral_spec(epochs=2).model_copy(update={
        "name": "LR",
        "variants": (VariantSpec(name="too high", overrides={"optimizer.lr": 1.0}),
                     VariantSpec(name="too low", overrides={"optimizer.lr": 1e-4})),
    })
    path = tmp_path / "lr.json"
    save_experiment(spec, path)
    assert not view.variants_button.isEnabled()
    assert window.files.open_path(path)
    assert window.workspace.current_name() == "runs"
    assert [(r.name, r.status) for r in view.records] == [("base", "pending"), ("too high", "pending"),
                                                          ("too low", "pending")]
    assert [cell(view, i, 1) for i in range(3)] == ["base", "lr=1", "lr=0.0001"]
    assert view.variants_button.isEnabled()

    wait_job(qtbot, view, view.run_variants)
    assert [r.status for r in view.records] == ["finished"] * 3
    assert [r.spec.optimizer.lr for r in view.records] == [0.01, 1.0, 1e-4]
    assert len({r.last("train_loss") for r in view.records}) == 3
    assert [n for n, which, _ in view.loss_plot.curves if which == "train"] == ["base", "too high", "too low"]


def test_sweep_dialog_defaults_and_validation(qtbot: Any) -> None:
    spec = spiral_spec()
    dialog = SweepDialog(spec)
    qtbot.addWidget(dialog)
    # This machine, one worker per core, the experiment's seed only, nothing written: the defaults.
    assert dialog.choice() == SweepChoice("lr", (1.0, 0.03, 1e-4), spec.training.epochs, seeds=1,
                                          workers=default_workers(), scheduler="", out="")
    dialog.set_param("optimizer")
    assert dialog.choice().values == ("sgd", "momentum", "adam", "rmsprop", "adagrad")
    dialog.set_param("activation")
    assert {"sigmoid", "tanh", "relu", "gelu"} <= set(dialog.choice().values)
    dialog.values.setText("relu, relu6")
    dialog._accept()
    assert "relu6" in dialog.error.text() and dialog.result() == 0  # not accepted
    with pytest.raises(ValueError, match="not a number"):
        parse_values("lr", "0.1, fast")
    with pytest.raises(ValueError, match="at least 1"):
        parse_values("batch_size", "0")
    assert parse_values("batch_size", "4; 64") == [4, 64]


def test_build_sweep_drops_options_of_a_swapped_choice() -> None:
    leaky = DenseSpec(units=4, activation="leaky_relu", activation_options={"negative_slope": 0.2})
    spec = ExperimentSpec(name="S", model=ModelSpec(layers=(leaky, leaky)),
                          optimizer={"name": "adam", "lr": 0.02, "beta1": 0.8})
    runs_ = build_sweep(spec, "activation", ["tanh", "leaky_relu"])
    assert [label for label, _ in runs_] == ["activation=tanh", "activation=leaky_relu"]
    layers = runs_[0][1].model.layers
    assert all(layer.activation == "tanh" and layer.activation_options == {} for layer in layers)
    opt = build_sweep(spec, "optimizer", ["momentum", "adam"])
    assert [label for label, _ in opt] == ["optimizer=momentum", "optimizer=adam"]
    assert opt[0][1].optimizer.name == "sgd" and opt[0][1].optimizer.options == {"momentum": 0.9}
    assert opt[1][1].optimizer.options == {} and opt[1][1].optimizer.lr == 0.02
    assert opt[0][1].name == "S [optimizer=momentum]"


def test_spec_diff_is_short_and_merges_layer_settings() -> None:
    base = spiral_spec()
    assert spec_diff(base, base) == "same as base"
    relu = base.with_overrides({"model.layers.0.activation": "relu", "model.layers.1.activation": "relu",
                                "optimizer.lr": 0.1})
    assert spec_diff(base, relu) == "activation=relu, lr=0.1"
    one = base.with_overrides({"model.layers.1.units": 4})
    assert spec_diff(base, one) == "layer2.units=4"
    sgd = base.with_overrides({"optimizer": {"name": "sgd", "lr": 0.01}})
    assert spec_diff(base, sgd) == "optimizer=sgd"


def test_only_the_latest_session_runs_are_kept(qtbot: Any, window: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(runs_view, "KEPT_SESSION_RUNS", 2)
    view = window.views["runs"]
    for _ in range(3):
        train(qtbot, window)
        window.session.reset_weights()
    assert [r.name for r in view.records] == ["Session run 2", "Session run 3"]
    assert view.proxy.rowCount() == 2
