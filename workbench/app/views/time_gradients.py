"""Gradient through time: ‖∂L/∂h_t‖ per time step of each recurrent layer, live.

Left, curves: the gradient reaching each time step at the latest training step (bright) and at a
few earlier ones (faded), on a log axis: a plain RNN's curve falls by orders of magnitude from
the last step back to the first (vanishing), an LSTM's stays nearly flat. Right, a heatmap of
time step × training step (log₁₀ colour): the textbook picture of how far back the gradient
reaches, and how that changes as the network trains. The first-to-last ratio is in the hint
line and in the diagnostics (thresholds in docs/diagnostics.md).

Data: the ``TimeGradients`` records the training task sends with each step
(``workbench/model/time_history.py`` keeps them, bounded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox

from workbench.app.plots.axes import tick_axes
from workbench.app.plots.base import MAP_INTERVAL, PlotView
from workbench.model.time_history import TimeGradientHistory

if TYPE_CHECKING:
    from workbench.app.host import ViewHost
    from workbench.model.history import History

TINY = 1e-30
SNAPSHOTS = 4  # earlier curves drawn faded beside the latest


class TimeGradientView(PlotView):
    title = "Gradient through time"
    min_interval = MAP_INTERVAL

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.store = TimeGradientHistory()
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The recurrent layer shown")
        self.layer_box.currentTextChanged.connect(lambda _t: self.refresh(None, force=True))
        self.controls.addWidget(self.layer_box)
        self.hint = self.add_hint("")
        grid = self.use_grid_layout()
        self.curves_plot = grid.addPlot(row=0, col=0, axisItems=tick_axes())  # log y: the app's labels
        self.curves_plot.setLabel("bottom", "time step t")
        self.curves_plot.setLabel("left", "‖∂L/∂h_t‖")
        self.curves_plot.setLogMode(y=True)
        self.heat_plot = grid.addPlot(row=0, col=1)
        self.heat_plot.setLabel("bottom", "time step t")
        self.heat_plot.setLabel("left", "training step")
        for plot in (self.curves_plot, self.heat_plot):
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.heat_plot.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(values=(-8, 0), colorMap=pg.colormap.get("viridis"),
                                          label="log₁₀ ‖∂L/∂h_t‖", interactive=False)
        self.colour_bar.setImageItem(self.image, insert_in=self.heat_plot)
        self.colour_bar.axis.enableAutoSIPrefix(False)
        self.latest_curve = self.curves_plot.plot(name="latest step", pen=pg.mkPen((200, 60, 40), width=2))
        self.old_curves = [self.curves_plot.plot(pen=pg.mkPen((200, 60, 40, 50 + 40 * i), width=1))
                           for i in range(SNAPSHOTS)]
        self.setToolTip(
            "‖∂L/∂h_t‖: how much of the loss's gradient reaches the hidden state at each time step. "
            "Left: across the sequence at the latest training step (faded: earlier steps). Right: "
            "every recorded training step (rows) × time step (columns), colour log₁₀. A curve or a "
            "row that darkens towards t = 0 is a gradient vanishing through time."
        )
        self._store_revision = -1
        self.data = np.empty((0, 0))

    # -- data ---------------------------------------------------------------------------
    def add_events(self, events: list) -> None:
        if self.store.extend(events):
            layers = self.store.layers
            if [self.layer_box.itemText(i) for i in range(self.layer_box.count())] != layers:
                current = self.layer_box.currentText()
                self.layer_box.blockSignals(True)
                self.layer_box.clear()
                self.layer_box.addItems(layers)
                if current in layers:
                    self.layer_box.setCurrentText(current)
                self.layer_box.blockSignals(False)

    def clear(self) -> None:
        self.store.clear()
        self.layer_box.clear()
        self.refresh(None, force=True)

    def ratio(self) -> float:
        """First-to-last step ratio of the layer shown, at the latest training step."""
        return self.store.first_to_last(self.layer_box.currentText())

    # -- drawing --------------------------------------------------------------------------
    def refresh(self, history: History | None, force: bool = False) -> None:
        # This view's data is its own store, not the step history.
        if not force and self.store.revision == self._store_revision:
            return
        self._store_revision = self.store.revision
        self.redraw(history)

    def redraw(self, history: History | None) -> None:
        layer = self.layer_box.currentText()
        matrix = self.store.matrix(layer) if layer else np.empty((0, 0))
        if matrix.size == 0:
            self.data = np.empty((0, 0))
            self.image.clear()
            self.latest_curve.setData([], [])
            for curve in self.old_curves:
                curve.setData([], [])
            self.hint.setText("Train a network with an rnn, lstm or gru layer to see its gradient in time.")
            return
        steps = self.store.steps()
        t = np.arange(1, matrix.shape[1] + 1, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.maximum(matrix, TINY))
        self.data = logs
        self.latest_curve.setData(t, np.maximum(matrix[-1], TINY))
        picks = np.linspace(0, len(matrix) - 1, SNAPSHOTS + 1).astype(int)[:-1] if len(matrix) > 1 else []
        for curve, i in zip(self.old_curves, [*picks, *([None] * SNAPSHOTS)], strict=False):
            if i is None:
                curve.setData([], [])
            else:
                curve.setData(t, np.maximum(matrix[i], TINY))
        finite = logs[np.isfinite(logs) & (logs > np.log10(TINY))]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-8.0, 0.0)
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        self.image.setImage(np.where(np.isfinite(logs), np.clip(logs, lo, hi), lo), autoLevels=False)
        self.colour_bar.setLevels((lo, hi))
        s0, s1 = float(steps[0]), float(steps[-1])
        height = max(s1 - s0, 1.0)
        self.image.setRect(QRectF(0.5, s0, float(matrix.shape[1]), height))
        ratio = self.ratio()
        self.hint.setText(f"{layer}: ‖∂L/∂h_1‖ / ‖∂L/∂h_{matrix.shape[1]}‖ = {ratio:.1e} at step {int(s1):,}")

    def table(self) -> tuple[list[str], np.ndarray]:
        layer = self.layer_box.currentText()
        matrix = self.store.matrix(layer) if layer else np.empty((0, 0))
        header = ["step", *(f"grad_norm_t{t + 1}" for t in range(matrix.shape[1]))]
        if matrix.size == 0:
            return header, np.empty((0, len(header)))
        return header, np.column_stack([self.store.steps(), matrix])


def install(host: ViewHost) -> None:
    view = TimeGradientView()
    session = host.session
    session.eventsArrived.connect(view.add_events)
    session.trainerChanged.connect(lambda _t: view.clear())
    host.add_analysis("time_gradients", view, "Gradient Through Time",
                      "‖∂L/∂h_t‖ per time step of the recurrent layers, live", separator=True)
    view.refresh(None, force=True)
