"""Analyze ▸ Optimizer Race: the engine's optimizers racing on a 2-D surface.

Left: the surface's contours with each racer's path, drawn step by step at the chosen pace
(the app's watch paces); click the contours to move the start point. Right: each racer's loss
against the step. Under them: the step count at which each racer came within the tolerance of a
minimum (or diverged). The numbers come from ``engine.analysis.race`` (the optimizers of the
engine's registry on a 2-parameter buffer); the race is computed whole when started and then
revealed step by step.

Racers are typed as ``name lr=… option=…`` separated by ``;`` (e.g. ``sgd lr=0.01 momentum=0.9;
adam lr=0.05``). "Save to experiment" stores the race in the experiment file (an undoable edit);
the plots export as PNG/SVG/CSV like every plot, and "Export GIF…" writes the animation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.analysis.formula import FormulaError
from engine.analysis.race import RaceCancelled, RacePath, Racer, run_race
from engine.analysis.surfaces import SURFACES, Surface, make_surface
from engine.optimizers import OPTIMIZERS
from engine.spec import RaceSpec
from workbench.app.jobs import BackgroundJob, progress_row, status_label
from workbench.app.panels.common import edit_spec
from workbench.app.plots.axes import tick_axes
from workbench.app.plots.base import PlotView, columns
from workbench.model.history import History
from workbench.model.pace import DEFAULT_PACE, PACES, pace_label
from workbench.model.race_text import format_racers, parse_racers
from workbench.model.tasks import TaskState

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

TIP = (
    "Optimizers from the engine race on a classic 2-D surface from the same start point (click the "
    "contour plot to move it). Watch momentum overshoot in a ravine, Adam leave a saddle, and a "
    "learning rate that is too high diverge. The loss plot shows each racer's value against the step."
)
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
           (23, 190, 207), (227, 119, 194), (127, 127, 127), (188, 189, 34), (140, 86, 75),
           (0, 0, 0), (255, 187, 120)]
SURFACE_LABELS = {"rosenbrock": "Rosenbrock", "beale": "Beale", "himmelblau": "Himmelblau",
                  "saddle": "Saddle x² − y²", "ill_conditioned": "Ill-conditioned",
                  "noisy_bowl": "Noisy bowl"}
FRAME_MS = 33
GRID = 160


class RaceView(PlotView):
    title = "Optimizer race"
    noise = 0.5  # the noisy bowl's gradient noise (from the experiment's race, else this)

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.paths: list[RacePath] = []
        self.surface: Surface | None = None
        self.start_point = (-1.5, 2.0)
        self.shown = 0.0  # steps revealed (fractional while animating)
        self.error = ""
        self.formula_error = ""
        grid = self.use_grid_layout()
        self.contour = grid.addPlot(row=0, col=0)
        self.loss_plot = grid.addPlot(row=0, col=1, axisItems=tick_axes())  # log y: the app's labels
        grid.ci.layout.setColumnStretchFactor(0, 3)
        grid.ci.layout.setColumnStretchFactor(1, 2)
        for p in (self.contour, self.loss_plot):
            for side in ("left", "bottom"):
                p.getAxis(side).enableAutoSIPrefix(False)
            self.add_export_actions(p)
        self.contour.setLabel("bottom", "x")
        self.contour.setLabel("left", "y")
        self.contour.setTitle("click to set the start point", size="9pt")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "f(x, y)")
        self.loss_plot.setLogMode(y=True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.image.setOpacity(0.55)
        self.contour.addItem(self.image)
        self.isocurves: list[pg.IsocurveItem] = []
        self.minima = pg.ScatterPlotItem(symbol="star", size=16, brush=pg.mkBrush(255, 215, 0),
                                         pen=pg.mkPen("k"))
        self.start_marker = pg.ScatterPlotItem(symbol="o", size=12, brush=pg.mkBrush("w"),
                                               pen=pg.mkPen("k", width=2))
        self.contour.addItem(self.minima)
        self.contour.addItem(self.start_marker)
        self.path_items: list[pg.PlotDataItem] = []
        self.head_items: list[pg.ScatterPlotItem] = []
        self.loss_items: list[pg.PlotDataItem] = []

        self.surface_box = QComboBox()
        for name in SURFACES.names():
            self.surface_box.addItem(SURFACE_LABELS.get(name, name), name)
        self.surface_box.addItem("Formula…", "formula")
        self.surface_box.setToolTip("The surface the optimizers race on")
        self.formula = QLineEdit()
        self.formula.setPlaceholderText("f(x, y), e.g. x**2 + 3*sin(y)")
        self.formula.setToolTip("Numbers, x, y, pi, e, + - * / **, and sin cos tan exp log sqrt abs tanh "
                                "sinh cosh atan. Gradients are exact (forward-mode differentiation).")
        self.formula.setMinimumWidth(220)
        self.formula.setVisible(False)
        self.racers_edit = QLineEdit("sgd lr=0.001; sgd lr=0.001 momentum=0.9; adam lr=0.01")
        self.racers_edit.setToolTip("Racers separated by ';': an optimizer name, lr=…, and its options, e.g. "
                                    "'sgd lr=0.01 momentum=0.9; adam lr=0.05 beta1=0.8'. Optimizers: "
                                    + ", ".join(OPTIMIZERS.names()))
        self.racers_edit.setMinimumWidth(260)
        self.steps = QSpinBox()
        self.steps.setRange(1, 20_000)
        self.steps.setValue(500)
        self.steps.setToolTip("Steps each racer takes")
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setDecimals(3)
        self.tolerance.setRange(0.001, 100.0)
        self.tolerance.setValue(0.05)
        self.tolerance.setToolTip("A racer has arrived when it is this close to a minimum")
        self.pace = QComboBox()
        for rate in PACES:
            self.pace.addItem(pace_label(rate), rate)
        self.pace.setCurrentIndex(PACES.index(DEFAULT_PACE))
        self.pace.setToolTip("How fast the paths are drawn (steps per second)")
        self.save_button = QPushButton("Save to experiment")
        self.save_button.setToolTip("Store this race in the experiment file (Ctrl+Z undoes it)")
        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.setToolTip("Write the race as an animated GIF")
        for label, widget in (("", self.surface_box), ("", self.formula), ("steps", self.steps),
                              ("tolerance", self.tolerance), ("", self.pace)):
            if label:
                self.controls.addWidget(QLabel(label))
            self.controls.addWidget(widget, 1 if widget is self.formula else 0)
        # Long races (up to 12 racers × 20,000 steps) run off the GUI thread, with Cancel.
        self.job = BackgroundJob(self)
        self.race_button, self.cancel_button, self.progress = progress_row(
            self, "Race ▶", "Run every racer from the start point and draw their paths")
        self.progress.setMaximumWidth(70)
        # The racers get a row of their own: they are the longest thing a person types here.
        racers_row = QHBoxLayout()
        racers_row.setContentsMargins(4, 0, 4, 0)
        racers_row.addWidget(QLabel("racers"))
        racers_row.addWidget(self.racers_edit, 1)
        racers_row.addWidget(self.save_button)
        racers_row.addWidget(self.gif_button)
        self.layout().insertLayout(1, racers_row)
        self.hint = status_label(self, "Choose a surface, click a start point, press Race ▶.")
        self.hint.setTextFormat(pg.QtCore.Qt.TextFormat.RichText)
        self.setToolTip(TIP)
        self.plot_widget.setToolTip(TIP)
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)

        self.surface_box.currentIndexChanged.connect(lambda _i: self._surface_changed())
        self.formula.editingFinished.connect(self._surface_changed)
        self.race_button.clicked.connect(self.race)
        self.cancel_button.clicked.connect(lambda: self.job.cancel())
        self.cancel_button.setEnabled(False)
        self.job.progress.connect(lambda v: self.progress.setValue(round(v * 100)))
        self.job.finished.connect(self._on_result)
        self.job.failed.connect(lambda message, _details: self._refuse(message))
        self.job.cancelled.connect(lambda: self.hint.setText("Race cancelled."))
        self.job.runningChanged.connect(self._running_changed)
        self.save_button.clicked.connect(self.save_to_experiment)
        self.gif_button.clicked.connect(self._ask_gif)
        self.contour.scene().sigMouseClicked.connect(self._clicked)
        session.specChanged.connect(self._spec_changed)
        self.load_spec(session.spec.race)

    # -- the race settings ----------------------------------------------------------------------
    def race_spec(self) -> RaceSpec:
        """The race as the controls describe it; ValueError names what is wrong."""
        return RaceSpec(surface=self.surface_box.currentData(), formula=self.formula.text().strip(),
                        start=self.start_point, steps=self.steps.value(), tolerance=self.tolerance.value(),
                        racers=tuple(parse_racers(self.racers_edit.text())))

    def load_spec(self, race: RaceSpec | None) -> None:
        if race is None:
            self._surface_changed()
            return
        for w in (self.surface_box, self.formula):
            w.blockSignals(True)
        self.surface_box.setCurrentIndex(max(0, self.surface_box.findData(race.surface)))
        self.formula.setText(race.formula)
        self.formula.setVisible(race.surface == "formula")
        for w in (self.surface_box, self.formula):
            w.blockSignals(False)
        self.steps.setValue(race.steps)
        self.tolerance.setValue(race.tolerance)
        self.racers_edit.setText(format_racers(race.racers))
        self.noise = race.noise
        self._surface_changed(start=race.start)

    def _spec_changed(self, spec: Any) -> None:
        race = spec.race
        try:
            current = self.race_spec()
        except ValueError:
            current = None
        if race is not None and race != current:
            self.load_spec(race)

    def _surface_changed(self, start: tuple[float, float] | None = None) -> None:
        name = self.surface_box.currentData()
        self.formula.setVisible(name == "formula")
        try:
            if name == "formula" and not self.formula.text().strip():
                self.formula.setText("x**2 + 3*sin(y)**2")
            surface = make_surface(name, self.formula.text(), self.noise)
        except FormulaError as exc:
            self.error = self.formula_error = str(exc)
            self.hint.setText(f"<span style='color:#c81e1e'>The formula is refused: {exc}</span>")
            return
        self.error = self.formula_error = ""
        changed = self.surface is None or surface.name != self.surface.name or name == "formula"
        self.surface = surface
        if start is not None:
            self.start_point = (float(start[0]), float(start[1]))
        elif changed:
            self.start_point = surface.start
        self._clear_paths()
        self._draw_surface()
        self.hint.setText(f"{surface.about} Click the contours to move the start point, then press Race ▶.")

    def _draw_surface(self) -> None:
        s = self.surface
        assert s is not None
        x0, x1, y0, y1 = s.region
        shown = surface_grid(s)
        self.image.setImage(shown)
        self.image.setRect(pg.QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        for item in self.isocurves:
            self.contour.removeItem(item)
            item.setParentItem(None)
        self.isocurves = []
        for level in np.quantile(shown, np.linspace(0.04, 0.96, 14)):
            # Row-major like the image under it: pyqtgraph's default (column-major) turned the
            # contours 90° against the colours and the paths.
            curve = pg.IsocurveItem(data=shown, level=float(level), pen=pg.mkPen(60, 60, 60, 150),
                                    axisOrder="row-major")
            curve.setParentItem(self.image)
            self.isocurves.append(curve)
        self.minima.setData([m[0] for m in s.minima], [m[1] for m in s.minima])
        self.start_marker.setData([self.start_point[0]], [self.start_point[1]])
        self.contour.setXRange(x0, x1, padding=0)
        self.contour.setYRange(y0, y1, padding=0)
        self.contour.setTitle(f"{s.title} · click to set the start point", size="9pt")

    # -- clicks ---------------------------------------------------------------------------------
    def _clicked(self, event: Any) -> None:
        vb = self.contour.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        point = vb.mapSceneToView(event.scenePos())
        self.set_start(point.x(), point.y())

    def set_start(self, x: float, y: float) -> None:
        self.start_point = (float(x), float(y))
        self.start_marker.setData([x], [y])
        self._clear_paths()
        self.hint.setText(f"Start point ({x:.3g}, {y:.3g}). Press Race ▶.")

    # -- racing ---------------------------------------------------------------------------------
    def _refuse(self, message: str) -> None:
        self.error = message
        self.hint.setText(f"<span style='color:#c81e1e'>{_html(message)}</span>")

    def _running_changed(self, running: bool) -> None:
        self.race_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.progress.setValue(0)

    def race(self) -> bool:
        """Start the race on a worker thread; the animation begins when it is computed."""
        try:
            spec = self.race_spec()
        except ValueError as exc:
            self._refuse(str(exc).splitlines()[0])
            return False
        if self.surface is None or self.formula_error:
            self.hint.setText("<span style='color:#c81e1e'>The formula is refused: "
                              f"{self.formula_error}</span>")
            return False
        racers = [Racer(r.name, r.lr, r.options, r.label) for r in spec.racers]
        rng = np.random.default_rng(self.session.spec.seed)
        surface = self.surface
        self.error = ""
        self._clear_paths()

        def work(state: TaskState) -> object:
            try:
                return run_race(surface, racers, spec.start, spec.steps, spec.tolerance, rng,
                                progress=state.set_progress_value, cancelled=state.is_interruption_requested)
            except RaceCancelled:
                state.raise_if_cancelled()
                raise

        self.hint.setText(f"Racing {len(racers)} optimizers for {spec.steps:,} steps…")
        return self.job.start(work, "optimizer-race")

    def _on_result(self, paths: object) -> None:
        assert isinstance(paths, list)
        self.paths = paths
        self._make_items()
        self.shown = 0.0
        if self.pace.currentData() is None:
            self.finish()
        else:
            self.timer.start()

    def _tick(self) -> None:
        rate = self.pace.currentData()
        total = max((len(p.points) - 1 for p in self.paths), default=0)
        self.shown = float(total) if rate is None else min(total, self.shown + rate * FRAME_MS / 1000.0)
        self._draw_paths()
        if self.shown >= total:
            self.timer.stop()

    def finish(self) -> None:
        """Show the whole race at once (what the animation ends with)."""
        self.timer.stop()
        self.shown = float(max((len(p.points) - 1 for p in self.paths), default=0))
        self._draw_paths()

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def _clear_paths(self) -> None:
        self.timer.stop()
        self.paths = []
        for item in self.path_items + self.head_items:
            self.contour.removeItem(item)
        for item in self.loss_items:
            self.loss_plot.removeItem(item)
        self.path_items, self.head_items, self.loss_items = [], [], []

    @property
    def log_loss(self) -> bool:
        """A log loss axis where values stay positive (minimum 0); a saddle or formula can go negative."""
        s = self.surface
        return s is not None and bool(s.minima) and s.name != "formula"

    def _make_items(self) -> None:
        paths = self.paths
        self._clear_paths()
        self.paths = paths
        self.loss_plot.setLogMode(y=self.log_loss)
        for i, path in enumerate(paths):
            colour = COLOURS[i % len(COLOURS)]
            line = pg.PlotDataItem(pen=pg.mkPen(colour, width=2))
            head = pg.ScatterPlotItem(size=10, brush=pg.mkBrush(colour), pen=pg.mkPen("w"))
            self.contour.addItem(line)
            self.contour.addItem(head)
            loss = self.loss_plot.plot(pen=pg.mkPen(colour, width=2), name=path.racer.name)
            self.path_items.append(line)
            self.head_items.append(head)
            self.loss_items.append(loss)
        self.sync_legend()  # above the plots, in the racers' colours (never on the data)

    def _draw_paths(self) -> None:
        k = int(self.shown)
        lines = []
        for path, line, head, loss in zip(self.paths, self.path_items, self.head_items, self.loss_items,
                                          strict=True):
            n = min(k, len(path.points) - 1) + 1
            pts = path.points[:n]
            if self.surface is not None:
                pts = clip_to_region(pts, self.surface.region)
            line.setData(pts[:, 0], pts[:, 1])
            head.setData([pts[-1, 0]], [pts[-1, 1]])
            head.setSymbol("x" if len(pts) < n or (path.diverged_at is not None and path.diverged_at < n)
                           else "o")
            values = path.losses[:n]
            loss.setData(np.arange(n), np.maximum(values, 1e-300) if self.log_loss else values,
                         connect="finite")
            lines.append(self._status(path, n - 1))
        self.hint.setText(f"Step {k:,}: " + " · ".join(lines))

    def _status(self, path: RacePath, step: int) -> str:
        r, g, b = COLOURS[self.paths.index(path) % len(COLOURS)]
        colour = f"#{r:02x}{g:02x}{b:02x}"
        name = f"<b style='color:{colour}'>{path.racer.name}</b>"
        if path.diverged_at is not None and path.diverged_at <= step:
            return f"{name} diverged at step {path.diverged_at}"
        if path.reached_at is not None and path.reached_at <= step:
            return f"{name} within {self.tolerance.value():g} of a minimum at step {path.reached_at}"
        x, y = path.points[min(step, len(path.points) - 1)]
        return f"{name} at ({x:.3g}, {y:.3g})"

    # -- saving and exporting --------------------------------------------------------------------
    def save_to_experiment(self) -> bool:
        try:
            spec = self.race_spec()
        except ValueError as exc:
            self.hint.setText(f"<span style='color:#c81e1e'>{exc}</span>")
            return False
        race = spec.model_copy(update={"noise": self.noise}).model_dump(mode="json")
        return edit_spec(self.session, lambda d: d.__setitem__("race", race),
                         lambda msg: msg and self.hint.setText(f"<span style='color:#c81e1e'>{msg}</span>"))

    def _ask_gif(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export race as GIF", "optimizer-race.gif", "GIF (*.gif)")
        if path:
            self.export_gif(path)

    def export_gif(self, path: str | Path, frames: int = 60) -> Path:
        """The race as an animated GIF of ``frames`` frames (the whole race, evenly spaced)."""
        from workbench.export.gif import write_gif

        if not self.paths:
            raise ValueError("nothing to export: press Race ▶ first")
        self.timer.stop()
        total = max(len(p.points) - 1 for p in self.paths)
        # The legend (a label above the plots) and the plots: which colour is which racer.
        area = self.legend_label.geometry().united(self.plot_widget.geometry())
        images = []
        for k in np.unique(np.linspace(0, total, frames).round().astype(int)):
            self.shown = float(k)
            self._draw_paths()
            images.append(_rgb(self.grab(area).toImage()))
        written = write_gif(images, path)
        self.finish()
        self.hint.setText(f"Wrote {written.name} ({len(images)} frames).")
        return written

    # -- plot contract ------------------------------------------------------------------------------
    def refresh(self, history: History, force: bool = False) -> None:
        if force and self.paths:
            self._draw_paths()

    def redraw(self, history: History | None) -> None:
        if self.paths:
            self._draw_paths()

    def table(self) -> tuple[list[str], np.ndarray]:
        header = ["step"]
        cols: list[np.ndarray] = []
        n = max((len(p.points) for p in self.paths), default=0)
        cols.append(np.arange(n, dtype=float))
        for p in self.paths:
            header += [f"{p.racer.name} x", f"{p.racer.name} y", f"{p.racer.name} f"]
            cols += [p.points[:, 0], p.points[:, 1], p.losses]
        return header, columns(*cols)


def clip_to_region(pts: np.ndarray, region: tuple[float, float, float, float]) -> np.ndarray:
    """The path up to where it leaves the plotted region (a diverging racer's later points lie
    millions of units away: drawn, they would paint the plot over), ending on the border."""
    x0, x1, y0, y1 = region
    outside = (pts[:, 0] < x0) | (pts[:, 0] > x1) | (pts[:, 1] < y0) | (pts[:, 1] > y1)
    if not outside.any():
        return pts
    first = int(np.argmax(outside))
    kept = pts[: first + 1].copy()
    kept[-1] = np.clip(kept[-1], [x0, y0], [x1, y1])
    return kept


def surface_grid(surface: Surface) -> np.ndarray:
    """The surface's values on a GRID × GRID grid over its region (rows are y), as drawn:
    log-spaced above the minimum for steep valleys; points off the surface get the highest value."""
    x0, x1, y0, y1 = surface.region
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))
    with np.errstate(all="ignore"):
        z = np.asarray(surface.value(gx, gy), dtype=float)
    finite = np.isfinite(z)
    if not finite.any():
        return np.zeros_like(gx)
    z = np.where(finite, z, z[finite].max())
    return np.log10(z - z.min() + 1e-3) if surface.log_levels else z


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return data[:, : w * 3].reshape(h, w, 3).copy()


def install(host: ViewHost) -> None:
    """Analyze ▸ Optimizer Race: opens its page with the experiment's race (or Rosenbrock)."""
    view = RaceView(host.session)
    host.add_analysis("race", view, "Optimizer Race", TIP)
