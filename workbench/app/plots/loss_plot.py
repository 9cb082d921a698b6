"""Training and validation loss over steps: is the network learning, and is it overfitting?"""

from __future__ import annotations

import numpy as np

from workbench.app.plots.base import PlotView, columns, set_curve
from workbench.model.history import History


class LossPlot(PlotView):
    step_axis = True
    title = "Loss"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot_item.setLabel("bottom", "step")
        self.plot_item.setLabel("left", "loss")
        self.steps = self.new_curve("minibatch", (150, 170, 220, 110))
        self.steps.setZValue(-1)  # the faint band under the train and validation curves
        self.train = self.new_curve("train", (31, 119, 180), width=2, symbol="o", symbolSize=3)
        self.val = self.new_curve("validation", (255, 127, 14), width=2, symbol="o", symbolSize=3)
        self.log_box = self.add_log_toggle(
            True,
            "Logarithmic loss axis: late, small improvements stay visible next to the large early drop.",
        )
        self.add_hint("")
        self.setToolTip(
            "Loss on each minibatch (faint); per epoch, the mean over its minibatches (training) and "
            "over the whole validation set after it. Validation loss rising while training loss falls "
            "means overfitting; a loss that jumps up or goes flat at a high value often means the "
            "learning rate is too high."
        )
        self._data: tuple[np.ndarray, ...] = ()

    def redraw(self, history: History) -> None:
        s_step, s_loss = history.steps("step"), history.steps("loss")
        e_step = history.epochs("step")
        train, val = history.epochs("train_loss"), history.epochs("val_loss")
        set_curve(self.steps, s_step, s_loss)
        # Few epochs: symbols help; thousands of them: drop symbols, they cost more than lines.
        symbol = "o" if len(e_step) <= 200 else None
        for curve in (self.train, self.val):
            if curve.opts["symbol"] != symbol:
                curve.setSymbol(symbol)
        set_curve(self.train, e_step, train)
        set_curve(self.val, e_step, val)
        self._data = (s_step, s_loss, e_step, train, val)

    def table(self) -> tuple[list[str], np.ndarray]:
        # One row per epoch plus the per-step losses in their own columns (rows padded with NaN).
        if not self._data:
            return ["step", "minibatch_loss", "epoch_step", "train_loss", "val_loss"], np.empty((0, 5))
        return ["step", "minibatch_loss", "epoch_step", "train_loss", "val_loss"], columns(*self._data)


