"""A main window per test with settings in a temporary file and every dialog replaced by a
recorder, so no test can block on a modal window; teardown always stops and joins training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings

from engine.shipped import example_path
from engine.spec import ExperimentSpec

DEFAULT = example_path("default-spiral")


class Dialogs:
    """Answers the window's questions and records what it showed."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []
        self.infos: list[tuple[str, str]] = []
        self.save_changes = "discard"
        self.confirm = True
        self.open_path = ""
        self.save_path = ""
        self.folder = ""
        self.png_size: tuple[int, int] | None = (640, 480)

    def install(self, window: Any) -> None:
        window.show_error = lambda title, text, details="": self.errors.append((title, text))
        window.show_warning = lambda title, text: self.warnings.append((title, text))
        window.show_info = lambda title, text: self.infos.append((title, text))
        window.ask_save_changes = lambda: self.save_changes
        window.ask_confirm = lambda title, text: self.confirm
        window.ask_open_path = lambda caption, filters: self.open_path
        window.ask_save_path = lambda caption, suggested, filters: self.save_path
        window.ask_folder = lambda caption: self.folder
        window.ask_png_size = lambda: self.png_size


def small_spec(epochs: int = 5, **training: Any) -> ExperimentSpec:
    """The default spiral, shrunk so an epoch takes a few milliseconds."""
    from workbench.experiment import load_experiment

    spec = load_experiment(DEFAULT)
    return spec.with_overrides({"data.n_samples": 200, "training.epochs": epochs,
                                **{f"training.{k}": v for k, v in training.items()}})


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


def open_window(qtbot: Any, tmp_path: Path, dialogs: Dialogs, spec: ExperimentSpec) -> Any:
    """A shown main window on ``spec``; teardown stops the run and checks the thread was joined."""
    from workbench.app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("pace", "full")  # tests train at full speed unless they test the pace
    win = MainWindow(settings)
    dialogs.install(win)
    qtbot.addWidget(win)
    win.show()
    win.session.new(spec)
    yield win
    win.session.shutdown()
    dialogs.save_changes = "discard"
    win.close()
    assert not win.session.is_running
    assert win.session.training_job.thread is None  # joined, then released


def destroy(win: Any) -> None:
    """Delete the window's Qt side now, as the app does when it quits, and collect its Python
    side at once. Only for a test that then checks nothing is left: a Python wrapper that
    outlived its deleted graphics item (say, one a failed test's traceback holds) can be
    mistaken by PySide for a new item made at the same address, which crashed the suite when
    every test's window was deleted this way."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    win.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, dialogs: Dialogs) -> Any:
    yield from open_window(qtbot, tmp_path, dialogs, small_spec())


def menu_texts(menu: Any) -> list[str]:
    """Every entry of ``menu`` and its submenus, without the & of mnemonics."""
    texts = []
    for action in menu.actions():
        texts.append(action.text().replace("&", ""))
        if action.menu() is not None:
            texts.extend(menu_texts(action.menu()))
    return texts


def menu_action(menu: Any, text: str) -> Any:
    """The entry of ``menu`` (or a submenu) labelled ``text``, as a person would find it."""
    for action in menu.actions():
        if action.text().replace("&", "") == text:
            return action
        if action.menu() is not None:
            found = menu_action(action.menu(), text)
            if found is not None:
                return found
    return None
