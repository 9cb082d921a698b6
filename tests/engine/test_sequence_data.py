"""Sequence data: the four procedural tasks (seeded, correct targets) and CSV time series
(per-id sequences padded with NaN, sliding windows, the CSV reader's typed errors and caps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import DataError, make_dataset
from engine.data import sequences as seq
from engine.spec import DataSpec


def _make(tmp_path: Path | None = None, **fields) -> object:
    return make_dataset(DataSpec(**fields), np.random.default_rng(0), tmp_path)


def test_adding_problem_targets_are_the_sum_of_the_two_marked_values() -> None:
    ds = _make(source="adding", n_samples=300, sequence_length=40)
    assert ds.input_shape == (40, 2) and ds.task == "regression"
    x = np.concatenate([ds.x_train, ds.x_val])
    y = np.concatenate([ds.y_train, ds.y_val])
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :20].sum(axis=1) == 1)  # one mark in each half
    np.testing.assert_allclose((x[:, :, 0] * markers).sum(axis=1), y[:, 0])
    again = _make(source="adding", n_samples=300, sequence_length=40)
    np.testing.assert_array_equal(ds.x_train, again.x_train)  # seeded


def test_recall_parity_and_sine_targets() -> None:
    recall = _make(source="recall", n_samples=200, sequence_length=15, n_classes=4, noise=0.1)
    assert recall.input_shape == (15, 5) and recall.task == "multiclass"
    np.testing.assert_array_equal(recall.x_train[:, 0, :4].argmax(axis=1), recall.y_train)
    assert np.all(recall.x_train[:, -1, 4] == 1.0)
    parity = _make(source="parity", n_samples=200, sequence_length=9)
    np.testing.assert_array_equal(parity.x_train[:, :, 0].sum(axis=1) % 2, parity.y_train[:, 0])
    assert parity.task == "binary"
    sine = seq.noisy_sine(50, 30, 0.0, 0, np.random.default_rng(0))
    x, y, _ = sine
    assert x.shape == (50, 30, 1) and y.shape == (50, 1)
    assert np.all(np.abs(y) <= 1.0)


def test_csv_series_one_sequence_per_id_padded_with_nan(tmp_path: Path) -> None:
    rows = ["id,a,b,label"]
    lengths = {1: 3, 2: 5, 3: 2, 4: 4}
    for i, n in lengths.items():
        for t in range(n):
            rows.append(f"{i},{t},{i * 10 + t},{i % 2}")
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n")
    ds = _make(tmp_path, source="csv_series", path="s.csv", sequence_id="id", sequence_length=4,
               standardize=False, train_fraction=0.5)
    assert ds.input_shape == (4, 2) and ds.feature_names == ("a", "b") and ds.task == "binary"
    x = np.concatenate([ds.x_train, ds.x_val])
    valid = np.isfinite(x).all(axis=2).sum(axis=1)
    assert sorted(valid.tolist()) == [2, 3, 4, 4]  # id 2's five rows keep its last four
    longest = x[np.isfinite(x[:, :, 1]).all(axis=1)]
    assert {tuple(r[:, 1]) for r in longest} == {(21.0, 22.0, 23.0, 24.0),
                                                 (40.0, 41.0, 42.0, 43.0)}


def test_csv_series_sliding_window_predicts_the_next_row(tmp_path: Path) -> None:
    values = np.arange(30, dtype=float)
    (tmp_path / "w.csv").write_text("x,y\n" + "\n".join(f"{v},{v * 2}" for v in values) + "\n")
    ds = _make(tmp_path, source="csv_series", path="w.csv", sequence_length=5, standardize=False)
    assert ds.input_shape == (5, 2) and ds.task == "regression"
    x = np.concatenate([ds.x_train, ds.x_val])
    y = np.concatenate([ds.y_train, ds.y_val])
    assert len(x) == 25
    # The target is the y column of the row right after the window.
    np.testing.assert_allclose(y[:, 0], x[:, -1, 1] + 2.0)


def test_csv_series_errors_are_typed_and_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("id,a,label\n1,2,0\n1,oops,1\n")
    with pytest.raises(DataError, match=r"line 3, column 'a': 'oops' is not a number"):
        _make(tmp_path, source="csv_series", path="bad.csv", sequence_id="id")
    (tmp_path / "ok.csv").write_text("id,a,label\n1,2,0\n2,3,1\n")
    with pytest.raises(DataError, match="no id column 'key'"):
        _make(tmp_path, source="csv_series", path="ok.csv", sequence_id="key")
    with pytest.raises(DataError, match="a window of 50 steps needs at least 52"):
        _make(tmp_path, source="csv_series", path="ok.csv")
    with pytest.raises(DataError, match="not found"):
        _make(tmp_path, source="csv_series", path="missing.csv")
    with pytest.raises(DataError, match="leads outside"):
        make_dataset(DataSpec(source="csv_series", path="../x.csv"), np.random.default_rng(0), tmp_path, True)


def test_sequence_sets_are_capped_before_allocating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seq, "MAX_SEQUENCE_VALUES", 10_000)
    with pytest.raises(DataError, match="at most 10,000 are allowed"):
        _make(source="adding", n_samples=1000, sequence_length=50)
