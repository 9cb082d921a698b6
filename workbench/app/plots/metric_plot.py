"""Accuracy (classification) or R² (regression) per epoch, on training and validation data."""

from __future__ import annotations

import numpy as np

from workbench.app.plots.base import PlotView, columns, set_curve
from workbench.model.history import History

LABELS = {"accuracy": "accuracy", "r2": "R²"}


class MetricPlot(PlotView):
    title = "Accuracy"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot_item.setLabel("bottom", "epoch")
        self.plot_item.setLabel("left", "accuracy")
        self.train = self.new_curve("train", (31, 119, 180), width=2)
        self.val = self.new_curve("validation", (255, 127, 14), width=2)
        self.setToolTip(
            "After each epoch: the share of correctly classified samples (or R² for regression: 1 is "
            "a perfect fit, 0 is no better than predicting the mean) on the training and the held-out "
            "validation data. A growing gap between them is overfitting."
        )
        self._metric = "accuracy"
        self._data: tuple[np.ndarray, ...] = ()

    def redraw(self, history: History) -> None:
        if history.metric_name != self._metric:
            self._metric = history.metric_name
            self.plot_item.setLabel("left", LABELS.get(self._metric, self._metric))
        epoch = history.epochs("epoch")
        train, val = history.epochs("train_metric"), history.epochs("val_metric")
        set_curve(self.train, epoch, train)
        set_curve(self.val, epoch, val)
        self._data = (epoch, train, val)

    def table(self) -> tuple[list[str], np.ndarray]:
        header = ["epoch", f"train_{self._metric}", f"val_{self._metric}"]
        return header, columns(*self._data) if self._data else np.empty((0, 3))
