"""Analyze ▸ Check Gradients: does back-propagation agree with finite differences on this model?

Runs ``engine.gradcheck.gradient_check`` (float64 central differences, on its own float64 copy)
on a copy of ``session.view_network`` taken on the GUI thread, with the first ``BATCH`` training
samples, checking ``ENTRIES`` random entries of every parameter. It runs on a QThread (a big
model needs a few hundred forward passes), so the window stays responsive; the dialog waits for
the thread when it closes (the check cannot be interrupted between forward passes, but it is
short: the entries are capped).

Each tensor gets its own step and tolerance from the finite difference's measured error (see
``engine.gradcheck``): green passes, red fails, amber is "not checkable at this precision" (the
gradients are too small for float64 finite differences even at the largest step), never green.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.app.jobs import BackgroundJob
from workbench.model.tasks import TaskState

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

BATCH = 16
ENTRIES = 40  # per parameter tensor; all of them when the tensor is smaller
# Column titles and the header tooltips that explain them.
COLUMNS = (
    ("parameter", "The layer's weight (W), bias (b), or BatchNorm scale and shift"),
    ("entries checked", "Random entries compared, of the tensor's size"),
    ("max error", "Largest relative difference between back-propagation and finite differences"),
    ("worst / allowed", "The worst entry's miss as a share of what it is allowed: each entry may miss "
                        "by 10× its own finite-difference error; above 1× fails"),
    ("FD precision", "How precisely finite differences resolve this tensor (relative to its largest "
                     "gradient, ×10); above 1e-3 the tensor is not checkable"),
    ("step h", "The finite-difference step used for this tensor: (f(w + h) − f(w − h)) / 2h"),
    ("result", "pass, FAIL, or not checkable (gradients too small to resolve in float64)"),
)
GREEN = QColor(205, 240, 205)
RED = QColor(250, 205, 205)
AMBER = QColor(250, 230, 180)


def check_gradients(network: Any, loss: Any, x: np.ndarray, y: np.ndarray, state: TaskState) -> dict:
    """The job: a finite-difference check of ``network`` (a float64 copy) on ``x``, ``y``."""
    from engine.gradcheck import gradient_check

    with np.errstate(all="ignore"):
        return gradient_check(network, loss, x, y, n_samples=ENTRIES, rng=np.random.default_rng(0))


class GradCheckDialog(QDialog):
    checked = Signal(object)  # the result dict, after the table is filled (tests wait on it)

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Check gradients")
        self.setObjectName("GradCheckDialog")
        self.session = session
        self.result: dict[str, float] = {}  # name -> max relative error
        self.checks: dict[str, Any] = {}  # name -> engine.gradcheck.TensorCheck
        self.job = BackgroundJob(self)
        self.job.finished.connect(self._done)
        self.job.failed.connect(lambda message, _details: self._failed(message))
        self.job.cancelled.connect(lambda: self._failed("cancelled"))
        self._checking = False
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: gradient_check reports no progress
        self.busy.setVisible(False)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([title for title, _tip in COLUMNS])
        for col, (_title, tip) in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        header = self.table.horizontalHeader()
        # The numbers keep their full width; the parameter name takes what is left.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.rerun = QPushButton("Check again")
        self.rerun.setToolTip("Check the current weights again (e.g. after more training)")
        self.rerun.clicked.connect(self.start)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.rerun, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        explain = QLabel(
            "Compares each parameter's back-propagated gradient with central finite differences "
            f"(float64, on a copy of the model, {BATCH} training samples, up to {ENTRIES} entries per "
            "parameter). Each entry may miss its finite difference by 10× that difference's own measured "
            "error: \"worst / allowed\" above 1× fails. Green: the gradients agree. Red: "
            "back-propagation is wrong for that parameter. Amber: its gradients are too small to "
            "resolve at this precision; not a pass."
        )
        explain.setWordWrap(True)
        explain.setStyleSheet("color: #555;")
        for w in (explain, self.summary, self.busy, self.table):
            layout.addWidget(w)
        layout.addWidget(buttons)
        self.setToolTip("Finite-difference check of back-propagation on the current model and data")
        self.resize(720, 420)

    @property
    def running(self) -> bool:
        """A check is under way (its thread may still be winding down after the result came)."""
        return self._checking

    def start(self) -> bool:
        """Start a check on copies of the current weights and data; False if nothing to check."""
        if self.running:
            return False
        s = self.session
        trainer, network = s.trainer, s.view_network
        if trainer is None or network is None:
            self.summary.setText("Nothing to check: the experiment cannot be built.")
            return False
        from engine.trainer import targets_for_loss

        ds = trainer.dataset
        n = min(BATCH, len(ds.x_train))
        try:
            x = np.array(ds.x_train[:n], dtype=np.float64)
            y = targets_for_loss(ds, ds.y_train[:n], trainer.loss, np.dtype(np.float64))
        except ValueError as exc:
            self.summary.setText(f"Cannot check: {exc}")
            return False
        # Copies taken here, on the GUI thread: the job never sees an array the GUI may change.
        copy, loss, y = network.copy(np.float64), trainer.loss, np.array(y)
        self.table.setRowCount(0)
        self.summary.setText(f"Checking {network.n_parameters:,} parameters…")
        self.busy.setVisible(True)
        self.rerun.setEnabled(False)
        if self.job.is_running():
            self.job.join()  # the last check's thread is still winding down
        self._checking = self.job.start(lambda state: check_gradients(copy, loss, x, y, state),
                                        "gradient-check")
        return True

    @Slot(object)
    def _done(self, result: dict) -> None:
        self._finish_thread()
        self.checks = dict(result)
        self.result = {name: c.error for name, c in result.items()}
        sizes = {k: v.size for k, v in self.session.view_network.parameters().items()} if (
            self.session.view_network is not None) else {}
        self.table.setRowCount(len(result))
        words = {"pass": ("pass", GREEN), "fail": ("FAIL", RED), "not checkable": ("not checkable", AMBER)}
        for row, (name, check) in enumerate(result.items()):
            word, colour = words[check.status]
            cells = [name, f"{check.entries} of {sizes.get(name, '?')}", f"{check.error:.2e}",
                     f"{check.worst_share:.2g}×", f"{check.tolerance:.0e}", f"{check.eps:g}", word]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setBackground(QBrush(colour))
                item.setToolTip(check.describe())
                if col >= 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, col, item)
        bad = [n for n, c in result.items() if c.status == "fail"]
        unknown = [n for n, c in result.items() if c.status == "not checkable"]
        if bad:
            text = (f"<b style='color:#b00'>{len(bad)} of {len(result)} parameters disagree</b>: "
                    f"{', '.join(bad)}. Their back-propagated gradient is wrong.")
        elif unknown:
            text = (f"<b style='color:#a60'>{len(result) - len(unknown)} of {len(result)} parameters agree; "
                    f"{len(unknown)} not checkable at this precision</b>: {', '.join(unknown)} (gradients "
                    "too small for float64 finite differences).")
        else:
            text = (f"<b style='color:#080'>All {len(result)} parameters agree</b> with finite differences "
                    f"(max error {max(self.result.values(), default=0):.1e}).")
        self.summary.setText(text)
        self.checked.emit(self.result)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._finish_thread()
        self.result, self.checks = {}, {}
        self.summary.setText(f"The check failed: {message}")
        self.checked.emit({})

    def colours(self) -> dict[str, QColor]:
        """Parameter name -> the background colour its row shows (green, red or amber)."""
        return {self.table.item(r, 0).text(): self.table.item(r, 0).background().color()
                for r in range(self.table.rowCount())}

    def _finish_thread(self) -> None:
        self._checking = False
        self.busy.setVisible(False)
        self.rerun.setEnabled(True)

    def wait(self, timeout_ms: int = 60_000) -> None:
        """Join a running check (on close and in tests): never leave a thread running."""
        self.job.join(timeout_ms)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The main window is closing: join the check before the window (our parent) goes away.
        if watched is self.parent() and event.type() == QEvent.Type.Close:
            self.wait()
        return False

    def closeEvent(self, event: Any) -> None:
        self.wait()
        super().closeEvent(event)


class GradCheckLauncher:
    """Analyze ▸ Check Gradients…: one non-modal dialog, created on first use."""

    def __init__(self, host: ViewHost) -> None:
        self.host = host
        self._dialog: GradCheckDialog | None = None

    def dialog(self) -> GradCheckDialog:
        if self._dialog is None:
            dialog = self._dialog = GradCheckDialog(self.host.session, self.host.parent)
            self.host.register_job(dialog.job)
            self.host.session.trainerChanged.connect(lambda _t: dialog.table.setRowCount(0))
            self.host.parent.installEventFilter(dialog)
        return self._dialog

    def open(self) -> GradCheckDialog:
        """Show the dialog and start a check."""
        dialog = self.dialog()
        dialog.show()
        dialog.raise_()
        dialog.start()
        return dialog


def install(host: ViewHost) -> None:
    launcher = GradCheckLauncher(host)
    host.register("gradcheck", launcher)
    host.add_action("Check Gradients…", launcher.open,
                    "Compare back-propagated gradients with finite differences on the current model",
                    separator=True)
