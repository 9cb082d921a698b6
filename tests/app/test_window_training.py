"""Drive the window like a person: edit the network, train, pause, resume, change the
learning rate mid-run, stop, diverge, fail, close while training."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from tests.app.conftest import small_spec


def press(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window, key, modifier)


def test_build_a_network_through_the_editors(qtbot, window) -> None:
    panel = window.network_panel
    before = len(window.session.spec.model.layers)
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 1)
    assert window.session.spec.model.layers[-1].type == "dense"
    row = before
    units = panel.table.cellWidget(row, 1)
    units.setText("5")
    units.editingFinished.emit()
    act = panel.table.cellWidget(row, 2)
    act.setCurrentIndex(act.findData("relu"))
    act.activated.emit(act.currentIndex())
    qtbot.waitUntil(lambda: window.session.spec.model.layers[-1].units == 5)
    layer = window.session.spec.model.layers[-1]
    assert (layer.units, layer.activation) == (5, "relu")
    # Dropout through the type combo, then move it up and remove it again.
    panel.add_type.setCurrentIndex(panel.add_type.findData("dropout"))
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert window.session.spec.model.layers[-1].type == "dropout"
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 2)
    panel.table.selectRow(before + 1)
    qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
    assert window.session.spec.model.layers[before].type == "dropout"
    qtbot.waitUntil(lambda: panel.table.rowCount() == before + 2)
    panel.table.selectRow(before)
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert [la.type for la in window.session.spec.model.layers][-1] == "dense"
    # Sizes follow from data and loss, and the parameter count is shown.
    n = window.session.trainer.network.n_parameters
    assert f"{n:,}" in panel.params_label.text()
    assert "3 units" in panel.output_label.text()
    assert window.isWindowModified()
    window.session.undo()  # the removal
    window.session.undo()  # the move
    assert [la.type for la in window.session.spec.model.layers][-2:] == ["dense", "dropout"]
    window.session.redo()
    assert window.session.spec.model.layers[before].type == "dropout"


def test_train_pause_resume_live_lr_stop(qtbot, window) -> None:
    window.session.new(small_spec(epochs=100_000))
    press(qtbot, window, Qt.Key.Key_F5)
    assert window.session.run_state == "running"
    train_curve = window.loss_plot.train
    qtbot.waitUntil(lambda: train_curve.xData is not None and len(train_curve.xData) > 2, timeout=15_000)
    # While training, the plots of one frame are drawn one after the other, a few ms apart.
    qtbot.waitUntil(lambda: bool(window.gradient_plot.curves)
                    and len(window.gradient_plot.curves["output"].xData) > 0, timeout=5_000)
    qtbot.waitUntil(lambda: window.boundary_plot._prediction is not None, timeout=5_000)

    press(qtbot, window, Qt.Key.Key_F6)
    assert window.session.run_state == "paused"
    qtbot.waitUntil(lambda: window.session.trainer.status == "paused", timeout=5_000)
    assert window.start_action.text() == "Resume"

    # The learning rate typed in the editor reaches the running trainer at the next step.
    panel = window.training_panel
    panel.lr.lineEdit().setText("0.003")
    panel.lr.lineEdit().editingFinished.emit()
    assert window.session.spec.optimizer.lr == 0.003
    seen = window.session.history.n_steps
    press(qtbot, window, Qt.Key.Key_F5)  # F5 resumes a paused run
    assert window.session.run_state == "running"
    qtbot.waitUntil(lambda: window.session.history.n_steps > seen + 5, timeout=10_000)
    lrs = window.session.history.steps("lr")
    assert lrs[-1] == 0.003 and lrs[0] == 0.01
    assert window.session.is_running  # still the same run: no reset for a live setting

    press(qtbot, window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: not window.session.is_running and window.session.run is None, timeout=10_000)
    assert window.session.run_state == "stopped"
    steps = window.session.history.steps("step")
    assert list(steps) == list(range(1, len(steps) + 1))  # nothing dropped, in order


def test_step_epoch_and_reset(qtbot, window) -> None:
    press(qtbot, window, Qt.Key.Key_F10)
    s = window.session
    qtbot.waitUntil(lambda: s.run is None and s.history.n_epochs == 1, timeout=10_000)
    assert window.session.trainer.epoch == 1
    assert window.progress.value() == 1
    press(qtbot, window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.session.trainer.epoch == 0 and window.session.history.n_steps == 0


def test_structural_edit_during_run_asks_first(qtbot, window, dialogs) -> None:
    window.session.new(small_spec(epochs=100_000))
    window.session.start()
    qtbot.waitUntil(lambda: window.session.history.n_steps > 0, timeout=10_000)
    dialogs.confirm = False
    layers = window.session.spec.model.layers
    window.network_panel.add_layer("dense")
    assert window.session.spec.model.layers == layers and window.session.is_running
    dialogs.confirm = True
    window.network_panel.add_layer("dense")
    assert len(window.session.spec.model.layers) == len(layers) + 1
    assert not window.session.is_running and window.session.history.n_steps == 0


def test_divergence_is_explained(qtbot, window, dialogs) -> None:
    from engine.shipped import example_path
    from workbench.experiment import load_experiment

    spec = load_experiment(example_path("exploding-gradients"))
    window.session.new(spec.with_overrides({"data.n_samples": 200, "training.epochs": 5}))
    window.session.start()
    qtbot.waitUntil(lambda: bool(dialogs.warnings), timeout=15_000)
    title, text = dialogs.warnings[0]
    assert "diverged" in title.lower() and "NaN" in text and "learning rate" in text
    assert window.session.run_state == "diverged"
    window.refresh_views(force=True)  # NaN-safe plots


def test_exception_in_training_shows_dialog_and_app_stays_usable(qtbot, window, dialogs) -> None:
    def broken(epochs=None):
        yield from ()
        raise RuntimeError("engine bug")

    window.session.trainer.run = broken
    window.session.start()
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=10_000)
    assert "engine bug" in dialogs.errors[0][1]
    qtbot.waitUntil(lambda: window.session.run is None)
    window.session.reset_weights()
    window.session.step_epoch()
    qtbot.waitUntil(lambda: window.session.history.n_epochs == 1, timeout=10_000)


def test_close_during_training_joins_the_thread(qtbot, window) -> None:
    window.session.new(small_spec(epochs=100_000))
    window.session.start()
    qtbot.waitUntil(lambda: window.session.history.n_steps > 0, timeout=10_000)
    thread = window.session.training_job.thread
    assert thread.isRunning()
    assert window.close()
    assert window.session.training_job.thread is None  # joined, then released
    assert not window.session.is_running


def test_shortcuts_on_toolbar_and_run_menu(window) -> None:
    keys = {a.shortcut().toString() for a in window.run_actions}
    assert keys == {"F5", "F6", "F10", "Shift+F5", "Ctrl+R"}
    assert set(window.run_actions) <= set(window.run_toolbar.actions())
    run_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Run")
    assert set(window.run_actions) <= set(run_menu.actions())
    assert window.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)


def test_data_editor_rebuilds_the_data(qtbot, window) -> None:
    panel = window.data_panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("circle"))
    panel.dataset.activated.emit(panel.dataset.currentIndex())
    assert window.session.spec.data.source == "circle"
    assert window.session.trainer.dataset.n_classes == 2
    assert panel.field_text("classes") == "2 (fixed by the circle set)"
    seed = window.session.spec.seed
    qtbot.mouseClick(panel.regenerate_button, Qt.MouseButton.LeftButton)
    assert window.session.spec.seed != seed
    panel.noise.setValue(0.3)
    panel.noise.editingFinished.emit()
    assert window.session.spec.data.noise == 0.3
    assert len(panel.scatter.data) == len(window.session.trainer.dataset.x_train)


def test_live_clipping_and_l2_reach_the_trainer(qtbot, window) -> None:
    window.session.new(small_spec(epochs=100_000))
    window.session.start()
    qtbot.waitUntil(lambda: window.session.history.n_steps > 0, timeout=10_000)
    panel = window.training_panel
    panel.clip_mode.setCurrentText("norm")
    panel.clip_mode.activated.emit(panel.clip_mode.currentIndex())
    panel.l2.setText("0.001")
    panel.l2.editingFinished.emit()
    qtbot.waitUntil(lambda: window.session.trainer.settings.clip_mode == "norm"
                    and window.session.trainer.settings.l2 == 0.001, timeout=10_000)
    assert window.session.is_running  # applied live, no reset
