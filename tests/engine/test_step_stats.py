"""The per-step statistics the Trainer reports: what a reader of the events gets must be the
norms of the gradients it trained on, however and whenever they are computed."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from engine import layer_norms
from engine.events import StepMetrics
from engine.layer_norms import norm_table
from engine.spec import BatchNormSpec, DataSpec, DenseSpec, ExperimentSpec, ModelSpec, TrainingSpec
from engine.trainer import Trainer
from workbench.model.history import History


def spec(layers: tuple, epochs: int = 2) -> ExperimentSpec:
    return ExperimentSpec(
        seed=5,
        data=DataSpec(source="spiral_multi", n_samples=240, n_classes=3, noise=0.1),
        model=ModelSpec(layers=layers),
        optimizer={"name": "sgd", "lr": 0.05},
        training=TrainingSpec(epochs=epochs, batch_size=16),
    )


TANH = (DenseSpec(units=8, activation="tanh"), DenseSpec(units=8, activation="tanh"))


def steps_of(trainer: Trainer) -> list[StepMetrics]:
    return [e for e in trainer.run() if type(e) is StepMetrics]


def test_step_norms_are_the_norms_of_the_gradient_each_step_trained_on() -> None:
    trainer = Trainer(spec(TANH, epochs=1))
    seen: list[tuple[dict[str, float], dict[str, float], float]] = []
    for event in trainer.run():
        if type(event) is StepMetrics:
            # The generator is suspended right after this step: its gradients are still there.
            grads = trainer.network.gradients()
            expected_w = {k: math.sqrt(float(np.sum(np.square(grads[f"{k}.W"], dtype=np.float64))))
                          for k in ("dense1", "dense2", "output")}
            expected_b = {k: math.sqrt(float(np.sum(np.square(grads[f"{k}.b"], dtype=np.float64))))
                          for k in ("dense1", "dense2", "output")}
            seen.append((expected_w, expected_b, event.grad_norm))
            for name in expected_w:
                assert math.isclose(event.layer_grad_norms[name], expected_w[name], rel_tol=1e-5)
                assert math.isclose(event.layer_bias_grad_norms[name], expected_b[name], rel_tol=1e-5)
            total = math.sqrt(sum(v * v for v in (*expected_w.values(), *expected_b.values())))
            assert math.isclose(event.grad_norm, total, rel_tol=1e-5)
    assert len(seen) == -(-len(trainer._x_train) // 16)


def test_a_step_read_late_equals_the_same_step_with_its_dicts_filled_in() -> None:
    steps = steps_of(Trainer(spec(TANH)))
    for s in steps[:3]:
        eager = StepMetrics(s.epoch, s.step, s.loss, s.lr, s.grad_norm, dict(s.layer_grad_norms),
                            dict(s.layer_bias_grad_norms), s.layer_weight_norms, s.layer_update_ratios)
        assert s == eager and repr(s) == repr(eager)
        assert copy.deepcopy(s) == eager
        assert pickle.loads(pickle.dumps(steps[5])) == steps[5]
    assert list(steps[0].layer_grad_norms) == ["dense1", "dense2", "output"]
    assert steps[0].layer_grad_norms != steps[-1].layer_grad_norms  # each step its own values


def test_the_history_table_equals_the_events_one_by_one() -> None:
    steps = steps_of(Trainer(spec(TANH)))
    table = norm_table(steps, ["dense1", "dense2", "output"])
    assert table is not None and table.shape == (len(steps), 3)
    by_event = np.array([list(s.layer_grad_norms.values()) for s in steps])
    assert np.array_equal(table, by_event)  # bit for bit
    assert norm_table(steps, ["dense2", "dense1", "output"]) is None  # another order: general path

    history, reference = History(), History()
    history.extend(steps)
    eager = [StepMetrics(s.epoch, s.step, s.loss, s.lr, s.grad_norm, dict(s.layer_grad_norms), {}, {}, {})
             for s in steps]
    reference.extend(eager)
    for name in ("dense1", "dense2", "output"):
        assert np.array_equal(history.step_layer_grads(name), reference.step_layer_grads(name))


def test_layers_without_a_bias_after_their_weights_still_get_their_norms() -> None:
    layers = (DenseSpec(units=8, activation="relu"), BatchNormSpec(), DenseSpec(units=8, activation="relu"))
    trainer = Trainer(spec(layers, epochs=1))
    steps = steps_of(trainer)
    assert set(steps[0].layer_grad_norms) == {"dense1", "batchnorm1", "dense2", "output"}
    assert all(v >= 0 for s in steps for v in s.layer_grad_norms.values())
    # The epoch's mean is the mean of the steps' norms.
    epoch = trainer.history[0]
    for name, mean in epoch.layer_grad_norms.items():
        assert math.isclose(mean, sum(s.layer_grad_norms[name] for s in steps) / len(steps), rel_tol=1e-12)


def test_each_epoch_trains_on_every_row_once_in_a_new_order() -> None:
    trainer = Trainer(spec(TANH, epochs=1))
    seen = []
    for _ in range(2):
        batches, order = trainer._batches()
        rows = np.concatenate([xb for xb, _, _ in batches])
        assert np.array_equal(rows, trainer._x_train[order])
        seen.append(order.copy())
    assert not np.array_equal(seen[0], seen[1])
    assert sorted(seen[0]) == list(range(len(trainer._x_train)))


def test_small_and_large_nets_report_the_same_norms(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small net keeps the epoch's gradients and measures them in batches; a large one
    measures each step as it goes. Forced onto the second way, the same run reports the same
    per-layer norms, bit for bit, and the same global norm to float32 rounding."""
    kept = steps_of(Trainer(spec(TANH)))
    assert kept[0].__dict__["_grad_src"] is not None  # the small-net way did run
    monkeypatch.setattr(layer_norms, "EPOCH_GRADIENTS_BYTES", 0)
    measured = steps_of(Trainer(spec(TANH)))
    assert measured[0].__dict__["_grad_src"] is None
    for a, b in zip(kept, measured, strict=True):
        assert a.layer_grad_norms == b.layer_grad_norms
        assert a.layer_bias_grad_norms == b.layer_bias_grad_norms
        assert a.loss == b.loss
        assert math.isclose(a.grad_norm, b.grad_norm, rel_tol=1e-6)
    history_a, history_b = History(), History()
    history_a.extend(kept)
    history_b.extend(measured)
    assert np.array_equal(history_a.step_layer_grads("dense2"), history_b.step_layer_grads("dense2"))


def test_steps_read_while_their_epoch_runs_equal_steps_read_after_it() -> None:
    trainer = Trainer(spec(TANH))
    early: list[dict[str, float]] = []
    steps: list[StepMetrics] = []
    history = History()
    for event in trainer.run():
        if type(event) is StepMetrics:
            early.append(dict(event.layer_grad_norms))  # read before the next step runs
            steps.append(event)
            history.extend([event])  # the window's table, one step at a time
    late = norm_table(steps, ["dense1", "dense2", "output"])
    assert late is not None
    assert [list(d.values()) for d in early] == late.tolist()
    assert np.array_equal(history.step_layer_grads("output"), late[:, 2])
