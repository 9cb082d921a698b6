"""Inside a recurrent layer, for one chosen sequence: the gates over time and the path of the
hidden state.

Left: each gate's mean activation over the hidden units at every time step (LSTM: input, forget,
cell candidate, output; GRU: reset, update, new; a plain RNN has no gates and shows its mean
|h_t|). On the adding problem a trained LSTM opens its input gate at the two marked steps and
keeps its forget gate near 1 in between. Right: the hidden state h_t projected on its first two
principal components (PCA over this sequence's steps), a dot per step coloured from the first
(dark) to the last step (bright).

Computed on the GUI thread from ``session.view_network`` (the weights the window shows), for
one validation sequence: a forward pass of one sequence, a few milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox

from engine.recurrent import recurrent_layers
from workbench.app.plots.base import MAP_INTERVAL, PlotView

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

GATE_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


def hidden_pca(hidden: np.ndarray) -> np.ndarray:
    """(time, 2) projection of the (time, H) states on their first two principal components."""
    centred = hidden - hidden.mean(axis=0)
    if hidden.shape[0] < 2 or not np.any(centred):
        return np.zeros((hidden.shape[0], 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = centred @ vt[:2].T
    return out if out.shape[1] == 2 else np.column_stack([out, np.zeros(len(out))])


class SequenceView(PlotView):
    title = "Recurrent gates"
    min_interval = MAP_INTERVAL

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The recurrent layer shown")
        self.index_box = QSpinBox()
        self.index_box.setPrefix("sequence ")
        self.index_box.setToolTip("Which validation sequence to run through the network")
        self.controls.addWidget(self.layer_box)
        self.controls.addWidget(self.index_box)
        self.controls.addWidget(QLabel("of the validation split"))
        self.hint = self.add_hint("")
        grid = self.use_grid_layout()
        self.gate_plot = grid.addPlot(row=0, col=0)
        self.gate_plot.setLabel("bottom", "time step t")
        self.gate_plot.setLabel("left", "mean gate activation")
        self.pca_plot = grid.addPlot(row=0, col=1)
        self.pca_plot.setLabel("bottom", "PC 1 of h_t")
        self.pca_plot.setLabel("left", "PC 2 of h_t")
        for plot in (self.gate_plot, self.pca_plot):
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)  # no "(x0.001)" on activations
        self.path_curve = self.pca_plot.plot(pen=pg.mkPen((150, 150, 150), width=1))
        self.path_dots = pg.ScatterPlotItem(size=7, pen=None)
        self.pca_plot.addItem(self.path_dots)
        self.gate_curves: list[pg.PlotDataItem] = []
        self.setToolTip(
            "Left: each gate's mean activation over the hidden units at every time step of the chosen "
            "sequence. Right: the hidden state's path, projected on its first two principal components "
            "(dark: first step, bright: last)."
        )
        self.network = None
        self.x_val: np.ndarray | None = None
        self.gates: dict[str, np.ndarray] = {}
        self.trajectory = np.empty((0, 2))
        self._dirty = True
        self.layer_box.currentTextChanged.connect(self._changed)
        self.index_box.valueChanged.connect(self._changed)

    def _changed(self, *_args) -> None:
        self._dirty = True
        self.refresh(None, force=True)

    def set_source(self, network, x_val: np.ndarray | None) -> None:
        self.network = network
        self.x_val = x_val
        layers = [layer.name for layer in recurrent_layers(network)] if network is not None else []
        if [self.layer_box.itemText(i) for i in range(self.layer_box.count())] != layers:
            self.layer_box.blockSignals(True)
            self.layer_box.clear()
            self.layer_box.addItems(layers)
            self.layer_box.blockSignals(False)
        n = 0 if x_val is None else len(x_val)
        self.index_box.setRange(0, max(n - 1, 0))
        self._changed()

    def weights_moved(self, _network=None) -> None:
        self._dirty = True

    def refresh(self, history, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        self.redraw(history)

    def redraw(self, history) -> None:
        name = self.layer_box.currentText()
        net, x = self.network, self.x_val
        if net is None or x is None or not name or x.ndim != 3 or len(x) == 0:
            self.gates, self.trajectory = {}, np.empty((0, 2))
            for curve in self.gate_curves:
                self.gate_plot.removeItem(curve)
            self.gate_curves = []
            self.path_curve.setData([], [])
            self.path_dots.setData([], [])
            self.hint.setText("Needs a network with an rnn, lstm or gru layer on sequence data.")
            return
        i = min(self.index_box.value(), len(x) - 1)
        net.forward(np.asarray(x[i : i + 1], dtype=net.dtype), training=False)
        layer = net.layer(name)
        hidden = np.asarray(layer.hidden[:, 0, :], dtype=float)
        if layer.valid is not None:
            hidden = hidden[layer.valid[0]]
        steps = np.arange(1, len(hidden) + 1, dtype=float)
        if layer.gate_names:
            g = np.asarray(layer.gate_values[: len(hidden), 0, :], dtype=float)
            h = layer.units
            self.gates = {gname: g[:, k * h : (k + 1) * h].mean(axis=1)
                          for k, gname in enumerate(layer.gate_names)}
        else:
            self.gates = {"mean |h_t|": np.abs(hidden).mean(axis=1)}
        if len(self.gate_curves) != len(self.gates):
            for curve in self.gate_curves:
                self.gate_plot.removeItem(curve)
            self.gate_curves = [self.gate_plot.plot(name=gname, pen=pg.mkPen(GATE_COLOURS[k % 4], width=2))
                                for k, gname in enumerate(self.gates)]
        for curve, (gname, values) in zip(self.gate_curves, self.gates.items(), strict=True):
            curve.opts["name"] = gname
            curve.setData(steps, values)
        self.trajectory = hidden_pca(hidden)
        shades = np.linspace(0.0, 1.0, len(hidden))
        cmap = pg.colormap.get("viridis")
        self.path_curve.setData(self.trajectory[:, 0], self.trajectory[:, 1])
        self.path_dots.setData(self.trajectory[:, 0], self.trajectory[:, 1],
                               brush=[pg.mkBrush(cmap.map(s, mode="qcolor")) for s in shades])
        label = "mean gate activation" if layer.gate_names else "mean |h_t| (no gates)"
        self.gate_plot.setLabel("left", label)
        shown = ", ".join(self.gates)
        self.hint.setText(f"{name} ({layer.kind}), validation sequence {i}: {len(hidden)} steps · {shown}")

    def table(self) -> tuple[list[str], np.ndarray]:
        names = list(self.gates)
        header = ["t", *names, "pc1", "pc2"]
        n = len(self.trajectory)
        if n == 0:
            return header, np.empty((0, len(header)))
        gates = [self.gates[k] for k in names]
        return header, np.column_stack([np.arange(1, n + 1), *gates, self.trajectory])


def install(host: ViewHost) -> None:
    view = SequenceView()
    session = host.session

    def new_trainer(trainer) -> None:
        x_val = None if trainer is None else trainer.dataset.x_val
        view.set_source(session.view_network, x_val)

    session.trainerChanged.connect(new_trainer)
    session.networkUpdated.connect(view.weights_moved)
    host.add_analysis("sequence_view", view, "Recurrent Gates and Hidden State",
                      "Gate activations and the hidden state's path (PCA) for one chosen sequence")
    trainer = getattr(session, "trainer", None)
    if trainer is not None:
        new_trainer(trainer)
