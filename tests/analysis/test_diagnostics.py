"""Diagnostics on crafted histories: each problem fires where it should, with its layer and step."""

from __future__ import annotations

import math

import pytest

from engine.analysis import diagnostics as dg
from engine.analysis.diagnostics import Diagnosis, diagnose
from engine.events import ActivationSummary, Divergence, EpochMetrics, StepMetrics

LAYERS = ("dense1", "dense2", "dense3", "output")
STEPS_PER_EPOCH = 10


def epoch(
    e: int,
    *,
    loss: float | None = None,
    metric: float = 0.95,
    grads: dict[str, float] | None = None,
    ratios: dict[str, float] | None = None,
    dead: dict[str, float] | None = None,
    saturated: dict[str, float] | None = None,
    metric_name: str = "accuracy",
) -> EpochMetrics:
    """A healthy epoch unless told otherwise: falling loss, similar gradients, ratio 1e-3."""
    loss = 1.0 / e if loss is None else loss
    grads = {**dict.fromkeys(LAYERS, 0.1), **(grads or {})}
    ratios = {**dict.fromkeys(LAYERS, 1e-3), **(ratios or {})}
    acts = {
        n: ActivationSummary(0.0, 1.0, (dead or {}).get(n, 0.0), (saturated or {}).get(n, 0.0))
        for n in LAYERS[:-1]
    }
    return EpochMetrics(
        epoch=e,
        step=e * STEPS_PER_EPOCH,
        train_loss=loss,
        val_loss=loss,
        train_metric=metric,
        val_metric=metric,
        metric_name=metric_name,
        lr=0.01,
        seconds=float(e),
        layer_grad_norms=grads,
        layer_weight_norms=dict.fromkeys(LAYERS, 1.0),
        layer_update_ratios=ratios,
        activations=acts,
    )


def kinds(found: list[Diagnosis]) -> list[str]:
    return [d.kind for d in found]


def only(found: list[Diagnosis], kind: str) -> Diagnosis:
    matches = [d for d in found if d.kind == kind]
    assert len(matches) == 1, found
    return matches[0]


def test_healthy_history_has_no_diagnosis() -> None:
    assert diagnose([epoch(e) for e in range(1, 301)]) == []
    assert diagnose([]) == []


def test_vanishing_fires_after_sustained_epochs_and_names_first_layer_and_onset() -> None:
    tiny = {"dense1": 1e-6, "dense2": 1e-5, "dense3": 0.01}
    history = [epoch(1), epoch(2)] + [epoch(e, grads=tiny) for e in range(3, 8)]
    d = only(diagnose(history), "vanishing_gradients")
    assert (d.layer, d.epoch, d.step, d.severity) == ("dense1", 3, 30, "warning")
    assert "dense1" in d.message and "output" in d.message and "dense2" in d.message
    assert "dense3" not in d.message.split("threshold:")[-1]  # dense3 is only 0.1× the output
    assert "activation" in d.remedy


def test_vanishing_needs_a_sustained_period() -> None:
    tiny = {"dense1": 1e-6}
    short = [epoch(1), epoch(2, grads=tiny), epoch(3, grads=tiny), epoch(4)]
    assert "vanishing_gradients" not in kinds(diagnose(short))
    assert "vanishing_gradients" in kinds(diagnose([*short, *(epoch(e, grads=tiny) for e in (5, 6, 7))]))


def test_layer_order_decides_which_layer_is_first() -> None:
    history = [epoch(e, grads={"dense3": 1e-7}) for e in range(1, 6)]
    assert "vanishing_gradients" not in kinds(diagnose(history))
    d = only(diagnose(history, layer_order=["dense3", "dense1", "dense2", "output"]), "vanishing_gradients")
    assert d.layer == "dense3"


def test_exploding_by_ratio_and_by_growth() -> None:
    big = {"dense1": 500.0}
    d = only(diagnose([epoch(e, grads=big) for e in range(1, 5)]), "exploding_gradients")
    assert d.layer == "dense1" and d.epoch == 1

    growth = [0.1, 0.1, 0.3, 0.9, 2.0, 3.0]
    history = [epoch(e, grads={"dense2": g}) for e, g in enumerate(growth, start=1)]
    d = only(diagnose(history), "exploding_gradients")
    assert (d.layer, d.epoch, d.step) == ("dense2", 5, 50)
    assert "×20" in d.message


def test_growth_that_stops_rising_is_not_exploding() -> None:
    growth = [0.1, 0.5, 0.4, 2.0]  # ×20 overall, but not rising every epoch
    assert diagnose([epoch(e, grads={"dense2": g}) for e, g in enumerate(growth, start=1)]) == []


def test_non_finite_gradient_in_steps_is_an_error_at_the_exact_step() -> None:
    def step(s: int, g: float) -> StepMetrics:
        grads = {**dict.fromkeys(LAYERS, 0.1), "dense2": g}
        return StepMetrics(1, s, 1.0, 0.1, 0.2, grads, grads, grads, grads)

    steps = [step(1, 0.1), step(2, 0.1), step(3, math.inf), step(4, math.nan)]
    d = only(diagnose([epoch(1)], steps), "exploding_gradients")
    assert (d.severity, d.layer, d.step, d.epoch) == ("error", "dense2", 3, 1)
    assert "step 3" in d.message


def test_trainer_divergence_is_diagnosed_even_before_the_first_epoch_ends() -> None:
    found = diagnose([], divergence=Divergence(epoch=1, step=7, quantity="loss", layer=None))
    d = only(found, "loss_diverging")
    assert (d.severity, d.step) == ("error", 7)
    assert "lower the learning rate" in only(found, "learning_rate").remedy  # the one rule that says so
    d = only(diagnose([], divergence=Divergence(2, 40, "gradient", "dense1")), "exploding_gradients")
    assert (d.layer, d.step, d.epoch) == ("dense1", 40, 2)


def test_loss_diverging_when_loss_climbs_well_above_its_best() -> None:
    losses = [1.0, 0.5, 0.4, 0.9, 1.5, 2.0]
    d = only(diagnose([epoch(e, loss=v) for e, v in enumerate(losses, start=1)]), "loss_diverging")
    assert (d.epoch, d.severity) == (4, "error")
    assert "2.2×" in d.message


def test_one_loss_spike_or_a_wiggle_near_zero_is_not_divergence() -> None:
    spike = [1.0, 0.5, 0.4, 1.2, 0.35, 0.3]
    assert diagnose([epoch(e, loss=v) for e, v in enumerate(spike, start=1)]) == []
    wiggle = [1.0, 0.1, 0.001, 0.004, 0.005, 0.006]  # ×6 but tiny against the first loss
    assert diagnose([epoch(e, loss=v) for e, v in enumerate(wiggle, start=1)]) == []


def test_non_finite_epoch_loss() -> None:
    history = [epoch(1), epoch(2, loss=math.nan)]
    d = only(diagnose(history), "loss_diverging")
    assert (d.epoch, d.step, d.severity) == (2, 20, "error")


def test_dead_relu_and_saturation_name_their_layer() -> None:
    history = [epoch(e, dead={"dense2": 0.75}, saturated={"dense1": 0.6}) for e in range(1, 5)]
    found = diagnose(history)
    dead, sat = only(found, "dead_relu"), only(found, "saturated")
    assert (dead.layer, dead.epoch) == ("dense2", 1)
    assert "75%" in dead.message and "leaky_relu" in dead.remedy
    assert sat.layer == "dense1" and "60%" in sat.message
    at_threshold = [epoch(e, dead={"dense2": 0.5}, saturated={"dense1": 0.5}) for e in range(1, 5)]
    assert diagnose(at_threshold) == []


def test_update_ratio_too_small_and_too_large() -> None:
    history = [epoch(e, ratios={"dense1": 1e-7, "output": 0.5}) for e in range(1, 5)]
    found = [d for d in diagnose(history) if d.kind == "update_ratio"]
    by_layer = {d.layer: d for d in found}
    assert set(by_layer) == {"dense1", "output"}
    assert "small" in by_layer["dense1"].message and by_layer["dense1"].lr_vote == "raise"
    assert "large" in by_layer["output"].message and by_layer["output"].lr_vote == "lower"
    # One piece of learning-rate advice, never "too high" and "try x10" together: too large wins.
    lr = only(diagnose(history), "learning_rate")
    assert lr.remedy.startswith("lower the learning rate") and "raise" not in lr.remedy
    assert "Other findings would suggest a larger rate" in lr.message


def test_plateau_only_while_the_metric_is_poor() -> None:
    stuck = [epoch(e, loss=1.0986 - 1e-5 * e, metric=0.34) for e in range(1, 16)]
    d = only(diagnose(stuck), "loss_plateau")
    assert d.epoch == 1 + dg.PLATEAU_WINDOW and d.layer is None
    assert "34%" in d.message and d.lr_vote == "raise"
    assert only(diagnose(stuck), "learning_rate").remedy.startswith("raise the learning rate")
    converged = [epoch(e, loss=0.05, metric=0.99) for e in range(1, 16)]
    assert diagnose(converged) == []
    regression = [epoch(e, loss=2.0, metric=0.2, metric_name="r2") for e in range(1, 16)]
    assert "0.20" in only(diagnose(regression), "loss_plateau").message


def test_results_are_sorted_by_step_and_print_as_text() -> None:
    history = [epoch(1), epoch(2)] + [
        epoch(e, dead={"dense1": 0.9}, grads={"dense1": 1e-6} if e >= 4 else None) for e in range(3, 9)
    ]
    found = diagnose(history)
    assert kinds(found) == ["dead_relu", "vanishing_gradients"]
    assert [d.step for d in found] == [30, 40]
    assert found[0].text().startswith("[warning, happening now] Dead ReLUs in 'dense1'")


@pytest.mark.parametrize("kind", [k for k in dg.KINDS if k not in ("learning_rate", "update_ratio")])
def test_every_kind_has_a_remedy_free_of_learning_rate_advice(kind: str) -> None:
    text = dg.remedy(kind, dg.RunContext(), "dense1")
    assert text and "learning rate" not in text
