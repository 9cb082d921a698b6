"""The window while training: throughput against headless, and event-loop latency.

On the default spiral experiment, measured in one run (one process):
- training steps/s with the window open (1280×720, the default layout at full speed, plots
  live), against the same Trainer driven headless before and after (target ≥ 85 %);
- event-loop latency while training at full speed: a 10 ms precise QTimer probe records how
  late each tick fires; p50 and p99 are reported (target p99 < 34 ms).

The window runs the real event loop (``app.exec()``), stopped by a single-shot timer, as a
person's session would; the first second (start-up, first layouts) is not measured.

``--profile`` writes a cProfile of the GUI thread to ``gui_bench.prof`` and prints its top.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from engine.events import StepMetrics
from engine.shipped import example_path
from engine.trainer import Trainer
from workbench.experiment import load_experiment, save_experiment

DEFAULT = example_path("default-spiral")
SECONDS = 8.0
WARMUP = 1.0
LONG_EPOCHS = 100_000  # never finishes within the measurement


def headless_rate(seconds: float) -> float:
    spec = load_experiment(DEFAULT).with_overrides({"training.epochs": LONG_EPOCHS})
    trainer = Trainer(spec, base_dir=DEFAULT.parent)
    events = trainer.run()
    start = time.perf_counter()
    steps = 0
    for event in events:
        if isinstance(event, StepMetrics):
            steps = event.step
        if time.perf_counter() - start > seconds:
            break
    trainer.request_stop()
    events.close()
    return steps / (time.perf_counter() - start)


class LatencyProbe:
    """Ticks every ``interval_ms`` on the GUI thread and records how late each tick is."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.interval = interval_ms
        self.late_ms: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.clock.start()
        self.last = 0.0
        self.late_ms.clear()
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.late_ms.append(max(0.0, now - self.last - self.interval))
        self.last = now

    def stop(self) -> None:
        self.timer.stop()


def long_experiment() -> Path:
    path = Path(tempfile.mkdtemp()) / "default-spiral-long.json"
    save_experiment(load_experiment(DEFAULT).with_overrides({"training.epochs": LONG_EPOCHS}), path)
    return path


def new_window():  # a MainWindow (imported late: `benchmarks` loads without the app)
    from workbench.app.main_window import MainWindow

    ini = Path(tempfile.mkdtemp()) / "gw-bench.ini"  # no saved layout: the default layout
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    settings.setValue("pace", "full")  # throughput is measured at full speed
    window = MainWindow(settings=settings)
    window.resize(1280, 720)
    window.show()
    return window


def window_run(seconds: float, profile: bool = False) -> tuple[float, list[float], dict]:
    """Train in the window for ``seconds`` after a warm-up: (steps/s, lateness in ms, extras)."""
    app = QApplication.instance() or QApplication([])
    window = new_window()
    window.files.open_path(long_experiment(), ask=False)
    session = window.session
    probe = LatencyProbe()
    marks: dict[str, float] = {}
    frames = [0]
    window.frames.timer.timeout.connect(lambda: frames.__setitem__(0, frames[0] + 1))

    def begin() -> None:
        marks["t0"], marks["s0"], marks["f0"] = time.perf_counter(), session.trainer.step, frames[0]
        probe.start()

    def end() -> None:
        probe.stop()
        marks["t1"], marks["s1"], marks["f1"] = time.perf_counter(), session.trainer.step, frames[0]
        app.quit()

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    QTimer.singleShot(0, session.start)
    QTimer.singleShot(round(WARMUP * 1000), begin)
    QTimer.singleShot(round((WARMUP + seconds) * 1000), end)
    if profiler is not None:
        profiler.enable()
    app.exec()
    if profiler is not None:
        profiler.disable()
        import pstats

        profiler.dump_stats("gui_bench.prof")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    elapsed = marks["t1"] - marks["t0"]
    rate = (marks["s1"] - marks["s0"]) / elapsed
    extras = {"fps": (marks["f1"] - marks["f0"]) / elapsed, "interval": window.frames.timer.interval(),
              "steps": session.history.n_steps}
    session.stop(join=True)
    window.close()
    window.deleteLater()
    QCoreApplication.processEvents()
    return rate, probe.late_ms, extras


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--profile", action="store_true", help="cProfile the GUI thread")
    args = parser.parse_args(argv)
    QApplication.instance() or QApplication([])
    before = headless_rate(args.seconds / 2)
    rate, late, extras = window_run(args.seconds, args.profile)
    after = headless_rate(args.seconds / 2)
    headless = (before + after) / 2  # before and after: drift (thermal, other load) cancels out
    late_arr = np.asarray(late) if late else np.zeros(1)
    p50, p99 = np.percentile(late_arr, [50, 99])
    print("\nGUI while training the default spiral "
          "(window 1280×720 offscreen, the default layout, plots live, full speed)")
    print(f"  headless trainer        {headless:>10,.0f} steps/s"
          f"   (before {before:,.0f}, after {after:,.0f})")
    print(f"  with the window open    {rate:>10,.0f} steps/s   = {rate / headless:.0%} of headless"
          f" ({'met' if rate >= 0.85 * headless else 'NOT met'}, target ≥ 85 %)")
    print(f"  event-loop lateness     p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(late)} ticks"
          f" ({'met' if p99 < 34 else 'NOT met'}, target p99 < 34 ms)")
    print(f"  frames                  {extras['fps']:.1f}/s (timer interval now {extras['interval']} ms),"
          f" {extras['steps']:,} steps in the history")


if __name__ == "__main__":
    main()
