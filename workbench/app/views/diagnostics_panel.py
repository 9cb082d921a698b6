"""Diagnostics: what is wrong with this run, in plain words, and what to try.

The panel keeps its own copy of the run's EpochMetrics (from ``session.eventsArrived``; the
History holds columns, but ``diagnose`` needs the per-layer dicts and activation summaries) and
re-runs ``engine.analysis.diagnose`` as epochs arrive (coalesced to a few times a second) and
once more when the run ends, with the trainer's divergence so a NaN blow-up is named too.
Step metrics are not all kept: only the first (layer order) and non-finite ones (the exact step
where the loss or a gradient went NaN) matter to ``diagnose``.
"""

from __future__ import annotations

import time
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from engine.analysis import Diagnosis, RunContext, diagnose
from engine.analysis.skip_paths import skip_path_summary
from engine.analysis.time_gradients import TIME_WINDOW, diagnose_time
from engine.events import EpochMetrics, RunFinished, StepMetrics
from engine.recurrent import TimeGradients, recurrent_layers
from engine.thinning import ThinnedList
from workbench.app.plots.base import on_screen

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

KIND_TITLES = {
    "loss_diverging": "Loss diverging",
    "exploding_gradients": "Exploding gradients",
    "vanishing_gradients": "Vanishing gradients",
    "dead_relu": "Dead ReLU units",
    "stuck_negative": "Stuck in the negative regime",
    "saturated": "Saturated units",
    "update_ratio": "Update size",
    "loss_plateau": "Loss plateau",
    "learning_rate": "Learning rate",
    "data": "Data",
    "vanishing_through_time": "Vanishing gradient through time",
    "exploding_through_time": "Exploding gradient through time",
}
SEVERITY_COLOURS = {"error": QColor(253, 226, 225), "warning": QColor(255, 244, 214)}
RECOVERED_COLOUR = QColor(236, 236, 236)  # happened, then cleared for RECOVERY_EPOCHS epochs
HEALTHY = "No problems detected"
NOT_YET = "Nothing checked yet: train a few epochs and the checks start."
REFRESH_MS = 250  # live re-diagnosis at most ~4×/s: diagnose is cheap, the list rebuild is not free
# diagnose() reads every epoch so far, so a long run makes it slower: the live re-diagnosis is
# spaced so that it takes at most ~1/COST_RATIO of the time (never less often than every 5 s).
COST_RATIO = 100
MAX_REFRESH_MS = 5000


class DiagnosticsPanel(QWidget):
    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DiagnosticsPanel")
        self.session = session
        self.epochs: ThinnedList[EpochMetrics] = ThinnedList()
        self.steps: list[StepMetrics] = []
        self.divergence: Any = None
        self.context: RunContext | None = None  # the run's settings: remedies skip what is in use
        self.diagnoses: list[Diagnosis] = []
        self._stale = False  # something arrived while the panel was off screen

        self.status = QLabel("")
        self.status.setStyleSheet("color: #666;")
        copy = QPushButton("Copy")
        copy.setToolTip("Copy every diagnosis as plain text (for a report or an issue)")
        copy.clicked.connect(self.copy_text)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.status, 1)
        top.addWidget(copy)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setUniformItemSizes(False)
        self.list.setSpacing(2)
        self.list.setMinimumHeight(60)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        self.setToolTip(
            "Automatic checks of the run so far: vanishing or exploding gradients, dead ReLUs, units stuck "
            "in the negative regime, saturated sigmoid/tanh units, updates far from ~1e-3 of the weights, a "
            "diverging or stalled loss. Each names the layer and the epoch it started, says whether it is "
            "happening now or has recovered (grey), and suggests a remedy; one finding gives the "
            "learning-rate advice. Thresholds: docs/diagnostics.md."
        )

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.update_diagnoses)
        session.trainerChanged.connect(self._trainer_changed)
        session.eventsArrived.connect(self._events)
        session.runFinished.connect(self._finished)
        self._trainer_changed(session.trainer)

    def sizeHint(self) -> QSize:
        return QSize(600, 150)  # a strip under the plots, not half the window

    @Slot(object)
    def _trainer_changed(self, trainer: Any) -> None:
        self.steps, self.divergence = [], None
        self.time_records: list[TimeGradients] = []  # the last TIME_WINDOW, for recurrent layers
        try:
            self.context = RunContext.from_trainer(trainer) if trainer is not None else None
        except Exception:  # an unusual trainer: generic remedies rather than no panel
            self.context = None
        # A trainer that already ran (the panel was opened late) brings its own history.
        running = self.session.is_running
        self.epochs = ThinnedList()
        for e in (getattr(trainer, "history", None) or []) if not running else []:
            self.epochs.append(e.epoch, e)
        if trainer is not None and not running:
            self.divergence = getattr(trainer, "divergence", None)
        self.update_diagnoses()

    @Slot(object)
    def _events(self, events: list) -> None:
        # Hundreds of steps per batch, on the GUI thread: comprehensions, not one loop of ifs.
        epochs = [e for e in events if type(e) is EpochMetrics]
        for e in epochs:
            self.epochs.append(e.epoch, e)
        steps = [e for e in events if type(e) is StepMetrics]
        if steps and not self.steps:
            self.steps.append(steps[0])  # the layer order
        if steps:
            # The total gradient norm is NaN/inf whenever a layer's is, so two numbers per step
            # tell a non-finite step, checked in C over the whole batch.
            n = len(steps)
            loss = np.fromiter(map(attrgetter("loss"), steps), float, count=n)
            norm = np.fromiter(map(attrgetter("grad_norm"), steps), float, count=n)
            bad = np.flatnonzero(~(np.isfinite(loss) & np.isfinite(norm)))
            self.steps.extend(steps[i] for i in bad if steps[i] is not self.steps[0])
        if self.session.view_network is not None and recurrent_layers(self.session.view_network):
            records = [e for e in events[-3 * TIME_WINDOW :] if type(e) is TimeGradients]
            self.time_records = (self.time_records + records)[-TIME_WINDOW:]
        last = events[-1] if events else None  # a run's RunFinished is its last event
        if type(last) is RunFinished and last.divergence is not None:
            self.divergence = last.divergence
        if epochs and not self._timer.isActive():
            self._timer.start()

    @Slot(object)
    def _finished(self, result: Any) -> None:
        if isinstance(result, RunFinished) and result.divergence is not None:
            self.divergence = result.divergence
        self._timer.stop()
        self.update_diagnoses()

    def tick(self) -> None:
        """Shown again (tab chosen, dock reopened): diagnose what arrived while it was hidden."""
        if self._stale and on_screen(self):
            self.update_diagnoses()

    def update_diagnoses(self) -> None:
        # Off screen (closed, or a tab behind another) in a shown window: nothing to compute until
        # the panel is shown again (the main window then calls ``tick``).
        if not on_screen(self) and self.window().isVisible():
            self._stale = True
            return
        self._stale = False
        started = time.perf_counter()
        self._diagnose()
        cost_ms = (time.perf_counter() - started) * 1000
        self._timer.setInterval(round(min(max(REFRESH_MS, COST_RATIO * cost_ms), MAX_REFRESH_MS)))

    def _diagnose(self) -> None:
        net = self.session.view_network
        order = [name for name, *_ in net.summary()] if net is not None else None
        try:
            self.diagnoses = diagnose(self.epochs, self.steps, layer_order=order, divergence=self.divergence,
                                      context=self.context) + self._time_diagnoses(net)
        except Exception as exc:  # a diagnostics bug must never take the app down
            self.diagnoses = []
            self.status.setText(f"Diagnostics failed: {exc}")
            return
        self._fill()

    def _time_diagnoses(self, net: Any) -> list[Diagnosis]:
        """Vanishing or exploding gradients through time (engine/analysis/time_gradients.py)."""
        if net is None or not self.time_records:
            return []
        layers = recurrent_layers(net)
        records = {layer.name: [r.norms[layer.name] for r in self.time_records if layer.name in r.norms]
                   for layer in layers}
        last = self.epochs[-1] if len(self.epochs) else None
        return diagnose_time(
            records, {layer.name: layer.kind for layer in layers},
            step=self.time_records[-1].step, epoch=last.epoch if last is not None else 0,
            clipping=self.session.spec.clipping.mode,
            truncate={layer.name: layer.truncate for layer in layers})

    def _fill(self) -> None:
        self.list.clear()
        n = len(self.epochs)
        if not self.diagnoses and not n:
            # Before any training nothing has been checked: no green tick over "0 epochs".
            item = QListWidgetItem(NOT_YET)
            item.setForeground(QBrush(QColor(110, 110, 110)))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setToolTip("The checks need a sustained pattern, not one noisy epoch.")
            self.list.addItem(item)
        elif not self.diagnoses:
            ok = self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
            item = QListWidgetItem(ok, HEALTHY)
            item.setForeground(QBrush(QColor(30, 120, 40)))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setToolTip("None of the checks fired on the epochs so far.")
            self.list.addItem(item)
        for d in self.diagnoses:
            icon = QStyle.StandardPixmap.SP_MessageBoxCritical if d.severity == "error" else (
                QStyle.StandardPixmap.SP_MessageBoxWarning)
            item = QListWidgetItem(self.style().standardIcon(icon), item_text(d))
            colour = SEVERITY_COLOURS.get(d.severity, QColor("white"))
            colour = RECOVERED_COLOUR if d.state == "recovered" else colour
            item.setBackground(QBrush(colour))
            item.setToolTip(d.text())
            item.setData(Qt.ItemDataRole.UserRole, d)
            self.list.addItem(item)
        skip = skip_path_summary([self.epochs[-1]]) if n else None
        if skip is not None:  # residual nets: a fact, not a problem (no icon, no colour)
            item = QListWidgetItem(skip)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setToolTip("Share of d loss / d input of each residual block that came through the skip "
                            "path, averaged over the epoch's steps (docs/diagnostics.md).")
            self.list.addItem(item)
        now = [d for d in self.diagnoses if d.state == "now"]
        errors = sum(d.severity == "error" for d in now)
        summary = f"{n} epoch{'s' if n != 1 else ''} checked"
        if self.diagnoses:
            summary += f" · {errors} error(s), {len(now) - errors} warning(s)"
            if len(now) < len(self.diagnoses):
                summary += f", {len(self.diagnoses) - len(now)} recovered"
        self.status.setText(summary)

    def texts(self) -> list[str]:
        """What the list shows, one string per row."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def copy_text(self) -> str:
        text = "\n\n".join(d.text() for d in self.diagnoses) or HEALTHY
        QGuiApplication.clipboard().setText(text)
        return text


def item_text(d: Diagnosis) -> str:
    where = [f"layer {d.layer}"] if d.layer else []
    where.append("the data, before training" if d.kind == "data" else f"epoch {d.epoch}, step {d.step}")
    title = f"{KIND_TITLES.get(d.kind, d.kind)} ({d.severity}, {d.when()}) — {' · '.join(where)}"
    return f"{title}\n{d.message}" + (f"\nTry: {d.remedy}" if d.remedy else "")


def install(host: ViewHost) -> None:
    """The strip under the Training screen's plots; Analyze opens it full size."""
    panel = DiagnosticsPanel(host.session)
    host.register("diagnostics", panel)
    tip = "Plain-language problems found in the run, with a suggested remedy"
    host.add_page("diagnostics", "Diagnostics", panel, tip, slot="diagnostics")
    host.on_frame(panel.tick)
    host.add_action("Diagnostics", lambda: host.open_page("diagnostics"), tip)
