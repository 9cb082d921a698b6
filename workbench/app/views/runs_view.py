"""Runs: every finished run of the session, sweeps and an experiment's variants, side by side.

Each finished, stopped or diverged run of the session lands in the Runs list with its History
(name, what differs from the base experiment, final losses and metric, status). Selecting
several rows overlays their loss, metric and gradient-norm curves, one colour per run.

Analyze ▸ Sweep… trains one hyperparameter over a list of values (learning rate, activation of
all hidden layers, optimizer, batch size, initialization) one run after another on a worker
thread (a plain ``Trainer`` per spec from ``engine.analysis.sweep_specs``, same seed), with
progress and Cancel; the session's own run is never touched. Experiment files with variants
open as such a comparison: the base and its variants are listed, and "Run Variants" trains
``engine.analysis.variant_specs(spec)`` the same way. Runs are sequential (no process pool).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QItemSelectionModel, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.analysis import variant_specs
from engine.events import RunFinished
from engine.spec import ExperimentSpec
from workbench.app.jobs import BackgroundJob
from workbench.app.plots.base import PlotView, columns
from workbench.model.history import History
from workbench.model.runs import (
    FINAL_STATES,
    KEPT_SESSION_RUNS,
    RUN_COLOURS,
    SWEEP_PARAMS,
    RunRecord,
    SweepChoice,
    build_sweep,
    copy_history,
    experiment_label,
    parse_values,
    run_specs,
    spec_diff,
)
from workbench.model.tasks import TaskState

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

RUNS_TIP = (
    "Every finished, stopped or diverged run, with what differs from the base experiment. Select several "
    "rows (Ctrl/Shift+click) to overlay their curves; with nothing selected all runs are shown. Sweeps "
    "and an experiment file's variants train one run after another with the same seed, so the only "
    "difference is the setting you changed."
)


class SweepDialog(QDialog):
    """Pick one hyperparameter, its values and the epochs per run."""

    def __init__(self, spec: ExperimentSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep a hyperparameter")
        self.spec = spec
        self.param = QComboBox()
        for key, p in SWEEP_PARAMS.items():
            self.param.addItem(p.title, key)
        self.param.setToolTip("The one setting that differs between the runs; everything else, the seed "
                              "included, stays as in the experiment.")
        self.values = QLineEdit()
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100_000)
        self.epochs.setValue(spec.training.epochs)
        self.epochs.setToolTip("Epochs per run.")
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Hyperparameter", self.param)
        form.addRow("Values", self.values)
        form.addRow("Epochs per run", self.epochs)
        sb = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(sb.Ok | sb.Cancel)
        buttons.button(sb.Ok).setText("Run Sweep")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.explain)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.param.currentIndexChanged.connect(self._param_changed)
        self._param_changed()

    def _param_changed(self, *_args: object) -> None:
        p = SWEEP_PARAMS[self.param.currentData()]
        self.values.setText(p.defaults)
        self.values.setToolTip(f"Comma-separated values. {p.tip}")
        self.explain.setText(p.tip)
        self.error.setText("")

    def set_param(self, key: str) -> None:
        self.param.setCurrentIndex(list(SWEEP_PARAMS).index(key))

    def choice(self) -> SweepChoice:
        """What the dialog describes; ValueError when the values do not parse."""
        key = self.param.currentData()
        return SweepChoice(key, tuple(parse_values(key, self.values.text())), self.epochs.value())

    def _accept(self) -> None:
        try:
            self.choice()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


class RunComparisonPlot(PlotView):
    """One quantity of several runs overlaid: solid = training set, dashed = validation."""

    def __init__(self, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind  # 'loss' | 'metric' | 'grad'
        self.title = {"loss": "Run comparison: loss", "metric": "Run comparison: accuracy",
                      "grad": "Run comparison: gradient norm"}[kind]
        p = self.plot_item
        p.setLabel("bottom", "epoch")
        p.setLabel("left", {"loss": "loss", "metric": "accuracy", "grad": "‖∇L‖ (global)"}[kind])
        if kind in ("loss", "grad"):
            self.add_log_toggle(True, "Log axis: runs that differ by orders of magnitude stay readable.")
        self.add_hint({"loss": "solid: training · dashed: validation",
                       "metric": "solid: training · dashed: validation",
                       "grad": "global gradient norm at each step"}[kind])
        self.setToolTip({
            "loss": "Training (solid) and validation (dashed) loss after each epoch of each selected run.",
            "metric": "Training (solid) and validation (dashed) accuracy (R² for regression) of each run.",
            "grad": "The norm of the whole gradient at every step, against epochs. Runs whose curve "
                    "falls to ~0 early stall (vanishing gradients or dead units); a curve shooting up "
                    "means exploding gradients.",
        }[kind])
        self.curves: list[tuple[str, str, pg.PlotDataItem]] = []  # (run name, 'train'|'val'|'grad', curve)
        self.records: list[RunRecord] = []

    def set_runs(self, records: list[RunRecord]) -> None:
        for _, _, curve in self.curves:
            self.plot_item.removeItem(curve)
        self.curves = []
        self.records = [r for r in records if r.has_curves]
        metric_name = "accuracy"
        for r in self.records:
            h = r.history
            assert h is not None
            if self.kind == "grad":
                x, y = _grad_series(h)
                curve = self.new_curve(r.name, r.colour)
                curve.setData(x, y, connect="finite")
                self.curves.append((r.name, "grad", curve))
                continue
            metric_name = h.metric_name
            train_key, val_key = ("train_loss", "val_loss") if self.kind == "loss" else ("train_metric",
                                                                                           "val_metric")
            train = self.new_curve(r.name, r.colour, width=2)
            train.setData(h.epochs("epoch"), h.epochs(train_key), connect="finite")
            val = self.plot_item.plot(pen=pg.mkPen(r.colour, width=1.5, style=Qt.PenStyle.DashLine))
            val.setData(h.epochs("epoch"), h.epochs(val_key), connect="finite")
            self.curves += [(r.name, "train", train), (r.name, "val", val)]
        if self.kind == "metric":
            label = "R²" if metric_name == "r2" else "accuracy"
            self.plot_item.setLabel("left", label)
            self.title = f"Run comparison: {label}"
        self.sync_legend()

    def refresh(self, history: History, force: bool = False) -> None:
        pass  # drawn from the runs list when it changes, not from the live history

    def redraw(self, history: History) -> None:
        pass

    def table(self) -> tuple[list[str], np.ndarray]:
        names: list[str] = []
        arrays: list[np.ndarray] = []
        for run, which, curve in self.curves:
            x, y = curve.getOriginalDataset()
            x = np.asarray(x if x is not None else [], float)
            y = np.asarray(y if y is not None else [], float)
            xname = "epoch"
            names += [f"{run} {xname}", f"{run} {which}"]
            arrays += [x, y]
        if not arrays:
            return ["epoch"], np.empty((0, 1))
        return names, columns(*arrays)


def _grad_series(h: History) -> tuple[np.ndarray, np.ndarray]:
    """Step-level global gradient norm against fractional epochs, so batch sizes line up."""
    if h.n_steps:
        steps = h.steps("step")
        per_epoch = float(h.epochs("step")[0]) if h.n_epochs and h.epochs("step")[0] > 0 else 1.0
        return steps / per_epoch, h.steps("grad_norm")
    return h.epochs("epoch"), np.full(h.n_epochs, np.nan)


# ----------------------------------------------------------------------------- the runs view
COLUMNS = ("Run", "Differs from base", "Status", "Train loss", "Val loss", "Train metric", "Val metric")


class RunsView(QWidget):
    title = "Runs"

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.experiment = experiment_label(session)
        self.records: list[RunRecord] = []
        self.base_spec: ExperimentSpec = session.spec
        self._colours = itertools.cycle(RUN_COLOURS)
        self._session_runs = 0
        self._batch: list[RunRecord] = []  # the records the running job fills, in order
        self.job = BackgroundJob(self)
        # Replaced in tests: returns the user's sweep choice, or None when cancelled.
        self.ask_sweep: Callable[[], SweepChoice | None] = self._ask_sweep_dialog

        self.sweep_button = QPushButton("Sweep…")
        self.sweep_button.setToolTip("Train the experiment once per value of one hyperparameter and "
                                     "overlay the runs.")
        self.variants_button = QPushButton("Run Variants")
        self.variants_button.setToolTip("Train the base experiment and each variant of the file, one "
                                        "after another, and overlay them.")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the sweep; finished runs stay in the list.")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected runs from the list.")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every finished run from the list.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(160)
        row = QHBoxLayout()
        row.setContentsMargins(4, 2, 4, 0)
        for w in (self.sweep_button, self.variants_button, self.cancel_button, self.progress,
                  self.remove_button, self.clear_button):
            row.addWidget(w)
        row.addStretch(1)

        self.table_widget = QTableWidget(0, len(COLUMNS))
        self.table_widget.setHorizontalHeaderLabels(list(COLUMNS))
        self.table_widget.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table_widget.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table_widget.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table_widget.verticalHeader().setVisible(False)
        self.table_widget.verticalHeader().setDefaultSectionSize(22)
        header = self.table_widget.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table_widget.setToolTip(RUNS_TIP)
        self.table_widget.itemSelectionChanged.connect(self._selection_changed)

        self.loss_plot = RunComparisonPlot("loss")
        self.metric_plot = RunComparisonPlot("metric")
        self.grad_plot = RunComparisonPlot("grad")
        self.plots = [self.loss_plot, self.metric_plot, self.grad_plot]
        plots = QSplitter(Qt.Orientation.Horizontal)
        for p in self.plots:
            plots.addWidget(p)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table_widget)
        split.addWidget(plots)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([200, 300])  # about eight rows of runs above the overlays
        split.setChildrenCollapsible(False)
        self.table_widget.setMinimumHeight(90)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #444; padding: 2px 4px;")
        layout.addWidget(self.hint)
        self.setToolTip(RUNS_TIP)

        self.sweep_button.clicked.connect(self.sweep)
        self.variants_button.clicked.connect(self.run_variants)
        self.cancel_button.clicked.connect(lambda: self.job.cancel())
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(self.clear)
        self.job.progress.connect(lambda v: self.progress.setValue(round(v * 100)))
        self.job.partial.connect(self._on_partial)
        self.job.finished.connect(self._on_done)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(self._on_cancelled)
        self.job.runningChanged.connect(lambda _r: self._update_buttons())
        session.runFinished.connect(self._session_run_finished)
        session.pathChanged.connect(self._path_changed)
        session.specChanged.connect(lambda _s: self._update_buttons())
        self._path_changed("")
        self._update_buttons()

    # -- records ---------------------------------------------------------------------------
    def _new_record(self, name: str, diff: str, spec: ExperimentSpec, source: str,
                    status: str = "pending") -> RunRecord:
        return RunRecord(name, diff, spec, next(self._colours), status=status, source=source,
                         experiment=self.experiment)

    def add_record(self, record: RunRecord) -> None:
        self.records.append(record)
        self._rebuild_table()

    @Slot(object)
    def _session_run_finished(self, result: object) -> None:
        s = self.session
        if not isinstance(result, RunFinished) or result.status not in FINAL_STATES:
            return
        if s.history.n_epochs == 0 and s.history.n_steps == 0:
            return
        self._session_runs += 1
        record = self._new_record(f"Session run {self._session_runs}", spec_diff(self.base_spec, s.spec),
                                  s.spec, "session", status=result.status)
        record.history = copy_history(s.history)
        self.records.append(record)
        session_runs = [r for r in self.records if r.source == "session"]
        for old in session_runs[: max(0, len(session_runs) - KEPT_SESSION_RUNS)]:
            self.records.remove(old)  # the oldest first: memory stays bounded in long sessions
        self._rebuild_table()

    @Slot(str)
    def _path_changed(self, _path: str) -> None:
        """A new or opened experiment becomes the base; its variants are listed, ready to run."""
        if self.job.is_running():
            self.job.cancel(join=True)
        spec = self.session.spec
        self.base_spec = spec.model_copy(update={"variants": ()})
        self.experiment = experiment_label(self.session)
        self.records = [r for r in self.records if not (r.source == "variant" and not r.has_curves)]
        if spec.variants:
            for label, vspec in variant_specs(spec):
                diff = "base" if label == "base" else spec_diff(self.base_spec, vspec)
                self.records.append(self._new_record(label, diff, vspec, "variant"))
            self.hint.setText(f"This experiment has {len(spec.variants)} variant"
                              f"{'s' * (len(spec.variants) != 1)}: Run Variants trains the base and each "
                              "variant with the same seed and overlays them.")
        self._rebuild_table()
        if spec.variants:
            self.table_widget.scrollToBottom()
        self._update_buttons()

    def remove_selected(self) -> None:
        rows = set(self.selected_rows())
        self.records = [r for i, r in enumerate(self.records) if i not in rows or r in self._batch]
        self._rebuild_table()

    def clear(self) -> None:
        self.records = [r for r in self.records if r in self._batch or not r.has_curves]
        self._rebuild_table()

    # -- table -----------------------------------------------------------------------------
    def _rebuild_table(self) -> None:
        selected = {id(self.records[i]) for i in self.selected_rows() if i < len(self.records)}
        # This experiment's runs first; the others stay listed, grouped by their own experiment.
        order = {self.experiment: 0}
        for r in self.records:
            order.setdefault(r.experiment, len(order))
        self.records.sort(key=lambda r: order[r.experiment])
        t = self.table_widget
        t.blockSignals(True)
        t.setRowCount(len(self.records))
        for row, r in enumerate(self.records):
            self._fill_row(row, r)
        t.clearSelection()
        for row, r in enumerate(self.records):
            if id(r) in selected:
                self._select(row)
        t.blockSignals(False)
        self._selection_changed()

    def _select(self, row: int) -> None:
        model = self.table_widget.selectionModel()
        index = self.table_widget.model().index(row, 0)
        model.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)

    def _fill_row(self, row: int, r: RunRecord) -> None:
        metric = r.history.metric_name if r.history is not None else "accuracy"

        def fmt(v: float) -> str:
            return f"{v:.4g}" if np.isfinite(v) else "—"

        diff = r.diff if r.experiment == self.experiment else f"other experiment: {r.experiment}"
        values = (r.name, diff, r.status if not r.message else f"{r.status}: {r.message}",
                  fmt(r.last("train_loss")), fmt(r.last("val_loss")),
                  fmt(r.last("train_metric")), fmt(r.last("val_metric")))
        for col, text in enumerate(values):
            item = QTableWidgetItem(text)
            if col == 0:
                pix = QPixmap(12, 12)
                pix.fill(QColor(*r.colour))
                item.setIcon(QIcon(pix))
            if col >= 3:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if r.status == "diverged":
                item.setForeground(QBrush(QColor(180, 0, 30)))
            if col in (5, 6):
                item.setToolTip(f"Final {'R²' if metric == 'r2' else 'accuracy'}")
            self.table_widget.setItem(row, col, item)
        self.table_widget.item(row, 1).setToolTip(
            r.diff if r.experiment == self.experiment else
            f"A run of “{r.experiment}”: not compared with this experiment's base.")

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table_widget.selectionModel().selectedRows()})

    def select_records(self, records: list[RunRecord]) -> None:
        t = self.table_widget
        t.blockSignals(True)
        t.clearSelection()
        for row, r in enumerate(self.records):
            if r in records:
                self._select(row)
        t.blockSignals(False)
        self._selection_changed()

    def shown_records(self) -> list[RunRecord]:
        """The selected runs; all of them when nothing is selected."""
        rows = self.selected_rows()
        chosen = [self.records[i] for i in rows] if rows else [
            r for r in self.records if r.experiment == self.experiment]
        return [r for r in chosen if r.has_curves]

    def _selection_changed(self) -> None:
        shown = self.shown_records()
        for p in self.plots:
            p.set_runs(shown)
        self._update_buttons()

    # -- sweeps ----------------------------------------------------------------------------
    def _ask_sweep_dialog(self) -> SweepChoice | None:
        dialog = SweepDialog(self.session.spec, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.choice()

    def sweep(self) -> bool:
        if self.job.is_running():
            return False
        choice = self.ask_sweep()
        if choice is None:
            return False
        return self.start_sweep(choice)

    def start_sweep(self, choice: SweepChoice) -> bool:
        try:
            items = build_sweep(self.session.spec, choice.param, list(choice.values))
        except Exception as exc:  # pydantic rejects a value: say which
            self.hint.setText(f"Cannot sweep: {exc}")
            return False
        base = self.session.spec
        records = [self._new_record(label, label, spec, "sweep", status="queued") for label, spec in items]
        self.records += records
        self._rebuild_table()
        title = SWEEP_PARAMS[choice.param].title.lower()
        return self._run(records, choice.epochs, f"Sweep of the {title} ({len(records)} runs, same seed)",
                         base)

    def run_variants(self) -> bool:
        if self.job.is_running():
            return False
        spec = self.session.spec
        if not spec.variants:
            self.hint.setText("This experiment has no variants. Add them to the file, or use Sweep….")
            return False
        pending = [r for r in self.records if r.source == "variant" and not r.has_curves]
        if not pending:
            for label, vspec in variant_specs(spec):
                diff = "base" if label == "base" else spec_diff(self.base_spec, vspec)
                pending.append(self._new_record(label, diff, vspec, "variant"))
            self.records += pending
        for r in pending:
            r.status = "queued"
        self._rebuild_table()
        return self._run(pending, None, f"The base and {len(spec.variants)} variants, same seed", spec)

    def _run(self, records: list[RunRecord], epochs: int | None, what: str, base: ExperimentSpec) -> bool:
        session = self.session
        trainer = session.trainer
        dataset = trainer.dataset if trainer is not None else None
        base_dir = session.base_dir
        jobs = [(i, r.spec) for i, r in enumerate(records)]
        self._batch = records
        self.select_records([])
        self.hint.setText(f"{what}: training…")
        self.progress.setValue(0)

        def work(state: TaskState) -> object:
            return run_specs(jobs, epochs, base, dataset, base_dir, state)

        self._what = what
        return self.job.start(work, "sweep")

    @Slot(object)
    def _on_partial(self, message: object) -> None:
        kind, index, *rest = message  # type: ignore[misc]
        if index >= len(self._batch):
            return
        r = self._batch[index]
        if kind == "start":
            r.status = "running"
        else:
            history, status, error = rest
            r.history = copy_history(history)
            r.status = status
            r.message = error
        if r in self.records:
            self._fill_row(self.records.index(r), r)
        if kind == "done":
            done = [x for x in self._batch if x.has_curves and x in self.records]
            self.select_records(done)

    @Slot(object)
    def _on_done(self, _result: object) -> None:
        self.hint.setText(f"{getattr(self, '_what', 'Runs')}: done. Select rows to compare a subset.")
        self._finish_batch()

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self.hint.setText(f"The sweep stopped with an error: {message}")
        self._finish_batch()

    @Slot()
    def _on_cancelled(self) -> None:
        self.hint.setText("Sweep cancelled; finished runs stay in the list.")
        self._finish_batch()

    def _finish_batch(self) -> None:
        for r in self._batch:
            if r.status in ("queued", "running"):
                r.status = "cancelled" if r.source == "sweep" else "pending"
        # Sweep runs that never ran are noise in the list; a file's variants stay, ready to run.
        self.records = [r for r in self.records if not (r.source == "sweep" and r.status == "cancelled")]
        batch, self._batch = self._batch, []
        self.progress.setValue(0 if not any(r.has_curves for r in batch) else 100)
        self._rebuild_table()
        self.select_records([r for r in batch if r.has_curves and r in self.records])

    def cancel(self, join: bool = False) -> None:
        self.job.cancel(join=join)

    def _update_buttons(self) -> None:
        running = self.job.is_running()
        self.sweep_button.setEnabled(not running)
        self.variants_button.setEnabled(not running and bool(self.session.spec.variants))
        self.cancel_button.setEnabled(running)
        self.remove_button.setEnabled(bool(self.selected_rows()))
        self.clear_button.setEnabled(any(r.has_curves for r in self.records))


def install(host: ViewHost) -> None:
    """Analyze ▸ Runs, Sweep… and Run Variants: one workspace page with the table and overlays."""
    view = RunsView(host.session)
    host.register("runs", view)
    host.register_job(view.job)
    host.add_page("runs", "Runs", view, RUNS_TIP)
    for plot in view.plots:  # the comparison plots export like every other plot
        host.register_plot(plot)

    def show() -> None:
        host.open_page("runs")

    def sweep() -> None:
        show()
        view.sweep()

    def variants() -> None:
        show()
        view.run_variants()

    def path_changed(_path: str) -> None:
        if host.session.spec.variants:
            show()  # a file with variants opens as a comparison

    host.session.pathChanged.connect(path_changed)
    host.add_action("Runs", show, "The list of finished runs and their overlaid curves.", separator=True)
    host.add_action("Sweep…", sweep, "Train once per value of one hyperparameter (learning rate, activation, "
                    "optimizer, batch size, initialization) and compare the runs.")
    host.add_action("Run Variants", variants,
                    "Train the base experiment and each of the file's variants and compare.")
