"""Learning-rate range test: exponential schedule, early stop on divergence, sensible suggestion."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from engine.analysis import Cancelled, lr_range_test, suggest_lr
from engine.analysis.lr_finder import SIGNIFICANCE, published_rules, range_test_for
from engine.data import Dataset, make_dataset
from engine.losses import LOSSES
from engine.network import Network
from engine.spec import DataSpec, DenseSpec, ModelSpec

from .problems import assert_unchanged, make_net, snapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "experiments"


def problem(source: str, loss_name: str, seed: int = 0) -> tuple[Network, object, Dataset]:
    data = make_dataset(DataSpec(source=source, n_samples=500), np.random.default_rng(0))
    loss = LOSSES.get(loss_name)()
    n_targets = data.y_train.shape[1] if data.y_train.ndim == 2 else 1
    model = ModelSpec(layers=(DenseSpec(units=16, activation="tanh"),) * 2)
    net = Network.from_spec(
        model, data.input_shape, loss.n_outputs(data.n_classes, n_targets), np.random.default_rng(seed)
    )
    return net, loss, data


@pytest.mark.parametrize(
    ("optimizer", "low", "high"),
    # Known-good rates on this easy binary problem: SGD about 0.1, Adam about 0.01. The steepest
    # fall lies below the curve's minimum by design, so the range reaches a few times lower.
    [("sgd", 0.01, 1.0), ("adam", 1e-3, 0.1)],
)
def test_suggestion_is_in_a_sensible_range(optimizer: str, low: float, high: float) -> None:
    for seed in range(3):
        net, loss, data = problem("gaussian", "binary_cross_entropy", seed)
        result = lr_range_test(
            net, loss, data.x_train, data.y_train, rng=np.random.default_rng(seed), optimizer_name=optimizer
        )
        assert low <= result.suggested_lr <= high, (seed, result.suggested_lr)
        # The loss did fall: the smoothed curve's minimum is well below where it started.
        assert result.smoothed.min() < 0.7 * result.smoothed[0]


def test_learning_rates_grow_exponentially_from_start_to_end() -> None:
    net, loss, data = problem("gaussian", "binary_cross_entropy")
    result = lr_range_test(
        net, loss, data.x_train, data.y_train, rng=np.random.default_rng(0), start=1e-4, end=1e-1, steps=31
    )
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) == 31
    np.testing.assert_allclose(result.lrs, np.logspace(-4, -1, 31), rtol=1e-9)
    assert not result.diverged


def test_stops_early_when_the_loss_explodes() -> None:
    net, loss, data = problem("plane", "mse")  # SGD on MSE diverges exponentially past 2/curvature
    result = lr_range_test(net, loss, data.x_train, data.y_train, rng=np.random.default_rng(0))
    assert result.diverged
    assert len(result.lrs) < 100 and result.lrs[-1] < 10.0
    best = np.nanmin(result.smoothed[:-1])
    assert result.smoothed[-1] > 4.0 * best or not math.isfinite(result.smoothed[-1])
    # The suggestion lies well before the blow-up.
    assert result.suggested_lr < result.lrs[-1] / 3


def test_smoothed_curve_is_the_bias_corrected_moving_average() -> None:
    net, loss, data = problem("gaussian", "binary_cross_entropy")
    result = lr_range_test(
        net, loss, data.x_train, data.y_train, rng=np.random.default_rng(0), steps=20, smoothing=0.9
    )
    avg, expected = 0.0, []
    for i, value in enumerate(result.losses):
        avg = 0.9 * avg + 0.1 * value
        expected.append(avg / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(result.smoothed, expected, rtol=1e-12)
    assert result.smoothed[0] == result.losses[0]


def test_network_is_untouched_and_runs_are_reproducible(spiral, ce) -> None:
    net = make_net(spiral)
    before = snapshot(net)
    args = (net, ce, spiral.x_train, spiral.y_train)
    a = lr_range_test(*args, rng=np.random.default_rng(4), optimizer_name="adam", steps=40)
    assert_unchanged(net, before)
    b = lr_range_test(*args, rng=np.random.default_rng(4), optimizer_name="adam", steps=40)
    assert np.array_equal(a.losses, b.losses)
    # The first loss is the untouched network's loss on the first minibatch: training started from it.
    first = np.random.default_rng(4).permutation(len(spiral.x_train))[:32]
    expected, _ = ce(net.forward(spiral.x_train[first]), spiral.y_train[first])
    assert a.losses[0] == pytest.approx(float(expected), rel=1e-6)


def test_optimizer_options_are_used_and_lbfgs_is_refused(spiral, ce) -> None:
    net = make_net(spiral)
    args = (net, ce, spiral.x_train, spiral.y_train)
    plain = lr_range_test(*args, rng=np.random.default_rng(0), steps=30, start=1e-2, end=1.0)
    momentum = lr_range_test(
        *args, rng=np.random.default_rng(0), steps=30, start=1e-2, end=1.0,
        optimizer_options={"momentum": 0.9, "lr": 123.0},  # lr is the test's to set
    )
    assert plain.losses[0] == momentum.losses[0] and not np.array_equal(plain.losses, momentum.losses)
    with pytest.raises(ValueError, match="full-batch"):
        lr_range_test(*args, rng=np.random.default_rng(0), optimizer_name="lbfgs")
    with pytest.raises(ValueError, match="start"):
        lr_range_test(*args, rng=np.random.default_rng(0), start=1.0, end=0.1)


def test_progress_and_cancel(spiral, ce) -> None:
    net = make_net(spiral)
    seen: list[float] = []
    with pytest.raises(Cancelled):
        lr_range_test(
            net, ce, spiral.x_train, spiral.y_train, rng=np.random.default_rng(0), steps=50,
            progress=seen.append, cancelled=lambda: len(seen) >= 5,
        )
    assert seen == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])


def test_suggest_lr_on_a_known_curve() -> None:
    lrs = np.logspace(-6, 1, 100)
    # A loss that falls fastest at lr = 1e-2 (a logistic step in log10 lr), then explodes past 1.
    curve = 1.0 - 0.8 / (1.0 + np.exp(-3.0 * (np.log10(lrs) + 2.0))) + np.where(lrs > 1, lrs, 0.0)
    suggested = suggest_lr(lrs, curve)
    assert 10**-2.2 <= suggested <= 10**-1.8
    assert suggest_lr(lrs[:2], curve[:2]) is None
    assert suggest_lr(lrs, np.linspace(1.0, 2.0, 100)) is None  # never fell: nothing to suggest


# -- knowing when it cannot tell ----------------------------------------------------------------


def _spiral_trainer(seed: int):
    from engine.trainer import Trainer
    from workbench.experiment import load_experiment

    spec = load_experiment(EXAMPLES / "default-spiral.json").with_overrides({"seed": seed})
    return Trainer(spec)


def test_a_run_that_learns_nothing_is_inconclusive_and_says_why() -> None:
    # The audit's control: the same batches at lr 1e-14 learn nothing, yet the old rule (and every
    # published one) still named a rate, read from the minibatch noise alone.
    from engine.trainer import targets_for_loss

    trainer = _spiral_trainer(0)
    ds = trainer.dataset
    y = targets_for_loss(ds, ds.y_train, trainer.loss, trainer.dtype)
    result = lr_range_test(trainer.network, trainer.loss, ds.x_train, y, rng=np.random.default_rng(0),
                           optimizer_name="adam", batch_size=16, start=1e-14, end=1e-13)
    assert result.verdict == "inconclusive" and result.suggested_lr is None
    assert "less than" in result.reason and "noise" in result.reason and "more steps" in result.reason
    assert result.summary().startswith("inconclusive: ")
    assert result.drop < SIGNIFICANCE * result.noise
    assert all(rule.lr is not None for rule in result.rules)  # the published rules answer regardless
    assert suggest_lr(result.lrs, result.smoothed) is not None  # and so did the old one


def test_default_spiral_suggestions_agree_across_seeds() -> None:
    # The audit found 2.2e-5, 4.0e-3 and 3.4e-3 for seeds 0-2 (Adam, batch 16, 100 steps);
    # lr 0.01 trains well.
    found = []
    for seed in range(3):
        result, optimizer = range_test_for(_spiral_trainer(seed))
        assert optimizer == "adam"
        if result.verdict == "suggested":
            assert 1e-3 <= result.suggested_lr <= 3e-2, (seed, result.summary())
            assert result.drop > SIGNIFICANCE * result.noise
            found.append(result.suggested_lr)
        else:
            assert result.reason
    assert found and max(found) / min(found) < 3.0


def test_range_test_for_uses_the_initial_weights_unless_given_a_network() -> None:
    trainer = _spiral_trainer(0)
    fresh, _ = range_test_for(trainer, steps=20)
    for _ in trainer.run(epochs=2):
        pass
    again, _ = range_test_for(trainer, steps=20)
    trained, _ = range_test_for(trainer, network=trainer.network, steps=20)
    assert np.array_equal(fresh.losses, again.losses)
    assert trained.eval_losses[0] < fresh.eval_losses[0]


def test_published_rules_on_a_known_curve() -> None:
    lrs = np.logspace(-6, 1, 100)
    # Flat, then a fall centred at 1e-2, a minimum near 0.3 and an explosion.
    curve = 1.0 - 0.8 / (1.0 + np.exp(-3.0 * (np.log10(lrs) + 2.0))) + np.where(lrs > 0.3, lrs - 0.3, 0.0)
    rules = {r.name: r for r in published_rules(lrs, curve)}
    assert set(rules) == {"valley", "steep", "minimum/10", "argmin gradient"}
    assert "fastai" in rules["valley"].reference and "pytorch-lr-finder" in rules["argmin gradient"].reference
    low = lrs[int(np.argmin(curve))]
    assert rules["minimum/10"].lr == pytest.approx(low / 10)
    assert 10**-2.2 <= rules["steep"].lr <= 10**-1.8  # steepest one-step slope
    # valley: the longest decreasing stretch runs from the start to the minimum; 1/2 of the way along.
    assert lrs[10] < rules["valley"].lr < low
    with_nan = curve.copy()
    with_nan[60:] = np.nan  # fastai stops at the first NaN
    assert published_rules(lrs, with_nan)[2].lr == pytest.approx(lrs[59] / 10)
