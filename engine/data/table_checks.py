"""Warnings about a table's data, each saying what to do: identifier-like columns, a single column
that alone predicts the target (a likely leak), constant and mostly-empty columns, heavy class
imbalance, a tiny validation set, dropped rows. Qt-free: the import dialog, the Data panel, the
diagnostics and the CLI all show these same objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

WarningKind = Literal["identifier", "leak", "constant", "mostly_missing", "imbalance", "tiny_validation",
                      "dropped_rows"]

# A column 'alone predicts the target' when, on the training split, sorting the rows by it leaves
# at most LEAK_ERRORS of them out of place and the classes in at most LEAK_RUNS_PER_CLASS × classes
# runs (a few thresholds explain the labels); regression: |Pearson r| at least LEAK_CORRELATION.
LEAK_ERRORS = 0.01
LEAK_RUNS_PER_CLASS = 2
LEAK_CORRELATION = 0.995
LEAK_MIN_ROWS = 20
LEAK_SAMPLE = 20_000  # training rows looked at (a sort per column: cheap on any table this size)
# Heavy imbalance: the rarest class has fewer than IMBALANCE_RATIO × the commonest's training rows.
IMBALANCE_RATIO = 0.1
# A validation set smaller than this measures accuracy in steps of more than 3 %.
TINY_VALIDATION = 30
TINY_CLASS_VALIDATION = 5  # validation rows of the rarest class


@dataclass(frozen=True)
class DataWarning:
    kind: WarningKind
    column: str | None
    message: str
    remedy: str

    def text(self) -> str:
        return f"{self.message} {self.remedy}".strip()


def identifier_warning(column: str, reason: str, excluded: bool, text: bool = False) -> DataWarning:
    if excluded:
        how = ("as a category (data.table.categorical, or 'category' in the import dialog)" if text else
               "as a number (data.table.numeric, or 'number' in the import dialog)")
        return DataWarning("identifier", column, f"Column {column!r} looks like an identifier ({reason}); "
                           "it is left out of the inputs.",
                           f"If it really measures something, include it {how}.")
    return DataWarning("identifier", column, f"Column {column!r} looks like an identifier ({reason}) and is "
                       "used as an input: a row number lets the network memorise the file's order.",
                       "Ignore it (data.table.ignore) unless it measures something.")


def constant_warning(column: str, reason: str, excluded: bool) -> DataWarning:
    tail = "it is left out of the inputs." if excluded else "it is an input that carries no information."
    return DataWarning("constant", column, f"Column {column!r} is constant ({reason}); {tail}",
                       "" if excluded else "Ignore it (data.table.ignore).")


def mostly_missing_warning(column: str, reason: str, excluded: bool) -> DataWarning:
    if excluded:
        return DataWarning("mostly_missing", column, f"Column {column!r} is mostly empty ({reason}); it is "
                           "left out of the inputs.", "To use it anyway, set its type in the import dialog "
                           "(or list it in data.table.numeric / categorical) and choose how to fill its "
                           "gaps.")
    return DataWarning("mostly_missing", column, f"Column {column!r} is mostly empty ({reason}); most of its "
                       "values are made up by the imputation.", "Consider ignoring it, or add "
                       "data.table.missing_indicator so the network knows which values were missing.")


def leak_warnings(columns: Mapping[str, np.ndarray], y: np.ndarray, task: str, train: np.ndarray,
                  excluded: Sequence[str] = ()) -> list[DataWarning]:
    """Columns that alone predict ``y`` almost perfectly on the training rows ``train``."""
    found = []
    # A column that sorts a random sample of the training rows into pure runs sorts them all so; the
    # split is already shuffled, so its first rows are such a sample.
    train = np.asarray(train)[:LEAK_SAMPLE]
    yt = np.asarray(y)[train]
    if len(yt) < LEAK_MIN_ROWS:
        return []
    # The classes of the sample, found once for every column without gaps.
    coded = None if task == "regression" else np.unique(yt.reshape(-1), return_inverse=True)
    for name, values in columns.items():
        v = np.asarray(values, dtype=np.float64)[train]
        gaps = np.isnan(v)
        if gaps.any():
            keep = ~gaps
            v, yk, yk_coded = v[keep], yt[keep], None
        else:
            yk, yk_coded = yt, coded
        if len(v) < LEAK_MIN_ROWS:
            continue
        if task == "regression":
            score = _correlation(v, yk.reshape(len(yk), -1)[:, 0])
            leak = score >= LEAK_CORRELATION
            how = f"|correlation| {score:.3f} with the target"
        else:
            errors, runs, k = _sorted_purity(v, yk.reshape(-1), yk_coded)
            leak = errors <= LEAK_ERRORS * len(v) and runs <= LEAK_RUNS_PER_CLASS * k
            how = f"sorted by it, the training rows fall into {runs} runs of one class each"
            if errors:
                how += f" with {errors} row(s) out of place"
        if not leak:
            continue
        if name in excluded:
            found.append(DataWarning("leak", name, f"Column {name!r} alone predicts the target on the "
                                     f"training split ({how}): a likely leak. It is left out of the inputs.",
                                     "Keep it out: a row id or a copy of the answer would give a "
                                     "validation score no new data can match."))
        else:
            found.append(DataWarning("leak", name, f"Column {name!r} alone predicts the target on the "
                                     f"training split ({how}): a likely leak, e.g. the file is sorted by the "
                                     "target and "
                                     "this is a row number, or it is computed from the answer.",
                                     "Ignore it (data.table.ignore) unless it will be known for new data."))
    return found


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = a.std(), b.std()
    if sa == 0 or sb == 0:
        return 0.0
    return float(abs(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb)))


def _sorted_purity(v: np.ndarray, labels: np.ndarray, coded: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[int, int, int]:
    """(rows not of their value's majority class, runs of one class along the sorted values, classes).
    ``coded``: ``np.unique(labels, return_inverse=True)`` when the caller has it."""
    classes, y = np.unique(labels, return_inverse=True) if coded is None else coded
    order = np.argsort(v, kind="stable")
    vs, ys = v[order], y[order]
    starts = np.flatnonzero(np.r_[True, vs[1:] != vs[:-1]])
    group = np.cumsum(np.r_[True, vs[1:] != vs[:-1]]) - 1
    counts = np.zeros((len(starts), len(classes)), dtype=np.int64)
    np.add.at(counts, (group, ys), 1)
    majority = counts.argmax(axis=1)
    errors = int(len(v) - counts.max(axis=1).sum())
    runs = int(1 + np.count_nonzero(majority[1:] != majority[:-1]))
    return errors, runs, len(classes)


def balance_warnings(y_train: np.ndarray, y_val: np.ndarray, class_names: Sequence[str]) -> list[DataWarning]:
    found = []
    k = len(class_names)
    if k >= 2:
        counts = np.bincount(np.asarray(y_train).reshape(-1).astype(np.int64), minlength=k)
        rare = int(counts.argmin())
        if counts[rare] < IMBALANCE_RATIO * counts.max():
            found.append(DataWarning(
                "imbalance", None,
                f"Heavy class imbalance: class {class_names[rare]!r} has {counts[rare]} of {counts.sum()} "
                f"training rows ({counts[rare] / counts.sum():.1%}); always guessing "
                f"{class_names[int(counts.argmax())]!r} already scores {counts.max() / counts.sum():.0%} "
                "accuracy.",
                "Judge the model against that baseline, and gather more rows of the rare class if you can."))
    n_val = len(y_val)
    few = ""
    if k >= 2:
        val_counts = np.bincount(np.asarray(y_val).reshape(-1).astype(np.int64), minlength=k)
        if val_counts.min() < TINY_CLASS_VALIDATION:
            few = (f"; class {class_names[int(val_counts.argmin())]!r} has only {int(val_counts.min())} "
                   "validation row(s)")
    if n_val < TINY_VALIDATION or few:
        found.append(DataWarning(
            "tiny_validation", None,
            f"Tiny validation set: {n_val} rows, so validation accuracy moves in steps of "
            f"{1 / max(n_val, 1):.0%}{few}.",
            "Lower the train share (data.train_fraction) or add rows; compare runs by several seeds."))
    return found


def dropped_rows_warning(n_dropped: int, n_kept: int, why: str) -> DataWarning:
    return DataWarning("dropped_rows", None, f"{n_dropped} row(s) {why} were dropped; {n_kept} remain.",
                       "To keep them, impute instead (data.table.missing: mean, median or most_frequent).")
