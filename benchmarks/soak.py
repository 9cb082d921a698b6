"""Soak: a long session of live training with every plot open; does memory stay flat?

``make soak`` (not in CI): 30 minutes (``--minutes`` or ``GW_SOAK_MINUTES``) of training the
default spiral experiment in the main window (1280×720, offscreen, the default layout): by default
one continuous run (100,000 epochs, longer than 30 minutes). With a smaller ``--epochs`` it goes
run after run: the weights are reset (Ctrl+R) after each, a run joins the Runs list, and the tab
shown in the decision-boundary dock group moves on, so the neuron maps, saliency and histograms
take turns being drawn live. Resident memory (VmRSS) is printed at the
start, every few minutes and at the end, and sampled every few seconds for the slope of RSS
over the second half (least squares, MB per minute). Targets (issues 4 and 11): no crash,
total growth < 50 MB and a second-half slope < 0.2 MB per minute, in both modes.

Short tests miss what kills a long session (a reference leak in the Qt binding, a cache that
grows per run); this is where they show.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from engine.shipped import example_path
from workbench.experiment import load_experiment, save_experiment

DEFAULT = example_path("default-spiral")
TARGET_MB = 50.0
TARGET_SLOPE = 0.2  # MB per minute over the second half: still growing, or levelled off
SAMPLE_EVERY = 5.0  # seconds between silent RSS samples for the slope


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux: /proc/self/status)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # elsewhere: the peak, better than nothing

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _clock(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m:3d}:{s:02d}"


class Soak:
    def __init__(self, minutes: float, epochs: int, report_every: float, trace: bool = False) -> None:
        from benchmarks.gui_bench import new_window

        self.app = QApplication.instance() or QApplication([])
        self.seconds = minutes * 60
        self.report_every = report_every
        path = Path(tempfile.mkdtemp()) / "default-spiral-soak.json"
        save_experiment(load_experiment(DEFAULT).with_overrides({"training.epochs": epochs}), path)
        self.window = new_window()
        if not self.window.files.open_path(path, ask=False):
            raise RuntimeError(f"cannot open {path}")
        self.session = self.window.session
        self.session.runFinished.connect(self._run_finished)
        self.session.runError.connect(lambda message, _details: self.errors.append(message))
        self.errors: list[str] = []
        self.ending = False
        self.runs = 0
        self.steps = 0
        # Every workspace page takes its turn in front, one per run.
        self.tabs = list(self.window.workspace.pages)
        self.rss: list[tuple[float, float]] = []
        self.samples: list[tuple[float, float]] = []
        self.trace = trace
        self.snapshot: object = None

    def report(self, label: str = "") -> None:
        elapsed = time.monotonic() - self.t0
        mb = rss_mb()
        self.rss.append((elapsed, mb))
        growth = mb - self.rss[0][1]
        print(f"{_clock(elapsed)}  RSS {mb:8.1f} MB  ({growth:+6.1f} MB)  runs {self.runs:4d}  "
              f"steps {self.steps + self._current_steps():>11,}  {label}", flush=True)

    def _trace_start(self) -> None:
        """At the half: the baseline of Python allocations and Qt objects to diff at the end."""
        import tracemalloc

        tracemalloc.start(12)
        self.snapshot = tracemalloc.take_snapshot()
        self.qt_counts = qt_object_counts(self.app)
        print(f"{_clock(time.monotonic() - self.t0)}  tracing allocations from here", flush=True)

    def _trace_report(self) -> None:
        import tracemalloc

        after = tracemalloc.take_snapshot()
        noise = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
        stats = after.filter_traces(noise).compare_to(self.snapshot.filter_traces(noise), "traceback")
        total = sum(s.size_diff for s in stats) / 2**20
        print(f"\nPython allocations over the second half: {total:+.2f} MB; largest growth:")
        for stat in stats[:8]:
            frames = [f for f in stat.traceback if "site-packages" not in f.filename][-3:] or \
                list(stat.traceback)[-1:]
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
            print(f"  {stat.size_diff / 1024:+9.1f} kB  {stat.count_diff:+7d} blocks  {where}")
        counts = qt_object_counts(self.app)
        grown = {k: counts.get(k, 0) - self.qt_counts.get(k, 0) for k in set(counts) | set(self.qt_counts)}
        grown = {k: v for k, v in grown.items() if v}
        print("Qt objects over the second half: " +
              (", ".join(f"{k} {v:+d}" for k, v in sorted(grown.items(), key=lambda kv: -abs(kv[1]))[:10])
               or "no change"))
        tracemalloc.stop()

    def _sample(self) -> None:
        self.samples.append((time.monotonic() - self.t0, rss_mb()))

    def _current_steps(self) -> int:
        t = self.session.trainer
        return int(t.step) if t is not None and self.session.is_running else 0

    def _run_finished(self, result: object) -> None:
        if self.ending:
            return  # _end counts the run it stops
        if self.session.trainer is not None:
            self.steps += int(self.session.trainer.step)
        self.runs += 1
        if not self.ending:
            QTimer.singleShot(50, self._next_run)  # after the window has taken the result in

    def _next_run(self) -> None:
        if self.ending:
            return
        self.window.workspace.open_page(self.tabs[self.runs % len(self.tabs)])
        self.session.reset_weights()
        self.session.start()

    def _end(self) -> None:
        self.ending = True
        self.reporter.stop()
        self.sampler.stop()
        self._sample()
        running = self._current_steps()  # the run that is stopped now counts too
        self.session.stop(join=True)
        if self.session.trainer is not None and running:
            self.steps += int(self.session.trainer.step)
            self.runs += 1
        self.report("end")
        if self.trace and self.snapshot is not None:
            self._trace_report()
        self.app.quit()

    def run(self) -> int:
        self.t0 = time.monotonic()
        self.report("start")
        self.reporter = QTimer()
        self.reporter.timeout.connect(self.report)
        self.reporter.start(round(self.report_every * 1000))
        self.sampler = QTimer()
        self.sampler.timeout.connect(self._sample)
        self.sampler.start(round(min(SAMPLE_EVERY, self.seconds / 20) * 1000))
        QTimer.singleShot(0, self.session.start)
        QTimer.singleShot(round(self.seconds * 1000), self._end)
        if self.trace:
            QTimer.singleShot(round(self.seconds * 500), self._trace_start)
        self.app.exec()
        self.session.shutdown()
        self.window.close()
        growth = self.rss[-1][1] - self.rss[0][1]
        peak = max(mb for _t, mb in self.rss) - self.rss[0][1]
        slope = second_half_slope(self.samples, self.seconds)
        ok = growth < TARGET_MB and slope < TARGET_SLOPE and not self.errors
        print(f"\nSoak: {self.runs} runs, {self.steps:,} steps in {_clock(self.seconds).strip()} "
              f"(min:s); RSS growth {growth:+.1f} MB (peak {peak:+.1f} MB) "
              f"({'met' if growth < TARGET_MB else 'NOT met'}, target < {TARGET_MB:.0f} MB); "
              f"second-half slope {slope:+.3f} MB/min "
              f"({'met' if slope < TARGET_SLOPE else 'NOT met'}, target < {TARGET_SLOPE} MB/min)")
        for message in self.errors:
            print(f"  training error: {message}")
        return 0 if ok else 1


def qt_object_counts(app: QApplication) -> dict[str, int]:
    """Live QObjects by class: every top-level widget's descendants, and the application's."""
    from PySide6.QtCore import QObject

    counts: dict[str, int] = {}
    roots: list[QObject] = [app, *app.topLevelWidgets()]
    for root in roots:
        for obj in [root, *root.findChildren(QObject)]:
            name = type(obj).__name__
            counts[name] = counts.get(name, 0) + 1
    return counts


def second_half_slope(samples: list[tuple[float, float]], seconds: float) -> float:
    """Least-squares slope of RSS (MB per minute) over the samples of the second half."""
    half = [(t, mb) for t, mb in samples if t >= seconds / 2]
    if len(half) < 2:
        return float("nan")
    n = len(half)
    mean_t = sum(t for t, _ in half) / n
    mean_mb = sum(mb for _, mb in half) / n
    var = sum((t - mean_t) ** 2 for t, _ in half)
    if var == 0:
        return float("nan")
    cov = sum((t - mean_t) * (mb - mean_mb) for t, mb in half)
    return cov / var * 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("GW_SOAK_MINUTES", 30)),
                        help="how long to train (default 30, or $GW_SOAK_MINUTES)")
    parser.add_argument("--epochs", type=int, default=100_000, help="epochs per run before a reset")
    parser.add_argument("--report-every", type=float, default=None,
                        help="seconds between memory reports (default: 5 minutes, less for short soaks)")
    parser.add_argument("--trace", action="store_true",
                        help="diff tracemalloc snapshots and Qt object counts over the second half")
    args = parser.parse_args(argv)
    every = args.report_every or min(300.0, max(10.0, args.minutes * 60 / 6))
    print(f"Soak: {args.minutes:g} minutes of live training on {DEFAULT.name}, {args.epochs} epochs "
          "per run, every plot open; resident memory below", flush=True)
    try:
        return Soak(args.minutes, args.epochs, every, args.trace).run()
    except Exception:
        traceback.print_exc()
        return 2


if __name__ == "__main__":
    sys.exit(main())
