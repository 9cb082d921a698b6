"""Reading a CSV table as it comes: separator, skipped lines, header or count header, decimal commas,
numbers, text and empty cells, one column at a time.

Nothing is decided here about what a column *means* (``table_columns`` does that); this module
only turns text into arrays, bounded: the file is capped in bytes before reading, the table in
cells before allocating, and text columns keep at most ``MAX_VOCAB`` distinct values. An
all-numeric table goes through ``numpy.loadtxt`` (C speed); anything else, or anything
``loadtxt`` refuses, through the ``csv`` module row by row, so a problem names its line and column.

Faster parsers were measured and did not pay on a 50 MB table: ``numpy.fromstring(text,
sep=',')`` (newlines turned into separators) took loadtxt's time to within 1 %, and a parser of
plain decimals in whole-array NumPy operations (digits to integers, then one exact division)
took 0.9-1.3x its time, both correctly rounded like ``float``. The all-numeric table keeps
loadtxt's matrix (``RawTable.matrix``) so the steps after reading work on rows, not columns.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.csvfile import MAX_COLUMNS, _column_names, decode, read_bytes
from engine.data.dataset import DataError, format_problems
from engine.safe_io import iter_lines
from engine.spec import TableSpec

# Values in one table: 80 MB as float64 (the file cap alone would allow 25 M one-digit cells).
MAX_CELLS = 10_000_000
MAX_VOCAB = 10_000  # distinct text values kept per column; past this a column is free text
MAX_ERRORS = 10  # problem lines shown before "... and N more"
SAMPLE_LINES = 30  # lines looked at to guess the separator and the header
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
SEPARATORS = (",", ";", "\t", "|")


@dataclass
class Column:
    """One column: numbers where cells are numbers, codes where they are text."""

    name: str
    values: np.ndarray  # float64, NaN where the cell is missing or text
    missing: np.ndarray  # bool
    codes: np.ndarray | None = None  # int32 text code (-1: not text); None when no cell is text
    vocab: list[str] = field(default_factory=list)  # text values by code
    overflow: bool = False  # more than MAX_VOCAB distinct texts (codes past it are -2)
    first_text: tuple[int, str] | None = None  # (line, cell) of the first text cell

    @property
    def n_text(self) -> int:
        return 0 if self.codes is None else int(np.count_nonzero(self.codes != -1))


@dataclass
class RawTable:
    display: str
    names: list[str]
    columns: list[Column]
    lines: np.ndarray  # (N,) the line each row starts on
    separator: str
    header: bool
    count_header: tuple[str, ...] | None  # class names given by a 'rows,features,names...' first line
    skipped: int  # lines skipped before the header or data (skip_rows plus a count header)
    # All-numeric tables read in one piece: the (N, columns) matrix whose columns are the
    # columns' ``values`` (rows contiguous), for whole-table statistics and row gathers in one pass.
    matrix: np.ndarray | None = field(default=None, repr=False)
    # Per matrix column (minimum, maximum, all whole numbers), computed once when first profiled.
    summary: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> Column:
        return self.columns[self.names.index(name)]


@dataclass(frozen=True)
class Layout:
    separator: str
    skip: int  # lines to skip (non-blank ones counted as written)
    header: bool
    count_header: tuple[str, ...] | None


def read_table(path: Path, display: str, options: TableSpec) -> RawTable:
    """The table in ``path`` (capped like every CSV), read as ``options`` say."""
    return parse_table(read_bytes(path, display), display, options)


def parse_table(data: bytes | str, display: str, options: TableSpec) -> RawTable:
    """``data``: the file's bytes (or its text). All-numeric tables take the fast path on the bytes;
    the rest is decoded and read row by row."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    head = raw[: 1 << 16].decode("utf-8-sig", errors="ignore")
    layout = detect_layout(head, display, options)
    table = _fast_numeric(raw, display, layout, options)
    if table is not None:
        return table
    text = data.removeprefix("\ufeff") if isinstance(data, str) else decode(raw, display)
    del raw, data
    return _general(text, display, layout, options)


# ------------------------------------------------------------------------------------- layout
def _split(line: str, sep: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:  # a stray quote or carriage return: the reader proper names the line
        return line.split(sep)


def _is_number(cell: str, decimal: str) -> bool:
    cell = cell.strip()
    if decimal == ",":
        cell = cell.replace(",", ".")
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_TOKENS


def _sample(text: str, skip: int) -> list[str]:
    out: list[str] = []
    for i, line in enumerate(iter_lines(text)):
        if i < skip:
            continue
        if line.strip():
            out.append(line.rstrip("\r\n"))
            if len(out) >= SAMPLE_LINES:
                break
    return out


def guess_separator(lines: list[str], decimal: str) -> str:
    """The separator that splits the sample into the most consistent, widest rows."""
    best, best_key = ",", (False, 0.0, 0)
    for sep in SEPARATORS:
        if sep == decimal:
            continue
        widths = [len(_split(line, sep)) for line in lines[1:] or lines]
        mode, freq = Counter(widths).most_common(1)[0]
        key = (mode > 1, freq / len(widths), mode)
        if key > best_key:
            best, best_key = sep, key
    return best


def guess_decimal(lines: list[str]) -> str:
    """',' when the sample is separated by something else and its numbers read '3,5'."""
    sep = guess_separator(lines, ".")
    if sep == ",":
        return "."
    cells = [c.strip() for line in lines[1:] for c in _split(line, sep)]
    comma = sum(1 for c in cells if "," in c and _is_number(c, ","))
    return "," if comma > 0 and comma >= sum(1 for c in cells if "." in c and _is_number(c, ".")) else "."


def _count_header(first: list[str], next_width: int) -> tuple[str, ...] | None:
    """scikit-learn's 'n_samples,n_features,class names...' first line, or None."""
    if len(first) < 2:
        return None
    try:
        n, p = int(first[0]), int(first[1])
    except ValueError:
        return None
    names = tuple(c.strip() for c in first[2:] if c.strip())
    if n < 1 or p != next_width - 1 or any(_is_number(c, ".") for c in names):
        return None
    return names


def detect_layout(text: str, display: str, options: TableSpec) -> Layout:
    lines = _sample(text, options.skip_rows)
    if not lines:
        raise DataError(f"{display} is empty" + (f" after skipping {options.skip_rows} lines"
                                                 if options.skip_rows else ""))
    sep = options.separator if options.separator != "auto" else guess_separator(lines, options.decimal)
    rows = [_split(line, sep) for line in lines]
    skip = options.skip_rows
    count = None
    if options.header == "auto" and len(rows) > 1:
        count = _count_header(rows[0], len(rows[1]))
        if count is not None:
            rows = rows[1:]
            skip += 1
    if options.header == "auto":
        header = _looks_like_header(rows, options.decimal)
    else:
        header = options.header == "present"
    return Layout(sep, skip, header, count)


def _looks_like_header(rows: list[list[str]], decimal: str) -> bool:
    """A first row with no number in it, or with a text cell over a column of numbers."""
    first, below = rows[0], rows[1:]
    if not any(_is_number(c, decimal) for c in first):
        return True
    for j, cell in enumerate(first):
        if _is_number(cell, decimal) or _is_missing(cell):
            continue
        column = [r[j] for r in below if j < len(r) and not _is_missing(r[j])]
        if column and sum(_is_number(c, decimal) for c in column) * 2 >= len(column):
            return True
    return False


def _data_lines(text: str, skip: int) -> tuple[int, int]:
    """(offset of the first line after ``skip`` lines, its 1-based line number)."""
    offset, line = 0, 1
    for _ in range(skip):
        end = text.find("\n", offset)
        if end == -1:
            return len(text), line
        offset, line = end + 1, line + 1
    return offset, line


# ------------------------------------------------------------------------------- fast path
def _fast_numeric(raw: bytes, display: str, layout: Layout, options: TableSpec) -> RawTable | None:
    """All cells finite numbers: one ``numpy.loadtxt`` call over the bytes as they are (no decoded
    copy). None sends the table to the row reader, which says what is wrong and where."""
    if b'"' in raw or (b"\r" in raw and b"\n" not in raw):
        return None
    if options.decimal == ",":
        raw = raw.replace(b",", b".")
    offset, first_line = _data_offset(raw, layout.skip)
    names: list[str] | None = None
    if layout.header:
        end = raw.find(b"\n", offset)
        head = raw[offset:] if end == -1 else raw[offset:end]
        try:
            names = _split(head.decode("utf-8-sig").rstrip("\r"), layout.separator)
        except UnicodeDecodeError:
            return None
        if options.decimal == ",":
            return None  # the header's own commas were replaced; the row reader reads it right
    body_start = offset if not layout.header else (len(raw) if raw.find(b"\n", offset) == -1
                                                   else raw.find(b"\n", offset) + 1)
    stop = len(raw)
    while stop > body_start and raw[stop - 1] in b"\r\n":
        stop -= 1
    end = raw.find(b"\n", body_start)
    width = raw.count(layout.separator.encode(), body_start, end if end != -1 else len(raw)) + 1
    n_lines = raw.count(b"\n", body_start, stop) + (1 if stop > body_start else 0)
    if n_lines * width > MAX_CELLS * 2:
        return None  # let the row reader say how big it is
    skip = layout.skip + (1 if layout.header else 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": refused below
            # latin-1: numbers are ASCII, and decoding it costs nothing (a non-ASCII cell fails as
            # a number and goes to the row reader, which decodes UTF-8 properly).
            x = np.loadtxt(io.BytesIO(raw), delimiter=layout.separator, dtype=np.float64, ndmin=2,
                           comments=None, encoding="latin-1", skiprows=skip)
    except (ValueError, UnicodeDecodeError):
        return None
    # loadtxt skips blank lines; the row reader numbers the rows exactly. A row per line needs no
    # search for them (two scans of the file); only a count that disagrees does.
    suspect = len(x) != n_lines or raw.find(b"\r", body_start, stop) != -1
    if suspect and (raw.find(b"\n\n", body_start, stop) != -1 or raw.find(b"\n\r\n", body_start, stop) != -1):
        return None
    del raw
    if x.size == 0 or not np.isfinite(x).all():
        return None
    n, width = x.shape
    if n * width > MAX_CELLS:
        raise DataError(f"{display} has {n:,} rows of {width:,} values; at most {MAX_CELLS:,} values are "
                        "allowed")
    if names is None:
        names = [f"col{i + 1}" for i in range(width)]
    elif len(names) != width:
        return None
    names = _column_names(names, display)
    lines = np.arange(first_line + (1 if layout.header else 0), first_line + (1 if layout.header else 0) + n,
                      dtype=np.int64)
    no_missing = np.zeros(n, dtype=bool)
    columns = [Column(name, x[:, j], no_missing) for j, name in enumerate(names)]
    return RawTable(display, names, columns, lines, layout.separator, layout.header, layout.count_header,
                    layout.skip, x)


def _data_offset(raw: bytes, skip: int) -> tuple[int, int]:
    """(byte offset of the first line after ``skip`` lines, its 1-based line number)."""
    offset, line = 0, 1
    for _ in range(skip):
        end = raw.find(b"\n", offset)
        if end == -1:
            return len(raw), line
        offset, line = end + 1, line + 1
    return offset, line


# ----------------------------------------------------------------------------- row reader
def _general(text: str, display: str, layout: Layout, options: TableSpec) -> RawTable:
    offset, line = _data_lines(text, layout.skip)
    reader = csv.reader(iter_lines(text[offset:] if offset else text), delimiter=layout.separator)
    rows = _numbered(reader, line, display)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{display} is empty")
    first_line, first_cells = first
    width = len(first_cells)
    if width > MAX_COLUMNS:
        raise DataError(f"{display} has {width:,} columns; at most {MAX_COLUMNS:,} are allowed")
    names = _column_names(first_cells, display) if layout.header else [f"col{i + 1}" for i in range(width)]
    # Sized by the line count, never past the cell cap: a row beyond it is refused below.
    capacity = min(text.count("\n") + 2, MAX_CELLS // max(width, 1) + 1)
    values = np.full((width, capacity), np.nan)
    missing = np.zeros((width, capacity), dtype=bool)
    codes: list[np.ndarray | None] = [None] * width
    vocabs: list[dict[str, int]] = [{} for _ in range(width)]
    overflow = [False] * width
    first_text: list[tuple[int, str] | None] = [None] * width
    lines = np.empty(capacity, dtype=np.int64)
    problems: list[str] = []
    n_problems = 0
    comma = options.decimal == ","
    n = 0

    def process(line_no: int, cells: list[str]) -> None:
        nonlocal n, n_problems
        if len(cells) != width:
            n_problems += 1
            if len(problems) < MAX_ERRORS:
                problems.append(f"{display} line {line_no}: {len(cells)} values, expected {width}")
            return
        if n >= capacity:
            raise DataError(f"{display} has more than {capacity - 1:,} rows of {width:,} values; at most "
                            f"{MAX_CELLS:,} values are allowed")
        lines[n] = line_no
        for j, raw in enumerate(cells):
            cell = raw.strip()
            if cell.lower() in MISSING_TOKENS:
                missing[j, n] = True
                continue
            try:
                v = float(cell.replace(",", ".") if comma else cell)
            except ValueError:
                v = None
            if v is not None:
                if math.isfinite(v):
                    values[j, n] = v
                    continue
                n_problems += 1
                if len(problems) < MAX_ERRORS:
                    problems.append(f"{display} line {line_no}, column {names[j]!r}: {cell!r} is not a "
                                    "finite number")
                continue
            col = codes[j]
            if col is None:
                col = codes[j] = np.full(capacity, -1, dtype=np.int32)
                first_text[j] = (line_no, cell)
            vocab = vocabs[j]
            code = vocab.get(cell)
            if code is None:
                if len(vocab) >= MAX_VOCAB:
                    overflow[j] = True
                    code = -2
                else:
                    code = vocab[cell] = len(vocab)
            col[n] = code
        n += 1

    if not layout.header:
        process(first_line, first_cells)
    for line_no, cells in rows:
        process(line_no, cells)
    if n_problems:
        raise DataError(f"{display}: {n_problems} problem(s) reading the table:\n"
                        + format_problems(problems, n_problems), problems)
    if n == 0:
        raise DataError(f"{display} has a header but no data rows")
    columns = []
    for j, name in enumerate(names):
        vocab_list = list(vocabs[j])
        col_codes = None if codes[j] is None else codes[j][:n].copy()
        columns.append(Column(name, values[j, :n].copy(), missing[j, :n].copy(), col_codes, vocab_list,
                              overflow[j], first_text[j]))
    return RawTable(display, names, columns, lines[:n].copy(), layout.separator, layout.header,
                    layout.count_header, layout.skip)


def _numbered(reader: Any, start: int, display: str) -> Iterator[tuple[int, list[str]]]:
    line = start
    base = start - 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                yield line, cells
            line = base + reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{display} line {line}: {exc}") from None
