"""Shared by the sweep tests: a tiny experiment, a weights fingerprint, and worker functions that
worker processes import by name (so they live in a module, not in a test)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.spec import DataSpec, ExperimentSpec, TrainingSpec
from workbench.model.sweep.worker import run_one


def tiny_spec(epochs: int = 3, n_samples: int = 150) -> ExperimentSpec:
    """The default 2×16 tanh net on a small 3-class spiral: a run takes a fraction of a second."""
    return ExperimentSpec(name="tiny", data=DataSpec(source="spiral_multi", n_classes=3, n_samples=n_samples),
                          training=TrainingSpec(epochs=epochs, batch_size=32))


def fingerprint(weights: dict[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes: equal only when bitwise equal."""
    h = hashlib.sha256()
    for name in sorted(weights):
        a = np.ascontiguousarray(weights[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def final(record: dict[str, Any]) -> tuple:
    """What a sweep's row reports of a run, exactly: final losses and metrics, status, weights."""
    last = record["history"][-1]
    return (record["status"], last["train_loss"], last["val_loss"], last["train_metric"], last["val_metric"],
            record["epochs"], record["steps"], fingerprint(record["weights"]))


def die_once(spec_json: str, base_dir: str | None = None, confined: bool = True) -> dict[str, Any]:
    """The first call anywhere kills its worker process outright (as a lost machine would);
    later calls train normally. The marker file is named by WORKBENCH_TEST_DIE_ONCE."""
    marker = Path(os.environ["WORKBENCH_TEST_DIE_ONCE"])
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return run_one(spec_json, base_dir, confined)
    os.close(fd)
    os._exit(1)
