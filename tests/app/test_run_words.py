"""The status bar and the Run buttons say what is true: done / planned epochs, one Resume while
paused, a clock that stops while paused, and Step Epoch that pauses after its epoch."""

from __future__ import annotations

import time
from typing import Any

from tests.app.conftest import small_spec
from workbench.app.panels.common import edit_spec


def _words(window: Any) -> tuple[str, str]:
    window.refresh_views(force=True)
    return window.status.state_label.text(), window.status.epoch_label.text()


def test_step_epoch_pauses_after_its_epoch(qtbot: Any, window: Any) -> None:
    window.session.new(small_spec(epochs=150))
    with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
        window.step_action.trigger()  # F10
    assert _words(window) == ("paused after epoch 1", "epoch 1/150")
    assert window.start_action.text() == "Resume" and window.step_action.isEnabled()


def test_edits_keep_done_over_planned_true(qtbot: Any, window: Any) -> None:
    window.session.new(small_spec(epochs=3))
    with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
        window.session.start()
    assert _words(window) == ("finished", "epoch 3/3")
    assert edit_spec(window.session, lambda d: d["optimizer"].update(lr=0.05), lambda _m: None)
    assert _words(window)[1] == "epoch 3/3", "a learning-rate edit plans no new epochs"
    assert edit_spec(window.session, lambda d: d["training"].update(epochs=10), lambda _m: None)
    assert _words(window)[1] == "epoch 3/10"


def test_a_paused_run_shows_one_resume_stops_its_clock_and_steps_with_f10(qtbot: Any, window: Any) -> None:
    window.session.new(small_spec(epochs=10_000))
    window.session.set_pace(200.0)
    window.session.start()
    qtbot.waitUntil(lambda: window.session.history.n_epochs >= 1, timeout=10_000)
    window.pause_action.trigger()  # F6
    assert window.session.run_state == "paused"
    texts = [a.text() for a in window.run_actions if a.isEnabled()]
    assert texts.count("Resume") == 1 and window.pause_action.isChecked()
    clock = window.session.elapsed
    qtbot.wait(600)
    assert abs(window.session.elapsed - clock) < 0.05, "the clock stops while paused"
    qtbot.wait(300)  # what the run sent before it paused has arrived
    epochs = window.session.trainer.epoch  # paused: stable
    assert window.step_action.isEnabled()
    window.step_action.trigger()  # F10 while paused: one more epoch, then paused again
    s = window.session
    qtbot.waitUntil(lambda: s.run_state == "paused" and s.paused_after_epoch is not None, timeout=20_000)
    qtbot.wait(300)
    assert window.session.trainer.epoch == epochs + 1 == window.session.history.n_epochs
    assert _words(window)[0] == f"paused after epoch {epochs + 1}"
    start = time.monotonic()
    window.session.stop(join=True)
    assert time.monotonic() - start < 5


def test_a_broken_csv_is_checked_before_the_trained_run_is_thrown_away(qtbot: Any, window: Any,
                                                                        dialogs: Any, tmp_path: Any) -> None:
    window.session.new(small_spec(epochs=2))
    with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
        window.session.start()
    trainer, epochs = window.session.trainer, window.session.history.n_epochs
    bad = tmp_path / "broken.csv"
    bad.write_text("x1,x2,label\n0.1,0.2,1\n0.3,oops,0\n")
    spec_before = window.session.spec
    dialogs.confirm = True
    ok = edit_spec(window.session, lambda d: d["data"].update(source="csv", path=str(bad), target="label",
                                                              features=["x1", "x2"]), lambda _m: None)
    assert not ok
    assert window.session.spec == spec_before and window.session.trainer is trainer
    assert window.session.history.n_epochs == epochs, "the trained run's curves are kept"
    title, text = dialogs.errors[-1]
    assert title == "Change not applied" and "oops" in text and "line 3" in text, text


def test_examples_open_from_the_file_menu_as_templates(qtbot: Any, window: Any, dialogs: Any,
                                                       tmp_path: Any) -> None:
    from engine.shipped import example_path

    titles = [a.text() for a in window.examples_menu.actions()]
    assert "Three-class spiral" in titles and len(titles) >= 10
    next(a for a in window.examples_menu.actions() if a.text() == "Three-class spiral").trigger()
    shipped = example_path("default-spiral")
    assert window.session.path == shipped.resolve()
    assert "Three-class spiral" in window.about.text() and "decision boundary" in window.about.text()
    before = shipped.read_bytes()
    window.session.set_spec(window.session.spec.with_overrides({"optimizer.lr": 0.02}))
    dialogs.save_path = str(tmp_path / "mine.json")
    assert window.save_action.isEnabled()
    window.save_action.trigger()  # Ctrl+S on an example asks where to keep the copy
    assert shipped.read_bytes() == before, "the shipped example is never overwritten"
    assert window.session.path == (tmp_path / "mine.json").resolve() and not window.session.dirty


def test_a_structural_edit_after_a_finished_run_asks_before_clearing_it(qtbot: Any, window: Any,
                                                                         dialogs: Any) -> None:
    window.session.new(small_spec(epochs=2))
    with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
        window.session.start()
    epochs = window.session.history.n_epochs
    dialogs.confirm = False  # the person says no
    assert not edit_spec(window.session, lambda d: d["optimizer"].update(name="sgd"), lambda _m: None)
    assert window.session.spec.optimizer.name == "adam" and window.session.history.n_epochs == epochs
    dialogs.confirm = True
    assert edit_spec(window.session, lambda d: d["optimizer"].update(name="sgd"), lambda _m: None)
    assert window.session.history.n_epochs == 0 and window.session.spec.optimizer.name == "sgd"


def test_f5_on_the_runs_page_shows_the_run_it_starts(qtbot: Any, window: Any) -> None:
    """Examples with variants open on the Runs page, which draws only finished runs: starting
    the session's own run from there brings the Training screen forward, where it is drawn."""
    window.workspace.open_page("runs")
    assert window.workspace.current_name() == "runs"
    with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
        window.start_action.trigger()  # F5
    assert window.workspace.current_name() == "training"
    window.workspace.open_page("gradient_health")
    window.step_action.trigger()  # F10 on a live analysis page stays there
    assert window.workspace.current_name() == "gradient_health"
