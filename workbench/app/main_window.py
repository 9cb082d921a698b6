"""The main window: the editors on the left, the workspace on the right, the Run toolbar on top.

The window assembles parts that each do one job: ``Workspace`` (the Training screen and one tab
per analysis view), ``FrameScheduler`` (redraws), ``FileActions`` and ``ExportActions`` (the
File menu), ``ViewHost`` (the contract the analysis views install through) and the Qt-free
``workbench.model.layout`` (the saved layout). There are no dock widgets: a splitter and tabs
cannot overlap, and every view opened gets the whole workspace.

Every dialog goes through a small method (``ask_*``, ``show_*``) so tests can replace it and
never block on a modal window.
"""

from __future__ import annotations

import platform
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import PySide6
from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench import __version__
from workbench.app.about_pane import AboutPane
from workbench.app.export_actions import ExportActions
from workbench.app.file_actions import FileActions
from workbench.app.frames import FrameScheduler
from workbench.app.host import ViewHost, ViewRegistry
from workbench.app.jobs import JobRegistry
from workbench.app.pace import PaceControl
from workbench.app.panels import DataPanel, NetworkPanel, TrainingPanel
from workbench.app.plots import BoundaryPlot, GradientPlot, LossPlot, MetricPlot, PlotView
from workbench.app.session import Session
from workbench.app.status_bar import RunStatus
from workbench.app.training_screen import TrainingScreen
from workbench.app.views import install_views
from workbench.app.workspace import TRAINING, Home, Page, Workspace
from workbench.model.layout import Layout, parse_layout
from workbench.model.pace import DEFAULT_PACE, format_pace, parse_pace

APP_NAME = "Gradient Workbench"
EDITORS_MIN_WIDTH = 360  # px: the network table's Type, Size, Activation and Init columns
WORKSPACE_MIN_WIDTH = 560
ORG_NAME = "GradientWorkbench"
SHORTCUTS = [
    ("F5", "Start training, or resume a paused run"),
    ("F6", "Pause / resume"),
    ("F10", "Train one epoch"),
    ("Shift+F5", "Stop"),
    ("Ctrl+R", "Reset weights (new initialization, history cleared)"),
    ("Ctrl+Up / Ctrl+Down", "Watch pace: faster / slower"),
    ("Ctrl+N", "New experiment"),
    ("Ctrl+O", "Open an experiment"),
    ("Ctrl+S", "Save"),
    ("Ctrl+Shift+S", "Save as"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo an edit"),
    ("Ctrl+W", "Close the current analysis tab"),
    ("Ctrl+E", "Export all plots to a folder"),
    ("Ctrl+Q", "Quit"),
]


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG_NAME, APP_NAME
        )
        self.session = Session(self)
        self.session.confirm_reset = self._confirm_reset
        self.setWindowTitle(APP_NAME)
        self.setMinimumSize(960, 600)
        self.setAcceptDrops(True)
        self.files = FileActions(self)
        self.exports = ExportActions(self)
        self.views = ViewRegistry()
        self.jobs = JobRegistry()
        self.jobs.add(self.session.training_job)  # one join on close for every thread
        self.plots: list[PlotView] = []
        self.frames = FrameScheduler(self.session, self.plots, self._update_status, self.isMinimized, self)

        self._build_central()
        self._build_actions()
        self._build_menus()
        self._build_status()
        self._install_views()

        s = self.session
        s.dirtyChanged.connect(self._update_title)
        s.pathChanged.connect(self._update_title)
        s.specChanged.connect(self._update_title)
        s.specChanged.connect(self._update_actions)
        s.specChanged.connect(
            lambda spec: self.gradient_plot.set_clipping(spec.clipping.mode, spec.clipping.max))
        s.runStateChanged.connect(self._run_state_changed)
        s.runFinished.connect(self._run_finished)
        s.runError.connect(self._run_error)
        s.trainerChanged.connect(self._trainer_changed)
        s.networkUpdated.connect(self.boundary_plot.set_network)
        s.buildError.connect(lambda _t: self._update_actions())
        s.changeRefused.connect(lambda message: self.show_error(
            "Change not applied", f"{message}\n\nNothing was changed: the trained run is kept."))
        self._trainer_changed(s.trainer)
        self.boundary_plot.set_network(s.view_network)
        self.gradient_plot.set_clipping(s.spec.clipping.mode, s.spec.clipping.max)
        self.frames.start()

        self.resize(1280, 720)
        self._restore_layout()
        self._update_title()
        self._update_actions()

    # ------------------------------------------------------------------ layout
    def _build_central(self) -> None:
        s = self.session
        self.data_panel = DataPanel(s)
        self.network_panel = NetworkPanel(s)
        self.training_panel = TrainingPanel(s)
        self.editors = QTabWidget()
        self.editors.setObjectName("editors")
        self.editors.setDocumentMode(True)
        self.editors.setElideMode(Qt.TextElideMode.ElideNone)
        for panel, title in ((self.data_panel, "Data"), (self.network_panel, "Network"),
                             (self.training_panel, "Training")):
            self.editors.addTab(_scrolled(panel), title)
        self.editors.setCurrentIndex(1)

        self.loss_plot = LossPlot()
        self.metric_plot = MetricPlot()
        self.gradient_plot = GradientPlot()
        self.boundary_plot = BoundaryPlot()
        self.training_screen = TrainingScreen(self.loss_plot, self.metric_plot, self.gradient_plot,
                                              self.boundary_plot)
        self.workspace = Workspace()
        self.workspace.add_page(TRAINING, "Training", self.training_screen,
                                "Loss, accuracy, gradients by layer, gradient health, the decision "
                                "boundary and the diagnostics of the current run")
        self.workspace.currentChanged.connect(lambda _i: QTimer.singleShot(0, self._catch_up))
        for plot in (self.loss_plot, self.metric_plot, self.gradient_plot, self.boundary_plot):
            self.register_plot(plot)

        self.about = AboutPane(s)
        left = QWidget()
        left.setObjectName("editors-column")
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.about)
        column.addWidget(self.editors, 1)
        self.editors_column = left
        # Explicit minimums: a wide page (the Runs table) must not squeeze the editors, whose
        # network table needs this much; the workspace's own pages scroll or wrap instead.
        left.setMinimumWidth(EDITORS_MIN_WIDTH)
        self.workspace.setMinimumWidth(WORKSPACE_MIN_WIDTH)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main-splitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.workspace)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

    def register_plot(self, plot: PlotView) -> None:
        """Redrawn by the frame scheduler and listed in File ▸ Export and Export All."""
        self.plots.append(plot)
        # A bound method, not a closure over self: Qt holds a closure strongly, and a plot not
        # yet placed in the window would then keep the whole window alive after it closed.
        plot.exportRequested.connect(self._export_requested)

    def _export_requested(self, fmt: str) -> None:
        self.exports.export_plot(self.sender(), fmt)

    def _install_views(self) -> None:
        slots: dict[str, Home] = {"health": self.training_screen.health,
                                  "diagnostics": self.training_screen.diagnostics,
                                  "task": self.training_screen.task}
        host = ViewHost(
            session=self.session, views=self.views, parent=self, add_page=self._add_page,
            open_page=self.workspace.open_page, is_open=self.workspace.is_open, slots=slots,
            analyze_menu=self.analyze_menu, register_plot=self.register_plot,
            register_job=self.jobs.add, on_frame=self.frames.ticks.append,
        )
        install_views(host)

    def _add_page(self, name: str, title: str, widget: QWidget, tip: str, home: Home | None) -> Page:
        page = self.workspace.add_page(name, title, widget, tip, home)
        action = QAction(title, self)
        action.setCheckable(True)
        action.setToolTip(f"Open or close the “{title}” tab")
        ws = self.workspace
        action.triggered.connect(lambda on: ws.open_page(name) if on else ws.close_page(name))
        self.workspace.pageOpened.connect(lambda n: n == name and action.setChecked(True))
        self.workspace.pageClosed.connect(lambda n: n == name and action.setChecked(False))
        self.pages_menu.addAction(action)
        return page

    @Slot()
    def _catch_up(self) -> None:
        """A tab came to the front: draw what it missed while it was hidden."""
        for plot in self.plots:
            if plot.isVisible():
                plot.refresh(self.session.history)

    def default_layout(self) -> Layout:
        return Layout(screen=self._screen_size())

    def _screen_size(self) -> tuple[int, int]:
        screen = self.screen() or QApplication.primaryScreen()
        size = screen.availableGeometry().size() if screen is not None else None
        return (size.width(), size.height()) if size is not None else (0, 0)

    def apply_layout(self, layout: Layout) -> None:
        self.resize(*layout.window)
        self.editors_column.setVisible(layout.editors_visible)
        self.run_toolbar.setVisible(layout.toolbar_visible)
        self.workspace.close_all()
        for name in layout.pages:
            self.workspace.open_page(name)
        self.workspace.open_page(layout.current)
        width = max(self.width(), 960)
        self.splitter.setSizes([layout.editors_width, width - layout.editors_width])
        self.about.set_expanded(layout.about_expanded)

    def current_layout(self) -> Layout:
        sizes = self.splitter.sizes()
        return Layout(
            window=(self.width(), self.height()),
            editors_width=sizes[0] if sizes and sizes[0] > 0 else Layout().editors_width,
            editors_visible=not self.editors_column.isHidden(),
            toolbar_visible=not self.run_toolbar.isHidden(),
            pages=tuple(n for n in self.workspace.open_names() if n != TRAINING),
            current=self.workspace.current_name() or TRAINING,
            screen=self._screen_size(),
            about_expanded=self.about.expanded,
        )

    def _restore_layout(self) -> None:
        saved = parse_layout(self.settings.value("layout"), self._screen_size(), set(self.workspace.pages))
        if saved is None:
            self.settings.remove("layout")  # another version, another screen, or damaged: start clean
            saved = self.default_layout()
        self.apply_layout(saved)

    def save_settings(self) -> None:
        self.settings.setValue("layout", self.current_layout().to_json())
        self.settings.sync()

    def reset_layout(self) -> None:
        """Exactly the designed layout: editors, the Training screen, nothing else open (the
        window keeps its size: that is the person's, not the layout's)."""
        self.apply_layout(replace(self.default_layout(), window=(self.width(), self.height())))
        self.editors.setCurrentIndex(1)

    # ------------------------------------------------------------------ actions
    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "", icon: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            # Undo/Redo and the run keys work wherever the focus is, even in an editor field.
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work even when the toolbar is hidden
        return action

    def _show_live_run(self) -> None:
        """Examples with variants open on the Runs page, which compares finished runs and draws
        nothing of the session's own run: F5 there would train out of sight."""
        if self.workspace.current_name() == "runs":
            self.workspace.open_page(TRAINING)

    def _start(self) -> None:
        self._show_live_run()
        self.session.start()

    def _step_epoch(self) -> None:
        self._show_live_run()
        self.session.step_epoch()

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        s, f, e = self.session, self.files, self.exports
        self.start_action = self._action("Start / Resume", self._start, "F5",
                                         "Train (F5): start, continue or resume the run", sp.SP_MediaPlay)
        self.pause_action = self._action("Pause", s.toggle_pause, "F6", "Pause or resume (F6)",
                                         sp.SP_MediaPause)
        self.pause_action.setCheckable(True)
        self.step_action = self._action("Step Epoch", self._step_epoch, "F10", "Train one epoch (F10)",
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
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in self.run_actions:
            toolbar.addAction(a)
        toolbar.addSeparator()
        self.pace = PaceControl(s)
        self.pace.set_rate(parse_pace(self.settings.value("pace", format_pace(DEFAULT_PACE))))
        self.pace.combo.currentIndexChanged.connect(
            lambda _i: self.settings.setValue("pace", format_pace(self.pace.rate())))
        toolbar.addWidget(self.pace)
        self.faster_action = self._action("Faster", self.pace.faster, "Ctrl+Up", "Watch pace: faster")
        self.slower_action = self._action("Slower", self.pace.slower, "Ctrl+Down", "Watch pace: slower")
        self.run_toolbar = toolbar

        self.new_action = self._action("&New", f.new_file, QKeySequence.StandardKey.New)
        self.open_action = self._action("&Open…", f.open_file, QKeySequence.StandardKey.Open)
        self.open_run_action = self._action("Open &Run Folder…", f.open_run_folder)
        self.save_action = self._action("&Save", f.save_file, QKeySequence.StandardKey.Save)
        self.save_as_action = self._action("Save &As…", f.save_file_as, "Ctrl+Shift+S")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.undo_action = self._action("&Undo", s.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", s.redo, "Ctrl+Shift+Z")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.export_all_action = self._action("All Plots to Folder…", e.export_all_plots, "Ctrl+E")
        self.export_npz_action = self._action("Weights as NPZ…", lambda: e.export_weights("npz"))
        self.export_onnx_action = self._action("Model as ONNX…", lambda: e.export_weights("onnx"))
        self.export_run_action = self._action("Run Folder…", e.export_run_folder)
        self.reset_layout_action = self._action("Reset Layout", self.reset_layout,
                                                tip="The designed layout: editors and the Training screen")
        self.training_page_action = self._action(
            "Training Screen", lambda: self.workspace.open_page(TRAINING), "Ctrl+1",
            "Show the Training screen")
        self.close_tab_action = self._action(
            "Close Tab", lambda: self.workspace.close_page(self.workspace.current_name()), "Ctrl+W",
            "Close the current analysis tab")
        self.editors_action = QAction("Editors", self)
        self.editors_action.setCheckable(True)
        self.editors_action.setChecked(True)
        self.editors_action.setShortcut(QKeySequence("Ctrl+0"))
        self.editors_action.toggled.connect(self.editors_column.setVisible)
        self.addAction(self.editors_action)
        self.shortcuts_action = self._action("Keyboard Shortcuts", self.show_shortcuts, "F1")
        self.about_action = self._action("&About Gradient Workbench", self.show_about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: self.files.fill_recent(self.recent_menu))
        self.examples_menu = file_menu.addMenu("E&xamples")
        self.files.fill_examples(self.examples_menu)
        file_menu.addAction(self.open_run_action)
        file_menu.addSeparator()
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        self.export_menu = file_menu.addMenu("&Export")
        self.export_menu.aboutToShow.connect(self._fill_export_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        run_menu = bar.addMenu("&Run")
        run_menu.addActions(self.run_actions)
        run_menu.addSeparator()
        run_menu.addActions([self.faster_action, self.slower_action])
        self.view_menu = bar.addMenu("&View")
        self.view_menu.addAction(self.editors_action)
        self.view_menu.addAction(self.run_toolbar.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.training_page_action)
        self.pages_menu = self.view_menu.addMenu("Analysis Tabs")
        self.view_menu.addAction(self.close_tab_action)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.reset_layout_action)
        self.run_toolbar.toggleViewAction().setText("Run Toolbar")
        self.editors_column.installEventFilter(self)
        QApplication.instance().focusChanged.connect(self._focus_changed)
        self.analyze_menu = bar.addMenu("&Analyze")
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts_action, self.about_action])

    def _fill_export_menu(self) -> None:
        menu = self.export_menu
        menu.clear()
        for plot in self.plots:
            sub = menu.addMenu(plot.title)
            for fmt, label in (("png", "PNG…"), ("svg", "SVG…"), ("csv", "Data as CSV…")):
                sub.addAction(label).triggered.connect(
                    lambda _=False, p=plot, f=fmt: self.exports.export_plot(p, f))
        menu.addSeparator()
        menu.addActions([self.export_all_action, self.export_npz_action, self.export_onnx_action,
                         self.export_run_action])

    def eventFilter(self, watched: Any, event: Any) -> bool:
        if watched is self.editors_column and event.type() in (event.Type.Show, event.Type.Hide):
            self.editors_action.setChecked(event.type() == event.Type.Show)
        if event.type() == QEvent.Type.ShortcutOverride and _is_undo_redo(event):
            return True  # a text field would keep Ctrl+Z for its own typing: the experiment's undo wins
        return super().eventFilter(watched, event)

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        """Undo/Redo work from the keyboard wherever the focus is: fields pass those keys on."""
        if isinstance(new, QLineEdit | QAbstractSpinBox) and self.isAncestorOf(new) and not new.property(
                "passes-undo"):
            new.setProperty("passes-undo", True)
            new.installEventFilter(self)

    def _build_status(self) -> None:
        self.status = RunStatus(self.statusBar())
        self.progress = self.status.progress
        self._update_status()

    # ------------------------------------------------------------------ dialogs (replaceable in tests)
    def ask_save_changes(self) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(QMessageBox.Icon.Question, APP_NAME,
                          f"Save the changes to “{self.files.display_name()}”?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)  # Enter never overwrites a file
        answer = QMessageBox.StandardButton(box.exec())
        box.deleteLater()
        SB = QMessageBox.StandardButton
        return {SB.Save: "save", SB.Discard: "discard"}.get(answer, "cancel")

    def ask_open_path(self, caption: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, caption, self.files.last_dir(), filters)
        return path

    def ask_save_path(self, caption: str, suggested: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, caption, str(Path(self.files.last_dir()) / suggested),
                                              filters)
        return path

    def ask_folder(self, caption: str) -> str:
        return QFileDialog.getExistingDirectory(self, caption, self.files.last_dir())

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
        box.deleteLater()

    def show_warning(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def show_info(self, title: str, text: str) -> None:
        QMessageBox.information(self, title, text)

    # ------------------------------------------------------------------ title & help
    @Slot()
    def _update_title(self, *_args: object) -> None:
        self.setWindowTitle(f"{self.files.display_name()}[*] — {APP_NAME}")
        self.setWindowModified(self.session.dirty)

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
        return self.ask_confirm("Start a new run?", "This change needs new weights: the current run stops "
                                "and its curves are cleared (a finished run stays in Analyze ▸ Runs). "
                                "Continue?")

    @Slot(object)
    def _trainer_changed(self, trainer: Any) -> None:
        self.boundary_plot.set_trainer(trainer)
        self.training_screen.show_for(trainer)
        for plot in self.plots:
            plot.reset_view()
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
        # One Resume (Start) while paused; Pause shows pressed and F6 still toggles it.
        self.pause_action.setEnabled(running and s.run_state in ("running", "paused"))
        self.pause_action.setChecked(s.run_state == "paused")
        self.step_action.setEnabled(buildable and (not running or s.run_state == "paused"))
        self.stop_action.setEnabled(running)
        self.reset_action.setEnabled(buildable)
        self.undo_action.setEnabled(s.can_undo)
        self.redo_action.setEnabled(s.can_redo)

    def _update_status(self) -> None:
        self.status.update(self.session)

    def refresh_views(self, force: bool = False) -> None:
        self.frames.refresh(force)

    # ------------------------------------------------------------------ window events
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_save():
            event.ignore()
            return
        self.frames.stop()
        self.jobs.cancel_all()
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
            QTimer.singleShot(0, lambda: self.files.open_path(path))


def _is_undo_redo(event: QKeyEvent) -> bool:
    if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
        return True
    combo = event.keyCombination()
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    return combo.key() in (Qt.Key.Key_Z, Qt.Key.Key_Y) and combo.keyboardModifiers() in (
        Qt.KeyboardModifier.ControlModifier, ctrl_shift)
