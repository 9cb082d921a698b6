"""What the import dialog shows for a table under some options, computed without Qt: the first rows
as text, each column's detected kind, the inputs they make, the target's class balance or
histogram, the warnings, or the errors (at most ``MAX_ERRORS`` lines, then "... and N more")."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

import numpy as np

from engine.data.build import split_indices
from engine.data.dataset import DataError
from engine.data.table_build import prepare_table
from engine.data.table_checks import DataWarning
from engine.data.table_columns import ColumnProfile, TablePlan, plan_table, profile
from engine.data.table_read import MAX_ERRORS, detect_layout, parse_table
from engine.safe_io import iter_lines
from engine.spec import DataSpec, TableSpec

HEAD_ROWS = 20  # rows shown as text
PREVIEW_BYTES = 4 * 2**20  # a bigger file is previewed from its first lines (the import reads it all)


@dataclass
class TablePreview:
    names: list[str] = field(default_factory=list)
    head: list[list[str]] = field(default_factory=list)  # the first rows' cells, as written
    profiles: dict[str, ColumnProfile] = field(default_factory=dict)
    plan: TablePlan | None = None
    target: str | None = None
    task: str = ""
    class_names: tuple[str, ...] = ()
    class_counts: tuple[int, ...] = ()
    histogram: tuple[np.ndarray, np.ndarray] | None = None  # regression: (counts, edges)
    n_rows: int = 0
    sampled: bool = False  # read from the first PREVIEW_BYTES of a bigger file
    width: int = 0  # the network's input width
    warnings: list[DataWarning] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # at most MAX_ERRORS lines and a "... and N more"
    separator: str = ","

    @property
    def ok(self) -> bool:
        return not self.errors and self.plan is not None


def preview_table(raw: bytes, display: str, data: DataSpec, seed: int = 0) -> TablePreview:
    """The preview of ``raw`` (a file's bytes) read as ``data`` says; never raises ``DataError``."""
    out = TablePreview()
    sampled = len(raw) > PREVIEW_BYTES
    if sampled:
        cut = raw.rfind(b"\n", 0, PREVIEW_BYTES)
        raw = raw[: cut + 1 if cut > 0 else PREVIEW_BYTES]
    out.sampled = sampled
    options = data.table or TableSpec()
    text_head = raw[: 1 << 16].decode("utf-8-sig", errors="replace")
    try:
        layout = detect_layout(text_head, display, options)
        out.separator = layout.separator
        out.head = _head_rows(text_head, layout.skip, layout.separator)
        table = parse_table(raw, display, options)
    except DataError as exc:
        out.errors = _lines(exc)
        if out.head and not out.names:
            first = out.head[0]
            out.names = first if layout.header else [f"col{i + 1}" for i in range(len(first))]
        return out
    out.names = list(table.names)
    out.n_rows = table.n_rows
    if table.header and out.head:
        out.head = out.head[1:]
    out.profiles = {n: profile(table, n) for n in table.names}
    try:
        out.plan = plan_table(table, data.target, options)
        out.target = out.plan.target
        out.width = out.plan.width
        prepared = prepare_table(raw, display, data)
    except DataError as exc:
        out.errors = _lines(exc)
        return out
    out.task = prepared.task
    out.class_names = prepared.class_names
    if prepared.task == "regression":
        values = prepared.y.reshape(-1)
        out.histogram = np.histogram(values, bins=min(30, max(5, len(values) // 10)))
    else:
        out.class_counts = tuple(int(c) for c in np.bincount(prepared.y, minlength=prepared.n_classes))
    # The same split the run will make (the Trainer's data seed), so the warnings are the run's.
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[0])
    stratify = options.stratify and prepared.task != "regression"
    train, val = split_indices(len(prepared.y), data.train_fraction, rng, prepared.y if stratify else None)
    out.warnings = prepared.checks(train, val)
    return out


def _head_rows(text: str, skip: int, separator: str) -> list[list[str]]:
    rows: list[list[str]] = []
    lines = iter_lines(text)
    for _ in range(skip):
        next(lines, None)
    try:
        for cells in csv.reader(lines, delimiter=separator):
            if any(c.strip() for c in cells):
                rows.append(cells)
                if len(rows) > HEAD_ROWS:
                    break
    except csv.Error:
        pass  # the reader proper names the line
    return rows


def _lines(exc: DataError) -> list[str]:
    lines = str(exc).splitlines()
    if len(lines) > MAX_ERRORS + 2:
        lines = [*lines[: MAX_ERRORS + 1], f"... and {len(lines) - MAX_ERRORS - 1} more"]
    return lines
