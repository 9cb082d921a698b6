"""Hostile files and faults (issue 11): each class of fault the adversarial pass found.

Every reader answers with its own error type, in bounded time and memory, and changes
nothing; run folders are written whole or not at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.data import DataError
from engine.events import RunFinished
from engine.optimizers import LBFGS
from engine.spec import ExperimentSpec
from engine.trainer import Trainer
from tests.hostile import fifo, huge_header_npz, lying_zip_bomb, many_entries_npz, sparse_file, zip_bomb
from workbench.cli import main
from workbench.experiment import ExperimentError, load_experiment, loads_experiment, save_experiment
from workbench.export import WeightsError, load_weights, read_weight_arrays, save_weights
from workbench.runs import RunError, read_run, write_run

REPO = Path(__file__).resolve().parents[1]


def finishes(fn: Callable[[], object], seconds: float = 20.0) -> object:
    """Call ``fn`` in a thread; fail (instead of hanging the suite) if it has not returned in time."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn} did not return within {seconds} s"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def _spec(**changes: object) -> ExperimentSpec:
    spec = ExperimentSpec(name="hostile", seed=1, data={"source": "moons", "n_samples": 60},
                          training={"epochs": 2, "batch_size": 30})
    return spec.with_overrides(changes) if changes else spec


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    trainer = Trainer(_spec())
    finished = next(e for e in trainer.run() if isinstance(e, RunFinished))
    return write_run(tmp_path_factory.mktemp("runs") / "good", trainer.spec, trainer.history,
                     trainer.network, finished, loss=trainer.loss)


def _copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


# --------------------------------------------------------------------------- 1. NPZ weights
def test_zip_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.npz", 1024)  # 1 MB on disk, 1 GB inflated
    assert bomb.stat().st_size < 3 * 2**20
    with pytest.raises(WeightsError, match=r"would inflate to 1,024\.0 MB; the limit is"):
        finishes(lambda: read_weight_arrays(bomb), 5)


def test_an_archive_of_a_million_entries_is_refused_before_listing_them(tmp_path: Path) -> None:
    path = many_entries_npz(tmp_path / "many.npz", 100_000)
    with pytest.raises(WeightsError, match="holds 100,000 entries"):
        finishes(lambda: read_weight_arrays(path), 5)


def test_a_member_lying_about_its_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"lie\.npz"):
        read_weight_arrays(lying_zip_bomb(tmp_path / "lie.npz", 16))


@pytest.mark.parametrize("make, message", [
    (huge_header_npz, r"declares shape \(549755813888,\) of float64 \(4,398,046,511,104 bytes\)"),
    (lambda p: (np.save(p.with_suffix(".npy"), np.zeros(3)), p.with_suffix(".npy").rename(p))[1],
     "not a readable .npz archive"),
    (lambda p: np.savez(p, **{"__architecture__": np.array("{not json")}) or p, "is not valid JSON"),
    (lambda p: np.savez(p, **{"__architecture__": np.array("[1, 2]")}) or p, "is not a JSON object"),
    (lambda p: np.savez(p, a=np.array([{}], dtype=object)) or p, "objects are never unpickled"),
    (lambda p: p.write_bytes(b"PK\x03\x04 truncated") and p, "not a readable .npz archive"),
])
def test_broken_weights_files_raise_weights_error(tmp_path: Path, make: Callable, message: str) -> None:
    path = tmp_path / "w.npz"
    make(path)
    with pytest.raises(WeightsError, match=message):
        read_weight_arrays(path)


def test_non_finite_weights_are_refused_by_name(tmp_path: Path) -> None:
    trainer = Trainer(_spec())
    path = tmp_path / "w.npz"
    save_weights(trainer.network, path, trainer.spec)
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["dense2.W"] = arrays["dense2.W"].copy()
    arrays["dense2.W"][0, 0] = np.inf
    arrays["output.b"] = np.full_like(arrays["output.b"], np.nan)
    np.savez(path, **arrays)
    before = trainer.network.params.copy()
    with pytest.raises(WeightsError) as info:
        load_weights(trainer.network, path)
    assert "dense2.W holds 1 NaN or infinite value(s)" in str(info.value)
    assert "output.b holds" in str(info.value)
    np.testing.assert_array_equal(trainer.network.params, before)  # nothing changed


# -------------------------------------------------------------------------- 2. size caps
def test_a_wide_csv_cannot_push_the_input_layer_past_the_cap(tmp_path: Path) -> None:
    width = 6000
    header = ",".join(f"c{i}" for i in range(width)) + ",y\n"
    rows = "".join(",".join(["1"] * width) + f",{i % 2}\n" for i in range(4))
    (tmp_path / "wide.csv").write_text(header + rows)
    spec = _spec(**{"data.source": "csv", "data.path": "wide.csv",
                    "model.layers": [{"type": "dense", "units": 4096}]})
    with pytest.raises(DataError, match=r"would hold 24,\d{3},\d{3} parameters; at most 20,000,000"):
        Trainer(spec, base_dir=tmp_path)


def test_the_input_width_of_derived_features_counts(tmp_path: Path) -> None:
    text = json.dumps({"format": "gradient-workbench/experiment", "version": 1,
                       "data": {"source": "moons", "features": ["x1"] * 500}})
    with pytest.raises(ExperimentError, match="features: has 500 items; at most 7"):
        loads_experiment(text)
    text = json.dumps({"format": "gradient-workbench/experiment", "version": 1,
                       "data": {"source": "moons", "features": ["x1", "x1"]}})
    with pytest.raises(ExperimentError, match="'x1' listed more than once"):
        loads_experiment(text)


def test_the_problem_list_is_capped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    variants = [{"name": f"v{i}", "overrides": {"optimizer.nope": 1, "data.nope": 2}} for i in range(64)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps({"format": "gradient-workbench/experiment", "version": 1,
                                "variants": variants}))
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 51 and lines[-1].endswith("and 14 more problems")
    huge = tmp_path / "huge.json"
    layers = "1," * 999_999 + "1"
    huge.write_text('{"format": "gradient-workbench/experiment", "model": {"layers": [' + layers + "]}}")
    assert main(["validate", str(huge)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{huge}: a list or object holds 1,000,000 items; no experiment needs more than 1,000"]


def test_a_csv_with_too_many_values_is_refused_before_allocating(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.data import csvfile

    monkeypatch.setattr(csvfile, "MAX_CELLS", 100)
    (tmp_path / "d.csv").write_text("a,b\n" + "".join(f"{i},{i % 2}\n" for i in range(60)))
    with pytest.raises(DataError, match="60 rows of 2 values; at most 100 values"):
        csvfile.load_csv(tmp_path / "d.csv")


# ---------------------------------------------------------------- 3. readers that hung
def test_fifos_are_refused_at_once(tmp_path: Path, run_folder: Path) -> None:
    with pytest.raises(ExperimentError, match="named pipe"):
        finishes(lambda: load_experiment(fifo(tmp_path / "exp.json")))
    (tmp_path / "d.csv").unlink(missing_ok=True)
    fifo(tmp_path / "d.csv")
    with pytest.raises(DataError, match="named pipe"):
        finishes(lambda: Trainer(_spec(**{"data.source": "csv", "data.path": "d.csv"}), base_dir=tmp_path))
    for name in ("experiment.json", "summary.json", "history.csv"):
        folder = _copy_run(run_folder, tmp_path / f"run-{name}")
        (folder / name).unlink()
        fifo(folder / name)
        with pytest.raises(RunError, match="named pipe"):
            finishes(lambda folder=folder: read_run(folder))


def test_devices_and_oversized_run_files_are_refused(tmp_path: Path, run_folder: Path) -> None:
    folder = _copy_run(run_folder, tmp_path / "run")
    (folder / "history.csv").unlink()
    (folder / "history.csv").symlink_to("/dev/zero")
    with pytest.raises(RunError, match="is a device, not a regular file"):
        finishes(lambda: read_run(folder))
    (folder / "history.csv").unlink()
    sparse_file(folder / "history.csv", 316 * 2**20)
    with pytest.raises(RunError, match=r"316\.0 MB; the limit is 32\.0 MB"):
        finishes(lambda: read_run(folder), 5)


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "summary.json").unlink(), "summary .* does not exist"),
    (lambda f: (f / "experiment.json").unlink(), "experiment.json: cannot read"),
    (lambda f: (f / "history.csv").write_text(""), "has no column epoch"),
    (lambda f: (f / "history.csv").write_text("epoch,step\n1\n"), "line 2: 1 values, expected 2"),
    (lambda f: (f / "summary.json").write_text("[1, 2]"), "holds list, not a JSON object"),
    (lambda f: (f / "summary.json").write_text('{"a": NaN}'), "not valid JSON"),
    (lambda f: (f / "history.csv").write_bytes(b"epoch\n\xff\n"), "not UTF-8"),
])
def test_read_run_raises_one_error_type(tmp_path: Path, run_folder: Path, damage: Callable,
                                        message: str) -> None:
    folder = _copy_run(run_folder, tmp_path / "run")
    damage(folder)
    with pytest.raises(RunError, match=message):
        read_run(folder)


def test_a_damaged_history_row_names_its_line(tmp_path: Path, run_folder: Path) -> None:
    folder = _copy_run(run_folder, tmp_path / "run")
    lines = (folder / "history.csv").read_text().splitlines()
    cells = lines[2].split(",")
    cells[3] = "oops"
    lines[2] = ",".join(cells)
    (folder / "history.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(RunError, match="line 3: 'oops' is not a number"):
        read_run(folder)


def test_read_run_checks_the_weights_up_front(tmp_path: Path, run_folder: Path) -> None:
    record = read_run(run_folder)
    assert record.weights is not None and "output.W" in record.weights and record.weights_error is None
    folder = _copy_run(run_folder, tmp_path / "run")
    zip_bomb(folder / "weights.npz", 1024)
    record = finishes(lambda: read_run(folder), 5)
    assert record.weights is None and "would inflate" in record.weights_error  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- 4. output faults
def test_a_bad_out_exits_2_before_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _experiment(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    for out in (blocker, blocker / "below"):
        assert main(["run", str(path), "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert "training" not in captured.out and "--out" in captured.err
        assert "Traceback" not in captured.err
    assert blocker.read_text() == "mine"


def test_out_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # The user's experiment file sits in the folder given as --out.
    path = _experiment(tmp_path)
    original = path.read_bytes()
    assert main(["run", str(path), "--out", str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert path.read_bytes() == original
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    summary = (out / "summary.json").read_bytes()
    assert main(["run", str(path), "--out", str(out), "--seed", "9"]) == 2
    assert (out / "summary.json").read_bytes() == summary
    (tmp_path / "empty").mkdir()
    assert main(["run", str(path), "--out", str(tmp_path / "empty")]) == 0  # an empty folder is fine


def test_a_failed_write_leaves_no_folder_and_a_rewrite_never_mixes(tmp_path: Path, run_folder: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.export

    trainer = Trainer(_spec())
    finished = next(e for e in trainer.run() if isinstance(e, RunFinished))

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workbench.export, "save_weights", broken)
    with pytest.raises(OSError, match="No space"):
        write_run(tmp_path / "new", trainer.spec, trainer.history, trainer.network, finished)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary sibling
    monkeypatch.undo()
    old = _copy_run(run_folder, tmp_path / "old")
    before = {f.name: f.read_bytes() for f in old.iterdir()}
    with pytest.raises(RunError, match="already exists"):
        write_run(old, trainer.spec, trainer.history, trainer.network, finished)
    assert {f.name: f.read_bytes() for f in old.iterdir()} == before


def test_a_write_failure_after_training_saves_to_a_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture) -> None:
    import workbench.runs

    path = _experiment(tmp_path)
    out = tmp_path / "out"
    real = workbench.runs._write_files

    def full_disk(partial: Path, *args: object) -> None:
        if partial.parent == tmp_path:  # the asked-for folder's sibling: as if the disk filled up
            raise OSError(28, "No space left on device")
        real(partial, *args)

    monkeypatch.setattr(workbench.runs, "_write_files", full_disk)
    monkeypatch.setattr(workbench.runs, "fallback_folder", lambda spec: tmp_path / "rescue" / "run")
    assert main(["run", str(path), "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert f"cannot write {out}: No space left on device" in err
    assert f"saved the run to {tmp_path / 'rescue' / 'run'} instead" in err
    assert json.loads((tmp_path / "rescue" / "run" / "summary.json").read_text())["status"] == "finished"
    assert not out.exists()


def test_variant_folders_are_unique_and_base_all_are_reserved(tmp_path: Path) -> None:
    spec = ExperimentSpec(name="v", data={"source": "moons", "n_samples": 40},
                          training={"epochs": 1, "batch_size": 40},
                          variants=[{"name": n, "overrides": {"seed": i}}
                                    for i, n in enumerate(("a/b", "a b", "a?b", "A-B"), start=10)])
    path = tmp_path / "v.json"
    save_experiment(spec, path)
    assert main(["run", str(path), "--variant", "all", "--out", str(tmp_path / "out")]) == 0
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert folders == ["A-B-4", "a-b", "a-b-2", "a-b-3", "base"]
    seeds = {json.loads((tmp_path / "out" / f / "experiment.json").read_text())["seed"] for f in folders}
    assert len(seeds) == 5  # five different runs, none overwritten
    for name in ("base", "all", "All"):
        data = spec.model_dump(mode="json")
        data["variants"] = [{"name": name, "overrides": {}}]
        with pytest.raises(ExperimentError, match=f"{name!r} is reserved"):
            loads_experiment(json.dumps(data))


# ------------------------------------------------------------------- 5. signals and stopping
def test_lbfgs_stops_between_iterations() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 20))
    params = rng.normal(size=20)
    opt = LBFGS(params, max_iter=1000, tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="none",
                lr=1e-3)
    asked = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) >= 3

    opt.step(None, lambda: (float(params @ a @ a.T @ params), 2 * a @ a.T @ params), should_stop=should_stop)
    assert opt.n_iter == 3


@pytest.mark.parametrize("option, value", [("max_iter", 10**9), ("max_eval", 10**9), ("history_size", 10**7),
                                           ("tolerance_grad", -1.0), ("tolerance_change", -1e-9)])
def test_lbfgs_options_have_bounds(option: str, value: float) -> None:
    data = _spec().model_dump(mode="json")
    data["optimizer"] = {"name": "lbfgs", "lr": 1.0, option: value}
    with pytest.raises(ExperimentError, match=f"optimizer.{option}: .* is not between"):
        loads_experiment(json.dumps(data))


def test_stop_request_ends_a_long_lbfgs_step() -> None:
    spec = _spec(**{"optimizer": {"name": "lbfgs", "lr": 1.0, "max_iter": 1000, "tolerance_grad": 0.0,
                                  "tolerance_change": 0.0, "line_search_fn": "none"},
                    "training.epochs": 1})
    trainer = Trainer(spec)
    calls = {"n": 0}
    real = trainer.network.forward

    def forward(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 5:
            trainer.request_stop()
        return real(*args, **kwargs)

    trainer.network.forward = forward  # type: ignore[method-assign]
    events = list(trainer.run())
    assert trainer.optimizer.n_iter < 10 and isinstance(events[-1], RunFinished)


def _experiment(tmp_path: Path, epochs: int = 2) -> Path:
    path = tmp_path / "exp.json"
    save_experiment(_spec(**{"training.epochs": epochs}), path)
    return path


def _start(tmp_path: Path, out: Path, epochs: int = 100_000) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", str(_experiment(tmp_path, epochs)), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


def _wait_for_epoch(proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("epoch "):
            return
    raise AssertionError(proc.stderr.read() if proc.stderr else "no epoch line")


@pytest.mark.parametrize("signum, code", [(2, 130), (15, 143)])
def test_a_signal_stops_cleanly_and_writes(tmp_path: Path, signum: int, code: int) -> None:
    out = tmp_path / "out"
    proc = _start(tmp_path, out)
    _wait_for_epoch(proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["duration_seconds"] > 0


def test_a_second_signal_aborts_leaving_nothing_under_the_final_name(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture) -> None:
    import signal

    import workbench.runs

    real = workbench.runs._write_files

    def interrupted_save(partial: Path, *args: object) -> None:
        real(partial, *args)
        signal.raise_signal(signal.SIGTERM)  # first signal while saving: the save goes on
        signal.raise_signal(signal.SIGTERM)  # second: abort

    monkeypatch.setattr(workbench.runs, "_write_files", interrupted_save)
    out = tmp_path / "out"
    assert main(["run", str(_experiment(tmp_path)), "--out", str(out)]) == 143
    err = capsys.readouterr().err
    assert "SIGTERM: stopped at once; nothing written" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.json"]  # no folder, no temporary


def test_a_signal_while_loading_data_exits_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    import signal

    import engine.trainer

    class SlowToLoad(engine.trainer.Trainer):
        def __init__(self, *args: object, **kwargs: object) -> None:
            signal.raise_signal(signal.SIGINT)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.trainer, "Trainer", SlowToLoad)
    assert main(["run", str(_experiment(tmp_path)), "--out", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err
    assert "SIGINT: stopped before training; nothing written" in err
    assert not (tmp_path / "out").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_duration_is_recorded_for_every_ending() -> None:
    for changes in ({}, {"training.early_stopping_patience": 1, "training.epochs": 200}):
        trainer = Trainer(_spec(**changes))
        events = list(trainer.run())
        finished = events[-1]
        assert isinstance(finished, RunFinished)
        last_epoch = [e for e in events if type(e).__name__ == "EpochMetrics"][-1]
        assert finished.seconds >= last_epoch.seconds > 0
    trainer = Trainer(_spec(**{"training.epochs": 50}))
    run = trainer.run()
    for event in run:
        if type(event).__name__ == "EpochMetrics" and event.epoch == 3:
            trainer.request_stop()
    assert trainer.status == "stopped" and trainer.seconds >= event.seconds > 0


# --------------------------------------------------------------------------------- 7. paths
def test_a_shared_file_cannot_read_outside_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "creds.csv").write_text("user,password\n" + "".join(f"{i},pw{i}\n" for i in range(10)))
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "inside.csv").write_text("a,b\n" + "".join(f"{i},{i % 2}\n" for i in range(10)))
    (shared / "link.csv").symlink_to(secret / "creds.csv")
    for path in ("../secret/creds.csv", str(secret / "creds.csv"), "link.csv"):
        spec = _spec(**{"data.source": "csv", "data.path": path})
        save_experiment(spec, shared / "exp.json")
        assert main(["run", str(shared / "exp.json"), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert "leads outside the experiment's folder" in err and "pw" not in err
        assert main(["validate", str(shared / "exp.json")]) == 2
        assert "leads outside" in capsys.readouterr().err
        assert main(["validate", "--allow-data-outside", str(shared / "exp.json")]) == 0
    save_experiment(_spec(**{"data.source": "csv", "data.path": "inside.csv"}), shared / "exp.json")
    assert main(["run", str(shared / "exp.json"), "--out", str(tmp_path / "o")]) == 0
    save_experiment(_spec(**{"data.source": "csv", "data.path": "../secret/creds.csv"}), shared / "exp.json")
    code = main(["run", str(shared / "exp.json"), "--out", str(tmp_path / "o2"), "--allow-data-outside"])
    assert code == 0 and "../secret/creds.csv" in capsys.readouterr().out  # read, as the user allowed


# ------------------------------------------------------------------------------- memory bound
MEMORY_PROBE = textwrap.dedent("""
    import os, resource, sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from workbench.export import WeightsError, read_weight_arrays
    from workbench.runs import RunError, read_run
    folder = Path({folder!r})
    # A process's ru_maxrss starts at its parent's size when it was forked (pytest is large),
    # so the read runs in a child of this small process, its peak reset to now (Linux).
    pid = os.fork()
    if pid == 0:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for reader, path in ((read_weight_arrays, folder / "bomb.npz"), (read_run, folder / "run")):
            try:
                reader(path)
            except (WeightsError, RunError):
                pass
        hostile = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
        control = read_weight_arrays(folder / "control.npz")  # 80 MB of honest weights: must show
        total = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
        print(hostile, total, flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
""")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux to reset the peak RSS")
def test_hostile_files_cost_little_memory(tmp_path: Path, run_folder: Path) -> None:
    zip_bomb(tmp_path / "bomb.npz", 2048)
    folder = _copy_run(run_folder, tmp_path / "run")
    (folder / "history.csv").unlink()
    sparse_file(folder / "history.csv", 1 << 30)
    np.savez(tmp_path / "control.npz", w=np.ones(10 * 2**20))
    script = MEMORY_PROBE.format(repo=str(REPO), folder=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    hostile, total = map(float, proc.stdout.split())
    assert hostile < 50  # MB: a 2 GB zip bomb and a 1 GB history cost almost nothing to refuse
    assert total > 75  # the measure does see memory: the 80 MB control file shows
