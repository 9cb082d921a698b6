"""A CSV table under ``data.table`` options, made ready for the split: the target's labels, the
rows kept, and an encoder that fills gaps from the training rows only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data.csvfile import MAX_CLASSES, MAX_DISTINCT_FOR_AUTO, _class_name
from engine.data.dataset import DataError, format_problems
from engine.data.table_checks import (
    LEAK_SAMPLE,
    DataWarning,
    balance_warnings,
    constant_warning,
    dropped_rows_warning,
    identifier_warning,
    leak_warnings,
    mostly_missing_warning,
)
from engine.data.table_columns import (
    TablePlan,
    category_codes,
    column_summary,
    encode,
    matrix_column,
    missing_rows,
    plan_table,
)
from engine.data.table_read import MAX_ERRORS, RawTable, parse_table
from engine.spec import DataSpec, TableSpec


@dataclass
class PreparedTable:
    name: str
    table: RawTable
    plan: TablePlan
    rows: np.ndarray  # indices of the table's rows that are used
    y: np.ndarray  # (len(rows),) int64 labels, or (len(rows), 1) float64 values
    task: str
    n_classes: int
    class_names: tuple[str, ...]
    missing: str
    notes: tuple[DataWarning, ...]  # what reading decided: excluded columns, dropped rows

    def encode(self, train: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
        """Inputs of every kept row (or of the kept rows at positions ``at``), gaps filled from the
        rows at positions ``train``."""
        return encode(self.table, self.plan, self.rows, train, self.missing, at)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.plan.feature_names()

    def checks(self, train: np.ndarray, val: np.ndarray, y_train: np.ndarray | None = None,
               y_val: np.ndarray | None = None) -> list[DataWarning]:
        """Every warning about this table once split: the reading notes, leaks, balance, validation
        size. ``y_train``/``y_val``: ``self.y[train]``/``self.y[val]`` when the caller has them."""
        y_train = self.y[train] if y_train is None else y_train
        y_val = self.y[val] if y_val is None else y_val
        # The leak check looks at the first LEAK_SAMPLE training rows only, so only those rows of
        # each column are gathered (the whole table's columns cost a copy of the data).
        sample = np.asarray(train)[:LEAK_SAMPLE]
        at = self.rows[sample]
        # An all-numeric table's sampled rows are gathered whole, once (not once per column).
        block = None if self.table.matrix is None else self.table.matrix[at]
        columns = {}
        for name in self.table.names:
            if name == self.plan.target:
                continue
            prof = self.plan.profiles[name]
            j = None if block is None else matrix_column(self.table, name)
            if prof.kind in ("number", "identifier") and j is not None:
                columns[name] = block[:, j]  # no gaps in the matrix
            elif prof.kind in ("number", "identifier"):
                col = self.table.column(name)
                columns[name] = np.where(col.missing[at], np.nan, col.values[at])
            elif prof.kind == "category":
                codes = category_codes(self.table, name, prof.categories)[at].astype(np.float64)
                columns[name] = np.where(codes < 0, np.nan, codes)
        excluded = [e.name for e in self.plan.excluded]
        found = list(self.notes)
        found += leak_warnings(columns, self.y[sample], self.task, np.arange(len(sample)), excluded)
        found += balance_warnings(y_train, y_val, self.class_names if self.task != "regression" else ())
        return found


def prepare_table(data_bytes: bytes | str, display: str, data: DataSpec) -> PreparedTable:
    return prepare_parsed(parse_table(data_bytes, display, data.table or TableSpec()), data)


def prepare_parsed(table: RawTable, data: DataSpec) -> PreparedTable:
    """``prepare_table`` on a table already read (so the file's bytes can be freed first)."""
    options = data.table or TableSpec()
    display = table.display
    plan = plan_table(table, data.target, options)
    target = table.column(plan.target)
    input_gaps = missing_rows(table, plan)
    target_gaps = target.missing
    notes = _reading_notes(plan, options)
    n = table.n_rows
    if options.missing == "error":
        if input_gaps.any() or target_gaps.any():
            raise _missing_error(table, plan)
        keep = np.ones(n, dtype=bool)
    elif options.missing == "drop_rows":
        keep = ~(input_gaps | target_gaps)
        if not keep.all():
            notes.append(dropped_rows_warning(int(n - keep.sum()), int(keep.sum()), "with a missing value"))
    else:
        keep = ~target_gaps
        if not keep.all():
            notes.append(DataWarning("dropped_rows", plan.target,
                                     f"{int(n - keep.sum())} row(s) without a target value were dropped.",
                                     "A target is never imputed; fill those cells in the file to use "
                                     "the rows."))
    rows = np.flatnonzero(keep)
    if len(rows) < 2:
        raise DataError(f"{display} has {len(rows)} usable row(s); training and validation need at least two")
    y, task, n_classes, class_names = _target(table, plan.target, rows, data.task, display)
    return PreparedTable(display, table, plan, rows, y, task, n_classes, class_names, options.missing,
                         tuple(notes))


def _reading_notes(plan: TablePlan, options: TableSpec) -> list[DataWarning]:
    notes: list[DataWarning] = []
    for e in plan.excluded:
        if e.by_user:
            continue
        if e.kind == "identifier":
            notes.append(identifier_warning(e.name, e.reason, True, "text" in e.reason))
        elif e.kind == "constant":
            notes.append(constant_warning(e.name, e.reason, True))
        elif e.kind == "mostly_missing":
            notes.append(mostly_missing_warning(e.name, e.reason, True))
    for inp in plan.inputs:
        prof = plan.profiles[inp.name]
        if prof.kind == "identifier":
            notes.append(identifier_warning(inp.name, prof.reason, False))
        elif prof.kind == "constant":
            notes.append(constant_warning(inp.name, prof.reason, False))
        elif prof.kind == "mostly_missing":
            notes.append(mostly_missing_warning(inp.name, prof.reason, False))
    return notes


def _missing_error(table: RawTable, plan: TablePlan) -> DataError:
    problems: list[str] = []
    total = 0
    columns = [plan.target, *(i.name for i in plan.inputs)]
    order = sorted(columns, key=table.names.index)
    gaps = np.zeros(table.n_rows, dtype=bool)
    for name in order:
        gaps |= table.column(name).missing
    for r in np.flatnonzero(gaps):
        for name in order:
            if table.column(name).missing[r]:
                total += 1
                if len(problems) < MAX_ERRORS:
                    line = int(table.lines[r])
                    problems.append(f"{table.display} line {line}, column {name!r}: missing value")
    head = (f"{table.display}: {total} missing value(s); set data.table.missing to drop_rows, mean, median "
            "or "
            "most_frequent (rows are never dropped silently):\n")
    return DataError(head + format_problems(problems, total), problems)


def _target(table: RawTable, name: str, rows: np.ndarray, task: str, display: str
            ) -> tuple[np.ndarray, str, int, tuple[str, ...]]:
    """Labels as the legacy reader made them: text or few whole numbers are classes."""
    col = table.column(name)
    values = col.values[rows]
    text = col.codes is not None and bool(np.any(col.codes[rows] != -1))
    if not text:
        counted = _small_whole_numbers(table, name, values)
        if counted is not None:
            distinct, ranks = counted
            integral = True
        else:
            distinct, ranks = np.unique(values), None
            integral = bool(np.all(values == np.round(values)))
        few = integral and len(distinct) <= MAX_DISTINCT_FOR_AUTO
        if task == "regression" or (task == "auto" and not few):
            return values[:, None].copy(), "regression", 0, ()
        labels = np.searchsorted(distinct, values) if ranks is None else ranks[values.astype(np.int64)]
        class_names = tuple(_class_name(v) for v in distinct)
        count = table.count_header
        if count and len(count) == len(distinct) and np.array_equal(distinct, np.arange(len(distinct))):
            class_names = count
    else:
        if task == "regression":
            line, cell = col.first_text or (0, "")
            raise DataError(f"{display} line {line}, column {name!r}: {cell!r} is not a number (the task is "
                            "regression)")
        cells = np.array([_label(col, int(r)) for r in rows])
        class_names_arr, labels = np.unique(cells, return_inverse=True)
        class_names = tuple(str(c) for c in class_names_arr)
    n_classes = len(class_names)
    if n_classes < 2:
        raise DataError(f"{display}: target column {name!r} has a single value; nothing to classify")
    if n_classes > MAX_CLASSES:
        raise DataError(f"{display}: target column {name!r} has {n_classes} distinct values, too many "
                        "classes "
                        f"(limit {MAX_CLASSES}); set the task to 'regression' if it is a quantity")
    return labels.astype(np.int64), "binary" if n_classes == 2 else "multiclass", n_classes, class_names


def _small_whole_numbers(table: RawTable, name: str, values: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray] | None:
    """(``np.unique(values)``, each whole number's index in it) by counting, for a column the
    table summary shows is whole numbers in [0, 65536) without a -0 (whose unique value a sort
    would pick); None otherwise, for the sort."""
    summary = column_summary(table, name)
    if summary is None:
        return None
    lo, hi, whole = summary
    if not whole or lo < 0 or hi >= 1 << 16 or np.signbit(values).any():
        return None
    seen = np.bincount(values.astype(np.int64)) > 0
    return np.flatnonzero(seen).astype(np.float64), np.cumsum(seen) - 1


def _label(col: object, r: int) -> str:
    code = int(col.codes[r])  # type: ignore[attr-defined]
    if code >= 0:
        return col.vocab[code]  # type: ignore[attr-defined]
    return _class_name(col.values[r])  # type: ignore[attr-defined]


def legacy_checks(x: np.ndarray, names: tuple[str, ...], y: np.ndarray, task: str,
                  class_names: tuple[str, ...],
                  train: np.ndarray, val: np.ndarray, display: str) -> list[DataWarning]:
    """The same checks on a CSV read without table options (every column an input, as before)."""
    from engine.data.table_columns import profile
    from engine.data.table_read import Column

    none = np.zeros(len(x), dtype=bool)
    table = RawTable(display, list(names), [Column(n, x[:, j], none) for j, n in enumerate(names)],
                     np.arange(len(x)), ",", True, None, 0)
    found: list[DataWarning] = []
    for name in names:
        prof = profile(table, name)
        if prof.kind == "identifier":
            found.append(identifier_warning(name, prof.reason, False))
        elif prof.kind == "constant":
            found.append(constant_warning(name, prof.reason, False))
    labels = y.reshape(len(y), -1)[:, 0] if task == "binary" else y
    found += leak_warnings({n: x[:, j] for j, n in enumerate(names)}, labels, task, train)
    if task != "regression":
        found += balance_warnings(labels[train], labels[val], class_names)
    else:
        found += balance_warnings(labels[train], labels[val], ())
    return found
