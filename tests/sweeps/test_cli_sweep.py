"""`gradient-workbench sweep`: checks before anything runs, the folder it writes, progress lines,
exit codes, Ctrl-C in a real subprocess, and a dead scheduler address."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.shipped import example_path
from tests.sweeps.helpers import tiny_spec
from workbench.cli import main
from workbench.experiment import save_experiment
from workbench.model.sweep.results import read_sweep

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    save_experiment(tiny_spec(epochs=2), path)
    return path


def test_a_sweep_writes_run_folders_and_sweep_csv(experiment: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["sweep", str(experiment), "--set", "optimizer.lr=0.1,0.01",
                 "--set", "training.batch_size=16,64", "--workers", "2", "--out", str(out)])
    printed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert printed[0] == f"sweep of 'tiny': 4 runs on this machine, 2 worker processes; writing {out}"
    progress = [line for line in printed if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert all("finished  val_accuracy" in line and "ETA" in line for line in progress)
    assert progress[-1].endswith("ETA 0:00:00")
    table = read_sweep(out)
    assert sorted(row["run"] for row in table.rows) == sorted(
        ["lr=0.1 batch_size=16", "lr=0.1 batch_size=64", "lr=0.01 batch_size=16", "lr=0.01 batch_size=64"])
    assert {row["status"] for row in table.rows} == {"finished"}
    for row in table.rows:
        folder = table.run_folder(row)
        assert sorted(p.name for p in folder.iterdir()) == ["experiment.json", "history.csv", "model.onnx",
                                                           "summary.json", "weights.npz"]
    assert any(line.startswith("best val_accuracy") for line in printed)
    # The folder is never overwritten: a second sweep into it is refused before anything runs.
    assert main(["sweep", str(experiment), "--set", "optimizer.lr=0.1", "--out", str(out)]) == 2
    assert "already holds a sweep" in capsys.readouterr().err


def test_invalid_input_exits_2_before_anything_runs(experiment: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "never"
    assert main(["sweep", str(experiment), "--set", "optimizer.lr=0.1", "--set", "optimizer.bogus=1",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("--set optimizer.bogus: 'bogus' is not an option of optimizer 'adam' "
                   "(options: beta1, beta2, eps, weight_decay, amsgrad)\n")
    assert main(["sweep", str(experiment), "--set", "optimizer.lr=1e-4..1e-1", "--out", str(out)]) == 2
    assert "add --random N" in capsys.readouterr().err
    assert main(["sweep", str(experiment), "--set", "optimizer.lr=0.1", "--workers", "2",
                 "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)]) == 2
    assert main(["sweep", str(experiment), "--out", str(out)]) == 2  # --set is required
    assert not out.exists()


def test_a_diverged_run_is_a_result_and_random_samples_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    code = main(["sweep", str(example_path("exploding-gradients")), "--set", "optimizer.lr=1e-3..1e-2",
                 "--random", "2", "--seeds", "2", "--epochs", "1", "--workers", "2", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    table = read_sweep(out)
    assert len(table.rows) == 4 and [row["seed"] for row in table.rows] == [0, 1, 0, 1]
    assert all(1e-3 <= row["optimizer.lr"] <= 1e-2 for row in table.rows)
    assert "diverged" in {row["status"] for row in table.rows}
    assert all(table.run_folder(row).is_dir() for row in table.rows)  # written like any result


def test_an_unreachable_scheduler_times_out_with_a_clear_message(experiment: Path, tmp_path: Path,
                                                                 capsys) -> None:
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    code = main(["sweep", str(experiment), "--set", "optimizer.lr=0.1", "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--connect-timeout", "2", "--out", str(tmp_path / "d")])
    assert code == 5
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    address = f"tcp://127.0.0.1:{port}"
    assert err.startswith(f"--scheduler: cannot reach the Dask scheduler at {address} within 2 s")
    assert "dask scheduler" in err
    assert not (tmp_path / "d").exists()


def test_ctrl_c_cancels_what_has_not_started_and_keeps_what_finished(tmp_path: Path) -> None:
    path = tmp_path / "slow.json"
    save_experiment(tiny_spec(epochs=40, n_samples=600), path)
    out = tmp_path / "c"
    lrs = ",".join(str(0.001 * (k + 1)) for k in range(8))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "workbench", "sweep", str(path), "--set", f"optimizer.lr={lrs}",
               "--workers", "1", "--out", str(out)]
    proc = subprocess.Popen(command, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("[1/8]"):
                break
        proc.send_signal(signal.SIGINT)  # as Ctrl-C: the workers ignore it, the sweep decides
        rest, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "runs not started are cancelled" in err
    table = read_sweep(out)
    statuses = [row["status"] for row in table.rows]
    assert len(statuses) == 8  # the whole sweep is listed
    done = [row for row in table.rows if row["status"] == "finished"]
    assert 1 <= len(done) <= 2 and statuses.count("cancelled") == 8 - len(done)
    assert statuses[: len(done)] == ["finished"] * len(done)  # with one worker, in order
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(row["folder"] for row in done)
    assert len([line for line in (lines + rest.splitlines()) if line.startswith("[")]) == len(done)
