"""The training loop as the CLI and GUI see it: events, steering, divergence, determinism."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.events import EpochMetrics, RunFinished, StepMetrics
from engine.spec import DataSpec, DenseSpec, ExperimentSpec, ModelSpec, TrainingSpec
from engine.trainer import Trainer


def tanh_layers(units: int) -> ModelSpec:
    return ModelSpec(layers=tuple(DenseSpec(units=units, activation="tanh") for _ in range(2)))


def small_spec(**changes) -> ExperimentSpec:
    base = {
        "seed": 3,
        "data": DataSpec(source="spiral_multi", n_samples=300, n_classes=3, noise=0.0),
        "model": tanh_layers(16),
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": TrainingSpec(epochs=3, batch_size=32),
    }
    return ExperimentSpec(**(base | changes))


def collect(trainer: Trainer, **kw) -> list:
    return list(trainer.run(**kw))


def test_events_arrive_in_order_and_end_with_one_finish() -> None:
    trainer = Trainer(small_spec())
    events = collect(trainer)
    steps = [e for e in events if isinstance(e, StepMetrics)]
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    assert sum(isinstance(e, RunFinished) for e in events) == 1
    n_train = len(trainer.dataset.x_train)
    assert len(steps) == 3 * -(-n_train // 32)
    assert [s.step for s in steps] == list(range(1, len(steps) + 1))
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert trainer.history == epochs
    assert set(steps[0].layer_grad_norms) == {"dense1", "dense2", "output"}
    assert all(np.isfinite(s.loss) and s.grad_norm > 0 for s in steps)
    assert epochs[-1].metric_name == "accuracy"


def test_same_seed_gives_bit_identical_runs() -> None:
    a, b = Trainer(small_spec()), Trainer(small_spec())
    la = [e.loss for e in collect(a) if isinstance(e, StepMetrics)]
    lb = [e.loss for e in collect(b) if isinstance(e, StepMetrics)]
    assert la == lb
    assert np.array_equal(a.network.params, b.network.params)
    c = Trainer(small_spec(seed=4))
    collect(c)
    assert not np.array_equal(a.network.params, c.network.params)


def test_three_class_spiral_reaches_95_percent_validation_accuracy() -> None:
    # The stated configuration: 3-class spiral, 500 points, 2 × 32 tanh, Adam lr 0.01, batch 32, 150 epochs.
    spec = small_spec(
        data=DataSpec(source="spiral_multi", n_samples=500, n_classes=3, noise=0.0),
        model=tanh_layers(32),
        training=TrainingSpec(epochs=150, batch_size=32),
    )
    trainer = Trainer(spec)
    collect(trainer)
    assert trainer.history[-1].val_metric >= 0.95


def test_stop_request_ends_after_the_current_step() -> None:
    trainer = Trainer(small_spec(training=TrainingSpec(epochs=1000, batch_size=8)))
    seen = 0
    for event in trainer.run():
        if isinstance(event, StepMetrics):
            seen += 1
            if seen == 5:
                trainer.request_stop()
        if isinstance(event, RunFinished):
            finished = event
    assert finished.status == "stopped" and finished.step == 5 and trainer.status == "stopped"


def test_run_continues_from_current_weights_and_reset_restarts() -> None:
    trainer = Trainer(small_spec())
    collect(trainer, epochs=1)
    after_one = trainer.network.params.copy()
    collect(trainer, epochs=1)
    assert trainer.epoch == 2 and [e.epoch for e in trainer.history] == [1, 2]
    assert not np.array_equal(after_one, trainer.network.params)
    trainer.reset()
    assert trainer.epoch == 0 and trainer.history == []
    fresh = Trainer(small_spec())
    assert np.array_equal(trainer.network.params, fresh.network.params)


def test_learning_rate_change_applies_at_the_next_step() -> None:
    trainer = Trainer(small_spec())
    lrs = []
    for event in trainer.run():
        if isinstance(event, StepMetrics):
            lrs.append(event.lr)
            if event.step == 3:
                trainer.set_hyperparameters(lr=0.5, l2=0.01, clip_mode="norm", clip_max=1.0)
    assert lrs[:3] == [0.01] * 3 and lrs[3:] == [0.5] * (len(lrs) - 3)
    assert trainer.settings.l2 == 0.01 and trainer.settings.clip_mode == "norm"


@pytest.mark.parametrize("bad", [{"lr": -1.0}, {"lr": float("nan")}, {"momentum": 0.9}, {"clip_mode": "x"}])
def test_impossible_live_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        Trainer(small_spec()).set_hyperparameters(**bad)


def test_pause_blocks_between_steps_until_resumed() -> None:
    trainer = Trainer(small_spec(training=TrainingSpec(epochs=1000, batch_size=8)))
    steps: list[int] = []
    paused_at = threading.Event()

    def drive() -> None:
        for event in trainer.run():
            if isinstance(event, StepMetrics):
                steps.append(event.step)
                if event.step == 2:
                    trainer.pause()
                    paused_at.set()

    thread = threading.Thread(target=drive)
    thread.start()
    assert paused_at.wait(10)
    thread.join(0.3)
    assert steps == [1, 2] and trainer.status == "paused"
    trainer.resume()
    while len(steps) < 4:
        thread.join(0.01)
    trainer.request_stop()
    thread.join(10)
    assert not thread.is_alive() and trainer.status == "stopped"


def test_a_too_large_learning_rate_diverges_and_says_where() -> None:
    spec = small_spec(
        data=DataSpec(source="plane", n_samples=200, noise=0.0),
        loss={"name": "mse"},
        optimizer={"name": "sgd", "lr": 50.0},
        model=ModelSpec(layers=(DenseSpec(units=16, activation="relu"),)),
        training=TrainingSpec(epochs=50, batch_size=16),
    )
    trainer = Trainer(spec)
    events = collect(trainer)  # NumPy's overflow warnings are errors in this suite: none may escape
    finished = events[-1]
    assert finished.status == "diverged" and trainer.status == "diverged"
    div = finished.divergence
    assert div is not None and div.step >= 1
    assert div.quantity in {"loss", "gradient", "weights", "activations"}
    assert "diverged at step" in div.message() and "learning rate" in div.message()


def test_early_stopping_stops_when_validation_loss_stops_improving() -> None:
    spec = small_spec(
        optimizer={"name": "sgd", "lr": 1e-9},
        training=TrainingSpec(epochs=100, batch_size=32, early_stopping_patience=2),
    )
    trainer = Trainer(spec)
    events = collect(trainer)
    assert events[-1].status == "early_stopped"
    assert len(trainer.history) < 100


def test_lbfgs_trains_full_batch_one_step_per_epoch() -> None:
    spec = small_spec(
        data=DataSpec(source="plane", n_samples=100, noise=0.0),
        loss={"name": "mse"},
        optimizer={"name": "lbfgs", "lr": 1.0},
        training=TrainingSpec(epochs=5, batch_size=32),
    )
    trainer = Trainer(spec)
    events = collect(trainer)
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert len(steps) == 5
    assert trainer.history[-1].train_loss < trainer.history[0].train_loss
    assert trainer.history[-1].metric_name == "r2"


def test_regularization_is_in_the_reported_loss() -> None:
    plain = Trainer(small_spec())
    reg = Trainer(small_spec(regularization={"l2": 1.0}))
    loss_plain, _ = plain.evaluate("train")
    loss_reg, _ = reg.evaluate("train")
    w = reg.network.params[reg.network.weight_mask].astype(np.float64)
    assert loss_reg - loss_plain == pytest.approx(0.5 * float(w @ w), rel=1e-4)


@pytest.mark.parametrize(
    ("source", "loss", "outputs"),
    [("spiral", "softmax_cross_entropy", 2), ("spiral_multi", "mse", 3), ("xor", "mse", 1)],
)
def test_classification_sets_train_with_any_fitting_loss(source: str, loss: str, outputs: int) -> None:
    trainer = Trainer(small_spec(data=DataSpec(source=source, n_samples=200), loss={"name": loss}))
    collect(trainer, epochs=2)
    assert trainer.network.summary()[-1][2][-1] == outputs
    assert trainer.history[-1].metric_name == "accuracy"
    assert 0.0 <= trainer.history[-1].val_metric <= 1.0


def test_a_loss_that_cannot_fit_the_data_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="regression set"):
        Trainer(small_spec(data=DataSpec(source="plane", n_samples=100)))
    with pytest.raises(ValueError, match="two-class"):
        Trainer(small_spec(loss={"name": "binary_cross_entropy"}))


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.asarray(a, np.float64) ** 2)))


def test_statistics_match_the_network_at_each_step_and_epoch() -> None:
    """Gradient norms every step; weight norms and update ratios on every STATS_EVERY-th step
    of an epoch and its last, repeated in between; epoch means over the steps measured."""
    from engine.trainer import STATS_EVERY

    trainer = Trainer(small_spec(training=TrainingSpec(epochs=2, batch_size=4)))
    net = trainer.network
    per_epoch = -(-len(trainer.dataset.x_train) // 4)
    assert per_epoch > 2 * STATS_EVERY
    steps: list[StepMetrics] = []
    epochs: list[EpochMetrics] = []
    measured: list[int] = []
    for event in trainer.run():
        if isinstance(event, StepMetrics):
            # The generator is paused right after the step: the network is as it left it.
            steps.append(event)
            grads, params = net.gradients(), net.parameters()
            for layer in ("dense1", "dense2", "output"):
                assert event.layer_grad_norms[layer] == pytest.approx(_norm(grads[f"{layer}.W"]), rel=1e-5)
                bias = _norm(grads[f"{layer}.b"])
                assert event.layer_bias_grad_norms[layer] == pytest.approx(bias, rel=1e-5)
            i = (event.step - 1) % per_epoch
            if i % STATS_EVERY == 0 or i == per_epoch - 1:
                measured.append(event.step)
                for layer in ("dense1", "dense2", "output"):
                    w = _norm(params[f"{layer}.W"])
                    assert event.layer_weight_norms[layer] == pytest.approx(w, rel=1e-5)
                    assert 0 < event.layer_update_ratios[layer] < 1
            else:
                assert event.layer_weight_norms is steps[-2].layer_weight_norms
                assert event.layer_update_ratios is steps[-2].layer_update_ratios
        elif isinstance(event, EpochMetrics):
            epochs.append(event)
            in_epoch = [s for s in steps if s.epoch == event.epoch]
            sampled = [s for s in in_epoch if s.step in measured]
            assert len(sampled) == len(range(0, per_epoch, STATS_EVERY)) + 1
            for layer in ("dense1", "dense2", "output"):
                grad_mean = sum(s.layer_grad_norms[layer] for s in in_epoch) / len(in_epoch)
                assert event.layer_grad_norms[layer] == pytest.approx(grad_mean, rel=1e-12)
                ratio_mean = sum(s.layer_update_ratios[layer] for s in sampled) / len(sampled)
                assert event.layer_update_ratios[layer] == pytest.approx(ratio_mean, rel=1e-12)
                assert event.layer_weight_norms[layer] == pytest.approx(_norm(net.parameters()[f"{layer}.W"]),
                                                                        rel=1e-5)
    assert len(epochs) == 2


def test_gathering_the_epoch_once_trains_exactly_as_batch_by_batch(monkeypatch) -> None:
    import engine.trainer

    a = Trainer(small_spec())
    collect(a)
    monkeypatch.setattr(engine.trainer, "_GATHER_ONCE_BYTES", 0)
    b = Trainer(small_spec())
    collect(b)
    assert np.array_equal(a.network.params, b.network.params)
    assert [e.val_loss for e in a.history] == [e.val_loss for e in b.history]


def test_train_loss_is_the_row_weighted_mean_of_the_epochs_step_losses() -> None:
    trainer = Trainer(small_spec(training=TrainingSpec(epochs=2, batch_size=64)))
    n = len(trainer.dataset.x_train)
    assert n % 64  # a shorter last batch, which must weigh less
    sizes = [64] * (n // 64) + [n % 64]
    losses: list[float] = []
    epochs = 0
    for event in trainer.run():
        if isinstance(event, StepMetrics):
            losses.append(event.loss)
        elif isinstance(event, EpochMetrics):
            expected = sum(v * r for v, r in zip(losses, sizes, strict=True)) / n
            assert event.train_loss == pytest.approx(expected, rel=1e-12)
            assert event.train_loss != pytest.approx(sum(losses) / len(losses), rel=1e-9)
            losses.clear()
            epochs += 1
    assert epochs == 2


@pytest.mark.parametrize("source", ["spiral_multi", "multi_gaussian"])
def test_with_weights_that_barely_move_the_running_figures_are_the_whole_splits(source: str) -> None:
    """The train metric is computed from the outputs of the epoch's steps, every row once:
    with a learning rate too small to move the weights it equals the whole split's."""
    data = DataSpec(source=source, n_samples=300, n_classes=3)
    loss = "softmax_cross_entropy" if source == "spiral_multi" else "mse"
    trainer = Trainer(small_spec(data=data, loss={"name": loss}, optimizer={"name": "sgd", "lr": 1e-30},
                                 training=TrainingSpec(epochs=1, batch_size=32)))
    before = trainer.evaluate("train")
    collect(trainer)
    epoch = trainer.history[-1]
    assert epoch.metric_name == ("accuracy" if source == "spiral_multi" else "r2")
    assert epoch.train_metric == pytest.approx(before[1], rel=1e-6)
    assert epoch.train_loss == pytest.approx(before[0], rel=1e-5)
    assert epoch.val_loss == pytest.approx(trainer.evaluate("val")[0], rel=1e-12)
