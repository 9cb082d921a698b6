"""History: growable columns that keep every step, in order, and tolerate NaN/inf."""

import math

import numpy as np

from engine.events import EpochMetrics, StepMetrics
from workbench.model.history import History


def step(i: int, loss: float = 1.0) -> StepMetrics:
    return StepMetrics(1, i, loss, 0.01, 1.0, {"dense1": 0.1 * i, "output": 0.2}, {}, {}, {})


def epoch(e: int) -> EpochMetrics:
    return EpochMetrics(e, 10 * e, 1.0 / e, 1.1 / e, 0.5, 0.4, "r2", 0.01, 0.1 * e, {"dense1": 1.0}, {}, {})


def test_steps_keep_order_across_growth() -> None:
    h = History()
    for start in range(1, 5001, 250):
        h.extend([step(i) for i in range(start, start + 250)])
    assert h.n_steps == 5000
    assert np.array_equal(h.steps("step"), np.arange(1, 5001))
    assert h.layers == ["dense1", "output"]
    assert h.step_layer_grads("dense1")[-1] == 500.0


def test_epochs_metric_name_and_revision() -> None:
    h = History()
    rev = h.revision
    h.extend([epoch(1), epoch(2), step(1)])
    assert h.n_epochs == 2 and h.n_steps == 1
    assert h.metric_name == "r2"
    assert h.revision > rev
    assert h.last("val_loss") == 0.55


def test_infinite_values_become_gaps() -> None:
    h = History()
    h.extend([step(1, math.inf), step(2, math.nan), step(3, 0.5)])
    loss = h.steps("loss")
    assert np.isnan(loss[0]) and np.isnan(loss[1]) and loss[2] == 0.5


def test_clear_and_load_columns() -> None:
    h = History()
    h.extend([step(1)])
    h.load_columns({"epoch": np.array([1.0, 2.0]), "train_loss": np.array([0.9, 0.5]),
                    "grad_norm/dense1": np.array([0.3, 0.2])}, "accuracy")
    assert h.n_steps == 0 and h.n_epochs == 2
    assert list(h.epochs("train_loss")) == [0.9, 0.5]
    assert list(h.epoch_layer_grads("dense1")) == [0.3, 0.2]
    assert np.isnan(h.epochs("val_loss")).all()


def test_a_remembered_run_keeps_every_epoch_and_a_bounded_number_of_steps() -> None:
    h = History()
    h.extend([step(i, loss=float(i)) for i in range(1, 10_001)])
    h.extend([epoch(e) for e in range(1, 51)])
    thin = h.thinned(1_000)
    assert thin.n_epochs == 50 and np.array_equal(thin.epochs("epoch"), h.epochs("epoch"))
    assert 1_000 <= thin.n_steps <= 1_001
    steps = thin.steps("step")
    assert steps[0] == 1 and steps[-1] == 10_000 and np.all(np.diff(steps) > 0)
    assert np.array_equal(thin.steps("loss"), steps)  # rows stay aligned across columns
    assert len(thin.step_layer_grads(h.layers[0])) == thin.n_steps
    h.extend([step(10_001)])
    assert thin.n_steps <= 1_001  # the copy is independent of the live history


def test_a_long_run_keeps_bounded_evenly_spaced_steps_and_every_epoch() -> None:
    h = History()
    h.max_steps = 1_000
    for start in range(1, 10_001, 500):
        h.extend([step(i, loss=float(i)) for i in range(start, start + 500)])
        h.extend([epoch(start // 500 + 1)])
    assert h.n_epochs == 20
    assert h.n_steps <= 1_000 and h.step_stride == 16
    steps = h.steps("step")
    assert np.all(steps % 16 == 0) and np.all(np.diff(steps) == 16) and steps[-1] == 10_000
    assert np.array_equal(h.steps("loss"), steps)  # columns stay aligned
    assert np.array_equal(h.step_layer_grads("dense1"), 0.1 * steps)
    h.clear()
    h.extend([step(1), step(2)])
    assert h.n_steps == 2 and h.step_stride == 1


def test_epoch_rows_are_thinned_too_past_their_cap() -> None:
    h = History()
    h.max_epochs = 100
    for e in range(1, 1_001):
        h.extend([epoch(e)])
    numbers = h.epochs("epoch")
    assert len(numbers) <= 100 and numbers[0] == 1
    assert set(np.diff(numbers)) == {h.epoch_stride}


def test_history_memory_stays_within_its_budget_however_wide_the_network() -> None:
    """A budget, not a row count: a 40-layer network keeps fewer rows, in the same memory."""
    from engine.events import StepMetrics
    from workbench.model.history import EPOCH_BUDGET_BYTES, STEP_BUDGET_BYTES, History

    for n_layers in (3, 40):
        h = History()
        layers = {f"dense{i}": 1.0 for i in range(n_layers)}
        step = 0
        for _ in range(60):  # 300k steps in batches, as the worker sends them
            batch = [StepMetrics(1, step + i, 1.0, 0.1, 1.0, layers, {}, {}, {}) for i in range(5_000)]
            step += 5_000
            h.extend(batch)
        assert h.nbytes() <= STEP_BUDGET_BYTES + EPOCH_BUDGET_BYTES, f"{n_layers} layers: {h.nbytes():,} B"
        assert h.n_steps >= 2_000 and h.steps("step")[-1] >= step - h.step_stride
