"""The one redraw timer for every plot, and the frame budget that keeps training fast.

Each frame redraws the plots that are on screen and whose data moved; a plot in a closed tab
is not touched and catches up when shown. While training, the GUI thread's CPU time (redraws,
paints, batch handling) is kept near GUI_SHARE of wall time by stretching the frame interval up
to MAX_FRAME_MS: every GUI-thread Python instruction is one the training thread cannot run (the
GIL), so this is what keeps training in the window close to headless speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from workbench.app.plots.base import PlotView, on_screen

FRAME_MS = 40  # 25 frames a second at most
GUI_SHARE = 0.12
MAX_FRAME_MS = 1000
STAGGER_MS = 12  # at most this far apart, the plots of one frame are drawn one by one


class FrameScheduler(QObject):
    def __init__(self, session: object, plots: list[PlotView], status: Callable[[], None],
                 minimized: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.plots = plots  # shared with the window: views register into it
        self._status = status
        self._minimized = minimized
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.refresh)
        self._mark: tuple[float, float] | None = None  # (wall, GUI-thread CPU) at the last frame
        self.gui_share = 0.0  # smoothed share of wall time the GUI thread was busy
        self._staggered: list[PlotView] = []  # plots of this frame still to draw (while training)
        self.ticks: list[Callable[[], None]] = []

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def refresh(self, force: bool = False) -> None:
        """The one redraw per frame: plots on screen whose data moved, the status bar, the ticks.

        ``force`` redraws every plot, on screen or not (exports, tests). While training, the
        plots of one frame are drawn one at a time a few milliseconds apart (``_draw_next``): the
        event loop answers clicks and keys between them instead of after one long frame."""
        history = self.session.history
        if force:
            self._staggered = []
            for plot in self.plots:
                plot.refresh(history, force=True)
            self._status()
            return
        self._adapt()
        if self._minimized():
            return
        self._status()
        for tick in self.ticks:
            tick()
        shown = [p for p in self.plots if on_screen(p)]
        if self.session.run_state != "running" or self.timer.interval() <= FRAME_MS:
            self._staggered = []
            for plot in shown:
                plot.refresh(history)
            return
        pending = bool(self._staggered)
        self._staggered = shown
        if not pending:
            self._draw_next()

    def _draw_next(self) -> None:
        if not self._staggered:
            return
        self._staggered.pop(0).refresh(self.session.history)
        if self._staggered:
            gap = self.timer.interval() // (2 * (len(self._staggered) + 1))
            QTimer.singleShot(max(1, min(gap, STAGGER_MS)), self._draw_next)

    def _adapt(self) -> None:
        """Stretch the frame interval while the GUI thread uses more than GUI_SHARE of the time."""
        wall, cpu = time.perf_counter(), time.thread_time()
        mark, self._mark = self._mark, (wall, cpu)
        if mark is None or wall - mark[0] <= 0:
            return
        share = (cpu - mark[1]) / (wall - mark[0])
        self.gui_share = 0.7 * self.gui_share + 0.3 * share
        if self.session.run_state != "running":
            interval = FRAME_MS  # idle or paused: edits and zooms deserve the full frame rate
        else:
            factor = min(max(self.gui_share / GUI_SHARE, 0.7), 1.5)
            interval = round(min(max(self.timer.interval() * factor, FRAME_MS), MAX_FRAME_MS))
        if interval != self.timer.interval():
            self.timer.setInterval(interval)
