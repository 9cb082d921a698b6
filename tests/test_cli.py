"""The command line: run, validate, exit codes, Ctrl-C, and opening the app."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest

import engine.trainer
from engine.shipped import example_path
from engine.spec import ExperimentSpec
from workbench.cli import main
from workbench.experiment import load_experiment, save_experiment

REPO = Path(__file__).resolve().parents[1]


def _small(tmp_path: Path, **changes: object) -> Path:
    spec = ExperimentSpec(
        name="cli test",
        data={"source": "spiral_multi", "n_samples": 90},
        training={"epochs": 2, "batch_size": 30},
        variants=[{"name": "sgd", "overrides": {"optimizer.name": "sgd", "optimizer.lr": 0.1}}],
    )
    if changes:
        spec = spec.with_overrides(changes).model_copy(update={"variants": spec.variants})
    path = tmp_path / "exp.json"
    save_experiment(spec, path)
    return path


def test_run_writes_the_folder_and_logs_each_epoch(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert main(["run", str(_small(tmp_path)), "--out", str(out), "--epochs", "3", "--seed", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("epoch ") for line in lines) == 3
    assert "accuracy" in lines[1] and "loss" in lines[1]
    as_run = load_experiment(out / "experiment.json")
    assert as_run.training.epochs == 3 and as_run.seed == 5 and as_run.variants == ()
    assert json.loads((out / "summary.json").read_text())["status"] == "finished"
    assert (out / "model.onnx").exists() and (out / "weights.npz").exists()


def test_run_every_variant(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(_small(tmp_path)), "--variant", "all", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["base", "sgd"]
    assert load_experiment(out / "sgd" / "experiment.json").optimizer.name == "sgd"


def test_run_one_variant_and_a_misspelled_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _small(tmp_path)
    assert main(["run", str(path), "--variant", "sgd", "--out", str(tmp_path / "o")]) == 0
    assert load_experiment(tmp_path / "o" / "experiment.json").name == "cli test [sgd]"
    assert main(["run", str(path), "--variant", "sdg"]) == 2
    assert "no variant 'sdg'; did you mean 'sgd'?" in capsys.readouterr().err


def test_invalid_experiment_exits_2_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "bad.json"
    data = json.loads(_small(tmp_path).read_text())
    data["optimizer"]["name"] = "adma"
    data["training"]["epochs"] = 0
    path.write_text(json.dumps(data))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # Structure first: the name typo is reported once the file is well-formed.
    assert err == [f"{path}: training.epochs: 0 is below the minimum 1"]
    data["training"]["epochs"] = 1
    path.write_text(json.dumps(data))
    assert main(["validate", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"{path}: optimizer.name: 'adma' is not an optimizer; did you mean 'adam'?")


def test_validate_many_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = _small(tmp_path)
    bad = tmp_path / "broken.json"
    bad.write_text("{ nope")
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"{good}: ok (1 variants)"
    assert main(["validate", str(good), str(bad), str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not valid JSON" in err[0] and "cannot read" in err[1]


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    path = str(_small(tmp_path))
    assert main(["run", path, "--epochs", "0"]) == 2
    assert main(["run", path, "--seed", "x"]) == 2
    assert main(["frobnicate", "a", "b"]) == 2


def test_broken_csv_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,x\n3,oops,y\n")
    path = _small(tmp_path, **{"data.source": "csv", "data.path": "d.csv"})
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "d.csv" in err and "Traceback" not in err


def test_diverged_run_exits_1_and_still_writes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = example_path("exploding-gradients")
    out = tmp_path / "out"
    assert main(["run", str(src), "--epochs", "1", "--out", str(out)]) == 1
    assert json.loads((out / "summary.json").read_text())["status"] == "diverged"
    assert "diverged" in capsys.readouterr().err.lower()


def test_ctrl_c_stops_after_the_step_and_still_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    class InterruptedTrainer(engine.trainer.Trainer):
        def run(self, epochs: int | None = None):  # type: ignore[override]
            for event in super().run(epochs):
                yield event
                if getattr(event, "epoch", 0) == 1 and type(event).__name__ == "EpochMetrics":
                    signal.raise_signal(signal.SIGINT)  # as if the user pressed Ctrl-C now

    monkeypatch.setattr(engine.trainer, "Trainer", InterruptedTrainer)
    out = tmp_path / "out"
    assert main(["run", str(_small(tmp_path)), "--epochs", "50", "--out", str(out)]) == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["epochs"] in (1, 2)
    assert (out / "weights.npz").exists()
    assert "stopping after this step" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_no_command_or_a_file_opens_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    fake = types.ModuleType("workbench.app")
    fake.main = lambda path=None: opened.append(path) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "workbench.app", fake)
    assert main([]) == 0
    assert main(["experiments/default-spiral.json"]) == 0
    assert opened == [None, "experiments/default-spiral.json"]


def test_run_in_a_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "run", str(_small(tmp_path)), "--epochs", "1", "--out", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "epoch 1/1" in proc.stdout
    assert (out / "history.csv").read_text().count("\n") == 2
    bad = subprocess.run([sys.executable, "-m", "workbench", "validate", str(tmp_path / "nope.json")],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_headless_modules_import_no_qt() -> None:
    code = (
        "import sys, workbench.cli, workbench.experiment, workbench.runs, workbench.export\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {'PySide6', 'pyqtgraph'})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert proc.stdout.strip() == ""


def test_opening_the_app_without_a_display_says_how_to_proceed(monkeypatch, capsys) -> None:
    from workbench.app import main as app_main

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert app_main(None) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "gradient-workbench run" in err


def test_lr_find_prints_a_suggestion_or_inconclusive_and_exits_0(capsys: pytest.CaptureFixture) -> None:
    assert main(["lr-find", str(REPO / "experiments" / "default-spiral.json"), "--steps", "60"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("range test of 'Three-class spiral' (base): adam, batch 16")
    assert lines[1].startswith(("suggested learning rate ", "inconclusive: "))
    assert [line.split()[0] for line in lines[3:]] == ["valley", "steep", "minimum/10", "argmin"]


def test_lr_find_with_too_few_steps_is_inconclusive_with_a_reason(capsys: pytest.CaptureFixture) -> None:
    # 12 steps over seven decades: the loss falls by less than 3x the noise of its estimate.
    assert main(["lr-find", str(REPO / "experiments" / "default-spiral.json"), "--steps", "12"]) == 0
    verdict = capsys.readouterr().out.splitlines()[1]
    assert verdict.startswith("inconclusive: ") and "steps" in verdict


def test_lr_find_rejects_bad_input_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["lr-find", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["lr-find", str(_small(tmp_path)), "--variant", "nope"]) == 2
    assert "no variant 'nope'" in capsys.readouterr().err
