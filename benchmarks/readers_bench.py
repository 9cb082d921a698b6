"""Each reader's worst case: the largest file it accepts, and the worst hostile file it refuses.

Every file is read in a fresh subprocess, its peak resident memory (``VmHWM``, what
``getrusage`` reports without the size inherited from the forking parent) reset to the current
size just before (``/proc/self/clear_refs``, Linux), so the peak belongs to that one read.
Printed per file: its size, the peak memory the read added over
the interpreter with everything imported, that peak as a multiple of the file's size, the
time, and that time as a multiple of plainly reading the same bytes (``Path.read_bytes``)
in the same subprocess: ratios, which mean something across machines.

    python -m benchmarks.readers_bench
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

_PROBE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from engine.data.csvfile import load_csv
    from workbench.experiment import load_experiment
    from workbench.export import read_weight_arrays
    from workbench.runs import read_run
    kind, path = sys.argv[1], Path(sys.argv[2])
    readers = {"experiment": load_experiment, "csv": load_csv, "weights": read_weight_arrays, "run": read_run}
    # Reset the peak to the current size (Linux), so the imports' own peak does not hide the read's.
    # VmHWM, not getrusage: a child's ru_maxrss starts at its parent's size when it was forked.
    def peak_kb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = peak_kb()
    t = time.perf_counter()
    try:
        readers[kind](path)
        outcome = "accepted"
    except ValueError as exc:
        outcome = type(exc).__name__
    seconds = time.perf_counter() - t
    peak = (peak_kb() - before) / 1024
    # Measured after the reader, so its bytes do not count in the reader's peak.
    plain = path / "history.csv" if path.is_dir() else path
    t = time.perf_counter()
    plain.read_bytes()
    baseline = time.perf_counter() - t
    print(outcome, peak, seconds, baseline)
""")


def _experiment(folder: Path) -> Path:
    from engine.spec import ExperimentSpec
    from workbench.experiment import dumps
    from workbench.experiment.io import MAX_FILE_BYTES

    text = dumps(ExperimentSpec(name="big", variants=[
        {"name": f"v{i}", "overrides": {"optimizer.lr": 0.001 * (i + 1), "seed": i}} for i in range(64)
    ]))
    padding = MAX_FILE_BYTES - len(text.encode()) - 16  # JSON allows any amount of whitespace
    path = folder / "largest.json"
    path.write_text(text[:-2] + " " * padding + text[-2:])
    return path


def _csv(folder: Path) -> Path:
    from engine.data import csvfile

    width = 10  # 9 features and a label: MAX_CELLS values in just under MAX_BYTES
    rows = min(csvfile.MAX_CELLS // width, (csvfile.MAX_BYTES - 200) // (width * 5))
    a = ",".join(["1.25"] * (width - 1)) + ",0\n"
    b = ",".join(["2.50"] * (width - 1)) + ",1\n"
    path = folder / "largest.csv"
    with path.open("w") as f:
        f.write(",".join(f"c{i}" for i in range(width)) + "\n")
        f.write((a + b) * (rows // 2))
    return path


def _weights(folder: Path) -> Path:
    from engine.spec import MAX_PARAMETERS

    # Parameter arrays of a network at the parameter cap (as many dense layers would store them).
    rng = np.random.default_rng(0)
    arrays = {f"dense{i}.W": rng.standard_normal((1000, MAX_PARAMETERS // 1000 // 20)) for i in range(1, 21)}
    path = folder / "largest.npz"
    np.savez(path, **arrays)
    return path


def _run(folder: Path) -> Path:
    from workbench.runs import MAX_HISTORY_BYTES, MAX_HISTORY_VALUES

    layers = [f"dense{i}" for i in range(1, 65)] + ["output"]
    header = ["epoch", "step", "train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "seconds"]
    header += [f"{p}/{layer}" for p in ("grad_norm", "weight_norm", "update_ratio") for layer in layers]
    rows = min(MAX_HISTORY_VALUES // len(header) - 2, MAX_HISTORY_BYTES // (len(header) * 8))
    run = folder / "run"
    run.mkdir()
    src = REPO / "experiments" / "default-spiral.json"
    (run / "experiment.json").write_bytes(src.read_bytes())
    (run / "summary.json").write_text(json.dumps({"status": "finished", "metric_name": "accuracy"}))
    with (run / "history.csv").open("w") as f:
        f.write(",".join(header) + "\n")
        tail = ",".join(["0.1234"] * (len(header) - 2))
        for i in range(1, rows + 1):
            f.write(f"{i},{i},{tail}\n")
    return run


def _hostile(folder: Path) -> dict[str, Path]:
    sys.path.insert(0, str(REPO))
    from tests.hostile import sparse_file, zip_bomb

    bomb = zip_bomb(folder / "bomb.npz", 4096)
    run = folder / "bad-run"
    run.mkdir()
    (run / "experiment.json").write_bytes((REPO / "experiments" / "default-spiral.json").read_bytes())
    (run / "summary.json").write_text("{}")
    sparse_file(run / "history.csv", 1 << 30)
    return {"weights": bomb, "run": run}


def _measure(kind: str, path: Path) -> tuple[str, float, float, float]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, kind, str(path)], capture_output=True, text=True,
                          cwd=REPO, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    outcome, peak, seconds, baseline = proc.stdout.split()
    return outcome, float(peak), float(seconds), float(baseline)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir()) if path.is_dir() else path.stat().st_size


def main() -> None:
    print("\nReaders: the largest accepted file of each kind, and the worst hostile file refused")
    print(f"{'file':34} {'size MB':>9} {'outcome':>13} {'peak MB':>8} {'peak/size':>9} {'s':>7} "
          f"{'s/plain read':>12}")
    with tempfile.TemporaryDirectory(prefix="reader-bench-") as tmp:
        folder = Path(tmp)
        cases = [("experiment", "largest experiment file", _experiment(folder)),
                 ("csv", "largest CSV", _csv(folder)),
                 ("weights", "largest weights file", _weights(folder)),
                 ("run", "largest run folder", _run(folder))]
        hostile = _hostile(folder)
        cases += [("weights", "zip bomb (4 GB inflated)", hostile["weights"]),
                  ("run", "1 GB history.csv", hostile["run"])]
        for kind, label, path in cases:
            outcome, peak, seconds, baseline = _measure(kind, path)
            size = _size(path) / 2**20
            ratio = seconds / baseline if baseline > 0 else float("nan")
            print(f"{label:34} {size:9.1f} {outcome:>13} {peak:8.1f} {peak / size:9.2f} {seconds:7.2f} "
                  f"{ratio:12.1f}")


if __name__ == "__main__":
    main()
