"""Read and write experiment files: strict, hostile-input-proof parsing and atomic saves.

Loading never executes code and never unpickles: the file is size-checked before it is
read, parsed with the standard ``json`` module (NaN/Infinity literals, duplicate keys and
overflowing numbers refused, nesting bounded), migrated to the current version, and
validated (``workbench.experiment.validation``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from engine.safe_io import FileRefused, read_capped
from engine.spec import FORMAT, OMIT_WHEN_NONE, ExperimentSpec
from workbench.experiment.errors import ExperimentError, Problem
from workbench.experiment.migrations import migrate
from workbench.experiment.validation import validate_data

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
# Items in one JSON list or object: far above any real experiment (64 layers, a few hundred
# variants), and low enough that a file of a million bad items is refused in one line
# instead of producing a million problems.
MAX_ITEMS = 1000


# --------------------------------------------------------------------------------- loading
def load_experiment(path: str | os.PathLike[str]) -> ExperimentSpec:
    """Read, migrate and validate an experiment file; ``ExperimentError`` lists every problem."""
    path = Path(path)
    try:
        raw = read_capped(path, MAX_FILE_BYTES, "experiment file")
    except FileRefused as exc:
        problem = _too_big(exc.size) if exc.kind == "too_big" else \
            Problem("", f"cannot read {path}: it {exc.reason}")
        raise ExperimentError([problem], source=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Problem("", f"not a UTF-8 text file (byte {exc.start} cannot be decoded)")
        raise ExperimentError([problem], source=str(path)) from None
    try:
        return loads_experiment(text)
    except ExperimentError as exc:
        exc.source = str(path)
        raise


def loads_experiment(text: str) -> ExperimentSpec:
    """Parse, migrate and validate the text of an experiment file."""
    if len(text) > MAX_FILE_BYTES:
        raise ExperimentError([_too_big(len(text))])
    data = parse_json(text)
    if not isinstance(data, dict):
        raise ExperimentError([Problem("", "an experiment file holds one JSON object ({...})")])
    fmt = data.get("format")
    if fmt != FORMAT:
        shown = "missing" if fmt is None else repr(fmt)
        raise ExperimentError([Problem("format", f"is {shown}; a Gradient Workbench experiment "
                                                 f"says \"format\": \"{FORMAT}\"")])
    return validate_data(migrate(data))


def parse_json(text: str) -> Any:
    """``json.loads`` that refuses what a spec can never hold, with line and column on errors."""
    try:
        data = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=_object_without_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise ExperimentError([Problem("", f"not valid JSON: {exc.msg} "
                                           f"(line {exc.lineno}, column {exc.colno})")]) from None
    except _ConstantError as exc:
        where = _where(text, exc.token)
        message = f"{exc.token} is not allowed{where}: JSON has no NaN or Infinity, and no setting needs one"
        raise ExperimentError([Problem("", message)]) from None
    except RecursionError:
        raise ExperimentError([_too_deep()]) from None
    except ValueError as exc:  # an overflowing number, a duplicate key
        raise ExperimentError([Problem("", str(exc))]) from None
    depth, widest = _shape(data)
    if depth > MAX_DEPTH:
        raise ExperimentError([_too_deep()])
    if widest > MAX_ITEMS:
        raise ExperimentError([Problem("", f"a list or object holds {widest:,} items; no experiment "
                                           f"needs more than {MAX_ITEMS:,}")])
    return data


class _ConstantError(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _reject_constant(token: str) -> Any:
    raise _ConstantError(token)


def _parse_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"the number {token[:40]} is too large")
    return value


def _parse_int(token: str) -> int:
    if len(token.lstrip("-")) > 30:  # far beyond any setting; int() of 10^6 digits is slow
        raise ValueError(f"the number {token[:40]}... is too large")
    return int(token)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _shape(data: Any) -> tuple[int, int]:
    """Nesting depth and the most items in one container, without recursion (the parser
    already bounded the depth by the stack)."""
    deepest, widest, stack = 0, 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, depth)
        widest = max(widest, len(node))
        stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return deepest, widest


def _where(text: str, token: str) -> str:
    match = re.search(r"[:\[,]\s*(-?" + re.escape(token.lstrip("-")) + r")\b", text)
    if not match:
        return ""
    offset = match.start(1)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f" (line {line}, column {column})"


def _too_big(size: int) -> Problem:
    return Problem("", f"the file is {size / 1e6:.1f} MB; experiment files are at most "
                       f"{MAX_FILE_BYTES / 1e6:.0f} MB")


def _too_deep() -> Problem:
    return Problem("", f"the JSON is nested more than {MAX_DEPTH} levels deep; no experiment needs that")


# --------------------------------------------------------------------------------- saving
def dumps(spec: ExperimentSpec) -> str:
    """The file text of a spec: fields in the spec's order, 2-space indent, trailing newline.

    Byte-stable: the same spec always gives the same text, so files diff cleanly.
    """
    unset = {key for key in OMIT_WHEN_NONE if getattr(spec, key) is None}
    data = spec.model_dump(mode="json", exclude=unset or None)
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def save_experiment(spec: ExperimentSpec, path: str | os.PathLike[str]) -> None:
    """Write a spec atomically: a failed save leaves any previous file untouched."""
    atomic_write_bytes(Path(path), dumps(spec).encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _file_mode(path: Path) -> int:
    """Keep an existing file's permissions; new files get the usual umask-based mode."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
