"""Run folders: everything a finished, stopped or diverged run leaves behind.

A run folder holds

- ``experiment.json`` — the experiment exactly as run (a variant resolved, epochs/seed as used);
- ``history.csv`` — one row per epoch: losses, metrics, learning rate, time, and per-layer
  gradient norms, weight norms and update ratios, with a header;
- ``weights.npz`` and ``model.onnx`` — the trained network (``workbench.export``);
- ``summary.json`` — status, final metrics, epochs, steps, duration, seed, versions.

``read_run`` reopens a folder so its curves can be shown again without retraining.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.events import EpochMetrics, RunFinished
from engine.spec import ExperimentSpec
from workbench.experiment import ExperimentError, dumps, load_experiment
from workbench.files import FileRefused, capped_lines, iter_lines, read_capped, read_json_object

SUMMARY_FORMAT = "gradient-workbench/run"
_PER_LAYER = (("grad_norm", "layer_grad_norms"), ("weight_norm", "layer_weight_norms"),
              ("update_ratio", "layer_update_ratios"))


@dataclass
class RunRecord:
    """A run folder read back: the spec, the history as columns, and the summary."""

    folder: Path
    spec: ExperimentSpec
    columns: dict[str, np.ndarray]  # header name -> float array, one entry per epoch
    summary: dict[str, Any]
    layers: list[str] = field(default_factory=list)
    # The checked parameters and buffers of weights.npz (None when absent or unreadable),
    # ready for ``workbench.export.fit_weights``; why they could not be read, if so.
    weights: dict[str, np.ndarray] | None = None
    weights_error: str | None = None

    @property
    def metric_name(self) -> str:
        name = self.summary.get("metric_name")
        return name if isinstance(name, str) and name else "accuracy"

    def history(self) -> list[EpochMetrics]:
        """The curves as ``EpochMetrics``, for views that draw live runs from the same type."""
        c, m = self.columns, self.metric_name
        out = []
        for i in range(len(c.get("epoch", ()))):
            per_layer = {
                attr: {layer: float(c[f"{prefix}/{layer}"][i]) for layer in self.layers}
                for prefix, attr in _PER_LAYER
            }
            out.append(EpochMetrics(
                epoch=int(c["epoch"][i]), step=int(c["step"][i]),
                train_loss=float(c["train_loss"][i]), val_loss=float(c["val_loss"][i]),
                train_metric=float(c[f"train_{m}"][i]), val_metric=float(c[f"val_{m}"][i]),
                metric_name=m, lr=float(c["lr"][i]), seconds=float(c["seconds"][i]),
                **per_layer,
            ))
        return out


def history_csv(history: list[EpochMetrics]) -> str:
    """The history as CSV text; column names are stable (see the module docstring)."""
    metric = history[0].metric_name if history else "accuracy"
    layers = list(history[0].layer_grad_norms) if history else []
    header = ["epoch", "step", "train_loss", "val_loss", f"train_{metric}", f"val_{metric}", "lr", "seconds"]
    header += [f"{prefix}/{layer}" for prefix, _ in _PER_LAYER for layer in layers]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for e in history:
        row: list[Any] = [e.epoch, e.step, e.train_loss, e.val_loss, e.train_metric, e.val_metric, e.lr,
                          round(e.seconds, 6)]
        for _, attr in _PER_LAYER:
            values = getattr(e, attr)
            row += [values.get(layer, math.nan) for layer in layers]
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                         ("inf" if value > 0 else "-inf"))
    return str(value)


class RunError(ValueError):
    """A run folder that cannot be read, or cannot be written where asked; ``problems`` lists why."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = capped_lines(list(problems or [message]))


def write_run(
    folder: str | os.PathLike[str],
    spec: ExperimentSpec,
    history: list[EpochMetrics],
    network: Any,
    finished: RunFinished,
    *,
    loss: Any = None,
    diagnostics: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    standardization: Any = None,
) -> Path:
    """Write the run folder as a whole; returns its path.

    Everything is written into a temporary sibling folder, which is renamed to ``folder`` only
    when complete: a failed or interrupted write leaves no folder at all, never a mix of two
    runs. ``folder`` must not exist, or be an empty folder; anything else raises ``RunError``
    before a byte is written (an existing run or a user's files are never overwritten).

    ``loss`` (the trainer's ``Loss``) adds the output transform to ``model.onnx``; without it
    the ONNX model ends in the raw outputs. A failed ONNX export (e.g. an activation ONNX
    cannot express) is recorded in the summary instead of losing the rest of the run.
    """
    folder = Path(folder)
    problem = output_problem(folder)
    if problem:
        raise RunError(problem)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name[:80]}.partial-", dir=folder.parent))
    try:
        _write_files(partial, spec, history, network, finished, loss, diagnostics or [], extra or {},
                     standardization)
        _fsync_dir(partial)
        os.rename(partial, folder)  # atomic; replaces only an empty folder, fails on anything else
        _fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder


def _write_files(partial: Path, spec: ExperimentSpec, history: list[EpochMetrics], network: Any,
                 finished: RunFinished, loss: Any, diagnostics: list[str], extra: dict[str, Any],
                 standardization: Any = None) -> None:
    _write_file(partial / "experiment.json", dumps(spec).encode("utf-8"))
    _write_file(partial / "history.csv", history_csv(history).encode("utf-8"))
    from workbench.export import export_onnx, save_weights

    # The input standardisation travels with the weights (weights.npz, and in front of model.onnx).
    save_weights(network, partial / "weights.npz", spec, standardization)
    files = ["experiment.json", "history.csv", "weights.npz"]
    onnx_error = None
    try:
        export_onnx(network, loss, partial / "model.onnx", name=spec.name[:80] or "network",
                    standardization=standardization)
        files.append("model.onnx")
    except Exception as exc:  # the run's other artifacts matter more than this one
        onnx_error = f"{type(exc).__name__}: {exc}"
    summary = _summary(spec, history, finished, diagnostics, [*files, "summary.json"])
    if onnx_error:
        summary["onnx_error"] = onnx_error
    summary.update(extra)
    text = json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    _write_file(partial / "summary.json", text.encode("utf-8"))


def _write_file(path: Path, data: bytes) -> None:
    with path.open("xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------- where to write
def output_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why a run cannot be written to ``folder`` (None when it can), checked before training.

    ``folder`` must not exist (or be an empty folder), and its nearest existing ancestor
    must be a folder this process can create folders in (tried, not guessed).
    """
    folder = Path(folder)
    try:
        if folder.is_symlink() or folder.exists():
            if not folder.is_dir() or folder.is_symlink():
                return f"{folder} exists and is not a folder; a run folder never replaces a file"
            if any(folder.iterdir()):
                return f"{folder} already exists and is not empty; a run never overwrites files " \
                       "(choose a new folder)"
        ancestor = folder.parent
        while not ancestor.exists():
            if ancestor.is_symlink():
                return f"{ancestor} is a broken link"
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            return f"{ancestor} is a file, so {folder} cannot be created"
        probe = tempfile.mkdtemp(prefix=".gradient-workbench-probe-", dir=ancestor)
        os.rmdir(probe)
    except OSError as exc:
        where = exc.filename or folder
        return f"cannot write {folder}: {exc.strerror or type(exc).__name__} ({where})"
    return None


def fallback_folder(spec: ExperimentSpec) -> Path:
    """Where a run goes when its own folder cannot be written after training: the user's
    home when it is writable, else the system's temporary folder."""
    roots = (Path.home() / "gradient-workbench-rescued", Path(tempfile.gettempdir()) / "gradient-workbench")
    for root in roots:
        candidate = default_run_folder(spec, root)
        if output_problem(candidate) is None:
            return candidate
    return default_run_folder(spec, Path(tempfile.gettempdir()))


def variant_folders(root: Path, labels: list[str]) -> list[Path]:
    """One distinct sub-folder of ``root`` per run label, whatever characters the labels hold.

    Labels that clean up to the same name ('a/b', 'a b', 'a?b' all read 'a-b'), also when
    they differ only in case (the same folder on macOS and Windows), get -2, -3, ...
    """
    taken: set[str] = set()
    out = []
    for label in labels:
        slug = _slug(label, "variant")
        name, n = slug, 2
        while name.lower() in taken:
            name, n = f"{slug}-{n}", n + 1
        taken.add(name.lower())
        out.append(root / name)
    return out


def _slug(text: str, fallback: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:60] or fallback


def _summary(spec: ExperimentSpec, history: list[EpochMetrics], finished: RunFinished,
             diagnostics: list[str], files: list[str]) -> dict[str, Any]:
    from workbench import __version__

    last = history[-1] if history else None
    final = None
    if last is not None:
        final = {
            "train_loss": _finite_or_none(last.train_loss),
            "val_loss": _finite_or_none(last.val_loss),
            f"train_{last.metric_name}": _finite_or_none(last.train_metric),
            f"val_{last.metric_name}": _finite_or_none(last.val_metric),
        }
    return {
        "format": SUMMARY_FORMAT,
        "version": 1,
        "name": spec.name,
        "status": finished.status,
        "epochs": finished.epoch,
        "steps": finished.step,
        "duration_seconds": round(finished.seconds, 3),
        "seed": spec.seed,
        "metric_name": last.metric_name if last else None,
        "final": final,
        "divergence": finished.divergence.message() if finished.divergence else None,
        "diagnostics": diagnostics,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": {
            "app": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "files": files,
    }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


MAX_SUMMARY_BYTES = 1 << 20
MAX_HISTORY_BYTES = 32 << 20  # a run keeps at most 2,000 epoch rows (about 10 MB at 64 layers)
MAX_HISTORY_COLUMNS = 8 + 3 * 65
MAX_HISTORY_VALUES = 4_000_000  # 32 MB of float64


def read_run(folder: str | os.PathLike[str]) -> RunRecord:
    """Read a run folder back: spec, history columns (float arrays; NaN where a value was),
    summary and, when present, the checked weights.

    Everything is read and checked before this returns, so a caller changes nothing unless
    the whole folder is good. Every failure is a ``RunError`` naming the file and the problem;
    an unreadable ``weights.npz`` is not one (the curves are still worth showing): it is
    reported in ``weights_error``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder" if folder.exists() else f"{folder} does not exist")
    try:
        spec = load_experiment(folder / "experiment.json")
    except ExperimentError as exc:
        raise RunError(f"{folder / 'experiment.json'}: " + "; ".join(map(str, exc.problems)),
                       exc.lines(f"{folder / 'experiment.json'}: ")) from None
    try:
        summary = read_json_object(folder / "summary.json", MAX_SUMMARY_BYTES, "run summary")
        raw = read_capped(folder / "history.csv", MAX_HISTORY_BYTES, "run history")
    except FileRefused as exc:
        raise RunError(str(exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunError(f"{folder / 'history.csv'} is not UTF-8 text (byte {exc.start})") from None
    del raw  # the text alone is enough; peak memory matters for the largest histories
    header, columns = _history_columns(text, folder / "history.csv")
    del text
    layers = [name.split("/", 1)[1] for name in header if name.startswith("grad_norm/")]
    record = RunRecord(folder, spec, columns, summary, layers)
    missing = [name for name in _required_columns(record) if name not in columns]
    if missing:
        raise RunError(f"{folder / 'history.csv'} has no column {', '.join(capped_lines(missing))}")
    for name in ("epoch", "step"):
        if not np.isfinite(columns[name]).all():
            raise RunError(f"{folder / 'history.csv'}: the {name} column holds a value that is not a number")
    weights = folder / "weights.npz"
    if weights.exists() or weights.is_symlink():
        from workbench.export import WeightsError, read_weight_arrays

        try:
            record.weights = read_weight_arrays(weights)
        except WeightsError as exc:
            record.weights_error = str(exc)
    return record


def _required_columns(record: RunRecord) -> list[str]:
    m = record.metric_name
    names = ["epoch", "step", "train_loss", "val_loss", f"train_{m}", f"val_{m}", "lr", "seconds"]
    return names + [f"{prefix}/{layer}" for prefix, _ in _PER_LAYER for layer in record.layers]


def _history_columns(text: str, path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """The history's header and its columns as float arrays, checked cell by cell."""
    reader = csv.reader(iter_lines(text))
    try:
        header = next(reader, [])
        if len(header) > MAX_HISTORY_COLUMNS:
            raise RunError(f"{path} has {len(header):,} columns; at most {MAX_HISTORY_COLUMNS} are read")
        if len(set(header)) != len(header):
            raise RunError(f"{path}: a column name appears twice in the header")
        capacity = text.count("\n") + 1
        if capacity * max(len(header), 1) > MAX_HISTORY_VALUES:
            raise RunError(f"{path} holds more than {MAX_HISTORY_VALUES:,} values, the limit")
        table = np.empty((len(header), capacity), dtype=np.float64)  # a row per column: contiguous
        n = 0
        for cells in reader:
            if not cells:
                continue
            if len(cells) != len(header):
                raise RunError(f"{path} line {reader.line_num}: {len(cells)} values, expected {len(header)}")
            try:
                table[:, n] = [float(c) for c in cells]
            except ValueError:
                bad = next(c for c in cells if not _is_float(c))
                raise RunError(f"{path} line {reader.line_num}: {bad[:40]!r} is not a number") from None
            n += 1
    except csv.Error as exc:
        raise RunError(f"{path} line {reader.line_num}: {exc}") from None
    # Columns are views of one block (no copy), trimmed to the rows read.
    return header, {name: table[i, :n] for i, name in enumerate(header)}


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def default_run_folder(spec: ExperimentSpec, root: str | os.PathLike[str] = "runs") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``, made unique with a counter if that exists already."""
    slug = _slug(spec.name, "run")
    base = Path(root) / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder, n = base, 2
    while folder.exists():
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return folder
