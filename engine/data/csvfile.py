"""A user's own CSV file: numeric feature columns and one target column.

Every row is used or the load fails: a row with a missing or non-numeric value is reported
with its line number, never silently dropped, because a dataset quietly shrinking is worse
than an error the user can fix in a text editor.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.dataset import DataError, format_problems, register_source
from engine.registry import suggest

MAX_BYTES = 50 * 1024 * 1024
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


def resolve_path(path: str | Path, base_dir: Path | None) -> Path:
    """``path`` as written in the experiment, relative to the experiment's folder."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
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


def _read_rows(path: Path, display: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows with the line each starts on."""
    if not path.exists():
        raise DataError(f"CSV file {display!r} not found (looked for {path})")
    if not path.is_file():
        raise DataError(f"CSV path {display!r} is not a file ({path})")
    size = path.stat().st_size
    if size > MAX_BYTES:
        limit = MAX_BYTES // 2**20
        raise DataError(f"{display} is {size / 2**20:.1f} MB; CSV files are limited to {limit} MB")
    try:
        # utf-8-sig: spreadsheets often start the file with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{display} is not UTF-8 text (bad byte at offset {exc.start})") from None
    except OSError as exc:
        raise DataError(f"cannot read {display}: {exc.strerror or exc}") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise DataError(f"{display} is empty")
    # The delimiter the header (or first row) uses most; csv.Sniffer guesses wildly on numbers.
    delimiter = max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","
    # newline='': the csv module's own line handling (quoted newlines, \r\n) with unicode
    # separators such as U+2028 left inside fields, where str.splitlines would cut.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{display} line {start}: {exc}") from None
    return rows


def _has_header(rows: list[tuple[int, list[str]]]) -> bool:
    """The first row is a header when none of its cells looks like a number.

    A header with numeric-looking names is then read as data and fails loudly on its text
    cells, which is better than taking a first data row with a typo for a header and
    dropping it without a word.
    """
    return not any(_looks_numeric(c.strip()) for c in rows[0][1])


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
    rows = _read_rows(path, display)

    header = _has_header(rows)
    width = len(rows[0][1])
    names = _column_names(rows[0][1], display) if header else [f"col{i + 1}" for i in range(width)]
    data = rows[1:] if header else rows
    if width < 2:
        raise DataError(
            f"{display} has one column; it needs at least one feature column and a target column "
            "(is the delimiter a comma, semicolon or tab?)"
        )
    if not data:
        raise DataError(f"{display} has a header but no data rows")

    ragged = [f"{display} line {line}: {len(cells)} values, expected {width}" for line, cells in data
              if len(cells) != width]
    if ragged:
        raise DataError(
            f"{display}: rows must all have {width} values like the first row:\n" + format_problems(ragged),
            ragged,
        )
    if len(data) < 2:
        raise DataError(f"{display} has only one data row; training and validation need at least two")

    if target is None:
        t = width - 1
    elif target in names:
        t = names.index(target)
    else:
        hint = suggest(target, names)
        hint = f"; did you mean {hint!r}?" if hint else ""
        raise DataError(f"{display} has no column {target!r}{hint} (columns: {', '.join(names)})")
    feature_cols = [j for j in range(width) if j != t]

    problems: list[str] = []
    n_problems = 0

    def report(line: int, col: int, message: str) -> None:
        nonlocal n_problems
        n_problems += 1
        if len(problems) < 10:
            problems.append(f"{display} line {line}, column {names[col]!r}: {message}")

    x = np.empty((len(data), len(feature_cols)), dtype=np.float64)
    raw_target: list[str] = []
    for i, (line, cells) in enumerate(data):
        for k, j in enumerate(feature_cols):
            text = cells[j].strip()
            value = _number(text)
            if value is None:
                report(line, j, _what_is_wrong(text))
            else:
                x[i, k] = value
        text = cells[t].strip()
        if not text:
            report(line, t, "missing value")
        raw_target.append(text)

    numeric = [_number(s) for s in raw_target]
    is_numeric = all(v is not None for s, v in zip(raw_target, numeric, strict=True) if s)
    if task == "regression" and not is_numeric:
        for (line, _), s, v in zip(data, raw_target, numeric, strict=True):
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
