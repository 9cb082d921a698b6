"""Runs: every finished run of the session, sweeps and an experiment's variants, in one table.

Each finished, stopped or diverged run of the session lands in the Runs table with its History
(name, what differs from the base experiment, final and best metrics, status, seed, time). The
table sorts by any column (numbers as numbers) and filters on any text; selecting rows overlays
their loss, metric and gradient-norm curves, one colour per run, and the scatter plots each
run's swept value against its result with the best run starred. Export CSV writes the table as
shown.

Analyze ▸ Sweep… trains one hyperparameter over a list of values (learning rate, activation of
all hidden layers, optimizer, batch size, initialization), with one or more seeds, in worker
processes on this machine or on a Dask cluster (``workbench.model.sweep``: the CLI's sweep
machinery), with live rows, progress and Cancel; the session's own run is never touched. With
a folder given, the runs are written as ``gradient-workbench sweep`` writes them, and Open
Sweep… reads such a folder back into the table. Experiment files with variants open as a
comparison: the base and its variants are listed, and "Run Variants" trains them the same way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QItemSelectionModel, Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.events import RunFinished
from engine.spec import ExperimentSpec
from workbench.app.jobs import BackgroundJob
from workbench.app.plots.base import PlotView, columns
from workbench.app.views.runs_table import SORT_ROLE, RunsFilterModel, RunsTableModel
from workbench.app.views.sweep_dialog import SweepDialog
from workbench.app.views.sweep_scatter import SweepScatterPlot
from workbench.experiment import atomic_write_bytes
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
    from_other_experiment,
    parse_values,
    spec_diff,
    sweep_configs,
    variant_configs,
)
from workbench.model.sweep.executor import DEFAULT_CONNECT_TIMEOUT
from workbench.model.sweep.job import sweep_job
from workbench.model.sweep.plan import Axis, Config
from workbench.model.sweep.results import SWEEP_CSV, SweepFileError, SweepWriter, csv_text, read_sweep
from workbench.model.sweep.runner import RunResult
from workbench.model.sweep.worker import history_of, steps_of

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

__all__ = ["RunsView", "SweepChoice", "SweepDialog", "build_sweep", "parse_values", "spec_diff"]

RUNS_TIP = (
    "Every finished, stopped or diverged run, with what differs from the base experiment. Click a "
    "header to sort, type in Filter to keep matching rows. Select several rows (Ctrl/Shift+click) to "
    "overlay their curves; with nothing selected all runs of this experiment are shown. Sweeps and "
    "variants are seeded: the only difference is the setting you changed (and the seed, if swept)."
)


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
        self._batch: list[RunRecord] = []  # the records the running job fills, by config index
        self.job = BackgroundJob(self)
        # Replaced in tests: the user's sweep choice (None when cancelled), a sweep folder to
        # open and where to export the table (None: cancelled).
        self.ask_sweep: Callable[[], SweepChoice | None] = self._ask_sweep_dialog
        self.ask_sweep_folder: Callable[[], str | None] = self._ask_folder
        self.ask_csv_path: Callable[[], str | None] = self._ask_csv_path
        self.connect_timeout = DEFAULT_CONNECT_TIMEOUT  # seconds before a scheduler counts as unreachable

        self.sweep_button = QPushButton("Sweep…")
        self.sweep_button.setToolTip("Train the experiment once per value of one hyperparameter, in "
                                     "parallel, and compare the runs.")
        self.variants_button = QPushButton("Run Variants")
        self.variants_button.setToolTip("Train the base experiment and each variant of the file, in "
                                        "parallel, and overlay them.")
        self.open_button = QPushButton("Open Sweep…")
        self.open_button.setToolTip("Read a sweep folder (sweep.csv and its run folders, as "
                                    "`gradient-workbench sweep` writes them) into the table.")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the sweep now; finished runs stay in the table.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setMaximumWidth(140)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter runs")
        self.filter.setClearButtonEnabled(True)
        self.filter.setToolTip("Keep the rows whose text contains this (any column), e.g. diverged, "
                               "lr=0.01 or relu.")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the table as shown (filtered and sorted) as CSV, values at "
                                      "full precision.")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected runs from the table.")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every finished run from the table.")
        # Two rows: in one, the ten controls needed ~900 px and squeezed the editors beside the
        # page below their own width at 1280×720.
        row = QHBoxLayout()
        row.setContentsMargins(4, 2, 4, 0)
        for w in (self.sweep_button, self.variants_button, self.open_button, self.cancel_button):
            row.addWidget(w)
        row.addWidget(self.progress, 1)
        tools = QHBoxLayout()
        tools.setContentsMargins(4, 0, 4, 0)
        tools.addWidget(self.filter, 1)
        for w in (self.export_button, self.remove_button, self.clear_button):
            tools.addWidget(w)

        self.table_model = RunsTableModel(lambda: self.records, lambda: self.experiment)
        self.proxy = RunsFilterModel()
        self.proxy.setSourceModel(self.table_model)
        t = self.table_view = QTableView()
        t.setModel(self.proxy)
        t.setSortingEnabled(True)
        t.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # view order until clicked
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.verticalHeader().setVisible(False)
        t.verticalHeader().setDefaultSectionSize(22)
        header = t.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        t.setToolTip(RUNS_TIP)
        t.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.filter.textChanged.connect(self._filter_changed)

        self.loss_plot = RunComparisonPlot("loss")
        self.metric_plot = RunComparisonPlot("metric")
        self.grad_plot = RunComparisonPlot("grad")
        self.scatter = SweepScatterPlot()
        self.plots: list[PlotView] = [self.loss_plot, self.metric_plot, self.grad_plot, self.scatter]
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(t)
        top.addWidget(self.scatter)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([720, 480])
        curves = QSplitter(Qt.Orientation.Horizontal)
        for p in (self.loss_plot, self.metric_plot, self.grad_plot):
            curves.addWidget(p)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(curves)
        split.setSizes([260, 260])
        split.setChildrenCollapsible(False)
        t.setMinimumHeight(90)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addLayout(tools)
        layout.addWidget(split, 1)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #444; padding: 2px 4px;")
        layout.addWidget(self.hint)
        self.setToolTip(RUNS_TIP)

        self.sweep_button.clicked.connect(self.sweep)
        self.variants_button.clicked.connect(self.run_variants)
        self.open_button.clicked.connect(self.open_sweep)
        self.cancel_button.clicked.connect(lambda: self.job.cancel())
        self.export_button.clicked.connect(self.export_csv)
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
        record.extra["seconds"] = result.seconds
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
            for config in variant_configs(spec):
                diff = "base" if config.label == "base" else spec_diff(self.base_spec, config.spec)
                self.records.append(self._new_record(config.label, diff, config.spec, "variant"))
            self.hint.setText(f"This experiment has {len(spec.variants)} variant"
                              f"{'s' * (len(spec.variants) != 1)}: Run Variants trains the base and each "
                              "variant with the same seed and overlays them.")
        self._rebuild_table()
        if spec.variants:
            self.table_view.scrollToBottom()
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
        self.table_model.reset()
        self.select_records([r for r in self.records if id(r) in selected])
        for col in range(self.table_model.columnCount() - 1):
            self.table_view.resizeColumnToContents(col)

    def _fill_row(self, row: int, _record: RunRecord) -> None:
        self.table_model.row_changed(row)

    def cell(self, row: int, col: int) -> str:
        """The text shown at ``row``, ``col`` of the table as sorted and filtered (tests read it)."""
        return str(self.proxy.index(row, col).data() or "")

    def visible_records(self) -> list[RunRecord]:
        """The records in the table's order, after the filter."""
        return [self.records[self.proxy.mapToSource(self.proxy.index(i, 0)).row()]
                for i in range(self.proxy.rowCount())]

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._selection_changed()

    def selected_rows(self) -> list[int]:
        """Indices into ``records`` of the selected rows."""
        model = self.table_view.selectionModel()
        return sorted({self.proxy.mapToSource(i).row() for i in model.selectedRows()})

    def select_records(self, records: list[RunRecord]) -> None:
        model = self.table_view.selectionModel()
        model.blockSignals(True)
        model.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for row, r in enumerate(self.records):
            if r in records:
                index = self.proxy.mapFromSource(self.table_model.index(row, 0))
                if index.isValid():
                    model.select(index, flags)
        model.blockSignals(False)
        self.table_view.viewport().update()
        self._selection_changed()

    def shown_records(self) -> list[RunRecord]:
        """The selected runs; with none selected, this experiment's runs the filter keeps."""
        rows = self.selected_rows()
        chosen = [self.records[i] for i in rows] if rows else [
            r for r in self.visible_records() if r.experiment == self.experiment]
        return [r for r in chosen if r.has_curves]

    def _selection_changed(self) -> None:
        shown = self.shown_records()
        for p in (self.loss_plot, self.metric_plot, self.grad_plot):
            p.set_runs(shown)
        # The scatter compares the whole sweep (as filtered); the selection is what the curves show.
        # Another experiment's runs are listed for reference, never compared with this one's.
        self.scatter.set_runs([r for r in self.visible_records()
                               if r.has_curves and not from_other_experiment(r, self.experiment)])
        self._update_buttons()

    # -- sweeps ----------------------------------------------------------------------------
    def _ask_sweep_dialog(self) -> SweepChoice | None:
        dialog = SweepDialog(self.session.spec, self)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.choice()
        finally:
            dialog.deleteLater()  # a child of this view: it would live on after each sweep

    def sweep(self) -> bool:
        if self.job.is_running():
            return False
        choice = self.ask_sweep()
        if choice is None:
            return False
        return self.start_sweep(choice)

    def start_sweep(self, choice: SweepChoice) -> bool:
        try:
            configs = sweep_configs(self.session.spec, choice)
        except Exception as exc:  # pydantic rejects a value: say which
            self.hint.setText(f"Cannot sweep: {exc}")
            return False
        writer = None
        if choice.out:
            path = SWEEP_PARAMS[choice.param].path
            writer = SweepWriter(Path(choice.out), configs, [Axis(path, tuple(choice.values))])
            problems = writer.problems()
            if (writer.root / SWEEP_CSV).exists():
                problems.insert(0, f"{writer.root} already holds a sweep; choose a new folder")
            if problems:
                self.hint.setText(f"Cannot sweep: {problems[0]}")
                return False
        records = []
        for config in configs:
            r = self._new_record(config.label, config.label, config.spec, "sweep", status="queued")
            r.extra["values"] = dict(config.values)
            records.append(r)
        self.records += records
        self._rebuild_table()
        title = SWEEP_PARAMS[choice.param].title.lower()
        seeds = f"{choice.seeds} seeds each" if choice.seeds > 1 else "same seed"
        return self._run(records, configs, f"Sweep of the {title} ({len(records)} runs, {seeds})",
                         workers=choice.workers or None, scheduler=choice.scheduler or None, writer=writer)

    def run_variants(self) -> bool:
        if self.job.is_running():
            return False
        spec = self.session.spec
        if not spec.variants:
            self.hint.setText("This experiment has no variants. Add them to the file, or use Sweep….")
            return False
        pending = [r for r in self.records if r.source == "variant" and not r.has_curves]
        if not pending:
            for config in variant_configs(spec):
                diff = "base" if config.label == "base" else spec_diff(self.base_spec, config.spec)
                pending.append(self._new_record(config.label, diff, config.spec, "variant"))
            self.records += pending
        for r in pending:
            r.status = "queued"
        self._rebuild_table()
        configs = [Config(i, r.name, {}, r.spec.seed, r.spec) for i, r in enumerate(pending)]
        n = len(spec.variants)
        return self._run(pending, configs, f"The base and {n} variant{'s' * (n != 1)}, same seed")

    def _run(self, records: list[RunRecord], configs: list[Config], what: str, *, workers: int | None = None,
             scheduler: str | None = None, writer: SweepWriter | None = None) -> bool:
        base_dir = self.session.base_dir
        self._batch = records
        self._what = what
        self.select_records([])
        self.hint.setText(f"{what}: starting workers…")
        self.progress.setValue(0)
        work = sweep_job(configs, workers=workers, scheduler=scheduler,
                         base_dir=str(base_dir) if base_dir is not None else None, writer=writer,
                         connect_timeout=self.connect_timeout)
        return self.job.start(work, "sweep")

    @Slot(object)
    def _on_partial(self, message: object) -> None:
        kind, *rest = message  # type: ignore[misc]
        if kind == "backend":
            self.hint.setText(f"{self._what}: training on {rest[0]}…")
            return
        index = rest[0]
        if index >= len(self._batch):
            return
        r = self._batch[index]
        if kind == "start":
            r.status = "running"
        else:
            result, folder, problem = rest[1], rest[2], rest[3]
            self._apply_result(r, result, folder, problem)
        if r in self.records:
            self._fill_row(self.records.index(r), r)
        if kind == "done":
            done = [x for x in self._batch if x.has_curves and x in self.records]
            self.select_records(done)

    def _apply_result(self, r: RunRecord, result: RunResult, folder: Path | None, problem: str) -> None:
        record = result.record or {}
        history = History()
        history.extend(steps_of(record))
        history.extend(history_of(record))
        r.history = history
        r.status = result.status
        r.message = "; ".join(x for x in (result.error, problem) if x)
        if "seconds" in record:
            r.extra["seconds"] = float(record["seconds"])
        if folder is not None:
            r.extra["folder"] = str(folder)

    @Slot(object)
    def _on_done(self, _result: object) -> None:
        self.hint.setText(f"{getattr(self, '_what', 'Runs')}: done. Click a header to sort; select rows "
                          "to compare a subset.")
        self._finish_batch()

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self.hint.setText(f"The sweep stopped with an error: {message}")
        self._finish_batch()

    @Slot()
    def _on_cancelled(self) -> None:
        self.hint.setText("Sweep cancelled; finished runs stay in the table.")
        self._finish_batch()

    def _finish_batch(self) -> None:
        for r in self._batch:
            if r.status in ("queued", "running", "cancelled"):
                r.status = "cancelled" if r.source == "sweep" else "pending"
        # Sweep runs that never ran are noise in the list; a file's variants stay, ready to run.
        self.records = [r for r in self.records if not (r.source == "sweep" and r.status == "cancelled")]
        batch, self._batch = self._batch, []
        self.progress.setValue(0 if not any(r.has_curves for r in batch) else 100)
        self._rebuild_table()
        self.select_records([r for r in batch if r.has_curves and r in self.records])

    def cancel(self, join: bool = False) -> None:
        self.job.cancel(join=join)

    # -- sweep folders and CSV ---------------------------------------------------------------
    def _ask_folder(self) -> str | None:
        folder = QFileDialog.getExistingDirectory(self, "Open a sweep folder")
        return folder or None

    def open_sweep(self, folder: str | None = None) -> bool:
        """Read a sweep folder's table and run folders into the table (runs not written are skipped)."""
        from workbench.runs import RunError, read_run

        folder = folder or self.ask_sweep_folder()
        if not folder:
            return False
        try:
            table = read_sweep(folder)
        except SweepFileError as exc:
            self.hint.setText(f"Cannot open the sweep: {exc}")
            return False
        added, skipped = [], 0
        for row in table.rows:
            path = table.run_folder(row)
            try:
                if path is None:
                    raise RunError("no run folder")
                run = read_run(path)
            except RunError:
                skipped += 1
                continue
            label = str(row["run"])
            r = self._new_record(label, label, run.spec, "opened", status=str(row["status"]))
            r.experiment = f"{Path(folder).name} (sweep folder)"
            r.history = History()
            r.history.load_columns(run.columns, run.metric_name)
            r.message = str(row.get("error") or "")
            r.extra.update(values={p: row[p] for p in table.paths}, folder=str(path))
            seconds = row.get("duration_seconds")
            if isinstance(seconds, float) and math.isfinite(seconds):
                r.extra["seconds"] = seconds
            added.append(r)
        self.records += added
        self._rebuild_table()
        self.select_records(added)
        note = f"; {skipped} without a readable run folder (cancelled, failed or moved) are not shown" \
            if skipped else ""
        self.hint.setText(f"Opened {len(added)} runs of the sweep in {folder}{note}.")
        return bool(added)

    def _ask_csv_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the runs table", "runs.csv", "CSV (*.csv)")
        return path or None

    def export_csv(self, path: str | None = None) -> Path | None:
        """The table as shown (filter and sort order), raw values at full precision."""
        path = path or self.ask_csv_path()
        if not path:
            return None
        names = [c.title for c in self.table_model.columns]
        rows = []
        for i in range(self.proxy.rowCount()):
            row = {}
            for col, name in enumerate(names):
                value = self.proxy.index(i, col).data(SORT_ROLE)
                row[name] = "" if value is None else value
            rows.append(row)
        target = Path(path)
        try:
            atomic_write_bytes(target, csv_text(rows, names).encode("utf-8"))
        except OSError as exc:
            self.hint.setText(f"Cannot write {target}: {exc.strerror or exc}")
            return None
        self.hint.setText(f"Wrote {len(rows)} runs to {target}.")
        return target

    def _update_buttons(self) -> None:
        running = self.job.is_running()
        self.sweep_button.setEnabled(not running)
        self.variants_button.setEnabled(not running and bool(self.session.spec.variants))
        self.open_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.remove_button.setEnabled(bool(self.selected_rows()))
        self.clear_button.setEnabled(any(r.has_curves for r in self.records))
        self.export_button.setEnabled(bool(self.records))


def install(host: ViewHost) -> None:
    """Analyze ▸ Runs, Sweep…, Open Sweep Folder… and Run Variants: one workspace page with the
    table, the scatter and the overlays."""
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

    def open_sweep() -> None:
        show()
        view.open_sweep()

    def variants() -> None:
        show()
        view.run_variants()

    def path_changed(_path: str) -> None:
        if host.session.spec.variants:
            show()  # a file with variants opens as a comparison

    host.session.pathChanged.connect(path_changed)
    host.add_action("Runs", show, "The table of finished runs and their overlaid curves.", separator=True)
    host.add_action("Sweep…", sweep, "Train once per value of one hyperparameter (learning rate, activation, "
                    "optimizer, batch size, initialization), in parallel here or on a Dask cluster, and "
                    "compare the runs.")
    host.add_action("Open Sweep Folder…", open_sweep,
                    "Read a folder written by `gradient-workbench sweep` into the runs table.")
    host.add_action("Run Variants", variants,
                    "Train the base experiment and each of the file's variants and compare.")
