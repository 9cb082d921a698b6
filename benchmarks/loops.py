"""Steps per second of the engine's scripting loop, the Trainer and a bare NumPy loop, as ratios.

Nets (``benchmarks/workloads.py``): the TensorFlow Playground net (2-8-8-1 tanh, MSE, SGD,
batch 10, 500 points) and 784-256-128-10 ReLU with Adam at batch 64. Targets (issue 17):
the Trainer at ≥ 0.5× the engine loop on the tiny net and ≥ 0.85× on the Adam net; the engine
loop at ≥ 1.7× an older checkout's (give its path to compare: ``--baseline DIR`` or
``BENCH_BASELINE=DIR make bench``, e.g. after ``git worktree add /tmp/base <commit>``); on the
tiny net, the engine loop at ≥ 1.0× TensorFlow Playground's own engine under Node and the
Trainer at ≥ 0.6× it (give a copy of its ``src/nn.ts``: ``PLAYGROUND_NN_TS=PATH``; see
``benchmarks/playground.py``).

Every loop runs in its own child process (the same for this checkout and the baseline), and
the children take turns running short blocks (whole epochs, at least ~20 ms): a burst of load
from another process hits every loop alike, and the best block of each is kept. Ratios are the
figures to read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import playground

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class Child:
    """A ``baseline_child.py`` process timing loops from the engine at ``checkout``."""

    def __init__(self, checkout: Path, command: list[str] | None = None) -> None:
        """``command``: another program speaking the same protocol (the Playground child)."""
        env = dict(os.environ, PYTHONPATH=str(checkout))
        self.proc = subprocess.Popen(
            command or [sys.executable, str(HERE / "baseline_child.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        self.engine_file = self._read()
        if command is None and not Path(self.engine_file).resolve().is_relative_to(checkout.resolve()):
            raise RuntimeError(f"the child imported {self.engine_file}, not the engine of {checkout}")

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("benchmark child process ended early")
        return line.strip()

    def seconds(self, loop: str, net: str, steps: int) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{loop} {net} {steps}\n")
        self.proc.stdin.flush()
        return float(self._read())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def race(runners: dict[str, tuple[Child, str]], net: str, seconds: float) -> dict[str, float]:
    """Best steps/s of each runner (child, loop), running blocks of at least ~20 ms (whole
    epochs) in turn: on a shared machine, short blocks often run undisturbed, and the best is kept."""
    sizes: dict[str, int] = {}
    for name, (child, loop) in runners.items():
        # Blocks of whole epochs (50 steps on both nets): each holds as many epoch evaluations.
        steps = 50
        while child.seconds(loop, net, steps) < 0.02:
            steps *= 2
        sizes[name] = steps
    best = dict.fromkeys(runners, 0.0)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for name, (child, loop) in runners.items():
            best[name] = max(best[name], sizes[name] / child.seconds(loop, net, sizes[name]))
    return best


def _row(name: str, rate: float, ref: float, ref_name: str) -> str:
    return f"  {name:<26}{rate:>11,.0f}{1e6 / rate:>9.1f}   {rate / ref:>5.2f}× {ref_name}"


def _playground_points() -> dict[str, list]:
    """The tiny net's training points, and its first fifth as test points (the Trainer's split)."""
    from workloads import _data  # type: ignore[import-not-found]

    x, y = _data("tiny")
    points = [{"x": [float(a), float(b)], "y": float(t)} for (a, b), (t,) in zip(x, y, strict=True)]
    return {"train": points, "test": points[: len(points) // 5]}


def main(baseline: str | None = None, seconds: float = 6.0,
         playground_ts: str | None = None) -> dict[str, dict[str, float]]:
    here = Child(ROOT)
    base = Child(Path(baseline)) if baseline else None
    why_not = playground.unavailable(playground_ts)
    pg = None
    if why_not is None:
        sys.path.insert(0, str(HERE))
        pg_command = playground.command(playground_ts, _playground_points())
        pg = Child(ROOT, pg_command)
    results: dict[str, dict[str, float]] = {}
    try:
        print(f"\nSteps/s in one run, best of short blocks taken in turn ({os.cpu_count()} cores)")
        if base is not None:
            print(f"  baseline: {base.engine_file}")
        if pg is not None:
            node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
            print(f"  TensorFlow Playground: {pg.engine_file} (types stripped, node {node})")
        else:
            print(f"  (TensorFlow Playground comparison skipped: {why_not})")
        for net, title in (("tiny", "2-8-8-1 tanh, MSE, SGD, batch 10, 500 points, float32"),
                           ("mnist", "784-256-128-10 ReLU, softmax CE, Adam, batch 64, float32")):
            runners = {"engine": (here, "engine"), "trainer": (here, "trainer"),
                       "trainer steps": (here, "trainer_steps")}
            if net == "tiny":
                runners["bare"] = (here, "bare")
                if pg is not None:
                    runners["playground"] = (pg, "playground")
                    runners["playground epoch"] = (pg, "playground_epoch")
            if base is not None:
                runners["baseline engine"] = (base, "engine")
                runners["baseline trainer"] = (base, "trainer")
            r = race(runners, net, seconds)
            results[net] = r
            print(f"\n{title}")
            print(f"  {'':<26}{'steps/s':>11}{'µs/step':>9}   ratio")
            e = r["engine"]
            ref = "baseline engine" if base else "itself"
            print(_row("engine loop", e, r.get("baseline engine", e), ref))
            print(_row("Trainer", r["trainer"], e, "engine loop"))
            print(_row("  its steps (no epoch eval)", r["trainer steps"], e, "engine loop"))
            if "bare" in r:
                print(_row("bare NumPy loop", r["bare"], e, "engine loop"))
            if base is not None:
                print(_row("baseline Trainer", r["baseline trainer"], r["baseline engine"], ref))
            if "playground" in r:
                p = r["playground"]
                print(_row("Playground nn.ts (node)", p, e, "engine loop"))
                print(_row("  with oneStep's epoch loss", r["playground epoch"], e, "engine loop"))
        tiny, mnist = results["tiny"], results["mnist"]
        print("\nIssue 17 targets")
        for name, r, target in (("tiny net", tiny, 0.5), ("Adam net", mnist, 0.85)):
            print(f"  Trainer / engine, {name}:  {r['trainer'] / r['engine']:.2f} with the epoch evaluation,"
                  f" {r['trainer steps'] / r['engine']:.2f} without (≥ {target})")
        if base is not None:
            speedup = tiny["engine"] / tiny["baseline engine"]
            print(f"  engine / baseline engine, tiny net: {speedup:.2f} (≥ 1.7)")
        if "playground" in tiny:
            p = tiny["playground"]
            print(f"  engine / Playground, tiny net:  {tiny['engine'] / p:.2f} (≥ 1.0)")
            print(f"  Trainer / Playground, tiny net: {tiny['trainer'] / p:.2f} (≥ 0.6)")
    finally:
        here.close()
        if base is not None:
            base.close()
        if pg is not None:
            pg.close()
            shutil.rmtree(Path(pg_command[-1]).parent, ignore_errors=True)  # its temporary script
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="an older checkout whose engine to time alongside")
    parser.add_argument("--seconds", type=float, default=6.0, help="racing time per net")
    parser.add_argument("--playground", help="a copy of TensorFlow Playground's src/nn.ts")
    args = parser.parse_args()
    main(args.baseline or os.environ.get("BENCH_BASELINE"), args.seconds, args.playground)
