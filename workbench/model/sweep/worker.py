"""The one function a sweep's worker runs: an experiment as JSON in, the run's records out.

``run_one`` is pure (its result depends only on its arguments: every run is seeded) and returns
plain data (str, int, float, lists, dicts and NumPy arrays of the final weights), so a process
pool or a Dask cluster can carry it without unpickling anything of ours. The run folder is
written by the submitting machine from these records (``results.write_record``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from engine.events import EpochMetrics, RunFinished, StepMetrics
from engine.spec import ExperimentSpec

MAX_STEP_ROWS = 2_000


def ignore_sigint() -> None:
    """Process-pool initializer: Ctrl-C in a terminal reaches every process of the group; the
    submitting process alone decides what it means (finish, then stop; or abort)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_one(spec_json: str, base_dir: str | None = None, confined: bool = True) -> dict[str, Any]:
    """Train the experiment ``spec_json`` to its end with one BLAS thread; never raises for a
    problem of the run itself (that is a record with status ``error``)."""
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            record = _train(ExperimentSpec.model_validate_json(spec_json), base_dir, confined)
        except Exception as exc:  # a broken CSV, a network too large, a bug: this run's result
            record = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    record.setdefault("error", "")
    record["wall_seconds"] = time.perf_counter() - started
    record["host"] = f"{socket.gethostname()}:{os.getpid()}"
    return record


def _train(spec: ExperimentSpec, base_dir: str | None, confined: bool) -> dict[str, Any]:
    from engine.analysis import diagnose_trainer
    from engine.trainer import Trainer

    if spec.training.blas_threads != 1:  # one per worker: workers share the cores
        spec = spec.with_overrides({"training.blas_threads": 1})
    trainer = Trainer(spec, base_dir=Path(base_dir) if base_dir else None, confined=confined)
    finished: RunFinished | None = None
    kept: list[StepMetrics] = []  # the first step and non-finite ones, as the CLI keeps
    steps: list[tuple[int, int, float, float, float]] = []
    for event in trainer.run():
        if isinstance(event, StepMetrics):
            steps.append((event.step, event.epoch, event.loss, event.lr, event.grad_norm))
            if not kept or not (math.isfinite(event.loss) and math.isfinite(event.grad_norm)):
                kept.append(event)
        elif isinstance(event, RunFinished):
            finished = event
    assert finished is not None  # every run ends with exactly one RunFinished
    network = trainer.network
    return {
        "status": finished.status,
        "epochs": finished.epoch,
        "steps": finished.step,
        "seconds": finished.seconds,
        "divergence": dataclasses.asdict(finished.divergence) if finished.divergence else None,
        "history": [epoch_row(e) for e in trainer.history],
        # Evenly spaced steps for the comparison curves (a remembered run keeps no more).
        "step_rows": [list(row) for row in steps[:: max(1, -(-len(steps) // MAX_STEP_ROWS))]],
        "weights": network.state_dict(),
        "input_shape": list(trainer.dataset.input_shape),
        "n_outputs": int(trainer.n_outputs),
        "diagnostics": [d.text() for d in diagnose_trainer(trainer, kept)],
    }


def epoch_row(e: EpochMetrics) -> dict[str, Any]:
    """An epoch as plain data (activation summaries are not kept in run folders either)."""
    return {
        "epoch": e.epoch, "step": e.step, "train_loss": e.train_loss, "val_loss": e.val_loss,
        "train_metric": e.train_metric, "val_metric": e.val_metric, "metric_name": e.metric_name,
        "lr": e.lr, "seconds": e.seconds, "layer_grad_norms": dict(e.layer_grad_norms),
        "layer_weight_norms": dict(e.layer_weight_norms), "layer_update_ratios": dict(e.layer_update_ratios),
    }


def history_of(record: dict[str, Any]) -> list[EpochMetrics]:
    return [EpochMetrics(**row) for row in record.get("history", ())]


def steps_of(record: dict[str, Any]) -> list[StepMetrics]:
    """The kept steps as ``StepMetrics`` (loss, learning rate, gradient norm; no per-layer data)."""
    return [StepMetrics.unchecked(int(epoch), int(step), float(loss), float(lr), float(grad), {}, {}, {}, {})
            for step, epoch, loss, lr, grad in record.get("step_rows", ())]
