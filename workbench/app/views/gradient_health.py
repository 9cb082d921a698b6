"""Gradient health: every layer's gradient norm over time as one heatmap (layers × steps).

The per-layer curves (GradientPlot) show the numbers; the heatmap shows the *shape* of the
problem at a glance: a band that fades towards the input side is a vanishing gradient, one that
brightens is an exploding one. Colour is log₁₀ of the norm, because healthy and sick layers
differ by orders of magnitude. Long histories are averaged (in log space) into at most
``MAX_COLUMNS`` columns so a million steps cost no more to draw than a thousand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from workbench.app.plots.base import MAP_INTERVAL, PlotView, columns
from workbench.model.history import History

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

MAX_COLUMNS = 600
TINY = 1e-30  # log of an exact zero gradient (a dead layer) stays finite


class GradientHealthView(PlotView):
    title = "Gradient health"
    min_interval = MAP_INTERVAL  # a whole-history image: a few redraws a second are plenty

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot_item.setLabel("bottom", "step")
        self.plot_item.setLabel("left", "layer")
        self.plot_item.invertY(True)  # input-side layer on top, output at the bottom
        self.plot_item.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(
            values=(-8, 0), colorMap=pg.colormap.get("viridis"), label="log₁₀ ‖∂L/∂W‖", interactive=False
        )
        self.colour_bar.setImageItem(self.image, insert_in=self.plot_item)
        self.colour_bar.axis.enableAutoSIPrefix(False)  # a new prefix re-lays the plot out
        self.hint = self.add_hint("")
        self.setToolTip(
            "Each row is a layer (input side on top), each column a moment of training; the colour is "
            "log₁₀ of the layer's weight-gradient norm. Rows that turn dark towards the top are vanishing "
            "gradients (early layers barely learn); bright rows near the input are exploding gradients."
        )
        self.layers: list[str] = []
        self.data = np.empty((0, 0))  # log10 norms shown: one row per layer, one column per time bin
        self.times = np.empty(0)  # x of each column (step, or epoch-end step for run folders)
        # log10 of every row seen so far, computed once per row (a long run has millions).
        self._logs = np.empty((0, 0))
        self._logged = 0
        self._log_key: tuple = ()
        self._levels: tuple[float, float] | None = None

    def redraw(self, history: History) -> None:
        layers = list(history.layers)
        if history.n_steps:
            x = history.steps("step")
            norms = [history.step_layer_grads(n) for n in layers]
        else:  # a run folder holds per-epoch means only
            x = history.epochs("step")
            norms = [history.epoch_layer_grads(n) for n in layers]
        if layers != self.layers:
            self.layers = layers
            axis = self.plot_item.getAxis("left")
            axis.setTicks(row_ticks(layers))
        if not layers or len(x) == 0:
            self.data, self.times = np.empty((len(layers), 0)), np.empty(0)
            self.image.clear()
            # Nothing of the last run: the colour bar and the step axis start over too.
            self._levels = None
            self.colour_bar.setLevels((-8.0, 0.0))
            self.plot_item.getViewBox().setRange(xRange=(0, 1), yRange=(0, max(len(layers), 1)), padding=0)
            self.plot_item.enableAutoRange()  # setRange turned it off: the first data must fit
            self.hint.setText("Train to see how each layer's gradient evolves.")
            return
        logs = self._log_norms(history, norms)
        self.data, self.times = _bin_columns(logs, np.asarray(x, float), MAX_COLUMNS)
        finite = self.data[np.isfinite(self.data)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-8.0, 0.0)
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        # NaN columns (divergence) draw as the lowest colour; mark them explicitly in the hint.
        shown = np.where(np.isfinite(self.data), self.data, lo)
        self.image.setImage(shown, autoLevels=False)
        # The colour bar's axis is laid out again on every change: move it when the data leaves it
        # by more than 5 % of the span (values beyond draw in the end colours) or fills < 80 % of it.
        old = self._levels
        tol = 0.05 * (hi - lo)
        if old is None or lo < old[0] - tol or hi > old[1] + tol or hi - lo < 0.8 * (old[1] - old[0]):
            self._levels = (lo, hi)
            self.colour_bar.setLevels(self._levels)  # (setImage without autoLevels keeps them)
        t0, t1 = float(self.times[0]), float(self.times[-1])
        width = max(t1 - t0, 1.0)
        # Each column covers its bin; the last one ends where training is now.
        self.image.setRect(QRectF(t0 - width / max(len(self.times), 1), 0.0,
                                  width * (1 + 1 / max(len(self.times), 1)), float(len(layers))))
        spread = hi - lo
        self.hint.setText(f"colour spans {spread:.1f} orders of magnitude"
                          + (" · NaN/inf shown dark" if not np.all(np.isfinite(self.data)) else ""))

    def _log_norms(self, history: History, norms: list[np.ndarray]) -> np.ndarray:
        """log10 of ``norms`` (layers × rows), computing only the rows new since the last call."""
        n = len(norms[0])
        key = (history.generation, tuple(self.layers), history.n_steps > 0)
        if key != self._log_key or n < self._logged:
            self._log_key, self._logged = key, 0
        if n > self._logs.shape[1] or self._logs.shape[0] != len(norms):
            grown = np.empty((len(norms), max(1024, 2 * n)))
            if self._logged:
                grown[:, : self._logged] = self._logs[:, : self._logged]
            self._logs = grown
        if n > self._logged:
            new = np.vstack([v[self._logged : n] for v in norms])
            with np.errstate(divide="ignore", invalid="ignore"):
                # NaN (diverged) stays NaN; an exact zero (a dead layer) stays finite.
                self._logs[:, self._logged : n] = np.log10(np.maximum(new, TINY))
            self._logged = n
        return self._logs[:, :n]

    def table(self) -> tuple[list[str], np.ndarray]:
        header = ["step", *(f"log10_grad_norm/{n}" for n in self.layers)]
        if self.data.size == 0:
            return header, np.empty((0, len(header)))
        return header, columns(self.times, *self.data)


# Row labels always shown (first, last and evenly between); the others are a second tick level,
# which the axis draws only where they do not crowd (a 20-layer net in the Training screen's slot).
ALWAYS_LABELLED = 8


def row_ticks(layers: list[str]) -> list[list[tuple[float, str]]]:
    """Axis tick levels naming the rows: every k-th row and the last first, the rest second."""
    n = len(layers)
    step = max(1, -(-n // ALWAYS_LABELLED))
    major = list(range(0, n, step))
    if n and major[-1] != n - 1:  # the output row is always named, in place of a crowding neighbour
        major[-1 if len(major) > 1 and n - 1 - major[-1] < step else len(major):] = [n - 1]
    return [[(i + 0.5, layers[i]) for i in sorted(major)],
            [(i + 0.5, layers[i]) for i in range(n) if i not in set(major)]]


def _bin_columns(logs: np.ndarray, x: np.ndarray, max_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Average ``logs`` (layers × n) into at most ``max_columns`` equal groups of consecutive columns.

    The mean of logs is the log of the geometric mean: one spike does not paint a whole bin."""
    n = logs.shape[1]
    if n <= max_columns:
        return logs.copy(), x.copy()
    edges = np.linspace(0, n, max_columns + 1).astype(int)
    with np.errstate(invalid="ignore"):
        sums = np.add.reduceat(logs, edges[:-1], axis=1)
    counts = np.diff(edges).astype(float)
    return sums / counts, x[edges[1:] - 1]


def install(host: ViewHost) -> None:
    """The heatmap sits beside the gradient curves on the Training screen; Analyze opens it full size."""
    view = GradientHealthView()
    host.register("gradient_health", view)
    tip = "Every layer's gradient norm over time as a heatmap"
    host.add_page("gradient_health", view.title, view, tip, slot="health")
    host.register_plot(view)
    host.add_action("Gradient Health Heatmap", lambda: host.open_page("gradient_health"), tip)
    view.refresh(host.session.history, force=True)
