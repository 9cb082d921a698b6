"""The gradient-through-time store: rows per training step, bounded, starts over on a new run."""

from __future__ import annotations

import numpy as np

from engine.events import StepMetrics
from engine.recurrent import TimeGradients
from workbench.model.time_history import TimeGradientHistory


def _record(step: int, steps: int = 5) -> TimeGradients:
    return TimeGradients(step, {"lstm1": np.full(steps, float(step))})


def test_rows_follow_the_records_and_ignore_other_events() -> None:
    store = TimeGradientHistory()
    other = StepMetrics(1, 1, 0.5, 0.1, 1.0, {}, {}, {}, {})
    assert store.extend([other]) is False and store.n_rows == 0
    assert store.extend([other, _record(1), _record(2)]) is True
    assert store.layers == ["lstm1"]
    np.testing.assert_array_equal(store.steps(), [1.0, 2.0])
    assert store.matrix("lstm1").shape == (2, 5)
    assert store.first_to_last("lstm1") == 1.0
    assert np.isnan(store.first_to_last("gru1"))


def test_a_long_run_is_thinned_to_the_cap() -> None:
    store = TimeGradientHistory(max_rows=100)
    store.extend(_record(s) for s in range(1, 1001))
    assert store.n_rows <= 100 and store.stride > 1
    steps = store.steps()
    assert np.all(steps % store.stride == 0) and steps[-1] == 1000 - 1000 % store.stride
    assert store.n_rows > 50  # halving keeps at least half the cap
    np.testing.assert_array_equal(store.matrix("lstm1")[:, 0], steps)  # rows stay with their steps


def test_a_new_run_starts_over() -> None:
    store = TimeGradientHistory()
    store.extend([_record(1), _record(2), _record(3)])
    store.extend([_record(1)])
    assert store.n_rows == 1
