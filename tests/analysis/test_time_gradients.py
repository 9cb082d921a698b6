"""The gradient-through-time rules on constructed per-step norms (thresholds in
docs/diagnostics.md); seeded runs are in tests/engine/test_recurrent_training.py."""

from __future__ import annotations

import numpy as np

from engine.analysis.time_gradients import (
    TIME_EXPLODING_RATIO,
    TIME_VANISHING_RATIO,
    diagnose_time,
    first_to_last_ratio,
)


def _decay(factor: float, steps: int = 50, last: float = 1.0) -> np.ndarray:
    return last * factor ** np.arange(steps - 1, -1, -1.0)  # ‖∂L/∂h_t‖ = last · factor^(T-1-t)


def test_ratio_is_the_median_over_recent_records() -> None:
    records = [_decay(0.5, 10)] * 5 + [np.array([1e9] + [1.0] * 9)]  # one odd batch
    assert first_to_last_ratio(records) == 0.5**9
    assert np.isnan(first_to_last_ratio([np.zeros(10)]))


def test_records_with_a_vanishing_gradient_warn_with_the_gated_remedy_only_for_a_plain_rnn() -> None:
    records = {"rnn1": [_decay(0.7)]}  # 0.7^49 ≈ 2.6e-8
    (finding,) = diagnose_time(records, {"rnn1": "rnn"}, step=40, epoch=2)
    assert finding.kind == "vanishing_through_time" and finding.severity == "warning"
    assert finding.step == 40 and finding.epoch == 2
    assert "2.6e-08" in finding.message and "LSTM or GRU" in finding.remedy
    (lstm,) = diagnose_time({"lstm1": [_decay(0.7)]}, {"lstm1": "lstm"})
    assert "LSTM or GRU" not in lstm.remedy and "shorter sequences" in lstm.remedy


def test_healthy_records_raise_nothing() -> None:
    assert diagnose_time({"lstm1": [_decay(0.9)]}, {"lstm1": "lstm"}) == []  # 0.9^49 ≈ 5.7e-3
    assert TIME_VANISHING_RATIO < 0.9**49


def test_records_with_a_growing_gradient_explode() -> None:
    (finding,) = diagnose_time({"rnn1": [_decay(1.2)]}, {"rnn1": "rnn"}, clipping="none")
    assert finding.kind == "exploding_through_time" and finding.severity == "error"
    assert TIME_EXPLODING_RATIO < 1.2**49
    assert "clipping by norm" in finding.remedy
    (clipped,) = diagnose_time({"rnn1": [_decay(1.2)]}, {"rnn1": "rnn"}, clipping="norm")
    assert "clipping" not in clipped.remedy and "truncated" in clipped.remedy


def test_a_small_gradient_growing_backwards_is_not_an_explosion() -> None:
    assert diagnose_time({"rnn1": [_decay(1.2, last=1e-9)]}, {"rnn1": "rnn"}) == []


def test_truncation_judges_the_last_chunk_only() -> None:
    norms = _decay(0.7)
    norms[:40] = 0.0  # truncate = 10 over 50 steps: only steps 40..49 get a gradient
    assert diagnose_time({"rnn1": [norms]}, {"rnn1": "rnn"}, truncate={"rnn1": 10}) == []
    assert first_to_last_ratio([norms], truncate=10) == 0.7**9
