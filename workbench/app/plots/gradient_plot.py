"""Layer-wise gradient magnitude: vanishing and exploding gradients at a glance."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox

from workbench.app.plots.base import PlotView, columns, set_curve
from workbench.model.history import History

# Input side cool, output side warm (matplotlib's tab10 order, reordered).
LAYER_COLOURS = [(31, 119, 180), (44, 160, 44), (148, 103, 189), (23, 190, 207), (188, 189, 34),
                 (140, 86, 75), (227, 119, 194), (127, 127, 127), (255, 127, 14), (214, 39, 40)]


class GradientPlot(PlotView):
    step_axis = True
    title = "Gradients by layer"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot_item.setLabel("bottom", "step")
        self.plot_item.setLabel("left", "‖∂L/∂W‖")
        self.log_box = self.add_log_toggle(
            True, "Gradient norms span many orders of magnitude; a log axis shows them all."
        )
        self.epoch_means = QCheckBox("epoch means")
        self.epoch_means.setChecked(True)
        self.epoch_means.setToolTip(
            "Show each layer's mean gradient norm per epoch (smooth), or the norm at every step (noisy, "
            "but shows single bad steps)."
        )
        self.epoch_means.toggled.connect(lambda _on: self.force_redraw())
        self.controls.addWidget(self.epoch_means)
        self.after_clip = QCheckBox("after clipping")
        self.after_clip.setToolTip(
            "Also draw (dashed) the norms the step actually used after clipping by norm: each layer's "
            "norm times min(1, limit / global norm), with the current limit. Per step only."
        )
        self.after_clip.setVisible(False)
        self.after_clip.toggled.connect(lambda _on: self.force_redraw())
        self.controls.addWidget(self.after_clip)
        self.add_hint("")
        self.setToolTip(
            "The L2 norm of each layer's weight gradient at every step. Curves that fall orders of "
            "magnitude below the output layer's mean the early layers barely learn (vanishing "
            "gradients: try ReLU, He initialization or batch norm); curves that shoot up mean exploding "
            "gradients (try a smaller learning rate or gradient clipping). The norms are measured "
            "before clipping: with clipping on, the step uses smaller gradients than shown."
        )
        self.clipping = "none"  # the run's clipping mode, as the axis label last said
        self.clip_max = 1.0
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.clipped_curves: dict[str, pg.PlotDataItem] = {}
        self._data: tuple[np.ndarray, list[np.ndarray]] = (np.empty(0), [])

    def _sync_layers(self, layers: list[str]) -> None:
        if list(self.curves) == layers:
            return
        for curve in (*self.curves.values(), *self.clipped_curves.values()):
            self.plot_item.removeItem(curve)
        self.curves, self.clipped_curves = {}, {}
        for i, name in enumerate(layers):
            color = LAYER_COLOURS[i % len(LAYER_COLOURS)]
            curve = self.new_curve(name, color, width=1)
            curve.setZValue(len(layers) - i)  # input-side layers on top: they are the ones that vanish
            self.curves[name] = curve

    def set_clipping(self, mode: str, limit: float = 1.0) -> None:
        """Say on the axis that the norms are measured before clipping when clipping is on; offer
        the after-clipping curves when clipping is by norm (by value they cannot be recovered)."""
        self.clip_max = float(limit)
        if mode == self.clipping:
            return
        self.clipping = mode
        self.after_clip.setVisible(mode == "norm")
        tail = "" if mode == "none" else f" before clipping (clipping by {mode} is on)"
        self.plot_item.setLabel("left", "‖∂L/∂W‖" + tail)

    def redraw(self, history: History) -> None:
        self._sync_layers(history.layers)
        if history.n_steps and not (self.epoch_means.isChecked() and history.n_epochs):
            x = history.steps("step")
            ys = [history.step_layer_grads(n) for n in self.curves]
        else:  # a run folder holds per-epoch means only
            x = history.epochs("step")
            ys = [history.epoch_layer_grads(n) for n in self.curves]
        for curve, y in zip(self.curves.values(), ys, strict=True):
            set_curve(curve, x, y)
        self._data = (x, ys)
        self._draw_clipped(history)

    def _draw_clipped(self, history: History) -> None:
        per_step = history.n_steps and not (self.epoch_means.isChecked() and history.n_epochs)
        show = self.clipping == "norm" and self.after_clip.isChecked() and bool(per_step)
        if not show:
            for curve in self.clipped_curves.values():
                curve.setData([], [])
            return
        # Clipping by norm scales every layer by the same factor: min(1, limit / global norm).
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.minimum(1.0, self.clip_max / history.steps("grad_norm"))
        x, ys = self._data
        for i, (name, y) in enumerate(zip(self.curves, ys, strict=True)):
            curve = self.clipped_curves.get(name)
            if curve is None:
                color = LAYER_COLOURS[i % len(LAYER_COLOURS)]
                curve = self.clipped_curves[name] = self.plot_item.plot(
                    pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine))
            n = min(len(y), len(scale))
            set_curve(curve, x, y[:n] * scale[:n])

    def force_redraw(self) -> None:
        self._revision = -1

    def table(self) -> tuple[list[str], np.ndarray]:
        x, ys = self._data
        return ["step", *self.curves], columns(x, *ys)
