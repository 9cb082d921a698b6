"""Worker processes on this machine: equal numbers to one-by-one runs, a lost worker retried once,
folders and sweep.csv written by the submitter."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.sweeps import helpers
from tests.sweeps.helpers import final, fingerprint, tiny_spec
from workbench.model.sweep.executor import LocalBackend
from workbench.model.sweep.plan import build_configs, parse_set
from workbench.model.sweep.results import SweepWriter, read_sweep
from workbench.model.sweep.runner import SweepRunner
from workbench.model.sweep.worker import run_one
from workbench.runs import read_run


def configs(n_lr: int = 4):
    lrs = ",".join(str(v) for v in (0.3, 0.03, 0.003, 0.0003)[:n_lr])
    return build_configs(tiny_spec(), [parse_set(f"optimizer.lr={lrs}"), parse_set("training.batch_size=16")])


def test_a_parallel_sweep_gives_exactly_the_numbers_of_one_by_one_runs(tmp_path: Path) -> None:
    sweep = configs()
    one_by_one = [run_one(c.spec.model_dump_json()) for c in sweep]
    backend = LocalBackend(2)
    started: list[str] = []
    progress: list[tuple[int, int]] = []
    try:
        results = SweepRunner(sweep, backend).run(on_start=lambda c: started.append(c.label),
                                                  on_done=lambda r, p: progress.append((p.done, p.total)))
    finally:
        backend.close()
    assert [r.config.label for r in results] == [c.label for c in sweep]  # configuration order
    assert sorted(started) == sorted(c.label for c in sweep)
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(r.status == "finished" and r.attempts == 1 for r in results)
    for parallel, alone in zip(results, one_by_one, strict=True):
        assert final(parallel.record) == final(alone)  # bitwise: floats compared with ==, weights hashed
    assert len({final(r.record) for r in results}) == 4  # four different runs, not one repeated


def test_a_lost_worker_is_retried_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_TEST_DIE_ONCE", str(tmp_path / "died"))
    sweep = configs(2)
    backend = LocalBackend(1)
    try:
        results = SweepRunner(sweep, backend, fn=helpers.die_once).run()
    finally:
        backend.close()
    assert (tmp_path / "died").exists()  # a worker process really died
    assert [r.status for r in results] == ["finished", "finished"]
    assert results[0].attempts == 2  # the run it held ran again, on a new worker
    assert final(results[0].record) == final(run_one(sweep[0].spec.model_dump_json()))


def test_folders_and_sweep_csv_are_written_by_the_submitter(tmp_path: Path) -> None:
    sweep = configs(2)
    axes = [parse_set("optimizer.lr=0.3,0.03"), parse_set("training.batch_size=16")]
    writer = SweepWriter(tmp_path / "s", sweep, axes)
    assert writer.problems() == []
    backend = LocalBackend(2)
    try:
        results = SweepRunner(sweep, backend).run(on_done=lambda r, p: writer.add(r))
    finally:
        backend.close()
    table = read_sweep(tmp_path / "s")
    assert table.paths == ["optimizer.lr", "training.batch_size"]
    assert [row["run"] for row in table.rows] == ["lr=0.3 batch_size=16", "lr=0.03 batch_size=16"]
    for row, result in zip(table.rows, results, strict=True):
        last = result.record["history"][-1]
        assert row["optimizer.lr"] == result.config.spec.optimizer.lr and row["seed"] == 0
        assert row["status"] == "finished" and row["metric"] == "accuracy" and row["epochs"] == 3
        assert row["final_val_loss"] == last["val_loss"] and row["final_val_metric"] == last["val_metric"]
        assert row["best_val_loss"] == min(h["val_loss"] for h in result.record["history"])
        assert row["duration_seconds"] > 0 and row["error"] == ""
        run = read_run(table.run_folder(row))  # the existing run-folder format, read back whole
        assert run.spec == result.config.spec
        assert run.summary["status"] == "finished" and run.summary["sweep"]["label"] == row["run"]
        history = result.record["history"]
        np.testing.assert_array_equal(run.columns["val_loss"], [h["val_loss"] for h in history])
        assert fingerprint({k: v for k, v in run.weights.items()}) == fingerprint(
            {k: v for k, v in result.record["weights"].items()})
    assert not [p for p in (tmp_path / "s").iterdir() if p.name.startswith(".")]  # no temporary leftovers
    assert math.isnan(read_sweep(tmp_path / "s").rows[0]["best_val_loss"]) is False
