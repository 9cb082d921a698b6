"""``gradient-workbench``: train experiments headless, check files, or open the desktop app.

    gradient-workbench run EXPERIMENT.json [--epochs N] [--seed S] [--out DIR] [--variant NAME|all]
                                           [--allow-data-outside]
    gradient-workbench validate [--allow-data-outside] FILE...
    gradient-workbench lr-find EXPERIMENT.json [--steps N] [--variant NAME]
    gradient-workbench sweep EXPERIMENT.json --set PATH=VALUES... [--seeds N] [--random N]
                             [--workers N] [--scheduler ADDRESS] [--out DIR]   # workbench/model/sweep
    gradient-workbench [EXPERIMENT.json]        # opens the desktop app

Exit codes: 0 done, 1 the run diverged, 2 invalid input or an unusable --out (one line per
problem on stderr, no traceback, checked before training), 3 the run folder could not be
written where asked and was saved to a fallback folder (printed), 4 it could not be saved at
all, 130/143/129 stopped by SIGINT (Ctrl-C)/SIGTERM/SIGHUP (the run folder is still written;
a second signal aborts and writes nothing).

Qt is imported only to open the app, so ``run`` and ``validate`` work on machines without a display.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from engine.events import EpochMetrics, RunFinished, StepMetrics
from engine.spec import MAX_EPOCHS, ExperimentSpec
from workbench.experiment import ExperimentError, Problem, load_experiment
from workbench.files import capped_lines
from workbench.stopping import Aborted, SignalGuard, exit_code

EXIT_OK = 0
EXIT_DIVERGED = 1
EXIT_INVALID = 2
EXIT_SAVED_ELSEWHERE = 3
EXIT_NOT_SAVED = 4
EXIT_INTERRUPTED = 130  # SIGINT; SIGTERM gives 143 and SIGHUP 129 (128 + the signal's number)

COMMANDS = ("run", "validate", "lr-find", "sweep")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        if len(argv) > 1:
            print(f"gradient-workbench: unknown command {argv[0]!r} (commands: {', '.join(COMMANDS)}; "
                  "or give one experiment file to open it in the app)", file=sys.stderr)
            return EXIT_INVALID
        return _open_app(argv[0] if argv else None)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error (argparse prints it)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_INVALID
    return args.handler(args)


def _open_app(path: str | None) -> int:
    from workbench.app import main as app_main

    return int(app_main(path) or 0)


def _parser() -> argparse.ArgumentParser:
    from workbench import __version__

    parser = argparse.ArgumentParser(
        prog="gradient-workbench",
        description="See how neural networks learn. Without a command, opens the desktop app.",
        epilog="exit codes: 0 done, 1 the run diverged, 2 invalid input or --out, 3 saved to a fallback "
               "folder, 4 not saved, 130/143/129 stopped by SIGINT/SIGTERM/SIGHUP",
    )
    parser.add_argument("--version", action="version", version=f"gradient-workbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train an experiment headless and write a run folder")
    run.add_argument("experiment", type=Path, help="experiment file (.json)")
    run.add_argument("--epochs", type=_int_in(1, MAX_EPOCHS), help="train this many epochs instead")
    run.add_argument("--seed", type=_int_in(0, 2**32 - 1), help="use this seed instead")
    run.add_argument("--out", type=Path, help="run folder (default runs/<name>-<timestamp>); "
                                               "with several variants, one sub-folder each")
    run.add_argument("--variant", help="the variant NAME, 'base', or 'all' (the base, then every variant)")
    run.add_argument("--allow-data-outside", action="store_true",
                     help="let the experiment's CSV path lead outside the experiment file's folder")
    run.set_defaults(handler=_cmd_run)
    validate = sub.add_parser("validate", help="check experiment files, one line per problem")
    validate.add_argument("files", type=Path, nargs="+")
    validate.add_argument("--allow-data-outside", action="store_true",
                          help="do not report CSV paths that lead outside the file's folder")
    validate.set_defaults(handler=_cmd_validate)
    lr_find = sub.add_parser("lr-find", help="learning-rate range test on the experiment's initial weights; "
                                             "prints a suggestion or 'inconclusive' and why")
    lr_find.add_argument("experiment", type=Path, help="experiment file (.json)")
    lr_find.add_argument("--steps", type=_int_in(10, 10_000), default=100,
                         help="steps of the test (default 100; more resolves smaller drops)")
    lr_find.add_argument("--variant", help="test this variant instead of the base experiment")
    lr_find.set_defaults(handler=_cmd_lr_find)
    from workbench.model.sweep.command import add_sweep_parser

    add_sweep_parser(sub, _int_in)
    return parser


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


# ------------------------------------------------------------------------------ validate
def _cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        try:
            spec = load_experiment(path)
            if not args.allow_data_outside:
                _check_data_path(spec, path)
        except ExperimentError as exc:
            failed = True
            _print_problems(exc.problems, prefix=f"{path}: ")
            continue
        extra = f" ({len(spec.variants)} variants)" if spec.variants else ""
        print(f"{path}: ok{extra}")
    return EXIT_INVALID if failed else EXIT_OK


def _check_data_path(spec: ExperimentSpec, path: Path) -> None:
    """The shared-file rule, for every run the file holds (a variant may change data.path)."""
    from engine.data import DataError
    from engine.data.csvfile import resolve_path

    problems = []
    for label, run in [("", spec), *((f"variant {v.name!r}: ", spec.variant(v.name)) for v in spec.variants)]:
        if run.data.source == "csv" and run.data.path:
            try:
                resolve_path(run.data.path, path.resolve().parent, confined=True)
            except DataError as exc:
                problems.append(Problem("data.path", f"{label}{exc}"))
    if problems:
        raise ExperimentError(problems)


def _print_problems(problems: list[Problem], prefix: str = "") -> None:
    for problem in problems:
        print(f"{prefix}{problem}", file=sys.stderr)


# ------------------------------------------------------------------------------- lr-find
def _cmd_lr_find(args: argparse.Namespace) -> int:
    """Exit 0 with a suggestion or "inconclusive" (both are answers); 2 on invalid input."""
    from engine.analysis.lr_finder import range_test_for
    from engine.data import DataError
    from engine.trainer import Trainer

    path: Path = args.experiment
    try:
        spec = load_experiment(path)
        [(label, spec)] = _select_runs(spec, args.variant)
        trainer = Trainer(spec, base_dir=path.resolve().parent)
    except ExperimentError as exc:
        _print_problems(exc.problems, prefix=f"{path}: ")
        return EXIT_INVALID
    except (DataError, ValueError, TypeError) as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"{path}: {line}", file=sys.stderr)
        return EXIT_INVALID
    result, optimizer = range_test_for(trainer, steps=args.steps)
    print(f"range test of {spec.name!r} ({label}): {optimizer}, batch {spec.training.batch_size}, "
          f"{len(result.lrs)} of {args.steps} steps from {result.lrs[0]:.0e}, initial weights")
    print(result.summary())
    print("published rules on the smoothed minibatch loss (no significance test):")
    for rule in result.rules:
        value = f"{rule.lr:.2g}" if rule.lr is not None else "none"
        print(f"  {rule.name:<16} {value:<8} {rule.reference}")
    return EXIT_OK


# ----------------------------------------------------------------------------------- run
def _cmd_run(args: argparse.Namespace) -> int:
    path: Path = args.experiment
    with SignalGuard() as guard:
        try:
            return _run_all(args, path, guard)
        except Aborted as exc:
            return _aborted(exc, guard, sys.stderr)


def _aborted(exc: Aborted, guard: SignalGuard, err: TextIO) -> int:
    when = "before training" if guard.phase == "loading" else "at once"
    print(f"\n{signal.Signals(exc.signum).name}: stopped {when}; nothing written", file=err)
    return exit_code(exc.signum)


def _run_all(args: argparse.Namespace, path: Path, guard: SignalGuard) -> int:
    try:
        spec = load_experiment(path)
        runs = _select_runs(spec, args.variant)
        runs = [(label, _as_run(s, args.epochs, args.seed)) for label, s in runs]
    except ExperimentError as exc:
        _print_problems(exc.problems, prefix=f"{path}: ")
        return EXIT_INVALID
    from workbench.runs import default_run_folder, output_problem, variant_folders

    if len(runs) == 1:
        folders = [args.out or default_run_folder(runs[0][1])]
    else:
        folders = variant_folders(args.out or default_run_folder(spec), [label for label, _ in runs])
    # Checked before any training: a bad location costs seconds, not the whole run.
    problems = [p for p in (output_problem(f) for f in folders) if p]
    if problems:
        _print_problems([Problem("--out", p) for p in problems])
        return EXIT_INVALID
    codes = []
    for (_, run_spec), folder in zip(runs, folders, strict=True):
        code = run_experiment(run_spec, base_dir=path.resolve().parent, folder=folder, guard=guard,
                              allow_data_outside=args.allow_data_outside)
        codes.append(code)
        if code not in (EXIT_OK, EXIT_DIVERGED):
            break
    return max(codes, key=_severity)


def _severity(code: int) -> int:
    order = (EXIT_OK, EXIT_DIVERGED, EXIT_INVALID)
    if code in order:
        return order.index(code)
    if code == EXIT_SAVED_ELSEWHERE:
        return 10
    if code == EXIT_NOT_SAVED:
        return 11
    return 5  # a signal's code


def _select_runs(spec: ExperimentSpec, variant: str | None) -> list[tuple[str, ExperimentSpec]]:
    base = spec.model_copy(update={"variants": ()})
    if variant is None or variant == "base":
        return [("base", base)]
    names = [v.name for v in spec.variants]
    if variant == "all":
        return [("base", base)] + [(name, spec.variant(name)) for name in names]
    if variant not in names:
        from engine.registry import suggest

        match = suggest(variant, names)
        hint = f"; did you mean {match!r}?" if match else ""
        listing = f" (variants: {', '.join(names)})" if names else " (the file has no variants)"
        raise ExperimentError([Problem("--variant", f"no variant {variant!r}{hint}{listing}")])
    return [(variant, spec.variant(variant))]


def _as_run(spec: ExperimentSpec, epochs: int | None, seed: int | None) -> ExperimentSpec:
    """The spec with command-line overrides, validated like a file (it is what gets saved)."""
    changes: dict[str, Any] = {}
    if epochs is not None:
        changes["training.epochs"] = epochs
    if seed is not None:
        changes["seed"] = seed
    if not changes:
        return spec
    return spec.with_overrides(changes)


def run_experiment(
    spec: ExperimentSpec,
    base_dir: Path | None = None,
    folder: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    guard: SignalGuard | None = None,
    allow_data_outside: bool = False,
) -> int:
    """Train one spec to the end (or a stop signal), write its run folder, return the exit code.

    Without a ``guard`` this installs its own signal handlers for the call. A CSV path must
    lie inside ``base_dir`` (the shared-file rule) unless ``allow_data_outside``.
    """
    if guard is None:
        with SignalGuard(err) as own:
            try:
                return run_experiment(spec, base_dir, folder, out, err, own, allow_data_outside)
            except Aborted as exc:
                return _aborted(exc, own, err or sys.stderr)
    from engine.data import DataError
    from engine.trainer import Trainer
    from workbench.runs import default_run_folder, output_problem

    out = out or sys.stdout
    err = err or sys.stderr
    guard.phase = "loading"
    target = folder or default_run_folder(spec)
    problem = output_problem(target)
    if problem:
        print(f"--out: {problem}", file=err)
        return EXIT_INVALID
    try:
        trainer = Trainer(spec, base_dir=base_dir, confined=not allow_data_outside)
    except (DataError, ValueError, TypeError) as exc:
        problems = getattr(exc, "problems", None) or str(exc).splitlines() or [type(exc).__name__]
        if len(str(exc).splitlines()) > len(problems):  # a headline and "... and N more" around the list
            problems = str(exc).splitlines()
        for line in capped_lines(problems):
            print(f"{spec.name}: {line}", file=err)
        return EXIT_INVALID
    ds = trainer.dataset
    data_texts = _data_warnings(ds, err)
    print(f"training {spec.name!r}: {ds.name}, {ds.n_train} train / {ds.n_val} validation samples, "
          f"{trainer.network.n_parameters:,} parameters, {spec.training.epochs} epochs", file=out)
    progress = _Progress(trainer, spec, out)
    finished: RunFinished | None = None
    kept_steps: list[StepMetrics] = []  # the first (layer order) and non-finite ones, as the panel keeps
    guard.training(trainer)
    try:
        for event in trainer.run():
            if isinstance(event, StepMetrics):
                progress.step(event)
                if not kept_steps or not (math.isfinite(event.loss) and math.isfinite(event.grad_norm)):
                    kept_steps.append(event)
            elif isinstance(event, EpochMetrics):
                progress.epoch(event)
            elif isinstance(event, RunFinished):
                finished = event
    finally:
        progress.close()
    guard.saving()
    assert finished is not None  # every run ends with exactly one RunFinished
    warnings = _diagnose(trainer, kept_steps)
    for text in warnings:
        if text not in data_texts:  # printed before training
            print(text, file=err)
    if finished.divergence is not None and not warnings:
        print(finished.divergence.message(), file=err)
    code, written = _save(target, spec, trainer, finished, warnings, err)
    if written is not None:
        print(f"{finished.status} after {finished.epoch} epochs ({finished.seconds:.1f} s); wrote {written}",
              file=out)
    if code != EXIT_OK:
        return code
    if guard.signum is not None:
        return exit_code(guard.signum)
    return EXIT_DIVERGED if finished.status == "diverged" else EXIT_OK


def _save(target: Path, spec: ExperimentSpec, trainer: Any, finished: RunFinished, warnings: list[str],
          err: TextIO) -> tuple[int, Path | None]:
    """Write the run folder; when that fails, write it to a fallback folder and say where."""
    from workbench.runs import fallback_folder, write_run

    def write(folder: Path) -> Path:
        from workbench.export.preprocessing import standardization_of

        return write_run(folder, spec, trainer.history, trainer.network, finished, loss=trainer.loss,
                         diagnostics=warnings, standardization=standardization_of(trainer.dataset))

    try:
        return EXIT_OK, write(target)
    except Exception as exc:  # a full disk, a folder made read-only during training, ...
        print(f"cannot write {target}: {_reason(exc)}", file=err)
    rescue = fallback_folder(spec)
    try:
        written = write(rescue)
    except Exception as exc:
        print(f"cannot write the fallback folder {rescue} either: {_reason(exc)}; the run is lost",
              file=err)
        return EXIT_NOT_SAVED, None
    print(f"saved the run to {written} instead", file=err)
    return EXIT_SAVED_ELSEWHERE, written


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    return str(exc) or type(exc).__name__


def _diagnose(trainer: Any, steps: list[StepMetrics] | None = None) -> list[str]:
    """The findings of ``engine.analysis.diagnose_trainer`` (what the app's panel shows), one
    printable paragraph each."""
    from engine.analysis import diagnose_trainer

    return [d.text() for d in diagnose_trainer(trainer, steps)]


def _data_warnings(dataset: Any, err: TextIO) -> set[str]:
    """Print what the data checks found (engine.data.table_checks), before training starts."""
    from engine.analysis.diagnostics import data_findings
    from engine.analysis.run_context import RunContext

    context = RunContext(data_warnings=tuple(getattr(dataset, "warnings", ())))
    texts = [d.text() for d in data_findings(context)]
    for text in texts:
        print(text, file=err)
    return set(texts)


@dataclass
class _Progress:
    """A one-line progress bar on a terminal; one plain log line per epoch otherwise."""

    trainer: Any
    spec: ExperimentSpec
    out: TextIO

    def __post_init__(self) -> None:
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self.epochs = self.spec.training.epochs
        n = self.trainer.dataset.n_train
        batches = 1 if getattr(self.trainer.optimizer, "needs_closure", False) else \
            math.ceil(n / self.spec.training.batch_size)
        self.total_steps = max(1, batches * self.epochs)
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.last: EpochMetrics | None = None
        self.drawn = False

    def step(self, event: StepMetrics) -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if now - self.last_draw < 0.1:  # redraw ~10 times a second, not every step
            return
        self.last_draw = now
        self._draw(event.epoch, event.step, event.loss)

    def epoch(self, event: EpochMetrics) -> None:
        self.last = event
        if self.tty:
            self._draw(event.epoch, event.step, event.train_loss)
            return
        print(f"epoch {event.epoch}/{self.epochs}  loss {event.train_loss:.4g}  val_loss {event.val_loss:.4g}"
              f"  {_metric(event.metric_name, event.train_metric)}"
              f"  val_{_metric(event.metric_name, event.val_metric)}  lr {event.lr:.3g}"
              f"  {event.seconds:.1f}s", file=self.out, flush=True)

    def _draw(self, epoch: int, step: int, loss: float) -> None:
        fraction = min(1.0, step / self.total_steps)
        width = 24
        filled = round(fraction * width)
        elapsed = time.perf_counter() - self.start
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else math.nan
        metric = ""
        if self.last is not None:
            metric = f"  val_{_metric(self.last.metric_name, self.last.val_metric)}"
        line = (f"\repoch {epoch}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                f"{fraction:4.0%}  loss {loss:.4g}{metric}  ETA {_clock(eta)}")
        self.out.write(line.ljust(80))
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.tty and self.drawn:
            self.out.write("\n")
            self.out.flush()


def _metric(name: str, value: float) -> str:
    if name == "accuracy":
        return f"accuracy {value:.1%}" if math.isfinite(value) else "accuracy nan"
    return f"{name} {value:.4g}"


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


if __name__ == "__main__":
    raise SystemExit(main())
