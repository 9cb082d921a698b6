"""A user's own CSV file: numeric feature columns and one target column.

Every row is used or the load fails: a row with a missing or non-numeric value is reported
with its line number, never silently dropped, because a dataset quietly shrinking is worse
than an error the user can fix in a text editor.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.dataset import DataError, format_problems, register_source
from engine.registry import suggest
from engine.safe_io import MAX_PROBLEMS, FileRefused, iter_lines, read_capped

MAX_BYTES = 50 * 1024 * 1024
MAX_COLUMNS = 10_000
# Values in one table: 80 MB as float64. The file cap alone would allow 25 M one-digit cells.
MAX_CELLS = 10_000_000
MAX_DISTINCT_FOR_AUTO = 20  # integer targets with at most this many values are class labels
MAX_CLASSES = 100
_DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class CsvTable:
    name: str
    x: np.ndarray  # (N, F) float64
    y: np.ndarray  # (N,) int64 labels, or (N, 1) float64 for regression
    task: str  # 'binary' | 'multiclass' | 'regression'
    n_classes: int
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]


def resolve_path(path: str | Path, base_dir: Path | None, confined: bool = False) -> Path:
    """``path`` as written in the experiment, relative to the experiment's folder.

    ``confined``: the shared-file rule. The file must then lie inside ``base_dir`` (its
    sub-folders included), both as written (no ``..`` climbing out, no absolute path
    elsewhere) and once links are followed, so an experiment file someone sent cannot read
    ``../../secret/creds.csv`` and echo its cells in error messages. ``DataError`` otherwise.
    """
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if confined and base_dir is not None:
        root = Path(os.path.normpath(Path(base_dir).absolute()))
        lexical = Path(os.path.normpath(p.absolute()))
        real = p.resolve()
        if not (lexical.is_relative_to(root) and real.is_relative_to(root.resolve())):
            raise DataError(
                f"the CSV path {str(path)!r} leads outside the experiment's folder ({root}); a shared "
                "experiment file may only read data beside it or below it. Move the CSV into that "
                "folder, or allow it explicitly (gradient-workbench run --allow-data-outside)"
            )
    return p


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _looks_numeric(text: str) -> bool:
    # 'nan' and 'inf' count as numbers here: a data row holding them is still a data row.
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_text(path: Path, display: str) -> str:
    """The file's text: a regular file, at most ``MAX_BYTES``, UTF-8, not blank."""
    return decode(read_bytes(path, display), display)


def read_bytes(path: Path, display: str) -> bytes:
    """The file's bytes: a regular file of at most ``MAX_BYTES``, else a ``DataError`` saying why."""
    try:
        return read_capped(path, MAX_BYTES, "CSV file")
    except FileRefused as exc:
        if exc.kind == "missing":
            raise DataError(f"CSV file {display!r} not found (looked for {path})") from None
        if exc.kind == "too_big":
            limit = MAX_BYTES // 2**20
            raise DataError(f"{display} is {exc.size / 2**20:.1f} MB; CSV files are limited to {limit} MB") \
                from None
        if exc.kind == "special":
            raise DataError(f"CSV path {display!r} is not a file: it {exc.reason} ({path})") from None
        raise DataError(f"cannot read {display}: it {exc.reason}") from None


def decode(raw: bytes, display: str) -> str:
    try:
        # utf-8-sig: spreadsheets often start the file with a byte-order mark.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{display} is not UTF-8 text (bad byte at offset {exc.start})") from None


def _rows(text: str, delimiter: str, display: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the line each starts on, one at a time (a 50 MB file of short
    cells would be gigabytes as a list of lists of strings)."""
    # The csv module's own line handling (quoted newlines, \r\n) with unicode separators such
    # as U+2028 left inside fields, where str.splitlines would cut.
    reader = csv.reader(iter_lines(text), delimiter=delimiter)
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{display} line {start}: {exc}") from None


def _delimiter(text: str, display: str) -> str:
    first = ""
    for line in iter_lines(text):
        if line.strip():
            first = line
            break
    if not first:
        raise DataError(f"{display} is empty")
    # The delimiter the header (or first row) uses most; csv.Sniffer guesses wildly on numbers.
    return max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","


def _has_header(first: list[str]) -> bool:
    """The first row is a header when none of its cells looks like a number.

    A header with numeric-looking names is then read as data and fails loudly on its text
    cells, which is better than taking a first data row with a typo for a header and
    dropping it without a word.
    """
    return not any(_looks_numeric(c.strip()) for c in first)


def _column_names(header: list[str], display: str) -> list[str]:
    names = [h.strip() or f"col{i + 1}" for i, h in enumerate(header)]
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    dups = [n for n, c in seen.items() if c > 1]
    if dups:
        raise DataError(f"{display}: column name(s) {', '.join(map(repr, dups))} appear more than once")
    return names


def _class_name(value: float) -> str:
    value = float(value)  # a NumPy scalar's repr would read 'np.float64(0.5)'
    return str(int(value)) if value.is_integer() else repr(value)


@register_source(
    "csv",
    task="auto",
    kind="csv",
    description="Your own CSV file: numeric feature columns and one target column.",
)
def load_csv(
    path: Path, display: str | None = None, target: str | None = None, task: str = "auto"
) -> CsvTable:
    """Read ``path``; ``display`` is the name used in messages (the path as the user wrote it).

    ``task`` is 'auto', 'classification' or 'regression'. Auto: a non-numeric target is a
    class label; an integer-valued target with at most 20 distinct values is a class label;
    anything else is regression. Two classes make a binary task.
    """
    display = display or path.name
    text = _read_text(path, display)
    delimiter = _delimiter(text, display)
    rows = _rows(text, delimiter, display)
    first_row = next(rows, None)
    if first_row is None:
        raise DataError(f"{display} is empty")
    first = first_row[1]
    header = _has_header(first)
    width = len(first)
    names = _column_names(first, display) if header else [f"col{i + 1}" for i in range(width)]
    if width < 2:
        raise DataError(
            f"{display} has one column; it needs at least one feature column and a target column "
            "(is the delimiter a comma, semicolon or tab?)"
        )
    if width > MAX_COLUMNS:
        raise DataError(f"{display} has {width:,} columns; at most {MAX_COLUMNS:,} are allowed")

    # First pass: count the rows and check their widths, keeping nothing but a few problems.
    ragged: list[str] = []
    n_ragged = 0
    n_rows = 0 if header else 1
    for line, cells in rows:
        n_rows += 1
        if len(cells) != width:
            n_ragged += 1
            if len(ragged) < MAX_PROBLEMS:
                ragged.append(f"{display} line {line}: {len(cells)} values, expected {width}")
    if n_rows == 0:
        raise DataError(f"{display} has a header but no data rows")
    if n_ragged:
        raise DataError(
            f"{display}: rows must all have {width} values like the first row:\n"
            + format_problems(ragged, n_ragged),
            ragged,
        )
    if n_rows < 2:
        raise DataError(f"{display} has only one data row; training and validation need at least two")
    if n_rows * width > MAX_CELLS:
        raise DataError(f"{display} has {n_rows:,} rows of {width:,} values; at most {MAX_CELLS:,} "
                        "values are allowed")

    if target is None:
        t = width - 1
    elif target in names:
        t = names.index(target)
    else:
        hint = suggest(target, names)
        hint = f"; did you mean {hint!r}?" if hint else ""
        shown = ", ".join(names[:MAX_PROBLEMS]) + (", ..." if len(names) > MAX_PROBLEMS else "")
        raise DataError(f"{display} has no column {target!r}{hint} (columns: {shown})")
    feature_cols = [j for j in range(width) if j != t]

    problems: list[str] = []
    n_problems = 0

    def report(line: int, col: int, message: str) -> None:
        nonlocal n_problems
        n_problems += 1
        if len(problems) < 10:
            problems.append(f"{display} line {line}, column {names[col]!r}: {message}")

    # Second pass: numbers straight into the array, one row at a time.
    x = np.empty((n_rows, len(feature_cols)), dtype=np.float64)
    raw_target: list[str] = []
    data = _rows(text, delimiter, display)
    if header:
        next(data)
    lines: list[int] = []
    for i, (line, cells) in enumerate(data):
        lines.append(line)
        # Fast path: a row of finite numbers (float() ignores surrounding blanks). Anything
        # else, or a sum that overflowed, is looked at cell by cell to say what is wrong.
        try:
            values = [float(cells[j]) for j in feature_cols]
        except ValueError:
            values = None
        if values is not None and math.isfinite(sum(values)):
            x[i] = values
        else:
            for k, j in enumerate(feature_cols):
                cell = cells[j].strip()
                value = _number(cell)
                if value is None:
                    report(line, j, _what_is_wrong(cell))
                else:
                    x[i, k] = value
        cell = cells[t].strip()
        if not cell:
            report(line, t, "missing value")
        raw_target.append(cell)
    del text

    numeric = [_number(s) for s in raw_target]
    is_numeric = all(v is not None for s, v in zip(raw_target, numeric, strict=True) if s)
    if task == "regression" and not is_numeric:
        for line, s, v in zip(lines, raw_target, numeric, strict=True):
            if s and v is None:
                report(line, t, _what_is_wrong(s) + " (the task is regression)")
    if n_problems:
        head = f"{display}: {n_problems} value(s) missing or not numbers (rows are never dropped silently):\n"
        raise DataError(head + format_problems(problems, n_problems), problems)

    if is_numeric:
        values = np.array(numeric, dtype=np.float64)
        distinct = np.unique(values)
        integral = bool(np.all(values == np.round(values)))
        if task == "regression" or (
            task == "auto" and not (integral and len(distinct) <= MAX_DISTINCT_FOR_AUTO)
        ):
            return CsvTable(display, x, values[:, None], "regression", 0,
                            tuple(names[j] for j in feature_cols), ())
        labels = np.searchsorted(distinct, values)
        class_names = tuple(_class_name(v) for v in distinct)
    else:
        distinct_text = sorted(set(raw_target))
        labels = np.searchsorted(np.array(distinct_text), np.array(raw_target))
        class_names = tuple(distinct_text)
    n_classes = len(class_names)
    column = names[t]
    if n_classes < 2:
        raise DataError(f"{display}: target column {column!r} has a single value; nothing to classify")
    if n_classes > MAX_CLASSES:
        raise DataError(
            f"{display}: target column {column!r} has {n_classes} distinct values, too many classes "
            f"(limit {MAX_CLASSES}); set the task to 'regression' if it is a quantity"
        )
    return CsvTable(
        display,
        x,
        labels.astype(np.int64),
        "binary" if n_classes == 2 else "multiclass",
        n_classes,
        tuple(names[j] for j in feature_cols),
        class_names,
    )


def _what_is_wrong(text: str) -> str:
    if not text:
        return "missing value"
    try:
        float(text)
    except ValueError:
        return f"{text!r} is not a number"
    return f"{text!r} is not a finite number"
