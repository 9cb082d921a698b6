"""Sequence data, batch-first ``(samples, time, features)``: four seeded procedural tasks and
time series from a CSV file.

Every procedural source is ``fn(n_samples, length, noise, n_classes, rng) -> (x, y, feature names)``
and predicts one target per sequence (the network's recurrent layer returns its last step):

- ``adding``: Hochreiter & Schmidhuber's adding problem. Two channels: a value U(0, 1) and a
  marker that is 1 at one step of the first half and one of the second half. The target is the
  sum of the two marked values. Predicting the mean (1.0) scores MSE 1/6 ≈ 0.167: the trivial
  baseline a network that cannot carry information over ``length`` steps stays at.
- ``recall``: the first step shows one of ``n_classes`` symbols (one-hot), the steps after it
  are blank (noise on the blanks, if any), and the last step raises a "recall" channel; the
  target is the first symbol. Needs memory over ``length`` steps.
- ``parity``: a sequence of random bits; the target is their parity (XOR). Every step matters.
- ``noisy_sine``: a sine of random phase and frequency plus Gaussian noise (std ``noise``);
  the target is the next clean value after the window (next-step prediction).

**Padding and masks.** Sequences of different lengths (CSV ``sequence_id`` mode) are padded at
the end with rows of NaN. The recurrent layers read a step whose features are not all finite as
padding (``engine/recurrent.py``): the state is carried over it, so the last-step output, and
the loss on it, depend on the valid steps only. A Dense layer before the recurrent layer would
turn NaN into NaN, so padded data needs the recurrent layer first.

**CSV time series** (source ``csv_series``): the file is read by the same reader as ``csv``
(``engine/data/csvfile.py``: size, column and cell caps, typed errors naming line and column).
With ``sequence_id`` set, the rows of each id, in file order, are one sequence (the id column is
not an input) and the target is the target column at that sequence's last row; sequences longer
than ``sequence_length`` keep their last ``sequence_length`` rows. Without it, a sliding window of
``sequence_length`` rows over the whole file predicts the target column of the row after it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.data.build import split_indices
from engine.data.csvfile import load_csv, resolve_path
from engine.data.dataset import DATASETS, DataError, Dataset, register_source
from engine.spec import DataSpec

# samples × time × features of one generated or read set (float64: 160 MB at most).
MAX_SEQUENCE_VALUES = 20_000_000


@register_source(
    "adding",
    task="regression",
    kind="sequence",
    description="The adding problem: sum the two marked values of a long sequence (memory over time).",
)
def adding(n_samples: int, length: int, noise: float, n_classes: int, rng: np.random.Generator):
    values = rng.uniform(0.0, 1.0, (n_samples, length))
    half = length // 2
    first = rng.integers(0, half, n_samples)
    second = rng.integers(half, length, n_samples)
    markers = np.zeros((n_samples, length))
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2)
    y = (values[rows, first] + values[rows, second])[:, None]
    return x, y, ("value", "marker")


@register_source(
    "recall",
    task="multiclass",
    kind="sequence",
    uses_noise=True,
    uses_n_classes=True,
    description="Recall: name the symbol shown at the first step when the last step asks for it.",
)
def recall(n_samples: int, length: int, noise: float, n_classes: int, rng: np.random.Generator):
    labels = rng.integers(0, n_classes, n_samples)
    x = np.zeros((n_samples, length, n_classes + 1))
    x[np.arange(n_samples), 0, labels] = 1.0
    if noise > 0:
        x[:, 1:, :n_classes] += rng.normal(0.0, noise, (n_samples, length - 1, n_classes))
    x[:, -1, n_classes] = 1.0
    names = (*(f"symbol_{k}" for k in range(n_classes)), "recall")
    return x, labels, names


@register_source(
    "parity",
    task="binary",
    kind="sequence",
    description="Sequence parity: is the number of ones in a bit sequence odd?",
)
def parity(n_samples: int, length: int, noise: float, n_classes: int, rng: np.random.Generator):
    bits = rng.integers(0, 2, (n_samples, length))
    return bits[:, :, None].astype(np.float64), bits.sum(axis=1) % 2, ("bit",)


@register_source(
    "noisy_sine",
    task="regression",
    kind="sequence",
    uses_noise=True,
    description="Noisy sine: predict the next value of a sine wave from a noisy window of it.",
)
def noisy_sine(n_samples: int, length: int, noise: float, n_classes: int, rng: np.random.Generator):
    phase = rng.uniform(0.0, 2.0 * np.pi, (n_samples, 1))
    freq = rng.uniform(0.05, 0.3, (n_samples, 1))
    t = np.arange(length + 1)[None, :]
    clean = np.sin(freq * t + phase)
    x = clean[:, :length] + rng.normal(0.0, noise, (n_samples, length))
    return x[:, :, None], clean[:, length:], ("value",)


@register_source(
    "csv_series",
    task="auto",
    kind="csv_series",
    description="Time series from your CSV: one sequence per id column, or a sliding window of rows.",
)
def load_csv_series(
    path: Path, display: str, target: str | None, task: str, length: int, sequence_id: str | None
) -> tuple[np.ndarray, np.ndarray, str, int, tuple[str, ...], tuple[str, ...]]:
    """(x (N, T, F) NaN-padded, per-sequence targets, task, n_classes, feature and class names)."""
    table = load_csv(path, display, target, task)
    names = list(table.feature_names)
    if sequence_id is not None:
        if sequence_id not in names:
            shown = ", ".join(names[:20])
            raise DataError(f"{display} has no id column {sequence_id!r} among its inputs (columns: {shown})")
        col = names.index(sequence_id)
        ids = table.x[:, col]
        feats = np.delete(table.x, col, axis=1)
        names.pop(col)
        if not names:
            raise DataError(f"{display}: besides the id and target columns there is no input column")
        uniq, first_row = np.unique(ids, return_index=True)
        order = np.argsort(first_row)  # sequences in the order the file first names them
        n, f = len(uniq), feats.shape[1]
        _check_size(display, n, length, f)
        x = np.full((n, length, f), np.nan)
        y_rows = np.empty(n, dtype=np.int64)
        for k, u in enumerate(uniq[order]):
            rows = np.flatnonzero(ids == u)[-length:]
            x[k, : len(rows)] = feats[rows]
            y_rows[k] = rows[-1]
        y = table.y[y_rows]
    else:
        # Inputs are every column, the target's own past included: forecasting the next row.
        values = np.column_stack([table.x, table.y.reshape(len(table.y), -1).astype(np.float64)])
        n = len(values) - length
        if n < 2:
            raise DataError(
                f"{display} has {len(values)} rows; a window of {length} steps needs at least {length + 2}"
            )
        _check_size(display, n, length, values.shape[1])
        windows = np.lib.stride_tricks.sliding_window_view(values, length, axis=0)[:n]
        x = np.ascontiguousarray(windows.transpose(0, 2, 1))
        y = table.y[length:]
        names.append(table.name if target is None else target)
    return x, y, table.task, table.n_classes, tuple(names), table.class_names


def _check_size(display: str, n: int, length: int, features: int) -> None:
    if n * length * features > MAX_SEQUENCE_VALUES:
        raise DataError(
            f"{display}: {n:,} sequences of {length} steps × {features} features are "
            f"{n * length * features:,} values; at most {MAX_SEQUENCE_VALUES:,} are allowed"
        )


def make_sequence_dataset(
    spec: DataSpec, rng: np.random.Generator, base_dir: Path | None = None, confined: bool = False
) -> Dataset:
    """A split Dataset of sequences; ``input_shape`` is (time, features)."""
    source: Callable = DATASETS.get(spec.source)
    class_names: tuple[str, ...] = ()
    name = spec.source
    if source.kind == "csv_series":  # type: ignore[attr-defined]
        if not spec.path:
            raise DataError("the data source is 'csv_series' but no CSV path is set")
        path = resolve_path(spec.path, base_dir, confined)
        x, y, task, n_classes, feature_names, class_names = source(
            path, spec.path, spec.target, spec.task, spec.sequence_length, spec.sequence_id
        )
        name = spec.path
    else:
        task = source.task  # type: ignore[attr-defined]
        n_classes = spec.n_classes if task == "multiclass" else 2 if task == "binary" else 0
        _check_size(spec.source, spec.n_samples, spec.sequence_length, 2 + n_classes)
        x, y, feature_names = source(spec.n_samples, spec.sequence_length, float(spec.noise), n_classes, rng)
    if spec.task != "auto" and (spec.task == "classification") != (task != "regression"):
        raise DataError(
            f"{spec.source!r} is a {task} set, but the task is set to {spec.task!r}; set it to 'auto'"
        )
    if task != "regression" and not class_names:
        class_names = tuple(str(k) for k in range(n_classes))
    train, val = split_indices(len(x), spec.train_fraction, rng, y if task != "regression" else None)
    if spec.standardize and source.kind == "csv_series":  # type: ignore[attr-defined]
        # Per feature over the training split's valid steps; NaN padding stays NaN.
        mean = np.nanmean(x[train], axis=(0, 1))
        std = np.nanstd(x[train], axis=(0, 1))
        x = (x - mean) / np.where(std > 0, std, 1.0)
    if task == "binary":
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    elif task == "multiclass":
        y = np.asarray(y, dtype=np.int64).reshape(-1)
    else:
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    return Dataset(
        name=name,
        task=task,
        x_train=np.ascontiguousarray(x[train]),
        y_train=y[train],
        x_val=np.ascontiguousarray(x[val]),
        y_val=y[val],
        n_classes=n_classes,
        feature_names=tuple(feature_names),
        input_shape=(x.shape[1], x.shape[2]),
        image_shape=None,
        points_train=None,
        points_val=None,
        featurize=None,
        class_names=class_names,
    )
