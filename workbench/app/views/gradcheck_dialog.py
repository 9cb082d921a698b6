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
from PySide6.QtCore import QEvent, QObject, Qt, QThread, Signal, Slot
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
)

if TYPE_CHECKING:
    from workbench.app.main_window import MainWindow

BATCH = 16
ENTRIES = 40  # per parameter tensor; all of them when the tensor is smaller
GREEN = QColor(205, 240, 205)
RED = QColor(250, 205, 205)
AMBER = QColor(250, 230, 180)


class _CheckWorker(QObject):
    done = Signal(object)  # dict name -> max relative error
    failed = Signal(str)

    def __init__(self, network: Any, loss: Any, x: np.ndarray, y: np.ndarray) -> None:
        super().__init__()
        self.network, self.loss, self.x, self.y = network, loss, x, y

    @Slot()
    def run(self) -> None:
        from engine.gradcheck import gradient_check

        try:
            with np.errstate(all="ignore"):
                result = gradient_check(self.network, self.loss, self.x, self.y, n_samples=ENTRIES,
                                        rng=np.random.default_rng(0))
        except Exception as exc:  # shown in the dialog, never a crash
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.done.emit(result)


class GradCheckDialog(QDialog):
    checked = Signal(object)  # the result dict, after the table is filled (tests wait on it)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Check gradients")
        self.setObjectName("GradCheckDialog")
        self.session = window.session
        self.result: dict[str, float] = {}  # name -> max relative error
        self.checks: dict[str, Any] = {}  # name -> engine.gradcheck.TensorCheck
        self._thread: QThread | None = None
        self._worker: _CheckWorker | None = None
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: gradient_check reports no progress
        self.busy.setVisible(False)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["parameter", "entries", "max relative error", "tolerance (eps)",
                                              "result"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
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
            "parameter). Each parameter's step and tolerance follow from the finite difference's own "
            "measured error. Green: the gradients agree. Red: back-propagation is wrong for that "
            "parameter. Amber: its gradients are too small to resolve at this precision; not a pass."
        )
        explain.setWordWrap(True)
        explain.setStyleSheet("color: #555;")
        for w in (explain, self.summary, self.busy, self.table):
            layout.addWidget(w)
        layout.addWidget(buttons)
        self.setToolTip("Finite-difference check of back-propagation on the current model and data")
        self.resize(560, 420)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

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
        # Copies taken here, on the GUI thread: the worker never sees an array the GUI may change.
        worker = _CheckWorker(network.copy(np.float64), trainer.loss, x, np.array(y))
        thread = QThread(self)
        thread.setObjectName("gradient-check")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(self._done)
        worker.failed.connect(self._failed)
        worker.done.connect(thread.quit)
        worker.failed.connect(thread.quit)
        self._thread, self._worker = thread, worker
        self.table.setRowCount(0)
        self.summary.setText(f"Checking {network.n_parameters:,} parameters…")
        self.busy.setVisible(True)
        self.rerun.setEnabled(False)
        thread.start()
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
                     f"{check.tolerance:.0e} ({check.eps:g})", word]
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
        self.busy.setVisible(False)
        self.rerun.setEnabled(True)
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._thread.deleteLater()
        if self._worker is not None:
            self._worker.deleteLater()
        self._thread = self._worker = None

    def wait(self, timeout_ms: int = 60_000) -> None:
        """Join a running check (on close and in tests): never leave a QThread running."""
        if self._thread is not None:
            self._thread.wait(timeout_ms)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The main window is closing: join the check before the window (our parent) goes away.
        if watched is self.parent() and event.type() == QEvent.Type.Close:
            self.wait()
        return False

    def closeEvent(self, event: Any) -> None:
        self.wait()
        super().closeEvent(event)


def dialog_for(window: MainWindow) -> GradCheckDialog:
    """The window's one gradient-check dialog, created on first use."""
    dialog = getattr(window, "gradcheck_dialog", None)
    if dialog is None:
        dialog = window.gradcheck_dialog = GradCheckDialog(window)
        window.session.trainerChanged.connect(lambda _t: dialog.table.setRowCount(0))
        window.installEventFilter(dialog)
    return dialog


def open_gradient_check(window: MainWindow) -> GradCheckDialog:
    """Show the dialog (non-modal) and start a check."""
    dialog = dialog_for(window)
    dialog.show()
    dialog.raise_()
    dialog.start()
    return dialog


def install(window: MainWindow) -> None:
    """Analyze ▸ Check Gradients…"""
    if getattr(window, "gradcheck_action", None) is not None:
        return
    from workbench.app.views import analyze_menu

    menu = analyze_menu(window)
    menu.addSeparator()
    action = menu.addAction("Check Gradients…")
    action.setToolTip("Compare back-propagated gradients with finite differences on the current model")
    action.setStatusTip(action.toolTip())
    action.triggered.connect(lambda _=False: open_gradient_check(window))
    window.gradcheck_action = action
    window.gradcheck_dialog = None
