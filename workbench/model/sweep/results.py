"""A sweep's results on disk: one run folder per finished run (written here, on the submitting
machine, from the worker's records) and ``sweep.csv``, rewritten atomically after every run so
it is whole whenever the sweep stops."""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.events import Divergence, RunFinished
from engine.spec import ExperimentSpec
from workbench.experiment import atomic_write_bytes
from workbench.files import FileRefused, iter_lines, read_capped
from workbench.model.sweep.plan import Axis, Config
from workbench.model.sweep.runner import RunResult
from workbench.model.sweep.worker import history_of
from workbench.runs import RunError, output_problem, variant_folders, write_run

SWEEP_CSV = "sweep.csv"
MAX_SWEEP_CSV_BYTES = 16 << 20
FIXED_COLUMNS = ("seed", "status", "metric", "final_train_loss", "final_val_loss", "final_train_metric",
                 "final_val_metric", "best_val_loss", "best_val_metric", "epochs", "duration_seconds",
                 "folder", "error")


def network_of(spec: ExperimentSpec, record: dict[str, Any]) -> Any:
    """The trained network rebuilt from the record's weights (no dataset needed)."""
    from engine.network import Network

    network = Network.from_spec(spec.model, tuple(record["input_shape"]), int(record["n_outputs"]),
                                np.random.default_rng(0), dtype=np.dtype(spec.training.dtype))
    network.load_state_dict(record["weights"])
    return network


def write_record(folder: Path, config: Config, record: dict[str, Any]) -> Path:
    """The run folder of one finished run (``workbench.runs.write_run``: whole or nothing)."""
    from engine.losses import LOSSES

    spec = config.spec
    divergence = Divergence(**record["divergence"]) if record.get("divergence") else None
    finished = RunFinished(record["status"], int(record["epochs"]), int(record["steps"]),
                           float(record["seconds"]), divergence)
    loss = LOSSES.get(spec.loss.name)(**spec.loss.options)
    extra = {"sweep": {"label": config.label, "values": config.values, "seed": config.seed,
                       "worker": record.get("host", "")}}
    return write_run(folder, spec, history_of(record), network_of(spec, record), finished, loss=loss,
                     diagnostics=list(record.get("diagnostics", ())), extra=extra)


def summary_row(result: RunResult, paths: list[str], folder: str = "") -> dict[str, Any]:
    """One line of sweep.csv: the swept values, seed, status, final and best metrics, duration."""
    config, record = result.config, result.record or {}
    history = record.get("history") or []
    last = history[-1] if history else {}
    val_losses = [h["val_loss"] for h in history if math.isfinite(h["val_loss"])]
    val_metrics = [h["val_metric"] for h in history if math.isfinite(h["val_metric"])]
    row: dict[str, Any] = {"run": config.label}
    row.update({p: config.values.get(p, "") for p in paths})
    row.update({
        "seed": config.seed,
        "status": result.status,
        "metric": last.get("metric_name", ""),
        "final_train_loss": last.get("train_loss", ""),
        "final_val_loss": last.get("val_loss", ""),
        "final_train_metric": last.get("train_metric", ""),
        "final_val_metric": last.get("val_metric", ""),
        "best_val_loss": min(val_losses) if val_losses else "",
        "best_val_metric": max(val_metrics) if val_metrics else "",  # accuracy and R²: higher is better
        "epochs": record.get("epochs", ""),
        "duration_seconds": round(float(record["seconds"]), 3) if "seconds" in record else "",
        "folder": folder,
        "error": result.error,
    })
    return row


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                         ("inf" if value > 0 else "-inf"))
    return str(value)


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c, "")) for c in columns])
    return buffer.getvalue()


@dataclass
class SweepWriter:
    """The sweep's folder: run folders named after the configurations, and sweep.csv."""

    root: Path
    configs: list[Config]
    axes: list[Axis]
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.paths = [a.path for a in self.axes]
        self.columns = ["run", *self.paths, *FIXED_COLUMNS]
        self.folders = variant_folders(self.root, [c.label for c in self.configs])

    def problems(self) -> list[str]:
        """Why the sweep cannot be written here (checked before anything runs)."""
        problem = output_problem(self.root / SWEEP_CSV)
        if problem:
            return [problem]
        return [p for p in (output_problem(f) for f in self.folders) if p][:5]

    def add(self, result: RunResult) -> tuple[Path | None, str]:
        """Write the run's folder (if it trained) and sweep.csv; (folder, why not written)."""
        folder: Path | None = None
        problem = ""
        if result.record is not None and result.status not in ("error", "cancelled"):
            try:
                folder = write_record(self.folders[result.config.index], result.config, result.record)
            except (OSError, RunError, ValueError) as exc:
                problem = f"cannot write {self.folders[result.config.index]}: {exc}"
        relative = folder.name if folder is not None else ""
        row = summary_row(result, self.paths, relative)
        if problem:
            row["error"] = "; ".join(x for x in (row["error"], problem) if x)
        self.rows[result.config.index] = row
        self.flush()
        return folder, problem

    def flush(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        rows = [self.rows[i] for i in sorted(self.rows)]
        atomic_write_bytes(self.root / SWEEP_CSV, csv_text(rows, self.columns).encode("utf-8"))


# ------------------------------------------------------------------------------ reading
class SweepFileError(ValueError):
    pass


@dataclass
class SweepTable:
    """sweep.csv read back: the swept paths and one dict per run (numbers as floats)."""

    folder: Path
    paths: list[str]
    rows: list[dict[str, Any]]

    def run_folder(self, row: dict[str, Any]) -> Path | None:
        name = row.get("folder") or ""
        # Only a folder beside sweep.csv: a crafted file must not lead the app elsewhere.
        if not name or name != os.path.basename(name) or name in (".", ".."):
            return None
        return self.folder / name


def read_sweep(folder: str | os.PathLike[str]) -> SweepTable:
    """Read ``folder/sweep.csv`` (bounded); SweepFileError naming the problem."""
    folder = Path(folder)
    path = folder / SWEEP_CSV
    try:
        text = read_capped(path, MAX_SWEEP_CSV_BYTES, "sweep table").decode("utf-8")
    except FileRefused as exc:
        raise SweepFileError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise SweepFileError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(iter_lines(text))
    try:
        header = next(reader, [])
        missing = [c for c in ("run", *FIXED_COLUMNS) if c not in header]
        if missing:
            raise SweepFileError(f"{path} is not a sweep table: no column {', '.join(missing)}")
        paths = header[1:header.index("seed")]
        rows = []
        for cells in reader:
            if not cells:
                continue
            if len(cells) != len(header):
                raise SweepFileError(f"{path} line {reader.line_num}: {len(cells)} values, "
                                     f"expected {len(header)}")
            rows.append({name: _number(cell) if name not in ("run", "status", "metric", "folder", "error")
                         else cell for name, cell in zip(header, cells, strict=True)})
    except csv.Error as exc:
        raise SweepFileError(f"{path} line {reader.line_num}: {exc}") from None
    return SweepTable(folder, paths, rows)


def _number(text: str) -> Any:
    try:
        return float(text) if text != "" else math.nan
    except ValueError:
        return text  # a categorical swept value (relu, adam)
