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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.events import EpochMetrics, RunFinished
from engine.spec import ExperimentSpec
from workbench.experiment import atomic_write_bytes, dumps, load_experiment

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

    @property
    def metric_name(self) -> str:
        return str(self.summary.get("metric_name", "accuracy"))

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
) -> Path:
    """Write the run folder (created if needed); returns its path.

    ``loss`` (the trainer's ``Loss``) adds the output transform to ``model.onnx``; without it
    the ONNX model ends in the raw outputs. A failed ONNX export (e.g. an activation ONNX
    cannot express) is recorded in the summary instead of losing the rest of the run.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "experiment.json", dumps(spec).encode("utf-8"))
    atomic_write_bytes(folder / "history.csv", history_csv(history).encode("utf-8"))
    from workbench.export import export_onnx, save_weights

    save_weights(network, folder / "weights.npz", spec)
    files = ["experiment.json", "history.csv", "weights.npz"]
    onnx_error = None
    try:
        export_onnx(network, loss, folder / "model.onnx", name=spec.name[:80] or "network")
        files.append("model.onnx")
    except Exception as exc:  # the run's other artifacts matter more than this one
        onnx_error = f"{type(exc).__name__}: {exc}"
    summary = _summary(spec, history, finished, diagnostics or [], [*files, "summary.json"])
    if onnx_error:
        summary["onnx_error"] = onnx_error
    summary.update(extra or {})
    text = json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write_bytes(folder / "summary.json", text.encode("utf-8"))
    return folder


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


def read_run(folder: str | os.PathLike[str]) -> RunRecord:
    """Read a run folder back: spec, history columns (float arrays; NaN where a value was) and summary."""
    folder = Path(folder)
    spec = load_experiment(folder / "experiment.json")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    with (folder / "history.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    columns = {
        name: np.array([float(r[i]) for r in body], dtype=np.float64) for i, name in enumerate(header)
    }
    layers = [name.split("/", 1)[1] for name in header if name.startswith("grad_norm/")]
    return RunRecord(folder, spec, columns, summary, layers)


def default_run_folder(spec: ExperimentSpec, root: str | os.PathLike[str] = "runs") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``, made unique with a counter if that exists already."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", spec.name).strip("-.")[:60] or "run"
    base = Path(root) / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder, n = base, 2
    while folder.exists():
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return folder
