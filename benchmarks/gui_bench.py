"""The window while training: throughput against headless, and event-loop latency.

On the default spiral experiment, measured in one run:
- training steps/s with the window open and every plot live, against the same Trainer
  driven headless (target ≥ 80 %);
- event-loop latency while training at full speed: a 10 ms QTimer probe records how late
  each tick fires; p50 and p99 are reported (target p99 < 50 ms).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from engine.events import StepMetrics
from engine.trainer import Trainer
from workbench.experiment import load_experiment, save_experiment

DEFAULT = Path(__file__).resolve().parents[1] / "experiments" / "default-spiral.json"
SECONDS = 8.0


def headless_rate(seconds: float) -> float:
    spec = load_experiment(DEFAULT).with_overrides({"training.epochs": 100_000})
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
    return steps / (time.perf_counter() - start)


class LatencyProbe:
    """Ticks every ``interval_ms`` on the GUI thread and records how late each tick is."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.interval = interval_ms
        self.late_ms: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.clock.start()
        self.last = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.late_ms.append(max(0.0, now - self.last - self.interval))
        self.last = now

    def stop(self) -> None:
        self.timer.stop()


def window_run(seconds: float) -> tuple[float, list[float], int]:
    from workbench.app.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path("/tmp") / "gw-bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.show()
    long_run = Path(tempfile.mkdtemp()) / "default-spiral-long.json"
    save_experiment(load_experiment(DEFAULT).with_overrides({"training.epochs": 100_000}), long_run)
    window.open_path(long_run, ask=False)
    session = window.session
    probe = LatencyProbe()
    probe.start()
    start = time.perf_counter()
    session.start()
    while time.perf_counter() - start < seconds:
        app.processEvents()
        time.sleep(0.001)
    step = session.last_step.step if session.last_step else 0
    rate = step / (time.perf_counter() - start)
    probe.stop()
    points = len(session.history.step_index) if hasattr(session.history, "step_index") else 0
    session.stop(join=True)
    window.close()
    QCoreApplication.processEvents()
    return rate, probe.late_ms, points


def main() -> None:
    headless = headless_rate(SECONDS)
    rate, late, _ = window_run(SECONDS)
    late_arr = np.asarray(late) if late else np.zeros(1)
    p50, p99 = np.percentile(late_arr, [50, 99])
    print("\nGUI while training the default spiral (window offscreen, all plots live)")
    print(f"  headless trainer        {headless:>10,.0f} steps/s")
    print(f"  with the window open    {rate:>10,.0f} steps/s   = {rate / headless:.0%} of headless"
          f" ({'met' if rate >= 0.8 * headless else 'NOT met'}, target ≥ 80 %)")
    print(f"  event-loop lateness     p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(late)} ticks"
          f" ({'met' if p99 < 50 else 'NOT met'}, target p99 < 50 ms)")


if __name__ == "__main__":
    main()
