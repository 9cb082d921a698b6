"""What a person types into the Training editor is either used, or refused in red with the limit
named: never applied at a different value, never silently changed."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from workbench.app.panels.honest import is_marked


def _type(qtbot: Any, edit: Any, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def test_an_out_of_range_learning_rate_is_refused_and_named(qtbot: Any, window: Any) -> None:
    panel = window.training_panel
    before = window.session.spec.optimizer.lr
    edit = panel.lr.lineEdit()
    _type(qtbot, edit, "1e9")
    assert window.session.spec.optimizer.lr == before, "never applied"
    assert edit.text() == "1e9" and is_marked(edit), "shown in red, not silently replaced"
    message = panel.error.text()
    assert "100" in message and f"still using {before:g}" in message, message
    _type(qtbot, edit, "0.003")
    assert window.session.spec.optimizer.lr == 0.003 and not is_marked(edit)
    assert panel.error.text() == ""


@pytest.mark.parametrize(("field", "text", "limit"), [
    ("l2", "-0.5", "0"),
    ("l1", "abc", "not a number"),
    ("epochs", "0", "1"),
    ("epochs", "99999999", "100"),
    ("batch", "2.5", "whole number"),
])
def test_a_bad_value_is_never_changed_into_another(qtbot: Any, window: Any, field: str, text: str,
                                                   limit: str) -> None:
    panel = window.training_panel
    before = window.session.spec.model_dump()
    edit = getattr(panel, field)
    _type(qtbot, edit, text)
    assert window.session.spec.model_dump() == before
    assert edit.text() == text and is_marked(edit)
    assert limit in panel.error.text()
    # Undo of an unrelated edit puts every field back to the values in use.
    window.session.set_spec(window.session.spec.with_overrides({"seed": 7}))
    window.session.undo()
    assert not is_marked(edit) and edit.text() != text


def test_undo_and_redo_work_from_the_keyboard_wherever_the_focus_is(qtbot: Any, window: Any) -> None:
    panel = window.training_panel
    _type(qtbot, panel.l2, "0.01")
    assert window.session.spec.regularization.l2 == 0.01
    panel.l2.setFocus()  # the keys go to the field a person just typed in
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(panel.l2, Qt.Key.Key_Z, ctrl)
    assert window.session.spec.regularization.l2 == 0.0
    assert window.redo_action.isEnabled(), "Redo is offered as soon as something was undone"
    qtbot.keyClick(panel.l2, Qt.Key.Key_Z, ctrl | shift)
    assert window.session.spec.regularization.l2 == 0.01
    assert panel.l2.text() == "0.01", "the field shows the value in use"


@pytest.mark.parametrize(("text", "limit"), [("0", "1"), ("99999", "4096")])
def test_units_out_of_range_are_refused_not_ignored_or_clamped(qtbot: Any, window: Any, text: str,
                                                               limit: str) -> None:
    panel = window.network_panel
    before = window.session.spec.model.layers[0].units
    units = panel.table.cellWidget(0, 1)
    _type(qtbot, units, text)
    assert window.session.spec.model.layers[0].units == before
    assert units.text() == text and is_marked(units)
    assert limit in panel.error.text() and f"still using {before}" in panel.error.text()


def test_a_loss_that_does_not_fit_the_data_is_offered_a_one_click_switch(qtbot: Any, window: Any) -> None:
    from engine.spec import DataSpec, ExperimentSpec, LossSpec

    window.session.new(ExperimentSpec(data=DataSpec(source="plane"),
                                      loss=LossSpec(name="softmax_cross_entropy")))
    panel = window.training_panel
    assert window.session.trainer is None and "regression" in panel.error.text()
    assert not panel.switch_loss.isHidden() and "mean squared error" in panel.switch_loss.text()
    panel.switch_loss.click()
    assert window.session.spec.loss.name == "mse" and window.session.trainer is not None
    assert (not panel.switch_loss.isVisible() and panel.error.text() == "") or not panel.error.isVisible()
