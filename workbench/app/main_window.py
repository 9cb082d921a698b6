"""The main window: editor docks on the left, plot docks on the right, the Run toolbar.

Every dialog goes through a small method (``ask_*``, ``show_*``) so tests can replace it and
never block on a modal window.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import PySide6
from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QStyle,
    QTabBar,
    QWidget,
)

from workbench import __version__
from workbench.app.export import export_all, export_csv, export_png, export_svg, slug
from workbench.app.panels import DataPanel, NetworkPanel, TrainingPanel
from workbench.app.plots import BoundaryPlot, GradientPlot, LossPlot, MetricPlot, PlotView
from workbench.app.plots.base import on_screen
from workbench.app.session import Session
from workbench.app.views import install_views

APP_NAME = "Gradient Workbench"
ORG_NAME = "GradientWorkbench"
MAX_RECENT = 8
FRAME_MS = 40  # one redraw timer for every plot: 25 frames a second at most
# Frame budget while training: the GUI thread's CPU time (redraws, paints, batch handling) is
# kept near GUI_SHARE of wall time by stretching the frame interval, up to MAX_FRAME_MS (2 Hz).
# Every GUI-thread Python instruction is one the training thread cannot run (the GIL), so this
# is what keeps training in the window close to headless speed.
GUI_SHARE = 0.12
MAX_FRAME_MS = 500
STAGGER_MS = 12  # at most this far apart, the plots of one frame are drawn one by one
SHORTCUTS = [
    ("F5", "Start training, or resume a paused run"),
    ("F6", "Pause / resume"),
    ("F10", "Train one epoch"),
    ("Shift+F5", "Stop"),
    ("Ctrl+R", "Reset weights (new initialization, history cleared)"),
    ("Ctrl+N", "New experiment"),
    ("Ctrl+O", "Open an experiment"),
    ("Ctrl+S", "Save"),
    ("Ctrl+Shift+S", "Save as"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo an edit"),
    ("Ctrl+E", "Export all plots to a folder"),
    ("Ctrl+Q", "Quit"),
]


def _fmt_time(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "—"
    seconds = round(float(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


BOTTOM_STRIP = 150  # px: the diagnostics strip under the plots
QWIDGETSIZE_MAX = (1 << 24) - 1


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG_NAME, APP_NAME
        )
        self.session = Session(self)
        self.session.confirm_reset = self._confirm_reset
        self.setWindowTitle(APP_NAME)
        self.setMinimumSize(900, 600)
        self.setDockNestingEnabled(True)
        # The editors run the full height; the diagnostics strip sits under the plots only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setAcceptDrops(True)
        self.view_docks: dict[str, QDockWidget] = {}

        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_status()

        s = self.session
        s.dirtyChanged.connect(self._update_title)
        s.pathChanged.connect(self._update_title)
        s.specChanged.connect(self._update_title)
        s.specChanged.connect(self._update_actions)
        s.runStateChanged.connect(self._run_state_changed)
        s.runFinished.connect(self._run_finished)
        s.runError.connect(self._run_error)
        s.trainerChanged.connect(self._trainer_changed)
        s.networkUpdated.connect(self.boundary_plot.set_network)
        s.buildError.connect(lambda _t: self._update_actions())
        self._trainer_changed(s.trainer)
        self.boundary_plot.set_network(s.view_network)

        self.frame_timer = QTimer(self)
        self.frame_timer.setInterval(FRAME_MS)
        self.frame_timer.timeout.connect(self.refresh_views)
        self._frame_mark: tuple[float, float] | None = None  # (wall, GUI-thread CPU) at the last frame
        self.gui_share = 0.0  # smoothed share of wall time the GUI thread was busy
        self._staggered: list[PlotView] = []  # plots of this frame still to draw (while training)
        self.frame_timer.start()
        install_views(self)

        self.resize(1280, 800)
        self._arrange_bottom_docks()
        self._default_state = self.saveState()
        self._restore_settings()
        self._update_title()
        self._update_actions()

    # ------------------------------------------------------------------ layout
    def _dock(
        self, title: str, widget: QWidget, area: Qt.DockWidgetArea, scroll: bool = False
    ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{slug(title)}")
        if scroll:
            area_widget = QScrollArea()
            area_widget.setWidgetResizable(True)
            area_widget.setWidget(widget)
            area_widget.setFrameShape(QScrollArea.Shape.NoFrame)
            area_widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            widget = area_widget
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        shown = dock.widget()
        dock.visibilityChanged.connect(lambda on: on and self._catch_up(shown))
        return dock

    def _catch_up(self, widget: QWidget) -> None:
        """A dock came into view (its tab chosen, or reopened): draw what it missed right away."""
        if isinstance(widget, QScrollArea):
            widget = widget.widget()

        def draw() -> None:
            if isinstance(widget, PlotView):
                widget.refresh(self.session.history)
            elif hasattr(widget, "tick"):
                widget.tick()

        QTimer.singleShot(0, draw)  # after the layout has moved it on screen

    def _build_docks(self) -> None:
        s = self.session
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.data_panel = DataPanel(s)
        self.network_panel = NetworkPanel(s)
        self.training_panel = TrainingPanel(s)
        self.data_dock = self._dock("Data", self.data_panel, left, scroll=True)
        self.network_dock = self._dock("Network", self.network_panel, left, scroll=True)
        self.training_dock = self._dock("Training", self.training_panel, left, scroll=True)
        self.tabifyDockWidget(self.data_dock, self.network_dock)
        self.network_dock.raise_()
        for dock in (self.data_dock, self.network_dock, self.training_dock):
            dock.setMinimumWidth(300)

        self.loss_plot = LossPlot()
        self.metric_plot = MetricPlot()
        self.gradient_plot = GradientPlot()
        self.boundary_plot = BoundaryPlot()
        self.plots: list[PlotView] = [
            self.loss_plot, self.metric_plot, self.gradient_plot, self.boundary_plot
        ]
        docks = [self._dock(p.title, p, right) for p in self.plots]
        self.plot_docks = dict(zip(self.plots, docks, strict=True))
        loss, metric, grad, boundary = docks
        self.splitDockWidget(loss, grad, Qt.Orientation.Vertical)
        self.splitDockWidget(loss, metric, Qt.Orientation.Horizontal)
        self.splitDockWidget(grad, boundary, Qt.Orientation.Horizontal)
        self.resizeDocks([self.training_dock, loss], [370, 900], Qt.Orientation.Horizontal)
        for plot in self.plots:
            plot.exportRequested.connect(lambda fmt, p=plot: self.export_plot(p, fmt))

    def _arrange_bottom_docks(self) -> None:
        """Diagnostics and Runs share the bottom as tabs, in a strip that leaves the plots room."""
        bottom = [self.view_docks[t] for t in ("Diagnostics", "Runs") if t in self.view_docks]
        if len(bottom) == 2:
            hidden = bottom[1].isHidden()
            self.tabifyDockWidget(bottom[0], bottom[1])
            bottom[1].setHidden(hidden)
            bottom[0].raise_()
        # resizeDocks cannot shrink it before the first layout; a temporary maximum height can,
        # and the strip keeps its size (resizable by hand) once the cap is lifted after showing.
        for dock in bottom:
            dock.setMaximumHeight(BOTTOM_STRIP)
        QTimer.singleShot(0, lambda: [dock.setMaximumHeight(QWIDGETSIZE_MAX) for dock in bottom])

    def add_view_dock(self, title: str, widget: QWidget,
                      area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Add a view (e.g. an "explain the gradients" view) in a dock, listed in the View menu.

        A PlotView is also redrawn by the frame timer and included in "Export all plots"."""
        dock = self._dock(title, widget, area)
        self.view_docks[title] = dock
        self.view_menu.insertAction(self._view_sep, dock.toggleViewAction())
        if isinstance(widget, PlotView):
            self.plots.append(widget)
            self.plot_docks[widget] = dock
            widget.exportRequested.connect(lambda fmt, p=widget: self.export_plot(p, fmt))
        return dock

    # ------------------------------------------------------------------ actions
    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "", icon: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work even when the toolbar is hidden
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        s = self.session
        self.start_action = self._action("Start / Resume", s.start, "F5",
                                         "Train (F5): start, continue or resume the run", sp.SP_MediaPlay)
        self.pause_action = self._action("Pause", s.toggle_pause, "F6", "Pause or resume (F6)",
                                         sp.SP_MediaPause)
        self.step_action = self._action("Step Epoch", s.step_epoch, "F10", "Train one epoch (F10)",
                                        sp.SP_MediaSkipForward)
        self.stop_action = self._action("Stop", s.stop, "Shift+F5", "Stop training (Shift+F5)",
                                        sp.SP_MediaStop)
        self.reset_action = self._action("Reset Weights", s.reset_weights, "Ctrl+R",
                                         "New initial weights from the seed; clears the curves (Ctrl+R)",
                                         sp.SP_BrowserReload)
        self.run_actions = [self.start_action, self.pause_action, self.step_action, self.stop_action,
                            self.reset_action]
        toolbar = self.addToolBar("Run")
        toolbar.setObjectName("toolbar-run")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in self.run_actions:
            toolbar.addAction(a)
        self.run_toolbar = toolbar

        self.new_action = self._action("&New", self.new_file, QKeySequence.StandardKey.New)
        self.open_action = self._action("&Open…", self.open_file, QKeySequence.StandardKey.Open)
        self.open_run_action = self._action("Open &Run Folder…", self.open_run_folder)
        self.save_action = self._action("&Save", self.save_file, QKeySequence.StandardKey.Save)
        self.save_as_action = self._action("Save &As…", self.save_file_as, "Ctrl+Shift+S")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.undo_action = self._action("&Undo", s.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", s.redo, QKeySequence.StandardKey.Redo)
        self.export_all_action = self._action("All Plots to Folder…", self.export_all_plots, "Ctrl+E")
        self.export_npz_action = self._action("Weights as NPZ…", lambda: self.export_weights("npz"))
        self.export_onnx_action = self._action("Model as ONNX…", lambda: self.export_weights("onnx"))
        self.export_run_action = self._action("Run Folder…", self.export_run_folder)
        self.reset_layout_action = self._action("Reset Layout", self.reset_layout)
        self.shortcuts_action = self._action("Keyboard Shortcuts", self.show_shortcuts, "F1")
        self.about_action = self._action("&About Gradient Workbench", self.show_about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction(self.open_run_action)
        file_menu.addSeparator()
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        export_menu = file_menu.addMenu("&Export")
        for plot in self.plots:
            sub = export_menu.addMenu(plot.title)
            for fmt, label in (("png", "PNG…"), ("svg", "SVG…"), ("csv", "Data as CSV…")):
                sub.addAction(label).triggered.connect(lambda _=False, p=plot, f=fmt: self.export_plot(p, f))
        export_menu.addSeparator()
        export_menu.addActions([self.export_all_action, self.export_npz_action, self.export_onnx_action,
                                self.export_run_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        run_menu = bar.addMenu("&Run")
        run_menu.addActions(self.run_actions)
        self.view_menu = bar.addMenu("&View")
        for dock in (self.data_dock, self.network_dock, self.training_dock, *self.plot_docks.values()):
            self.view_menu.addAction(dock.toggleViewAction())
        self._view_sep = self.view_menu.addSeparator()
        self.view_menu.addAction(self.run_toolbar.toggleViewAction())
        self.view_menu.addAction(self.reset_layout_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts_action, self.about_action])

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.state_label = QLabel("idle")
        self.epoch_label = QLabel()
        self.step_label = QLabel()
        self.rate_label = QLabel()
        self.time_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setTextVisible(True)
        for w in (self.state_label, self.epoch_label, self.step_label, self.rate_label, self.time_label):
            w.setMinimumWidth(70)
            bar.addPermanentWidget(w)
        bar.addPermanentWidget(self.progress)
        self._update_status()

    # ------------------------------------------------------------------ dialogs (replaceable in tests)
    def ask_save_changes(self) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(QMessageBox.Icon.Question, APP_NAME,
                          f"Save the changes to “{self._display_name()}”?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        answer = QMessageBox.StandardButton(box.exec())
        SB = QMessageBox.StandardButton
        return {SB.Save: "save", SB.Discard: "discard"}.get(answer, "cancel")

    def ask_open_path(self, caption: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, caption, self._last_dir(), filters)
        return path

    def ask_save_path(self, caption: str, suggested: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, caption, str(Path(self._last_dir()) / suggested), filters)
        return path

    def ask_folder(self, caption: str) -> str:
        return QFileDialog.getExistingDirectory(self, caption, self._last_dir())

    def ask_png_size(self) -> tuple[int, int] | None:
        text, ok = QInputDialog.getText(self, "PNG size", "Width × height in pixels:", text="1200x800")
        if not ok:
            return None
        try:
            w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
        except ValueError:
            self.show_error("PNG size", f"“{text}” is not a size like 1200x800.")
            return None
        return (max(16, min(w, 10000)), max(16, min(h, 10000)))

    def ask_confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def show_error(self, title: str, text: str, details: str = "") -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.exec()

    def show_warning(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def show_info(self, title: str, text: str) -> None:
        QMessageBox.information(self, title, text)

    # ------------------------------------------------------------------ files
    def _display_name(self) -> str:
        return self.session.path.name if self.session.path else "Untitled"

    @Slot()
    def _update_title(self, *_args: object) -> None:
        self.setWindowTitle(f"{self._display_name()}[*] — {APP_NAME}")
        self.setWindowModified(self.session.dirty)

    def maybe_save(self) -> bool:
        """True when it is fine to discard the current experiment."""
        if not self.session.dirty:
            return True
        answer = self.ask_save_changes()
        if answer == "save":
            return self.save_file()
        return answer == "discard"

    def new_file(self) -> None:
        if self.maybe_save():
            self.session.new()

    def open_file(self) -> None:
        if not self.maybe_save():
            return
        path = self.ask_open_path("Open experiment", "Experiments (*.json);;All files (*)")
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        """Open an experiment file or a run folder; on failure the current experiment stays."""
        path = Path(path)
        if ask and not self.maybe_save():
            return False
        if path.is_dir():
            return self.open_run_path(path)
        from workbench.experiment import ExperimentError

        try:
            self.session.open(path)
        except ExperimentError as exc:
            lines = "\n".join(f"• {p}" for p in exc.problems)
            self.show_error("Cannot open experiment", f"{path.name} cannot be opened:\n\n{lines}")
            return False
        except OSError as exc:
            self.show_error("Cannot open experiment", f"{path.name} cannot be read: {exc.strerror or exc}")
            return False
        self._remember(path)
        return True

    def save_file(self) -> bool:
        if self.session.path is None:
            return self.save_file_as()
        return self._save_to(self.session.path)

    def save_file_as(self) -> bool:
        suggested = self.session.path.name if self.session.path else f"{slug(self.session.spec.name)}.json"
        path = self.ask_save_path("Save experiment", suggested, "Experiments (*.json)")
        if not path:
            return False
        if not path.endswith(".json"):
            path += ".json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.session.save(path)
        except OSError as exc:
            self.show_error("Cannot save", f"{path} could not be written: {exc.strerror or exc}")
            return False
        self._remember(saved)
        self.statusBar().showMessage(f"Saved {saved.name}", 3000)
        return True

    def open_run_folder(self) -> None:
        if not self.maybe_save():
            return
        folder = self.ask_folder("Open run folder")
        if folder:
            self.open_run_path(Path(folder))

    def open_run_path(self, folder: Path) -> bool:
        """Show a saved run: its experiment, its curves, and its trained weights if present."""
        from workbench.runs import read_run

        try:
            record = read_run(folder)
        except Exception as exc:
            self.show_error("Cannot open run", f"{folder} is not a readable run folder: {exc}")
            return False
        self.session.new(record.spec)
        metric = record.metric_name
        rename = {f"train_{metric}": "train_metric", f"val_{metric}": "val_metric"}
        columns = {rename.get(k, k): v for k, v in record.columns.items()}
        keep = {k: v for k, v in columns.items()
                if k in ("epoch", "step", "train_loss", "val_loss", "train_metric", "val_metric", "lr",
                         "seconds") or k.startswith("grad_norm/")}
        self.session.history.load_columns(keep, metric)
        weights = folder / "weights.npz"
        if weights.exists() and self.session.trainer is not None:
            try:
                from workbench.export import load_weights

                load_weights(self.session.trainer.network, weights)
                self.session.view_network.load_state_dict(self.session.trainer.network.state_dict())
                self.session.networkUpdated.emit(self.session.view_network)
            except Exception as exc:
                self.statusBar().showMessage(f"Weights not loaded: {exc}", 5000)
        self.session.historyUpdated.emit()
        self.refresh_views(force=True)
        self.statusBar().showMessage(f"Run {folder.name}: {record.summary.get('status', '')}", 5000)
        return True

    # ------------------------------------------------------------------ recent files & settings
    def _last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, path: Path) -> None:
        path = Path(path).resolve()
        recent = [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent_files", [str(path), *recent][:MAX_RECENT])
        self.settings.setValue("last_dir", str(path.parent))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            action = self.recent_menu.addAction(Path(p).name)
            action.setToolTip(p)
            action.triggered.connect(lambda _=False, p=p: self.open_path(p))
        if not files:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(
                lambda: self.settings.setValue("recent_files", [])
            )

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in (self.data_dock, self.network_dock, self.training_dock, *self.plot_docks.values()):
            dock.setFloating(False)
            dock.show()
        self.network_dock.raise_()
        QTimer.singleShot(0, self.hide_orphan_tab_bars)

    # ------------------------------------------------------------------ exports
    def export_plot(self, plot: PlotView, fmt: str) -> Path | None:
        suggested = f"{slug(plot.title)}.{fmt}"
        filters = {"png": "PNG images (*.png)", "svg": "SVG images (*.svg)", "csv": "CSV files (*.csv)"}[fmt]
        size = None
        if fmt == "png":
            size = self.ask_png_size()
            if size is None:
                return None
        path = self.ask_save_path(f"Export {plot.title}", suggested, filters)
        if not path:
            return None
        target = Path(path)
        if target.suffix.lower() != f".{fmt}":
            target = target.with_name(target.name + f".{fmt}")
        plot.refresh(self.session.history, force=True)
        try:
            if fmt == "png":
                export_png(plot, target, *size)
            elif fmt == "svg":
                export_svg(plot, target)
            else:
                export_csv(plot, target)
        except OSError as exc:
            self.show_error("Export failed", str(exc))
            return None
        self.settings.setValue("last_dir", str(target.parent))
        self.statusBar().showMessage(f"Exported {target.name}", 3000)
        return target

    def export_all_plots(self) -> list[Path]:
        folder = self.ask_folder("Export all plots to folder")
        if not folder:
            return []
        self.refresh_views(force=True)
        try:
            files = export_all(self.plots, folder)
        except OSError as exc:
            self.show_error("Export failed", str(exc))
            return []
        self.statusBar().showMessage(f"Exported {len(files)} files to {folder}", 4000)
        return files

    def _export_network(self) -> Any:
        """The network to export: the trainer's when it is at rest, else the latest snapshot."""
        s = self.session
        if s.trainer is None:
            return None
        return s.view_network if s.is_running and s.run_state != "paused" else s.trainer.network

    def export_weights(self, fmt: str) -> Path | None:
        network = self._export_network()
        if network is None:
            self.show_warning("Nothing to export", "Fix the experiment first: it cannot build a network.")
            return None
        ext = {"npz": "npz", "onnx": "onnx"}[fmt]
        path = self.ask_save_path(f"Export {fmt.upper()}", f"{slug(self.session.spec.name)}.{ext}",
                                  f"{fmt.upper()} files (*.{ext})")
        if not path:
            return None
        target = Path(path)
        try:
            from workbench.export import export_onnx, save_weights

            if fmt == "npz":
                save_weights(network, target, self.session.spec)
            else:
                export_onnx(network, self.session.trainer.loss, target, name=self.session.spec.name[:80])
        except Exception as exc:
            self.show_error("Export failed", f"{type(exc).__name__}: {exc}")
            return None
        self.statusBar().showMessage(f"Exported {target.name}", 3000)
        return target

    def export_run_folder(self) -> Path | None:
        s = self.session
        if s.trainer is None or not s.trainer.history:
            self.show_warning("Nothing to export", "Train at least one epoch first.")
            return None
        if s.is_running and s.run_state != "paused":
            self.show_warning("Training is running", "Pause or stop the run before exporting it.")
            return None
        folder = self.ask_folder("Export run into folder")
        if not folder:
            return None
        from engine.events import RunFinished
        from workbench.runs import write_run

        t = s.trainer
        finished = s.last_finished or RunFinished(t.status, t.epoch, t.step, t.seconds, t.divergence)
        try:
            out = write_run(folder, s.spec, list(t.history), t.network, finished, loss=t.loss)
        except Exception as exc:
            self.show_error("Export failed", f"{type(exc).__name__}: {exc}")
            return None
        self.statusBar().showMessage(f"Run written to {out}", 4000)
        return Path(out)

    # ------------------------------------------------------------------ help
    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
        self.show_info("Keyboard shortcuts", f"<table>{rows}</table>")

    def versions(self) -> dict[str, str]:
        from PySide6.QtCore import qVersion

        return {"Gradient Workbench": __version__, "Python": platform.python_version(),
                "NumPy": np.__version__, "PySide6": PySide6.__version__, "Qt": qVersion(),
                "pyqtgraph": pg.__version__}

    def show_about(self) -> None:
        rows = "<br>".join(f"{k} {v}" for k, v in self.versions().items())
        self.show_info("About Gradient Workbench",
                       "<b>Gradient Workbench</b><br>Build a neural network, train it live and watch "
                       f"its gradients.<br><br>{rows}")

    # ------------------------------------------------------------------ running
    def _confirm_reset(self) -> bool:
        return self.ask_confirm("Reset training?", "This change needs new weights: the running training "
                                "will stop and its curves are cleared. Continue?")

    @Slot(object)
    def _trainer_changed(self, trainer: Any) -> None:
        self.boundary_plot.set_trainer(trainer)
        self.refresh_views(force=True)
        self._update_actions()

    @Slot(str)
    def _run_state_changed(self, state: str) -> None:
        self._update_actions()
        self._update_status()
        for plot in self.plots:
            plot.set_live(state == "running")

    @Slot(object)
    def _run_finished(self, result: Any) -> None:
        self.refresh_views()
        self._update_status()
        if result is not None and result.status == "diverged" and result.divergence is not None:
            self.statusBar().showMessage("Training diverged", 8000)
            self.show_warning("Training diverged", result.divergence.message())
        elif result is not None and result.status == "early_stopped":
            self.statusBar().showMessage(f"Early stop after epoch {result.epoch}: validation loss stopped "
                                         "improving", 8000)

    @Slot(str, str)
    def _run_error(self, message: str, details: str) -> None:
        self.show_error("Training failed", f"Training stopped with an error:\n\n{message}", details)

    def _update_actions(self, *_args: object) -> None:
        s = self.session
        running = s.run is not None  # set before the thread has actually started
        buildable = s.trainer is not None
        self.start_action.setEnabled(buildable and (not running or s.run_state == "paused"))
        self.start_action.setText("Resume" if s.run_state == "paused" else "Start")
        self.pause_action.setEnabled(running and s.run_state in ("running", "paused"))
        self.pause_action.setText("Resume" if s.run_state == "paused" else "Pause")
        self.step_action.setEnabled(buildable and not running)
        self.stop_action.setEnabled(running)
        self.reset_action.setEnabled(buildable)
        self.undo_action.setEnabled(s.can_undo)
        self.redo_action.setEnabled(s.can_redo)

    def _update_status(self) -> None:
        s = self.session
        t = s.trainer
        epoch = t.epoch if t is not None else 0
        step = s.last_step.step if s.last_step is not None else (t.step if t is not None else 0)
        target = max(s.target_epoch, 1)
        self.state_label.setText(s.run_state)
        self.epoch_label.setText(f"epoch {epoch}/{target}")
        self.step_label.setText(f"step {step:,}")
        self.rate_label.setText(f"{s.steps_per_second:,.0f} steps/s" if s.is_running else "")
        elapsed = s.elapsed
        remaining = None
        if s.is_running and s.last_epoch is not None and s.last_epoch.seconds > 0 and epoch > 0:
            per_epoch = s.last_epoch.seconds / epoch
            remaining = per_epoch * max(target - epoch, 0)
        self.time_label.setText(f"{_fmt_time(elapsed)} elapsed · {_fmt_time(remaining)} left")
        self.progress.setRange(0, target)
        self.progress.setValue(min(epoch, target))

    @Slot()
    def refresh_views(self, force: bool = False) -> None:
        """The one redraw per frame: plots on screen whose data moved, and the status bar.

        A plot in a closed dock, or in a tab behind another, is not touched; it catches up when
        shown (``_catch_up``). ``force`` redraws every plot, on screen or not (exports, tests).
        While training, the plots of one frame are drawn one at a time a few milliseconds apart
        (``_draw_next``): each redraw and its paint is a short task, and the event loop answers
        clicks and keys between them instead of after one long frame."""
        history = self.session.history
        if force:
            self._staggered = []
            for plot in self.plots:
                plot.refresh(history, force=True)
            self._update_status()
            return
        self._adapt_frame_rate()
        if self.isMinimized():
            return
        self._update_status()
        shown = [p for p in self.plots if on_screen(self.plot_docks[p])]
        if self.session.run_state != "running" or self.frame_timer.interval() <= FRAME_MS:
            # Idle, or frames cheap enough for the full rate: one frame, all plots at once.
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
            # Spread the frame over at most half its interval.
            gap = self.frame_timer.interval() // (2 * (len(self._staggered) + 1))
            QTimer.singleShot(max(1, min(gap, STAGGER_MS)), self._draw_next)

    def _adapt_frame_rate(self) -> None:
        """Stretch the frame interval while the GUI thread uses more than GUI_SHARE of the time."""
        wall, cpu = time.perf_counter(), time.thread_time()
        mark, self._frame_mark = self._frame_mark, (wall, cpu)
        if mark is None or wall - mark[0] <= 0:
            return
        share = (cpu - mark[1]) / (wall - mark[0])
        self.gui_share = 0.7 * self.gui_share + 0.3 * share
        if self.session.run_state != "running":
            interval = FRAME_MS  # idle or paused: edits and zooms deserve the full frame rate
        else:
            # Multiplicative steps, bounded per frame: converges in a few frames, never oscillates wildly.
            factor = min(max(self.gui_share / GUI_SHARE, 0.7), 1.5)
            interval = round(min(max(self.frame_timer.interval() * factor, FRAME_MS), MAX_FRAME_MS))
        if interval != self.frame_timer.interval():
            self.frame_timer.setInterval(interval)

    # ------------------------------------------------------------------ window events
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.hide_orphan_tab_bars)

    def hide_orphan_tab_bars(self) -> None:
        """Hide dock tab bars Qt left behind from an earlier arrangement of the tabs.

        Building the tab groups leaves stale copies of their tab bar (seen with Qt 6.11) drawn
        over other docks; the live bar sits right under the group's docks, a stale one does not.
        """
        docks = {d.windowTitle(): d for d in self.findChildren(QDockWidget)}
        for bar in self.findChildren(QTabBar):
            if bar.parent() is not self or not bar.isVisible():
                continue
            own = [docks[t] for t in (bar.tabText(i) for i in range(bar.count())) if t in docks]
            box = bar.geometry()
            if own and not any(
                d.geometry().left() == box.left() and d.geometry().width() == box.width() for d in own
            ):
                bar.hide()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.frame_timer.stop()
        self.session.shutdown()
        self.save_settings()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            path = Path(urls[0].toLocalFile())
            if path.suffix.lower() == ".json" or path.is_dir():
                event.acceptProposedAction()
                return
        event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            # After the drop returns: a modal dialog inside a drop handler upsets some platforms.
            path = urls[0].toLocalFile()
            QTimer.singleShot(0, lambda: self.open_path(path))


def wait_for_idle(window: MainWindow, timeout: float = 10.0) -> None:
    """Process events until no run is going (used by the screenshot script)."""
    app = QApplication.instance()
    end = time.monotonic() + timeout
    while window.session.is_running and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
