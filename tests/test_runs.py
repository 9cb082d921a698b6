"""Run folders: what a run leaves behind, and reopening it without retraining."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.events import RunFinished
from engine.spec import ExperimentSpec
from engine.trainer import Trainer
from workbench.export import load_weights
from workbench.runs import default_run_folder, read_run, write_run


@pytest.fixture(scope="module")
def trained() -> tuple[Trainer, RunFinished]:
    spec = ExperimentSpec(
        name="runs test",
        seed=3,
        data={"source": "spiral_multi", "n_samples": 120},
        training={"epochs": 3, "batch_size": 32},
    )
    trainer = Trainer(spec)
    events = list(trainer.run())
    return trainer, events[-1]


def _write(folder: Path, trained: tuple[Trainer, RunFinished], **kwargs: object) -> Path:
    trainer, finished = trained
    return write_run(folder, trainer.spec, trainer.history, trainer.network, finished, loss=trainer.loss,
                     **kwargs)


def test_write_run_writes_every_artifact(tmp_path: Path, trained: tuple[Trainer, RunFinished]) -> None:
    trainer, _ = trained
    folder = _write(tmp_path / "run", trained, diagnostics=["[warning] something"])
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["experiment.json", "history.csv", "model.onnx", "summary.json", "weights.npz"]

    with (folder / "history.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header[:8] == ["epoch", "step", "train_loss", "val_loss", "train_accuracy", "val_accuracy",
                          "lr", "seconds"]
    per_layer = {"grad_norm/dense1", "grad_norm/output", "update_ratio/dense2", "weight_norm/dense1"}
    assert per_layer <= set(header)
    assert len(rows) == 1 + 3

    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs"] == 3 and summary["seed"] == 3
    assert summary["final"]["val_accuracy"] == pytest.approx(trainer.history[-1].val_metric)
    assert set(summary["versions"]) == {"app", "python", "numpy"}
    assert summary["diagnostics"] == ["[warning] something"]

    net = trainer.network.copy()
    net.params[...] = 0
    load_weights(net, folder / "weights.npz")
    np.testing.assert_array_equal(net.params, trainer.network.params)


def test_read_run_gives_back_the_curves(tmp_path: Path, trained: tuple[Trainer, RunFinished]) -> None:
    trainer, _ = trained
    record = read_run(_write(tmp_path / "run", trained))
    assert record.spec == trainer.spec
    np.testing.assert_allclose(record.columns["val_loss"], [e.val_loss for e in trainer.history])
    np.testing.assert_array_equal(record.columns["epoch"], [1, 2, 3])
    assert record.layers == ["dense1", "dense2", "output"]
    history = record.history()
    assert [e.epoch for e in history] == [1, 2, 3]
    first, original = history[0], trainer.history[0]
    assert first.train_metric == original.train_metric and first.metric_name == "accuracy"
    assert first.layer_grad_norms == pytest.approx(original.layer_grad_norms)


def test_diverged_run_with_nan_values_still_writes(
    tmp_path: Path, trained: tuple[Trainer, RunFinished]
) -> None:
    trainer, _ = trained
    bad = [*trainer.history[:1], replace(trainer.history[1], train_loss=math.nan, val_loss=math.inf)]
    finished = RunFinished("diverged", 2, 10, 0.5)
    folder = write_run(tmp_path / "d", trainer.spec, bad, trainer.network, finished, loss=trainer.loss)
    record = read_run(folder)
    assert math.isnan(record.columns["train_loss"][1]) and math.isinf(record.columns["val_loss"][1])
    assert record.summary["status"] == "diverged"
    assert record.summary["final"]["train_loss"] is None  # JSON has no NaN


def test_default_run_folder_is_unique(tmp_path: Path) -> None:
    spec = ExperimentSpec(name="My run / with: odd chars")
    first = default_run_folder(spec, tmp_path)
    assert first.parent == tmp_path and first.name.startswith("My-run-with-odd-chars-")
    first.mkdir()
    assert default_run_folder(spec, tmp_path) != first
