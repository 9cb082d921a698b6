"""``gradient-workbench sweep``: the command line of a sweep (its parser and its handler).

    gradient-workbench sweep EXP.json --set optimizer.lr=0.001,0.01,0.1 --set training.batch_size=16,64
                             [--seeds N] [--random N] [--epochs N] [--workers N]
                             [--scheduler tcp://host:8786] [--connect-timeout S] [--out DIR]

Exit codes: 0 every run finished (a diverged run is a result), 1 some runs ended in an error
(the others are written), 2 invalid input or --out (before anything runs), 4 some run folders
could not be written, 5 the Dask scheduler could not be reached or was lost, 130/143/129
stopped by SIGINT/SIGTERM/SIGHUP (runs not started are cancelled, finished ones are kept; a
second signal stops the running ones too).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from workbench.experiment import ExperimentError, Problem, load_experiment
from workbench.stopping import Aborted, SignalGuard, exit_code

EXIT_OK = 0
EXIT_RUN_ERRORS = 1
EXIT_INVALID = 2
EXIT_NOT_SAVED = 4
EXIT_CLUSTER = 5

EXIT_CODES_TEXT = ("exit codes: 0 every run finished (diverged runs are results), 1 some runs failed, "
                   "2 invalid input or --out, 4 run folders not written, 5 scheduler unreachable or lost, "
                   "130/143/129 stopped by SIGINT/SIGTERM/SIGHUP (finished runs are kept)")


def add_sweep_parser(sub: Any, int_in: Callable[[int, int], Callable[[str], int]]) -> None:
    from engine.spec import MAX_EPOCHS
    from workbench.model.sweep.plan import MAX_CONFIGS

    sweep = sub.add_parser(
        "sweep", help="train many configurations in parallel (this machine or a Dask cluster)",
        description="Train every combination of the --set values (or --random N samples), each in a "
                    "worker process, and write one run folder per run plus DIR/sweep.csv.",
        epilog=EXIT_CODES_TEXT)
    sweep.add_argument("experiment", type=Path, help="experiment file (.json)")
    sweep.add_argument("--set", dest="sets", action="append", required=True, metavar="PATH=VALUES",
                       help="a setting and its values: optimizer.lr=0.001,0.01,0.1; a range LOW..HIGH "
                            "(log-uniform, with --random); model.layers.*.activation sets every layer")
    sweep.add_argument("--seeds", type=int_in(1, 1000), default=1,
                       help="run each configuration with this many seeds (the file's seed, then the next)")
    sweep.add_argument("--random", type=int_in(1, MAX_CONFIGS), metavar="N",
                       help="sample N configurations instead of the whole grid")
    sweep.add_argument("--epochs", type=int_in(1, MAX_EPOCHS), help="train this many epochs instead")
    sweep.add_argument("--workers", type=int_in(1, 1024),
                       help="worker processes on this machine (default: one per core)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on a Dask cluster, e.g. tcp://host:8786 (pip install "
                            "'gradient-workbench[cluster]')")
    sweep.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="give up on an unreachable scheduler after this long (default 10)")
    sweep.add_argument("--out", type=Path, help="sweep folder (default sweeps/<name>-<timestamp>)")
    sweep.add_argument("--allow-data-outside", action="store_true",
                       help="let the experiment's CSV path lead outside the experiment file's folder")
    sweep.set_defaults(handler=cmd_sweep)


class _SweepGuard(SignalGuard):
    """The first signal cancels the runs not started and lets the running ones finish."""

    def handle(self, signum: int, frame: object) -> None:
        runner = self.trainer
        if self.signum is not None or self.phase == "loading" or runner is None:
            super().handle(signum, frame)  # before any run, or a second signal: abort
            return
        self.signum = signum
        runner.request_stop()
        print(f"\n{signal.Signals(signum).name}: runs not started are cancelled; waiting for the running "
              "ones to finish (send it again to stop them now)", file=self.err, flush=True)


def cmd_sweep(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    with _SweepGuard(err) as guard:
        try:
            return _sweep(args, guard, out, err)
        except Aborted as exc:
            when = "before any run" if guard.phase == "loading" else "at once; finished runs are kept"
            print(f"\n{signal.Signals(exc.signum).name}: stopped {when}", file=err)
            return exit_code(exc.signum)


def _problems(problems: list[Problem], err: TextIO, prefix: str = "") -> int:
    for p in problems:
        print(f"{prefix}{p}", file=err)
    return EXIT_INVALID


def _sweep(args: argparse.Namespace, guard: _SweepGuard, out: TextIO, err: TextIO) -> int:
    from workbench.model.sweep.executor import ClusterError, open_backend
    from workbench.model.sweep.plan import SweepError, build_configs, parse_set
    from workbench.model.sweep.results import SWEEP_CSV, SweepWriter
    from workbench.model.sweep.runner import SweepRunner
    from workbench.runs import default_run_folder

    path: Path = args.experiment
    try:
        spec = load_experiment(path)
        if args.epochs is not None:
            spec = spec.with_overrides({"training.epochs": args.epochs}).model_copy(
                update={"variants": spec.variants})
        axes = [parse_set(text) for text in args.sets]
        configs = build_configs(spec, axes, seeds=args.seeds, random=args.random)
    except ExperimentError as exc:
        return _problems(exc.problems, err, f"{path}: ")
    except SweepError as exc:
        return _problems(exc.problems, err)
    if args.scheduler and args.workers:
        problem = Problem("--workers", "is for this machine; a Dask cluster has its own workers")
        return _problems([problem], err)
    if not math.isfinite(args.connect_timeout) or args.connect_timeout <= 0:
        return _problems([Problem("--connect-timeout", "must be a positive number of seconds")], err)
    root = args.out or default_run_folder(spec, "sweeps")
    writer = SweepWriter(root, configs, axes)
    if (root / SWEEP_CSV).exists():
        problem = Problem("--out", f"{root} already holds a sweep ({SWEEP_CSV}); choose a new folder")
        return _problems([problem], err)
    problems = writer.problems()
    if problems:
        return _problems([Problem("--out", p) for p in problems], err)
    try:
        backend = open_backend(args.workers, args.scheduler, args.connect_timeout)
    except ClusterError as exc:
        print(f"--scheduler: {exc}", file=err)
        return EXIT_CLUSTER
    base_dir = str(path.resolve().parent)
    runner = SweepRunner(configs, backend, base_dir=base_dir, confined=not args.allow_data_outside)
    print(f"sweep of {spec.name!r}: {len(configs)} runs on {backend.description}; writing {root}",
          file=out, flush=True)
    counts = {"error": 0, "not_saved": 0}

    def done(result: Any, progress: Any) -> None:
        folder, problem = writer.add(result)  # whole or nothing, even when a signal aborts it
        if result.record is not None:  # written: a long sweep need not hold every network
            result.record.pop("weights", None)
        counts["error"] += result.status == "error"
        counts["not_saved"] += bool(problem)
        print(_line(result, progress, folder), file=out, flush=True)
        if problem:
            print(problem, file=err, flush=True)

    guard.training(runner)
    finished_all = False
    try:
        results = runner.run(on_done=done)
        finished_all = True
    except ClusterError as exc:
        print(f"--scheduler: {exc}; finished runs are in {root}", file=err)
        return EXIT_CLUSTER
    finally:
        backend.close(kill=not finished_all)
        _mark_cancelled(writer, configs)
    guard.saving()
    _summary(results, writer, root, out)
    if guard.signum is not None:
        return exit_code(guard.signum)
    if counts["not_saved"]:
        return EXIT_NOT_SAVED
    return EXIT_RUN_ERRORS if counts["error"] else EXIT_OK


def _mark_cancelled(writer: Any, configs: list[Any]) -> None:
    """Rows for the runs that never finished, so sweep.csv lists the whole sweep."""
    from workbench.model.sweep.results import summary_row
    from workbench.model.sweep.runner import RunResult

    missing = [c for c in configs if c.index not in writer.rows]
    if not missing:
        return
    for config in missing:
        writer.rows[config.index] = summary_row(RunResult(config, "cancelled"), writer.paths)
    with contextlib.suppress(OSError):  # the rows of the finished runs are on disk already
        writer.flush()


def _line(result: Any, progress: Any, folder: Path | None) -> str:
    record = result.record or {}
    history = record.get("history") or []
    parts = [f"[{progress.done}/{progress.total}] {result.config.label}: {result.status}"]
    if history:
        last = history[-1]
        metric = last["metric_name"]
        value = last["val_metric"]
        shown = "nan" if not math.isfinite(value) else (f"{value:.1%}" if metric == "accuracy" else
                                                         f"{value:.4g}")
        parts.append(f"val_{metric} {shown}  val_loss {last['val_loss']:.4g}")
    if "seconds" in record:
        parts.append(f"{record['seconds']:.1f} s")
    if result.error:
        parts.append(result.error)
    parts.append(f"ETA {_clock(progress.eta)}")
    return "  ".join(parts)


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _summary(results: list[Any], writer: Any, root: Path, out: TextIO) -> None:
    from collections import Counter

    counts = Counter(r.status for r in results)
    text = ", ".join(f"{n} {status}" for status, n in counts.items())
    best = best_row(list(writer.rows.values()))
    line = f"{len(writer.configs)} runs: {text}; wrote {root / 'sweep.csv'}"
    if best is not None:
        line += (f"\nbest val_{best['metric']} {best['final_val_metric']:.4g}: {best['run']} "
                 f"({best['folder']})")
    print(line, file=out, flush=True)


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run with the highest final validation metric (accuracy or R²), ties to the lower loss."""
    def key(row: dict[str, Any]) -> tuple[float, float]:
        loss = row.get("final_val_loss")
        finite = isinstance(loss, float) and math.isfinite(loss)
        return (row["final_val_metric"], -loss if finite else -math.inf)

    good = [r for r in rows
            if isinstance(r.get("final_val_metric"), float) and math.isfinite(r["final_val_metric"])]
    return max(good, key=key) if good else None
