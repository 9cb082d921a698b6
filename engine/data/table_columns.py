"""What each column of a table is (number, category, identifier, constant, mostly missing, free
text), which columns become inputs under the table options, and the encoding of those inputs:
one-hot categories, imputed gaps (statistics from the training split only), missing indicators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from engine.data.dataset import DataError
from engine.data.table_read import MAX_ERRORS, RawTable
from engine.registry import suggest
from engine.spec import TableSpec

Kind = Literal["number", "category", "identifier", "constant", "mostly_missing", "text"]
KINDS: tuple[Kind, ...] = ("number", "category", "identifier", "constant", "mostly_missing", "text")
MOSTLY_MISSING = 0.5  # a column more than this share empty is 'mostly missing'
# Names that say "row number": id, index, idx, row, PassengerId, customer_id, "Unnamed: 0" (pandas' index).
_CAMEL_ID = re.compile(r"[a-z]Id$")


def id_like_name(name: str) -> bool:
    name = name.strip()
    low = name.lower()
    return bool(re.fullmatch(r"id|index|idx|row|rowid|row_id|unnamed: ?0", low)
                or re.search(r"[_ \-.]id$", low) or _CAMEL_ID.search(name) or name.endswith("ID"))


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    kind: Kind
    reason: str  # why it was given this kind, for the warning and the dialog's tooltip
    n_missing: int
    n_distinct: int  # distinct non-missing values (text columns: capped at MAX_VOCAB + 1)
    categories: tuple[str, ...] = ()  # sorted, for category columns


def _monotonic(v: np.ndarray) -> bool:
    d = np.diff(v)
    return bool(len(d) > 0 and (np.all(d > 0) or np.all(d < 0)))


def profile(table: RawTable, name: str) -> ColumnProfile:
    col = table.column(name)
    n = table.n_rows
    n_missing = int(np.count_nonzero(col.missing))
    present = n - n_missing
    if col.codes is not None:
        n_text = col.n_text
        distinct = len(col.vocab) + (1 if col.overflow else 0)
        numbers = col.values[~np.isnan(col.values)]
        cats = tuple(sorted(col.vocab)) + tuple(_number_label(v) for v in np.unique(numbers))
        distinct += len(np.unique(numbers))
        if present and n_missing > MOSTLY_MISSING * n:
            return ColumnProfile(name, "mostly_missing", f"{n_missing / n:.0%} of its cells are empty",
                                 n_missing, distinct)
        if distinct <= 1:
            return ColumnProfile(name, "constant", "it holds one value", n_missing, distinct, cats)
        if distinct == present and present >= 10 and n_text == present:
            return ColumnProfile(name, "identifier", "its text is different in every row", n_missing,
                                 distinct)
        if col.overflow:
            return ColumnProfile(name, "text", f"it holds more than {len(col.vocab):,} different texts",
                                 n_missing, distinct)
        return ColumnProfile(name, "category", f"it holds text ({distinct} values)", n_missing, distinct,
                             tuple(sorted(set(cats))))
    values = col.values[~col.missing] if n_missing else col.values
    if present == 0 or n_missing > MOSTLY_MISSING * n:
        return ColumnProfile(name, "mostly_missing", f"{n_missing / n:.0%} of its cells are empty",
                             n_missing, 0)
    summary = column_summary(table, name)
    if summary is not None:
        lo, hi, integral = summary
    else:
        lo, hi = float(values.min()), float(values.max())
        integral = bool(np.all(values == np.round(values)))
    if lo == hi:
        return ColumnProfile(name, "constant", f"every value is {_number_label(lo)}", n_missing, 1)
    if integral and present >= 10:
        named = id_like_name(name)
        monotonic = _monotonic(values)
        if monotonic or named:
            distinct = len(np.unique(values))
            if distinct == present and (monotonic or named):
                why = "its whole numbers are different in every row"
                why += " and " + ("only ever increase or decrease" if monotonic else "its name says id/index")
                return ColumnProfile(name, "identifier", why, n_missing, distinct)
    return ColumnProfile(name, "number", "numbers", n_missing, -1)


def matrix_column(table: RawTable, name: str) -> int | None:
    """The column of ``table.matrix`` that ``name``'s values are (a view of), or None."""
    if table.matrix is None:
        return None
    j = table.names.index(name)
    values, source = table.column(name).values, table.matrix[:, j]
    same = (values.__array_interface__["data"][0] == source.__array_interface__["data"][0]
            and values.shape == source.shape and values.strides == source.strides)
    return j if same else None


_SUMMARY_ROWS = 1 << 13  # rows per block: the rounding's temporaries stay in cache


def column_summary(table: RawTable, name: str) -> tuple[float, float, bool] | None:
    """(minimum, maximum, all whole numbers) of a column of an all-numeric table (no gaps, all
    finite), from one pass over the table's rows for every column; None for other tables."""
    j = matrix_column(table, name)
    if j is None:
        return None
    if table.summary is None:
        # Kept on the table: the import dialog profiles it again on every change of options.
        x = table.matrix
        assert x is not None
        whole = np.ones(x.shape[1], dtype=bool)
        for start in range(0, len(x), _SUMMARY_ROWS):
            # Only columns still all whole numbers are looked at further: a column of
            # measurements drops out in its first block.
            left = np.flatnonzero(whole)
            if not len(left):
                break
            block = x[start : start + _SUMMARY_ROWS]
            block = block if len(left) == x.shape[1] else block[:, left]
            whole[left] = (block == np.round(block)).all(axis=0)
        table.summary = (*_column_extremes(x), whole)
    lows, highs, whole = table.summary
    return float(lows[j]), float(highs[j]), bool(whole[j])


def _column_extremes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x.min(axis=0), x.max(axis=0)`` of a C-ordered matrix, block by block: elementwise over
    whole blocks of rows is several times faster than NumPy's reduction down a narrow matrix."""
    block = min(len(x), _SUMMARY_ROWS)
    lows, highs = x[:block].copy(), x[:block].copy()
    full = block * (len(x) // block)
    for start in range(block, full, block):
        np.minimum(lows, x[start : start + block], out=lows)
        np.maximum(highs, x[start : start + block], out=highs)
    tail = x[full:]
    lows, highs = lows.min(axis=0), highs.max(axis=0)
    if len(tail):
        np.minimum(lows, tail.min(axis=0), out=lows)
        np.maximum(highs, tail.max(axis=0), out=highs)
    return lows, highs


def _number_label(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


@dataclass(frozen=True)
class Input:
    """One source column and how it becomes inputs."""

    name: str
    role: Literal["number", "category"]
    categories: tuple[str, ...] = ()
    indicator: bool = False  # add a 0/1 'missing' input


@dataclass(frozen=True)
class Excluded:
    name: str
    kind: Kind
    reason: str
    by_user: bool  # listed in ignore, not detected


@dataclass(frozen=True)
class TablePlan:
    target: str
    inputs: tuple[Input, ...]
    excluded: tuple[Excluded, ...]
    profiles: dict[str, ColumnProfile] = field(default_factory=dict)

    def feature_names(self) -> tuple[str, ...]:
        names: list[str] = []
        for inp in self.inputs:
            if inp.role == "number":
                names.append(inp.name)
            else:
                names += [f"{inp.name}={c}" for c in inp.categories]
        names += [f"{inp.name} missing" for inp in self.inputs if inp.indicator]
        return tuple(names)

    @property
    def width(self) -> int:
        return len(self.feature_names())


def _check_names(kind: str, listed: tuple[str, ...], names: list[str], display: str) -> None:
    for name in listed:
        if name not in names:
            hint = suggest(name, names)
            hint = f"; did you mean {hint!r}?" if hint else ""
            raise DataError(f"{display}: data.table.{kind} names {name!r}, which is not a column{hint}")


def resolve_target(table: RawTable, target: str | None) -> str:
    if target is None:
        return table.names[-1]
    if target in table.names:
        return target
    hint = suggest(target, table.names)
    hint = f"; did you mean {hint!r}?" if hint else ""
    shown = ", ".join(table.names[:MAX_ERRORS]) + (", ..." if len(table.names) > MAX_ERRORS else "")
    raise DataError(f"{table.display} has no column {target!r}{hint} (columns: {shown})")


def plan_table(table: RawTable, target: str | None, options: TableSpec) -> TablePlan:
    """Which columns are inputs and how; a clear ``DataError`` for an option that cannot hold."""
    display = table.display
    if len(table.names) < 2:
        raise DataError(f"{display} has one column; it needs at least one feature column and a target "
                        "column (is the separator right?)")
    for kind in ("ignore", "categorical", "numeric"):
        _check_names(kind, getattr(options, kind), table.names, display)
    target = resolve_target(table, target)
    profiles = {name: profile(table, name) for name in table.names}
    inputs: list[Input] = []
    excluded: list[Excluded] = []
    for name in table.names:
        if name == target:
            continue
        prof = profiles[name]
        if name in options.ignore:
            excluded.append(Excluded(name, prof.kind, "ignored", True))
            continue
        col = table.column(name)
        forced_cat = name in options.categorical
        forced_num = name in options.numeric
        if forced_num and col.codes is not None:
            line, cell = col.first_text or (0, "")
            raise DataError(f"{display} line {line}, column {name!r}: {cell!r} is not a number (the column "
                            "is listed in data.table.numeric; list it as categorical or ignore it)")
        if not (forced_cat or forced_num) and options.exclude_detected and prof.kind in (
                "identifier", "constant", "mostly_missing"):
            excluded.append(Excluded(name, prof.kind, prof.reason, False))
            continue
        indicator = options.missing_indicator and prof.n_missing > 0
        if col.codes is not None and options.decimal == "." and not forced_cat and col.first_text:
            line, cell = col.first_text
            if _comma_number(cell):
                raise DataError(f"{display} line {line}, column {name!r}: {cell!r} reads as a number with a "
                                "decimal comma; set data.table.decimal to ','")
        if forced_cat or col.codes is not None:
            categories = _categories(table, name)
            if len(categories) > options.max_categories:
                raise DataError(
                    f"{display}: column {name!r} has {len(categories):,} different values, more than "
                    f"max_categories ({options.max_categories}) one-hot inputs; ignore it "
                    "(data.table.ignore) or raise data.table.max_categories")
            inputs.append(Input(name, "category", categories, indicator))
        else:
            inputs.append(Input(name, "number", (), indicator))
    if not inputs:
        raise DataError(f"{display}: no input columns are left (every column but the target is ignored or "
                        "excluded); include one")
    return TablePlan(target, tuple(inputs), tuple(excluded), profiles)


def _comma_number(cell: str) -> bool:
    try:
        float(cell.replace(",", "."))
    except ValueError:
        return False
    return "," in cell


def _categories(table: RawTable, name: str) -> tuple[str, ...]:
    col = table.column(name)
    labels = set(col.vocab)
    numbers = col.values[~np.isnan(col.values)]
    labels |= {_number_label(v) for v in np.unique(numbers)}
    if col.overflow:
        labels.add("…")
    return tuple(sorted(labels))


def category_codes(table: RawTable, name: str, categories: tuple[str, ...]) -> np.ndarray:
    """(N,) int64 index into ``categories``; -1 where the cell is missing."""
    col = table.column(name)
    index = {c: i for i, c in enumerate(categories)}
    out = np.full(table.n_rows, -1, dtype=np.int64)
    numeric = ~np.isnan(col.values)
    if numeric.any():
        uniq, inverse = np.unique(col.values[numeric], return_inverse=True)
        out[numeric] = np.array([index[_number_label(v)] for v in uniq], dtype=np.int64)[inverse]
    if col.codes is not None:
        text = col.codes >= 0
        if text.any():
            lookup = np.array([index[v] for v in col.vocab], dtype=np.int64)
            out[text] = lookup[col.codes[text]]
        if col.overflow:
            out[col.codes == -2] = index["…"]
    return out


def missing_rows(table: RawTable, plan: TablePlan) -> np.ndarray:
    """(N,) bool: rows with a gap in an input column."""
    rows = np.zeros(table.n_rows, dtype=bool)
    for inp in plan.inputs:
        rows |= table.column(inp.name).missing
    return rows


def encode(table: RawTable, plan: TablePlan, rows: np.ndarray, train: np.ndarray, missing: str,
           at: np.ndarray | None = None) -> np.ndarray:
    """The input matrix of ``rows`` (float64): numbers as they are, categories one-hot, gaps filled
    with statistics of the ``train`` positions (indices into ``rows``), then indicators. With
    ``at`` (positions into ``rows``) only those rows, in that order: the same values as the full
    matrix indexed by ``at``, without building it (a 50 MB table's split copies each row once)."""
    picked = rows if at is None else rows[at]
    n = len(picked)
    # One preallocated matrix written column by column: on a 50 MB table a list of blocks joined
    # by hstack cost a whole extra copy of the data.
    width = sum(1 if inp.role == "number" else len(inp.categories) for inp in plan.inputs)
    n_indicators = sum(1 for inp in plan.inputs if inp.indicator)
    out = np.empty((n, width + n_indicators))
    from_matrix: list[tuple[int, int]] = []  # (output column, matrix column) gathered by rows below
    j, k = 0, width
    for inp in plan.inputs:
        col = table.column(inp.name)
        gaps = col.missing[rows] if col.missing.any() else None
        at_gaps = None if gaps is None else (gaps if at is None else gaps[at])
        src = matrix_column(table, inp.name) if inp.role == "number" and gaps is None else None
        if src is not None:
            from_matrix.append((j, src))
            j += 1
        elif inp.role == "number":
            v = out[:, j]
            np.take(col.values, picked, out=v)
            if at_gaps is not None and at_gaps.any():
                known = col.values[rows[train]][~gaps[train]]
                v[at_gaps] = _fill(known, missing, inp.name)
            j += 1
        else:
            codes = category_codes(table, inp.name, inp.categories)[rows]
            if gaps is not None and gaps.any():
                known = codes[train][~gaps[train]]
                if len(known) == 0:
                    raise DataError(f"column {inp.name!r} is empty in every training row; ignore it")
                codes[gaps] = int(np.bincount(known).argmax())
            if at is not None:
                codes = codes[at]
            onehot = out[:, j : j + len(inp.categories)]
            onehot[...] = 0.0
            onehot[np.arange(n), codes] = 1.0
            j += len(inp.categories)
        if inp.indicator:
            out[:, k] = False if at_gaps is None else at_gaps
            k += 1
    if from_matrix:
        _gather_rows(table.matrix, picked, from_matrix, out)
    return out


_GATHER_BYTES = 1 << 22  # whole rows gathered at a time into a buffer this size


def _gather_rows(matrix: np.ndarray, picked: np.ndarray, pairs: list[tuple[int, int]], out: np.ndarray
                 ) -> None:
    """``out[:, j] = matrix[picked, src]`` for each pair, by whole rows: a block of rows is
    gathered at once (a contiguous source, so numpy takes it without first copying the columns
    out), then each run of neighbouring columns (in both) is copied out of the block."""
    if len(picked) and (picked.min() < 0 or picked.max() >= len(matrix)):
        raise IndexError("row outside the table")  # mode='clip' below would hide it
    runs: list[tuple[int, int, int]] = []  # (output column, matrix column, width)
    start = 0
    for end in range(1, len(pairs) + 1):
        if end < len(pairs) and pairs[end] == (pairs[end - 1][0] + 1, pairs[end - 1][1] + 1):
            continue
        runs.append((*pairs[start], end - start))
        start = end
    block = max(1, _GATHER_BYTES // (matrix.shape[1] * matrix.itemsize))
    buffer = np.empty((min(block, len(picked)), matrix.shape[1]))
    for first in range(0, len(picked), block):
        rows = picked[first : first + block]
        got = buffer[: len(rows)]
        # 'clip' (indices checked above) writes straight into the buffer, unbuffered.
        np.take(matrix, rows, axis=0, out=got, mode="clip")
        for j, src, width in runs:
            out[first : first + len(rows), j : j + width] = got[:, src : src + width]


def _fill(known: np.ndarray, how: str, name: str) -> float:
    if len(known) == 0:
        raise DataError(f"column {name!r} is empty in every training row, nothing to impute from; ignore it")
    if how == "median":
        return float(np.median(known))
    if how == "most_frequent":
        values, counts = np.unique(known, return_counts=True)
        return float(values[np.argmax(counts)])
    return float(np.mean(known))
