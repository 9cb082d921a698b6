"""Sweep speed-up: the same 16-run sweep with 2 worker processes against 1, measured in one run.

Runs are long enough (a couple of seconds each) that starting the worker processes is a small
part of the total, as in a real sweep; wall time includes it. Both sweeps must give the same
numbers bitwise (each run is seeded), which is checked too. The target on a 2-core machine is
a speed-up of 1.7× or more; other load on the machine lowers it.

    python -m benchmarks.sweep_bench
"""

from __future__ import annotations

import hashlib
import os
import time

from engine.spec import DataSpec, ExperimentSpec, TrainingSpec
from workbench.model.sweep.executor import LocalBackend
from workbench.model.sweep.plan import build_configs, parse_set
from workbench.model.sweep.runner import SweepRunner

RUNS = 16
EPOCHS = 800  # about 2 s a run on an idle core: process start-up is a small part


def _configs() -> list:
    spec = ExperimentSpec(name="bench", data=DataSpec(source="spiral_multi", n_classes=3, n_samples=600),
                          training=TrainingSpec(epochs=EPOCHS, batch_size=32))
    lrs = ",".join(f"{0.001 * 1.3**k:.6g}" for k in range(RUNS // 2))
    return build_configs(spec, [parse_set(f"optimizer.lr={lrs}"), parse_set("training.batch_size=32,64")])


def _fingerprint(results: list) -> str:
    h = hashlib.sha256()
    for r in results:
        h.update(repr(r.record["history"][-1]["val_loss"]).encode())
        for name in sorted(r.record["weights"]):
            h.update(r.record["weights"][name].tobytes())
    return h.hexdigest()[:12]


def sweep_seconds(workers: int) -> tuple[float, float, str]:
    """Wall time of the whole sweep (pool start-up included), mean run time, results' fingerprint."""
    configs = _configs()
    start = time.perf_counter()
    backend = LocalBackend(workers)
    try:
        results = SweepRunner(configs, backend).run()
    finally:
        backend.close()
    wall = time.perf_counter() - start
    assert all(r.status == "finished" for r in results), [r.error for r in results]
    mean_run = sum(r.record["seconds"] for r in results) / len(results)
    return wall, mean_run, _fingerprint(results)


def _busy(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def machine_parallelism(tasks: int = 4, n: int = 6_000_000) -> float:
    """What this machine gives two processes now: the time of ``tasks`` CPU-bound tasks in one
    worker process over the time in two (warm pools, so start-up is not counted). 2.0 on two
    idle cores; less when other programs hold the cores. The ceiling for the sweep's speed-up."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    times = []
    for workers in (1, 2):
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(_busy, [1000] * workers))  # start the processes
            start = time.perf_counter()
            list(pool.map(_busy, [n] * tasks))
            times.append(time.perf_counter() - start)
    return times[0] / times[1]


def main() -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\nsweep: {RUNS} runs ({EPOCHS} epochs of a 600-point spiral each); this machine has "
          f"{cores} cores")
    ceiling = machine_parallelism()
    one, run1, f1 = sweep_seconds(1)
    print(f"  1 worker : {one:6.1f} s wall (mean run {run1:.2f} s)")
    two, run2, f2 = sweep_seconds(2)
    print(f"  2 workers: {two:6.1f} s wall (mean run {run2:.2f} s)")
    same = "identical" if f1 == f2 else "DIFFERENT"
    after = machine_parallelism()
    print(f"  speed-up 2 vs 1 workers: {one / two:.2f}× (target ≥ 1.7×); results {same} ({f1} / {f2})")
    print(f"  what the machine gave 2 busy processes against 1, before and after: {ceiling:.2f}×, "
          f"{after:.2f}× (2.0 on idle cores: below it, other load limits any speed-up)")


if __name__ == "__main__":
    main()
