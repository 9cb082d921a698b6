"""Gradient health heatmap, diagnostics panel and gradient check: what a user sees after training."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.analysis import diagnose_trainer
from tests.app.conftest import menu_action, menu_texts
from tests.app_views.conftest import deep_sigmoid_spec, spiral_spec, train
from workbench.app.export import export_csv, export_png
from workbench.app.views.diagnostics_panel import NOT_YET


def _menu_texts(menu: Any) -> list[str]:
    return menu_texts(menu)


# ---------------------------------------------------------------------------------------- heatmap


def test_heatmap_has_a_row_per_layer_and_grows_with_training(qtbot: Any, window: Any, tmp_path: Any) -> None:
    view = window.views["gradient_health"]
    assert "Gradient health" in _menu_texts(window.view_menu)
    assert "Gradient Health Heatmap" in _menu_texts(window.analyze_menu)
    train(qtbot, window)
    window.refresh_views(force=True)
    layers = window.session.history.layers
    assert layers == ["dense1", "dense2", "output"]
    rows, first = view.data.shape
    assert rows == len(layers) and first == window.session.history.n_steps > 0
    # Each cell is log10 of the layer's gradient norm at that step.
    expected = np.log10(window.session.history.step_layer_grads("dense2"))
    np.testing.assert_allclose(view.data[1], expected)
    assert view.image.image.shape == (len(layers), first)
    train(qtbot, window)  # continue: more columns
    window.refresh_views(force=True)
    assert view.data.shape[0] == len(layers) and view.data.shape[1] > first
    header, table = view.table()
    assert header == ["step", "log10_grad_norm/dense1", "log10_grad_norm/dense2", "log10_grad_norm/output"]
    assert table.shape == (view.data.shape[1], 4)
    assert export_png(view, tmp_path / "h.png", 400, 300).stat().st_size > 1000
    assert export_csv(view, tmp_path / "h.csv").read_text().startswith("step,")


def test_heatmap_bins_long_histories_into_bounded_columns() -> None:
    from workbench.app.views.gradient_health import _bin_columns

    logs = np.vstack([np.arange(1000.0), -np.arange(1000.0)])
    binned, x = _bin_columns(logs, np.arange(1, 1001.0), 100)
    assert binned.shape == (2, 100)
    np.testing.assert_allclose(binned[0, 0], np.mean(np.arange(10.0)))
    assert x[-1] == 1000.0


# ---------------------------------------------------------------------------------------- diagnostics


def test_vanishing_gradients_appear_in_the_panel_after_training(qtbot: Any, window: Any) -> None:
    panel = window.views["diagnostics"]
    assert "Diagnostics" in _menu_texts(window.view_menu)
    assert "Diagnostics" in _menu_texts(window.analyze_menu)
    assert panel.texts() == [NOT_YET], "first launch: nothing checked yet, no green tick"
    window.session.new(deep_sigmoid_spec(epochs=6))
    train(qtbot, window)
    kinds = [d.kind for d in panel.diagnoses]
    assert "vanishing_gradients" in kinds
    t = window.session.trainer
    assert panel.diagnoses == diagnose_trainer(t)  # what the CLI prints
    vanishing = next(d for d in panel.diagnoses if d.kind == "vanishing_gradients")
    row = panel.texts()[kinds.index("vanishing_gradients")]
    assert row.startswith("Vanishing gradients (warning, happening now) — layer dense1 · epoch 1, step")
    assert vanishing.message in row and f"Try: {vanishing.remedy}" in row
    item = panel.list.item(kinds.index("vanishing_gradients"))
    assert item.background().color().name() == "#fff4d6"  # warning colour
    assert "6 epochs checked" in panel.status.text()
    assert "vanishing" in panel.copy_text().lower()
    # A new experiment starts clean.
    window.session.new(spiral_spec())
    assert panel.texts() == [NOT_YET] and panel.epochs == [], "no green tick before any epoch"
    assert panel.status.text() == "0 epochs checked"


def test_panel_shows_recovered_alarms_and_the_cli_prints_the_same_findings(
    qtbot: Any, window: Any, tmp_path: Any
) -> None:
    import io

    from engine.spec import DenseSpec, ExperimentSpec, ModelSpec
    from workbench.app.views.diagnostics_panel import RECOVERED_COLOUR
    from workbench.cli import run_experiment

    panel = window.views["diagnostics"]
    layer = DenseSpec(units=16, activation="leaky_relu", bias_init="constant",
                      bias_init_options={"value": -10.0})
    spec = ExperimentSpec(data={"source": "spiral_multi", "n_classes": 3},
                          model=ModelSpec(layers=(layer, layer)), training={"epochs": 60})
    window.session.new(spec)
    train(qtbot, window)
    recovered = [i for i, d in enumerate(panel.diagnoses) if d.state == "recovered"]
    assert recovered
    row = panel.texts()[recovered[0]]
    assert ", happened at epoch" in row.splitlines()[0] and "recovered" in row.splitlines()[0]
    assert panel.list.item(recovered[0]).background().color() == RECOVERED_COLOUR
    assert "recovered" in panel.status.text()
    err = io.StringIO()
    assert run_experiment(spec, folder=tmp_path / "run", out=io.StringIO(), err=err) == 0
    printed = [line for line in err.getvalue().splitlines() if line]
    assert printed == [d.text() for d in panel.diagnoses]


def test_healthy_run_shows_no_problems(qtbot: Any, window: Any) -> None:
    train(qtbot, window)
    assert window.views["diagnostics"].diagnoses == []
    assert window.views["diagnostics"].texts() == ["No problems detected"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_is_shown_as_an_error(qtbot: Any, window: Any) -> None:
    from engine.spec import DenseSpec, ModelSpec, OptimizerSpec

    layer = DenseSpec(units=16, activation="relu", weight_init="normal", weight_init_options={"std": 1.5})
    spec = deep_sigmoid_spec(epochs=5).model_copy(
        update={"model": ModelSpec(layers=(layer,) * 8), "optimizer": OptimizerSpec(name="sgd", lr=0.01)}
    )
    window.session.new(spec)
    result = train(qtbot, window)
    assert result.status == "diverged"
    panel = window.views["diagnostics"]
    errors = [d for d in panel.diagnoses if d.severity == "error"]
    assert errors and errors[0].step == result.divergence.step
    assert panel.list.item(panel.diagnoses.index(errors[0])).background().color().name() == "#fde2e1"


# ---------------------------------------------------------------------------------------- gradient check


def _run_check(qtbot: Any, window: Any) -> Any:
    action = menu_action(window.analyze_menu, "Check Gradients…")
    assert action in window.analyze_menu.actions() and action.text() == "Check Gradients…"
    dialog = window.views["gradcheck"].dialog()
    with qtbot.waitSignal(dialog.checked, timeout=20_000):
        action.trigger()
    assert dialog.isVisible() and not dialog.running
    return dialog


def test_gradient_check_is_all_green_for_a_healthy_model(qtbot: Any, window: Any) -> None:
    from workbench.app.views.gradcheck_dialog import GREEN

    dialog = _run_check(qtbot, window)
    names = list(window.session.view_network.parameters())
    assert list(dialog.result) == names
    assert all(c.status == "pass" for c in dialog.checks.values())
    assert all(err < 1e-5 for err in dialog.result.values())
    assert dialog.colours() == {n: GREEN for n in names}
    assert "All 6 parameters agree" in dialog.summary.text()
    # The verdict's own number (worst miss / allowance, ≤ 1 on a pass), precision and step each
    # have a column, headers readable in full at the dialog's size.
    header = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    assert header == ["parameter", "entries checked", "max error", "worst / allowed", "FD precision",
                      "step h", "result"]
    check = dialog.checks["dense1.W"]
    row = [dialog.table.item(0, c).text() for c in range(dialog.table.columnCount())]
    assert row[3] == f"{check.worst_share:.2g}×" and row[4] == f"{check.tolerance:.0e}"
    assert row[5] == f"{check.eps:g}"
    assert all(0.0 <= c.worst_share <= 1.0 for c in dialog.checks.values())
    metrics = dialog.table.horizontalHeader().fontMetrics()
    for c, title in enumerate(header[1:], start=1):
        assert dialog.table.columnWidth(c) >= metrics.horizontalAdvance(title)
    dialog.close()


def test_gradient_check_turns_red_for_a_wrong_backward(qtbot: Any, window: Any, monkeypatch: Any) -> None:
    from engine.layers import Dense
    from workbench.app.views.gradcheck_dialog import GREEN, RED

    original = Dense.backward

    def wrong(self: Any, grad_y: np.ndarray, input_grad: bool = True) -> Any:
        out = original(self, grad_y, input_grad)
        self.grads["W"] *= 1.5  # a classic bug: a wrong factor in the weight gradient
        return out

    monkeypatch.setattr(Dense, "backward", wrong)
    dialog = _run_check(qtbot, window)
    colours = dialog.colours()
    assert {n for n, c in colours.items() if c == RED} == {"dense1.W", "dense2.W", "output.W"}
    assert {n for n, c in colours.items() if c == GREEN} == {"dense1.b", "dense2.b", "output.b"}
    assert dialog.result["dense1.W"] > 0.1
    assert dialog.checks["dense1.W"].worst_share > 1.0
    assert "3 of 6 parameters" in dialog.summary.text()
    dialog.close()


def test_gradient_plot_says_before_clipping_when_clipping_is_on(qtbot: Any, window: Any) -> None:
    plot = window.gradient_plot
    window.session.new(spiral_spec())
    train(qtbot, window)
    plot.refresh(window.session.history, force=True)
    assert plot.plot_item.getAxis("left").labelText == "‖∂L/∂W‖"
    window.session.new(spiral_spec(**{"clipping.mode": "norm", "clipping.max": 0.01}))
    train(qtbot, window)
    plot.refresh(window.session.history, force=True)
    assert "before clipping" in plot.plot_item.getAxis("left").labelText
    assert "norm" in plot.plot_item.getAxis("left").labelText
    # Both: the dashed after-clipping curves are each layer's norm x min(1, limit / global norm).
    assert plot.after_clip.isVisibleTo(plot)
    plot.epoch_means.setChecked(False)
    plot.after_clip.setChecked(True)
    plot.refresh(window.session.history, force=True)
    history = window.session.history
    scale = np.minimum(1.0, 0.01 / history.steps("grad_norm"))
    _, after = plot.clipped_curves["dense1"].getOriginalDataset()
    np.testing.assert_allclose(after, history.step_layer_grads("dense1") * scale, rtol=1e-6)
    assert (after <= history.step_layer_grads("dense1") + 1e-12).all() and scale.min() < 1.0
