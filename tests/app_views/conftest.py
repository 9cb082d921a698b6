"""A main window per test (settings in a temporary file, every dialog replaced by a recorder)
with the views under test installed; teardown always stops and joins training.

Mirrors tests/app/conftest.py; kept separate so these tests do not depend on its details."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings

from engine.spec import DataSpec, DenseSpec, ExperimentSpec, ModelSpec, OptimizerSpec, TrainingSpec

ROOT = Path(__file__).resolve().parents[2]


class Dialogs:
    """Answers the window's questions and records what it showed."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []
        self.infos: list[tuple[str, str]] = []
        self.save_path = ""

    def install(self, window: Any) -> None:
        window.show_error = lambda title, text, details="": self.errors.append((title, text))
        window.show_warning = lambda title, text: self.warnings.append((title, text))
        window.show_info = lambda title, text: self.infos.append((title, text))
        window.ask_save_changes = lambda: "discard"
        window.ask_confirm = lambda title, text: True
        window.ask_open_path = lambda caption, filters: ""
        window.ask_save_path = lambda caption, suggested, filters: self.save_path
        window.ask_folder = lambda caption: ""
        window.ask_png_size = lambda: (640, 480)


def spiral_spec(epochs: int = 3, **overrides: Any) -> ExperimentSpec:
    """The default 2×16 tanh net on a small 3-class spiral: an epoch takes milliseconds."""
    spec = ExperimentSpec(
        data=DataSpec(source="spiral_multi", n_classes=3, n_samples=150),
        training=TrainingSpec(epochs=epochs, batch_size=32),
    )
    return spec.with_overrides(overrides) if overrides else spec


def deep_sigmoid_spec(epochs: int = 6) -> ExperimentSpec:
    """Eight sigmoid layers with a small initialization and plain SGD: gradients vanish."""
    layer = DenseSpec(units=16, activation="sigmoid", weight_init="normal", weight_init_options={"std": 0.1})
    return ExperimentSpec(
        data=DataSpec(source="spiral_multi", n_classes=3, n_samples=150),
        model=ModelSpec(layers=(layer,) * 8),
        optimizer=OptimizerSpec(name="sgd", lr=0.1),
        training=TrainingSpec(epochs=epochs, batch_size=32),
    )


def digits_spec(epochs: int = 1) -> ExperimentSpec:
    return ExperimentSpec(
        data=DataSpec(source="digits"),
        model=ModelSpec(layers=(DenseSpec(units=16, activation="relu"),)),
        training=TrainingSpec(epochs=epochs, batch_size=64),
    )


def train(qtbot: Any, window: Any, timeout: int = 20_000) -> Any:
    """Start training and wait for the run to finish; returns the RunFinished."""
    with qtbot.waitSignal(window.session.runFinished, timeout=timeout) as blocker:
        window.session.start()
    return blocker.args[0]


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, dialogs: Dialogs) -> Any:
    from workbench.app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    dialogs.install(win)
    qtbot.addWidget(win)
    win.show()
    win.session.new(spiral_spec())
    yield win
    thread = win.session.run.thread if win.session.run is not None else None
    win.session.shutdown()
    win.close()
    assert not win.session.is_running
    if thread is not None:
        assert not thread.isRunning()
