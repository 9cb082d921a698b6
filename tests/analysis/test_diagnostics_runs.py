"""Diagnostics on real Trainer runs: the classic failures fire, a healthy run stays quiet."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis import RunContext, diagnose
from engine.events import StepMetrics
from engine.spec import DataSpec, DenseSpec, ExperimentSpec, ModelSpec, OptimizerSpec
from engine.trainer import Trainer

SPIRAL3 = DataSpec(source="spiral_multi", n_classes=3)


def deep(activation: str, std: float, optimizer: str, lr: float) -> ExperimentSpec:
    layer = DenseSpec(units=16, activation=activation, weight_init="normal", weight_init_options={"std": std})
    return ExperimentSpec(
        data=SPIRAL3, model=ModelSpec(layers=(layer,) * 8), optimizer=OptimizerSpec(name=optimizer, lr=lr)
    )


def train(spec: ExperimentSpec, epochs: int | None) -> tuple[Trainer, list[StepMetrics]]:
    trainer = Trainer(spec)
    steps = [e for e in trainer.run(epochs=epochs) if isinstance(e, StepMetrics)]
    return trainer, steps


@pytest.mark.parametrize("seed", [0, 1])
def test_healthy_default_spiral_triggers_nothing_at_any_point(seed: int) -> None:
    # 3-class spiral, 2×16 tanh, Adam lr 0.01: the default model.
    trainer, steps = train(ExperimentSpec(seed=seed, data=SPIRAL3), 300)
    assert trainer.status == "finished" and trainer.history[-1].train_metric > 0.95
    history = trainer.history
    ctx = RunContext.from_trainer(trainer)  # as the CLI and the panel pass it
    for n in (2, 5, 20, 60, 120, 200, 300):  # what the live panel shows along the way
        assert diagnose(history[:n], [s for s in steps if s.epoch <= n], context=ctx) == [], n


@pytest.mark.parametrize("seed", [0, 1])
def test_the_default_spiral_experiment_file_triggers_nothing(seed: int) -> None:
    from engine.shipped import example_path
    from workbench.experiment import load_experiment

    path = example_path("default-spiral")
    trainer, steps = train(load_experiment(path).with_overrides({"seed": seed}), None)
    assert trainer.status == "finished" and trainer.history[-1].val_metric >= 0.95
    ctx = RunContext.from_trainer(trainer)
    for n in (2, 5, 20, 60, 100, len(trainer.history)):
        assert diagnose(trainer.history[:n], [s for s in steps if s.epoch <= n], context=ctx) == [], n


def test_deep_sigmoid_net_with_small_init_has_vanishing_gradients() -> None:
    trainer, steps = train(deep("sigmoid", 0.1, "sgd", 0.1), 12)
    found = diagnose(trainer.history, steps)
    vanishing = [d for d in found if d.kind == "vanishing_gradients"]
    assert len(vanishing) == 1
    d = vanishing[0]
    assert (d.layer, d.epoch, d.step) == ("dense1", 1, trainer.history[0].step)
    assert "'output'" in d.message and "sigmoid" in d.remedy
    # Its too-small updates are the same problem, not separate warnings.
    assert not [x for x in found if x.kind == "update_ratio" and x.layer in {"dense1", "dense2", "dense3"}]
    assert "loss_plateau" in [x.kind for x in found]  # and the loss is stuck at chance level


def test_deep_net_with_large_init_explodes() -> None:
    trainer, steps = train(deep("relu", 1.0, "sgd", 0.01), 5)
    assert trainer.status == "diverged"
    found = diagnose(trainer.history, steps, divergence=trainer.divergence)
    exploding = [d for d in found if d.kind == "exploding_gradients"]
    assert len(exploding) == 1 and exploding[0].severity == "error"
    assert exploding[0].step == trainer.divergence.step and exploding[0].layer == trainer.divergence.layer
    assert "clipping" in exploding[0].remedy


def test_tanh_net_with_large_init_is_saturated_from_the_start() -> None:
    trainer, steps = train(deep("tanh", 1.0, "sgd", 0.1), 6)
    saturated = [d for d in diagnose(trainer.history, steps) if d.kind == "saturated"]
    assert saturated and all(d.epoch == 1 for d in saturated)
    assert {d.layer for d in saturated} <= {f"dense{i}" for i in range(1, 9)}


def test_learning_rate_far_too_low_plateaus_with_tiny_updates() -> None:
    spec = ExperimentSpec(data=SPIRAL3, optimizer=OptimizerSpec(name="sgd", lr=1e-5))
    trainer, steps = train(spec, 15)
    found = diagnose(trainer.history, steps)
    kinds = {d.kind for d in found}
    assert {"loss_plateau", "update_ratio"} <= kinds
    assert all("small" in d.message for d in found if d.kind == "update_ratio")
    assert np.isfinite(trainer.history[-1].train_loss)
