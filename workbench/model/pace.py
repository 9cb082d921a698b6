"""Watch paces (training steps per second) and the clock that holds a run to one.

``None`` is full speed. The default lets the default spiral (4,500 steps) evolve over about 45
seconds: slow enough to watch the boundary bend, fast enough not to bore.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

PACES: tuple[float | None, ...] = (2.0, 5.0, 20.0, 100.0, 300.0, 1000.0, None)
DEFAULT_PACE: float | None = 100.0
# Behind the pace by more than this (a pause, a slow step), the clock starts over from now
# instead of racing to catch up.
SLACK_SECONDS = 0.25


def pace_label(rate: float | None) -> str:
    if rate is None:
        return "Full speed"
    text = f"{rate:,.0f} steps/s"
    return f"Slow motion · {text}" if rate <= 2 else text


class PaceClock:
    """Holds a loop to ``rate`` steps per second; ``wait_for_next`` sleeps until the next step.

    Thread-safe: the GUI thread changes ``rate`` or calls ``wake`` (a stop) while the training
    thread sleeps; either ends the current wait at once."""

    def __init__(self, rate: float | None = None) -> None:
        self._rate = rate
        self._wake = threading.Event()
        self._origin = time.monotonic()
        self._count = 0

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"a pace must be positive steps per second, not {rate}")
        self._rate = rate
        self._restart()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def _restart(self) -> None:
        self._origin, self._count = time.monotonic(), 0

    def wait_for_next(self, stopped: Callable[[], bool] = lambda: False) -> None:
        """Called after each step: return when the next step is due (at once at full speed)."""
        self._count += 1
        while True:
            rate = self._rate
            if rate is None or stopped():
                return
            due = self._origin + self._count / rate
            now = time.monotonic()
            if now >= due:
                if now - due > SLACK_SECONDS:
                    self._restart()
                return
            self._wake.clear()
            if self._wake.wait(due - now):
                if stopped():
                    return
                continue  # the rate changed: recompute the due time


def parse_pace(value: object) -> float | None:
    """A pace as saved in settings ("full" or a number of steps/s); unknown values give the default."""
    if value == "full":
        return None
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_PACE
    return rate if rate in PACES else DEFAULT_PACE


def format_pace(rate: float | None) -> str:
    return "full" if rate is None else f"{rate:g}"
