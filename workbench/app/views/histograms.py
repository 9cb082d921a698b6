"""Weights and gradients of one layer: histograms now, and how the distribution moved over time.

Like TensorBoard's histograms, but live. Where the numbers come from:

- Weights: ``session.view_network``, the GUI-thread copy the worker refreshes (≤ ~20×/s).
- Gradients do **not** reach the GUI: the worker sends ``network.state_dict()`` (parameters and
  buffers only). So this view computes them itself, on a *copy* of ``view_network``, with one
  forward/backward pass on a fixed batch of the first ``BATCH`` training samples in eval mode
  (no dropout; BatchNorm on its running statistics, so nothing in the network changes) and
  without the L1/L2 penalty. That is the data-loss gradient at the current weights: the same
  shape of distribution the optimizer sees, minus minibatch noise. Cost: one small
  forward/backward per snapshot, on the GUI thread, at most every ``RECORD_SECONDS``.

Every parameter of the layer counts (W and b, or gamma and beta), so a histogram's counts add
up to the layer's parameter count. The evolution heatmaps keep, per snapshot, 65 quantiles of
each distribution (not the raw values: a 200k-weight layer would cost 800 kB a snapshot) and
rebuild densities on common bins when drawn.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox

from workbench.app.plots.base import MAP_INTERVAL, PlotView, on_screen
from workbench.model.history import History

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

BATCH = 128
BINS = 40
EVOLUTION_BINS = 60
EVOLUTION_COLUMNS = 200
QUANTILES = np.linspace(0.0, 1.0, 65)
RECORD_SECONDS = MAP_INTERVAL  # snapshot throttle while training and on screen
# Behind another tab or closed: nothing is drawn, but the evolution keeps a coarser record (the
# past weights cannot be measured later); the live histograms catch up when shown.
HIDDEN_RECORD_SECONDS = 1.0
MAX_SNAPSHOTS = 1000  # then every other old snapshot is dropped (time resolution halves)
KINDS = ("weights", "gradients")
COLOURS = {"weights": (31, 119, 180), "gradients": (214, 39, 40)}


class HistogramView(PlotView):
    title = "Weights and gradients"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout_widget = self.use_grid_layout()
        self.hist_plots: dict[str, pg.PlotItem] = {}
        self.hist_curves: dict[str, pg.PlotDataItem] = {}
        self.evo_plots: dict[str, pg.PlotItem] = {}
        self.evo_images: dict[str, pg.ImageItem] = {}
        for col, kind in enumerate(KINDS):
            plot = layout_widget.addPlot(row=0, col=col, title=f"{kind} now")
            plot.setLabel("bottom", "value")
            plot.setLabel("left", "count")
            plot.showGrid(x=True, y=True, alpha=0.25)
            r, g, b = COLOURS[kind]
            curve = plot.plot(stepMode="center", fillLevel=0, pen=pg.mkPen(r, g, b),
                              brush=pg.mkBrush(r, g, b, 110))
            self.hist_plots[kind], self.hist_curves[kind] = plot, curve
            evo = layout_widget.addPlot(row=1, col=col, title=f"{kind} over time")
            evo.setLabel("bottom", "step")
            evo.setLabel("left", "value")
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(pg.colormap.get("magma"))
            evo.addItem(image)
            self.evo_plots[kind], self.evo_images[kind] = evo, image
            for p in (plot, evo):
                p.getAxis("left").enableAutoSIPrefix(False)
                p.getAxis("bottom").enableAutoSIPrefix(False)
                self.add_export_actions(p)
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("The layer whose parameters and gradients are shown")
        self.layer_box.currentTextChanged.connect(lambda _t: self.refresh(History(), force=True))
        self.controls.addWidget(self.layer_box)
        self.hint = self.add_hint("")
        self.setToolTip(
            "Top: histograms of the chosen layer's parameters (weights and biases) and of their loss "
            "gradients now. Bottom: how those distributions moved during training (brighter = more "
            "values there). Weights that spread out are learning; gradients piled at zero are vanishing; "
            "a widening gradient spread is exploding. Gradients are computed here on a fixed batch of "
            f"{BATCH} training samples (the training thread does not send them)."
        )
        self.trainer: Any = None
        self.network: Any = None
        self._batch: tuple[np.ndarray, np.ndarray] | None = None
        self.current: dict[str, dict[str, np.ndarray]] = {}  # layer -> kind -> values (latest)
        self.snapshots: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {}  # layer -> (step, wq, gq)
        self.counts: dict[str, np.ndarray] = {}  # kind -> live histogram counts shown
        self.edges: dict[str, np.ndarray] = {}
        self.evolution: dict[str, np.ndarray] = {}  # kind -> (bins × columns) density shown
        self._last_record = -np.inf
        self._net_revision = 0
        self._drawn = (-1, "")

    # ------------------------------------------------------------------ inputs
    @property
    def layer(self) -> str:
        return self.layer_box.currentText()

    def set_trainer(self, trainer: Any, network: Any) -> None:
        """A new trainer: new fixed batch, layer list, and an empty evolution."""
        self.trainer = trainer
        self.snapshots, self.current, self._batch = {}, {}, None
        layers = [n for n, _kind, _shape, n_params in network.summary() if n_params] if network else []
        previous = self.layer
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems(layers)
        if previous in layers:
            self.layer_box.setCurrentText(previous)
        self.layer_box.blockSignals(False)
        if trainer is not None:
            from engine.trainer import targets_for_loss

            ds = trainer.dataset
            n = min(BATCH, len(ds.x_train))
            dtype = network.params.dtype
            try:
                y = targets_for_loss(ds, ds.y_train[:n], trainer.loss, dtype)
                self._batch = (ds.x_train[:n].astype(dtype), y)
            except ValueError:  # loss and data do not fit: weights only
                self._batch = None
        self._last_record = -np.inf
        self.set_network(network, step=0, force=True)

    def set_network(self, network: Any, step: int, force: bool = False) -> None:
        """New weights arrived: measure them now or, while training, at most every RECORD_SECONDS."""
        self.network = network
        self._net_revision += 1
        now = time.monotonic()
        interval = RECORD_SECONDS if on_screen(self) else HIDDEN_RECORD_SECONDS
        if network is None or (not force and now - self._last_record < interval):
            return
        self._last_record = now
        self.record(step)

    def record(self, step: int) -> None:
        """Measure weights and gradients of every layer and add a snapshot at ``step``."""
        if self.network is None:
            return
        self.current = measure(self.network, self.trainer, self._batch)
        for layer, values in self.current.items():
            wq = np.quantile(values["weights"], QUANTILES)
            g = values.get("gradients")
            finite = g is not None and bool(np.all(np.isfinite(g)))
            gq = np.quantile(g, QUANTILES) if finite else np.full_like(wq, np.nan)
            if not np.all(np.isfinite(wq)):
                continue  # a diverged network: nothing meaningful to bin
            snaps = self.snapshots.setdefault(layer, [])
            if snaps and snaps[-1][0] == step:
                snaps[-1] = (step, wq, gq)
            else:
                snaps.append((step, wq, gq))
            if len(snaps) > MAX_SNAPSHOTS:
                del snaps[1:-1:2]  # keep the first and the latest
        self._net_revision += 1

    # ------------------------------------------------------------------ drawing
    def redraw(self, history: History) -> None:
        key = (self._net_revision, self.layer)
        if key == self._drawn:
            return
        self._drawn = key
        values = self.current.get(self.layer, {})
        n_params = 0
        for kind in KINDS:
            v = values.get(kind)
            if v is None or v.size == 0 or not np.all(np.isfinite(v)):
                self.hist_curves[kind].setData([], [])
                self.counts[kind], self.edges[kind] = np.zeros(0, int), np.zeros(0)
                continue
            lo, hi = float(v.min()), float(v.max())
            if hi - lo < 1e-12:  # all equal (zero init, or a dead layer's zero gradients)
                lo, hi = lo - 0.5, hi + 0.5
            counts, edges = np.histogram(v, bins=BINS, range=(lo, hi))
            self.counts[kind], self.edges[kind] = counts, edges
            self.hist_curves[kind].setData(edges, counts)
            n_params = v.size
        self._draw_evolution()
        snaps = self.snapshots.get(self.layer, [])
        self.hint.setText(f"{n_params:,} parameters · {len(snaps)} snapshot(s)" if self.layer else
                          "No layer with parameters.")

    def _draw_evolution(self) -> None:
        snaps = self.snapshots.get(self.layer, [])
        for i, kind in enumerate(KINDS):
            image = self.evo_images[kind]
            q = np.array([s[1 + i] for s in snaps]) if snaps else np.empty((0, len(QUANTILES)))
            ok = np.all(np.isfinite(q), axis=1) if len(q) else np.zeros(0, bool)
            if not ok.any():
                image.clear()
                self.evolution[kind] = np.empty((EVOLUTION_BINS, 0))
                continue
            steps = np.array([s[0] for s in snaps], float)[ok]
            q = q[ok]
            lo, hi = float(q[:, 0].min()), float(q[:, -1].max())
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, EVOLUTION_BINS + 1)
            # Uniform time columns, each showing the latest snapshot taken at or before it.
            n_cols = min(EVOLUTION_COLUMNS, max(len(steps), 1))
            grid = np.linspace(steps[0], steps[-1], n_cols) if n_cols > 1 else steps[:1]
            pick = np.clip(np.searchsorted(steps, grid, side="right") - 1, 0, len(steps) - 1)
            cdf = np.array([np.interp(edges, q[j], QUANTILES) for j in pick])  # (cols, bins+1)
            density = np.diff(cdf, axis=1).T  # (bins, cols): fraction of values per bin
            peak = density.max(axis=0, keepdims=True)
            # Per-column normalisation: the shape of each moment's distribution, whatever its spread;
            # the square root lifts the tails next to a point mass (zero-initialised biases).
            shown = np.sqrt(np.divide(density, peak, out=np.zeros_like(density), where=peak > 0))
            self.evolution[kind] = density
            image.setImage(shown, levels=(0.0, 1.0))
            t0, t1 = float(grid[0]), float(grid[-1])
            span = max(t1 - t0, 1.0)
            image.setRect(QRectF(t0, lo, span, hi - lo))

    def table(self) -> tuple[list[str], np.ndarray]:
        """Live histograms: bin edges and counts of weights and gradients."""
        header = ["weights_bin_lo", "weights_bin_hi", "weights_count",
                  "gradients_bin_lo", "gradients_bin_hi", "gradients_count"]
        rows = np.full((BINS, 6), np.nan)
        for i, kind in enumerate(KINDS):
            c, e = self.counts.get(kind), self.edges.get(kind)
            if c is not None and len(c):
                rows[:, 3 * i], rows[:, 3 * i + 1], rows[:, 3 * i + 2] = e[:-1], e[1:], c
        return header, rows


def measure(network: Any, trainer: Any, batch: tuple[np.ndarray, np.ndarray] | None) -> dict:
    """layer -> {'weights': all its parameters, 'gradients': their loss gradient on ``batch``}."""
    net = network.copy()  # backward overwrites grads and caches: never on the shared view network
    has_grads = False
    if batch is not None and trainer is not None:
        try:
            with np.errstate(all="ignore"):
                out = net.forward(batch[0], training=False)
                _, grad_out = trainer.loss(out, batch[1])
                net.backward(grad_out, input_grad=False)
            has_grads = True
        except Exception:  # a shape mismatch mid-edit: show the weights alone
            has_grads = False
    params, grads = net.parameters(), net.gradients()
    result: dict[str, dict[str, np.ndarray]] = {}
    for layer in net.flat_layers:  # a residual block's inner layers, each on its own
        keys = [k for k in params if k.startswith(f"{layer.name}.")]
        if not keys:
            continue
        entry = {"weights": np.concatenate([params[k].ravel() for k in keys]).astype(np.float64)}
        if has_grads:
            entry["gradients"] = np.concatenate([grads[k].ravel() for k in keys]).astype(np.float64)
        result[layer.name] = entry
    return result


class _Feeder:
    """Connects the session to the view (GUI thread)."""

    def __init__(self, session: Any, view: HistogramView) -> None:
        self.session, self.view = session, view
        s = self.session
        s.trainerChanged.connect(self.trainer_changed)
        s.networkUpdated.connect(self.network_updated)
        s.runFinished.connect(self.run_finished)
        self.trainer_changed(s.trainer)

    def _step(self) -> int:
        s = self.session
        return int(s.last_step.step) if s.last_step is not None else 0

    def trainer_changed(self, trainer: Any) -> None:
        self.view.set_trainer(trainer, self.session.view_network)

    def network_updated(self, network: Any) -> None:
        self.view.set_network(network, self._step(), force=not self.session.is_running)

    def run_finished(self, _result: Any) -> None:
        self.view.set_network(self.session.view_network, self._step(), force=True)


def install(host: ViewHost) -> None:
    """Analyze ▸ Weight and Gradient Histograms: a workspace page."""
    view = HistogramView()
    view._feeder = _Feeder(host.session, view)  # lives as long as the view
    host.add_analysis("histograms", view, "Weight and Gradient Histograms",
                      "Histograms of a layer's weights and gradients, live and over time")
