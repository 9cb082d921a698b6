"""The audit's cases (issue 10), each a small seeded run through ``diagnose_trainer``, the code
the CLI prints and the Diagnostics panel shows: every rule fires where it must and stays quiet
where it must not."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis import diagnose, diagnose_trainer
from engine.analysis import diagnostics as dg
from engine.analysis.run_context import RunContext
from engine.spec import DataSpec, DenseSpec, ExperimentSpec, ModelSpec, OptimizerSpec, TrainingSpec
from engine.trainer import Trainer

SPIRAL3 = DataSpec(source="spiral_multi", n_classes=3)


def run(spec: ExperimentSpec, epochs: int) -> tuple[Trainer, list[dg.Diagnosis]]:
    trainer = Trainer(spec)
    for _ in trainer.run(epochs=epochs):
        pass
    return trainer, diagnose_trainer(trainer)


def negative_bias(activation: str) -> ExperimentSpec:
    layer = DenseSpec(units=16, activation=activation, bias_init="constant",
                      bias_init_options={"value": -10.0})
    return ExperimentSpec(data=SPIRAL3, model=ModelSpec(layers=(layer, layer)))


def deep(activation: str, units: int, depth: int, std: float, optimizer: str, lr: float) -> ExperimentSpec:
    layer = DenseSpec(units=units, activation=activation, weight_init="normal",
                      weight_init_options={"std": std})
    return ExperimentSpec(data=SPIRAL3, model=ModelSpec(layers=(layer,) * depth),
                          optimizer=OptimizerSpec(name=optimizer, lr=lr))


def of(found: list[dg.Diagnosis], kind: str) -> list[dg.Diagnosis]:
    return [d for d in found if d.kind == kind]


# -- dead ReLU (relu only) and stuck in the negative regime (leaky_relu, elu) ---------------------


def test_relu_with_bias_minus_10_is_dead_and_no_learning_rate_can_help() -> None:
    _, found = run(negative_bias("relu"), 20)
    dead = of(found, "dead_relu")
    assert {d.layer for d in dead} == {"dense1", "dense2"}
    assert all(d.severity == "error" and d.state == "now" for d in dead)
    assert "leaky_relu" in dead[0].remedy and "he_*" not in dead[0].remedy  # he_uniform is in use
    assert not of(found, "stuck_negative")
    # Zero updates: the audit saw "raise the learning rate" here. No finding may say so.
    assert not of(found, "learning_rate")
    assert all("raise" not in d.remedy and "×10" not in d.remedy for d in found)
    assert "exactly 0" in of(found, "vanishing_gradients")[0].message


@pytest.mark.parametrize("activation", ["leaky_relu", "elu"])
def test_leaky_units_with_bias_minus_10_are_stuck_not_dead_and_recover(activation: str) -> None:
    trainer, found = run(negative_bias(activation), 60)
    # They did recover and learn: the final weights' accuracy over the training split (the
    # history's train metric is the epoch's running one, which lags them).
    assert trainer.evaluate("train")[1] > 0.45
    assert not of(found, "dead_relu")  # the audit's false "never recovers" error
    stuck = of(found, "stuck_negative")
    assert {d.layer for d in stuck} == {"dense1", "dense2"}
    assert all(d.severity == "warning" and "negative regime" in d.message for d in stuck)
    recovered = [d for d in stuck if d.state == "recovered"]
    assert recovered and all("recovered" in d.text() for d in recovered)
    assert all("leaky_relu or elu" not in d.remedy for d in found)  # already in use
    # Gradients grew from ~1e-4 to ~1e-2 as the units woke up: not an explosion.
    assert not of(found, "exploding_gradients")


# -- exploding: absolute floors -------------------------------------------------------------------


def test_growth_below_the_absolute_floor_is_not_exploding() -> None:
    from .test_diagnostics import epoch

    small = [2e-4, 2e-4, 6e-4, 1.5e-3, 4e-3, 4e-3]  # ×20, but tiny
    history = [epoch(e, grads={"dense2": g}) for e, g in enumerate(small, start=1)]
    assert not of(diagnose(history), "exploding_gradients")
    big = [0.1, 0.1, 0.3, 0.9, 2.0, 3.0]  # ×20 and above the floor
    history = [epoch(e, grads={"dense2": g}) for e, g in enumerate(big, start=1)]
    assert of(diagnose(history), "exploding_gradients")[0].layer == "dense2"


def test_the_exploding_gradients_example_fires_as_an_error() -> None:
    from pathlib import Path

    from workbench.experiment import load_experiment

    spec = load_experiment(Path(__file__).resolve().parents[2] / "experiments" / "exploding-gradients.json")
    trainer, found = run(spec, 3)
    assert trainer.status == "diverged"
    exploding = of(found, "exploding_gradients")[0]
    assert exploding.severity == "error" and "became NaN or infinite" in exploding.message
    lr = of(found, "learning_rate")
    assert len(lr) == 1 and lr[0].remedy.startswith("lower")
    # The learning-rate advice is said once, by the learning-rate finding.
    assert sum("learning rate" in d.text() for d in found) == 1


# -- vanishing: uniform collapse ------------------------------------------------------------------


def test_uniform_collapse_of_every_layer_is_vanishing() -> None:
    # 6x32 tanh, std 0.05: every gradient ~5e-4, ~1000x below a healthy run; first/last ratio ~0.2.
    trainer, found = run(deep("tanh", 32, 6, 0.05, "sgd", 0.1), 8)
    vanishing = of(found, "vanishing_gradients")
    assert len(vanishing) == 1 and vanishing[0].layer is None and vanishing[0].state == "now"
    assert "whole network" in vanishing[0].message
    g = trainer.history[-1].layer_grad_norms
    assert max(g.values()) < dg.VANISHING_ABSOLUTE and min(g.values()) / max(g.values()) > dg.VANISHING_RATIO


def test_collapse_against_the_first_epoch() -> None:
    from .test_diagnostics import epoch

    grads = [0.1, 0.1, 1e-5, 1e-5, 1e-5, 1e-5]
    history = [epoch(e, grads=dict.fromkeys(("dense1", "dense2", "dense3", "output"), g))
               for e, g in enumerate(grads, start=1)]
    d = of(diagnose(history), "vanishing_gradients")[0]
    assert (d.epoch, d.layer) == (3, None)
    healthy = [epoch(e) for e in range(1, 7)]
    assert not of(diagnose(healthy), "vanishing_gradients")


# -- divergence against chance level --------------------------------------------------------------


def test_adam_at_lr_0_3_is_no_better_than_chance() -> None:
    trainer, found = run(ExperimentSpec(data=SPIRAL3, optimizer=OptimizerSpec(name="adam", lr=0.3)), 30)
    chance = RunContext.from_trainer(trainer).chance_loss
    assert chance == pytest.approx(np.log(3), rel=0.01)
    diverging = of(found, "loss_diverging")
    assert diverging and "no better than chance" in diverging[0].message and diverging[0].state == "now"
    lr = of(found, "learning_rate")
    assert len(lr) == 1 and lr[0].remedy.startswith("lower the learning rate")
    assert all("raise" not in d.remedy for d in found)  # one rule owns the lr advice
    assert all("switch to Adam" not in d.remedy for d in found)  # Adam is in use


def test_a_loss_flat_at_chance_is_not_divergence() -> None:
    _, found = run(deep("sigmoid", 16, 8, 0.1, "sgd", 0.1), 12)
    assert not of(found, "loss_diverging")
    assert of(found, "vanishing_gradients") and of(found, "loss_plateau")
    assert not of(found, "learning_rate")  # vanished gradients, not a small rate, stall this loss


# -- plateau over a window, never "raise the learning rate" when it cannot help --------------------


def test_noisy_blobs_that_converged_and_overfit_are_not_a_plateau() -> None:
    # 5 noisy blobs: training accuracy stalls near the data's limit while validation loss rises.
    spec = ExperimentSpec(seed=1, data=DataSpec(source="blobs", n_classes=5, noise=0.5),
                          optimizer=OptimizerSpec(name="adam", lr=0.1), training=TrainingSpec(batch_size=50))
    trainer, found = run(spec, 80)
    h = trainer.history
    assert h[-1].train_metric < dg.POOR_METRIC["accuracy"]
    assert h[-1].val_loss > 1.1 * min(m.val_loss for m in h)  # overfitting: 10 % above its best
    assert not of(found, "loss_plateau")
    assert not [d for d in found if d.kind == "learning_rate" and d.lr_vote == "raise"]


def test_plateau_fires_for_a_learning_rate_far_too_low_and_advises_raising_it() -> None:
    _, found = run(ExperimentSpec(data=SPIRAL3, optimizer=OptimizerSpec(name="sgd", lr=1e-5)), 15)
    assert of(found, "loss_plateau")[0].state == "now"
    lr = of(found, "learning_rate")
    assert len(lr) == 1 and lr[0].remedy.startswith("raise the learning rate")


def test_one_bad_epoch_in_a_healthy_run_is_not_a_plateau() -> None:
    from .test_diagnostics import epoch

    # Converged at 95 % accuracy; one epoch dips to 80 % (the audit: a single epoch against 0.9).
    history = [epoch(e, loss=0.2, metric=0.8 if e == 18 else 0.95) for e in range(1, 25)]
    assert not of(diagnose(history), "loss_plateau")


# -- alarms live in time ----------------------------------------------------------------------------


def test_a_spike_that_recovered_is_reported_as_recovered() -> None:
    from .test_diagnostics import epoch

    losses = [1.0, 0.5, 0.4, 1.2, 1.3, 0.35, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    history = [epoch(e, loss=v) for e, v in enumerate(losses, start=1)]
    d = of(diagnose(history), "loss_diverging")[0]
    assert (d.state, d.epoch, d.last_epoch) == ("recovered", 4, 5)
    assert d.when() == "happened at epochs 4-5, recovered" and d.severity == "warning"
    assert "rising" not in d.message and "to 12" not in d.message
    assert not of(diagnose(history), "learning_rate")  # no advice from a cleared alarm
    # Cleared for fewer than RECOVERY_EPOCHS epochs: still happening.
    d = of(diagnose(history[: 5 + dg.RECOVERY_EPOCHS - 1]), "loss_diverging")[0]
    assert d.state == "now" and d.when() == "happening now"


# -- remedies never suggest what is in use ----------------------------------------------------------


def test_vanishing_with_adam_does_not_suggest_adam() -> None:
    _, found = run(deep("sigmoid", 16, 8, 0.1, "adam", 0.01), 6)
    d = of(found, "vanishing_gradients")[0]
    assert "Adam" not in d.remedy and "ReLU-family" in d.remedy


def test_saturation_remedy_skips_what_is_in_use() -> None:
    # 8x16 tanh, std 1.0: saturated from the start; the inputs are standardized already.
    trainer, found = run(deep("tanh", 16, 8, 1.0, "sgd", 0.1), 4)
    assert trainer.spec.data.standardize
    saturated = of(found, "saturated")
    assert saturated and all("standardized inputs" not in d.remedy for d in saturated)
    assert all("batch normalization" in d.remedy for d in saturated)
    ctx = RunContext(standardized=False, batchnorm=True)
    assert dg.remedy("saturated", ctx, "dense1").startswith("standardized inputs")
    assert "batch normalization" not in dg.remedy("saturated", ctx, "dense1")
