"""The status bar's run words: state, epoch done/planned, step, speed, time, progress."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar


def format_duration(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "—"
    seconds = round(float(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RunStatus:
    def __init__(self, bar: QStatusBar) -> None:
        self.state_label = QLabel("idle")
        self.epoch_label = QLabel()
        self.step_label = QLabel()
        self.rate_label = QLabel()
        self.time_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        for w in (self.state_label, self.epoch_label, self.step_label, self.rate_label, self.time_label):
            w.setMinimumWidth(60)
            bar.addPermanentWidget(w)
        bar.addPermanentWidget(self.progress)

    def update(self, s: Any) -> None:
        t = s.trainer
        epoch = t.epoch if t is not None else 0
        step = s.last_step.step if s.last_step is not None else (t.step if t is not None else 0)
        target = max(s.target_epoch, 1)
        self.state_label.setText(state_words(s))
        self.epoch_label.setText(f"epoch {epoch}/{target}")
        self.step_label.setText(f"step {step:,}")
        running = s.run_state == "running"
        self.rate_label.setText(f"{s.steps_per_second:,.0f} steps/s" if running else "")
        remaining = None
        if running and epoch > 0 and step > 0 and s.steps_per_second > 0:
            # From the measured wall-clock rate, so a watch pace (or a change of it) counts.
            remaining = (step / epoch) * max(target - epoch, 0) / s.steps_per_second
        self.time_label.setText(f"{format_duration(s.elapsed)} elapsed · {format_duration(remaining)} left")
        self.progress.setRange(0, target)
        self.progress.setValue(min(epoch, target))


def state_words(s: Any) -> str:
    """idle / running / paused / stopped / finished / diverged, as the status bar says them."""
    if s.run_state == "paused" and s.paused_after_epoch is not None:
        return f"paused after epoch {s.paused_after_epoch}"
    return {"early_stopped": "finished (early stop)", "stopping": "stopping…"}.get(s.run_state, s.run_state)
