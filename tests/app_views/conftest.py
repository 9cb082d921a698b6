"""A main window per test on a small spiral (the window and dialog recorder of
tests/app/conftest.py); teardown always stops and joins training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")

from engine.spec import DataSpec, DenseSpec, ExperimentSpec, ModelSpec, OptimizerSpec, TrainingSpec
from tests.app.conftest import Dialogs, open_window


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
    yield from open_window(qtbot, tmp_path, dialogs, spiral_spec())
