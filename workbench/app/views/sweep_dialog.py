"""Analyze ▸ Sweep…: one hyperparameter, its values, epochs and seeds, and where the runs go:
worker processes on this machine, or a Dask cluster through its scheduler's address."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.spec import ExperimentSpec
from workbench.model.runs import SWEEP_PARAMS, SweepChoice, parse_values
from workbench.model.sweep.executor import default_workers


class SweepDialog(QDialog):
    """Pick one hyperparameter, its values, the epochs per run, seeds and where to run."""

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
        self.seeds = QSpinBox()
        self.seeds.setRange(1, 100)
        self.seeds.setToolTip("Each value is trained with this many seeds (the experiment's, then the next "
                              "ones): a difference smaller than the spread between seeds is noise.")
        self.local = QRadioButton("This machine")
        self.local.setToolTip("Worker processes here, one BLAS thread each. Runs are seeded: the numbers are "
                              "the same as one run after another.")
        self.workers = QSpinBox()
        self.workers.setRange(1, 256)
        self.workers.setValue(default_workers())
        self.workers.setSuffix(" workers")
        self.workers.setToolTip(f"Worker processes; this machine has {default_workers()} cores.")
        self.cluster = QRadioButton("Dask scheduler")
        self.cluster.setToolTip("Run on a Dask cluster (pip install 'gradient-workbench[cluster]'; "
                                "start `dask scheduler`, then `dask worker ADDRESS` on each machine).")
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("tcp://host:8786")
        self.where = QButtonGroup(self)
        for button in (self.local, self.cluster):
            self.where.addButton(button)
        self.local.setChecked(True)
        self.out = QLineEdit()
        self.out.setPlaceholderText("optional: a new folder")
        self.out.setToolTip("A new folder: one run folder per run and sweep.csv, as "
                            "`gradient-workbench sweep` writes (Analyze ▸ Open Sweep Folder… reads it back).")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Hyperparameter", self.param)
        form.addRow("Values", self.values)
        form.addRow("Epochs per run", self.epochs)
        form.addRow("Seeds per value", self.seeds)
        local_row = QHBoxLayout()
        local_row.addWidget(self.local)
        local_row.addWidget(self.workers)
        local_row.addStretch(1)
        cluster_row = QHBoxLayout()
        cluster_row.addWidget(self.cluster)
        cluster_row.addWidget(self.scheduler, 1)
        form.addRow("Run on", local_row)
        form.addRow("", cluster_row)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        form.addRow("Save to", out_row)
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
        self.where.buttonToggled.connect(lambda *_: self._where_changed())
        self._param_changed()
        self._where_changed()

    def _param_changed(self, *_args: object) -> None:
        p = SWEEP_PARAMS[self.param.currentData()]
        self.values.setText(p.defaults)
        self.values.setToolTip(f"Comma-separated values. {p.tip}")
        self.explain.setText(p.tip)
        self.error.setText("")

    def _where_changed(self) -> None:
        self.workers.setEnabled(self.local.isChecked())
        self.scheduler.setEnabled(self.cluster.isChecked())

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the sweep")
        if folder:
            self.out.setText(folder)

    def set_param(self, key: str) -> None:
        self.param.setCurrentIndex(list(SWEEP_PARAMS).index(key))

    def choice(self) -> SweepChoice:
        """What the dialog describes; ValueError when the values or the address do not parse."""
        key = self.param.currentData()
        values = tuple(parse_values(key, self.values.text()))
        scheduler = self.scheduler.text().strip() if self.cluster.isChecked() else ""
        if self.cluster.isChecked() and "://" not in scheduler:
            raise ValueError("Enter the scheduler's address, e.g. tcp://host:8786 "
                             "(`dask scheduler` prints it).")
        workers = self.workers.value() if self.local.isChecked() else 0
        return SweepChoice(key, values, self.epochs.value(), self.seeds.value(), workers, scheduler,
                           self.out.text().strip())

    def _accept(self) -> None:
        try:
            self.choice()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
