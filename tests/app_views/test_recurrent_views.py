"""A person builds an LSTM in the network editor on the adding problem, trains it and reads the
gradient-through-time view, the gates and the hidden-state path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.spec import DataSpec, ExperimentSpec, ModelSpec, OptimizerSpec, TrainingSpec
from tests.app.conftest import Dialogs, menu_texts, open_window
from tests.app_views.conftest import train
from workbench.app.export import export_csv, export_png


def adding_spec(layers: tuple = ()) -> ExperimentSpec:
    return ExperimentSpec(
        data=DataSpec(source="adding", n_samples=200, sequence_length=20),
        model=ModelSpec(layers=layers),
        loss={"name": "mse"},
        optimizer=OptimizerSpec(name="adam", lr=0.01),
        training=TrainingSpec(epochs=2, batch_size=32),
    )


@pytest.fixture
def window(qtbot: Any, tmp_path: Any) -> Any:
    yield from open_window(qtbot, tmp_path, Dialogs(), adding_spec())


def test_build_an_lstm_in_the_editor_train_and_read_the_gradient_through_time(
    qtbot: Any, window: Any, tmp_path: Any
) -> None:
    from workbench.app.panels.network_panel import NetworkPanel

    editor = window.findChild(NetworkPanel)
    assert editor.input_label.text() == "Input: 20 steps × 2 features"
    editor.add_type.setCurrentIndex(editor.add_type.findText("LSTM"))
    qtbot.mouseClick(editor.add_button, qtbot_button())
    qtbot.waitUntil(lambda: editor.table.rowCount() == 1)
    assert window.session.spec.model.layers[0].type == "lstm"
    assert editor.table.cellWidget(0, 0).currentText() == "LSTM"
    assert editor.table.cellWidget(0, 2).text() == "gated · output last step"
    assert editor.table.cellWidget(0, 3) is None and editor.table.columnSpan(0, 2) == 2
    assert editor.params_label.text() == f"Parameters: {4 * 16 * (2 + 16) + 2 * 4 * 16 + 16 + 1:,}"

    assert "Gradient Through Time" in menu_texts(window.analyze_menu)
    view = window.views["time_gradients"]
    assert "Train a network" in view.hint.text()
    train(qtbot, window)
    window.refresh_views(force=True)
    view.refresh(None, force=True)
    assert view.layer_box.currentText() == "lstm1"
    steps = window.session.history.n_steps
    matrix = view.store.matrix("lstm1")
    assert matrix.shape == (steps, 20)  # one row per training step, one column per time step
    assert np.all(matrix > 0)
    # The curve shows the latest step's ‖∂L/∂h_t‖ over t = 1..20; the heatmap every step.
    x, y = view.latest_curve.getData()
    np.testing.assert_allclose(x, np.arange(1, 21))
    np.testing.assert_allclose(10.0 ** y, matrix[-1])  # a log axis: pyqtgraph hands back log10
    assert view.image.image.shape == (steps, 20)
    ratio = matrix[-1, 0] / matrix[-1, -1]
    assert f"{ratio:.1e}" in view.hint.text()
    assert view.hint.text().startswith("lstm1: ‖∂L/∂h_1‖ / ‖∂L/∂h_20‖")
    assert export_png(view, tmp_path / "t.png", 600, 300).stat().st_size > 1000
    assert export_csv(view, tmp_path / "t.csv").read_text().startswith("step,grad_norm_t1,")

    gates = window.views["sequence_view"]
    gates.refresh(None, force=True)
    assert list(gates.gates) == ["input", "forget", "cell", "output"]
    assert all(len(v) == 20 for v in gates.gates.values())
    assert gates.trajectory.shape == (20, 2)
    assert all(v.min() >= 0.0 and v.max() <= 1.0 for k, v in gates.gates.items() if k != "cell")
    gates.index_box.setValue(3)
    assert "validation sequence 3: 20 steps" in gates.hint.text()


def test_the_gradient_through_time_view_starts_over_for_a_new_experiment(qtbot: Any, window: Any) -> None:
    window.session.new(adding_spec(({"type": "rnn", "units": 8},)))
    train(qtbot, window)
    view = window.views["time_gradients"]
    view.refresh(None, force=True)
    assert view.layer_box.currentText() == "rnn1" and view.store.n_rows > 0
    # The diagnostics strip names it, with the gated-cell remedy.
    panel = window.views["diagnostics"]
    panel.update_diagnoses()
    (finding,) = [d for d in panel.diagnoses if d.kind == "vanishing_through_time"]
    assert finding.layer == "rnn1" and "LSTM or GRU" in finding.remedy
    title = "Vanishing gradient through time (warning, happening now)"
    assert any(t.startswith(title) for t in panel.texts())
    window.session.new(adding_spec(({"type": "gru", "units": 8},)))
    view.refresh(None, force=True)
    assert view.store.n_rows == 0 and "Train a network" in view.hint.text()
    train(qtbot, window)
    view.refresh(None, force=True)
    assert view.layer_box.currentText() == "gru1"
    assert list(window.views["sequence_view"].gates) == ["reset", "update", "new"]


def qtbot_button() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
