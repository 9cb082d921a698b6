"""Live predictions: the Training screen's right column for data without a 2-D plane.

A 2-D set shows its decision boundary there. Tables, digits, images and sequences have no plane,
so the column shows instead what the network currently predicts on the validation split,
refreshed from the live weights a few times a second while training:

- a classifier: the confusion matrix (rows: true class, columns: predicted class), coloured by
  the share of each true class, the counts in the cells, the accuracy in the title;
- a regression: predicted against true values with the line y = x, and R² in the title.

It is a page like the others (View ▸ Live Predictions opens it in its own tab), living on the
Training screen's ``task`` slot until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from engine.analysis.confusion import classify
from workbench.app.plots.base import MapThrottle, WeightsMapView
from workbench.app.views.confusion_view import MATRIX_MAP, _class_names
from workbench.app.views.matrix_texts import matrix_cell_texts
from workbench.model.history import History
from workbench.model.samples import network_input

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

COLOUR_NOTE = "colour: % of true class · cells: counts"
MAX_ROWS = 2000  # validation rows predicted per refresh: a live view must stay cheap
MAX_CELL_TEXTS = 10  # classes up to which the counts are written in the cells


def has_plane(trainer: Any) -> bool:
    """Whether the data has a 2-D plane for the decision boundary."""
    ds = getattr(trainer, "dataset", None)
    return ds is not None and ds.points_train is not None and ds.featurize is not None


class LivePredictionsView(WeightsMapView):
    title = "Live predictions"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        grid = self.use_grid_layout()
        grid.setMinimumSize(200, 200)  # it shares the Training screen: never wider than its column
        self.plot = grid.addPlot(row=0, col=0)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        self.add_export_actions(self.plot)
        # One rectangle per cell, not an enlarged image: the cells' edges stay exact at any size
        # and in every export (an image of 2×2 pixels stretched over 300 px does not).
        self.matrix = pg.BarGraphItem(x0=[], y0=[], width=1.0, height=1.0, pen=None)
        self.points = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(31, 119, 180, 150))
        self.diagonal = pg.PlotCurveItem(pen=pg.mkPen((120, 120, 120), width=1, style=Qt.PenStyle.DashLine))
        for item in (self.matrix, self.points, self.diagonal):
            self.plot.addItem(item)
        self.cell_texts: list[pg.TextItem] = []
        self.hint = self.add_hint("")
        self.setToolTip("What the network predicts on the validation split now, refreshed while it "
                        "trains: a confusion matrix for classes, predicted against true for numbers.")
        self.trainer: Any = None
        self.network: Any = None
        self.kind: str = "none"  # 'classes' | 'numbers' | 'none'
        self.counts = np.zeros((0, 0), dtype=np.int64)
        self.pairs = np.zeros((0, 2))  # (true, predicted) for a regression
        self.throttle = MapThrottle()

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self.network = None  # the new trainer's weights follow (networkUpdated)
        self.throttle.reset()
        ds = getattr(trainer, "dataset", None)
        self.kind = "none" if ds is None else ("numbers" if ds.task == "regression" else "classes")
        self.counts = np.zeros((0, 0), dtype=np.int64)
        self.pairs = np.zeros((0, 2))
        self._clear()
        if self.kind == "classes":
            names = _class_names(ds)
            ticks = [[(j + 0.5, name) for j, name in enumerate(names)]]
            for side in ("bottom", "left"):
                self.plot.getAxis(side).setTicks(ticks)
            self.plot.setLabel("bottom", "predicted class")
            self.plot.setLabel("left", "true class")
            self.plot.invertY(True)
            self.plot.setAspectLocked(True)
            k = len(names)
            self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        else:
            for side in ("bottom", "left"):
                self.plot.getAxis(side).setTicks(None)
            self.plot.setLabel("bottom", "true value")
            self.plot.setLabel("left", "predicted value")
            self.plot.invertY(False)
            self.plot.setAspectLocked(False)
        self.plot.setTitle("validation split:<br>train to see the predictions", size="9pt")

    def set_network(self, network: Any) -> None:
        self.network = network
        self.throttle.changed()

    def _clear(self) -> None:
        self.matrix.setOpts(x0=[], y0=[], brushes=[])
        self.points.clear()
        self.diagonal.setData([], [])
        for t in self.cell_texts:
            self.plot.removeItem(t)
        self.cell_texts = []

    def redraw(self, history: History) -> None:
        if self.trainer is None or self.network is None or self.kind == "none":
            return
        ds = self.trainer.dataset
        y = ds.y_val[:MAX_ROWS]
        try:
            x = network_input(ds.x_val[:MAX_ROWS], self.network)
            if self.kind == "classes":
                self._draw_classes(classify(self.network, self.trainer.loss, x, y, _class_names(ds)))
            else:
                self._draw_numbers(x, np.asarray(y, dtype=float))
        except Exception as exc:  # a half-edited network never takes the app down
            self.hint.setText(f"Predictions not available: {exc}")
            return
        self.hint.setText("")

    def _draw_classes(self, result: Any) -> None:
        counts = result.counts
        self.counts = counts
        share = 100.0 * result.row_normalized()
        k = len(counts)
        rows, cols = np.indices((k, k))
        colours = MATRIX_MAP.map(share.ravel() / 100.0, mode="qcolor")
        self.matrix.setOpts(x0=cols.ravel(), y0=rows.ravel(), width=1.0, height=1.0,
                            brushes=[pg.mkBrush(c) for c in colours], pens=[pg.mkPen(None)] * (k * k))
        if k <= MAX_CELL_TEXTS:
            self.cell_texts = matrix_cell_texts(self.plot, k, self.cell_texts)
            for i in range(k):
                for j in range(k):
                    colour = "#fff" if share[i, j] > 55 else "#141414"
                    text = f'<span style="color:{colour}">{counts[i, j]:d}</span>'
                    self.cell_texts[i * k + j].setHtml(text)
        # No colour bar in a third of the screen: the title says what the colour and numbers are.
        self.plot.setTitle(f"validation accuracy {100 * result.accuracy:.1f} % (live)<br>"
                           f"{COLOUR_NOTE}", size="9pt")

    def _draw_numbers(self, x: np.ndarray, y: np.ndarray) -> None:
        net = self.network.copy()
        with np.errstate(all="ignore"):
            out = np.asarray(self.trainer.loss.transform(net.forward(x, training=False)), dtype=float)
        true, predicted = y.reshape(-1), out.reshape(-1)
        if true.shape != predicted.shape:
            raise ValueError(f"{predicted.size} outputs for {true.size} targets")
        self.pairs = np.column_stack([true, predicted])
        finite = np.isfinite(predicted)
        self.points.setData(true[finite], predicted[finite])
        lo, hi = float(np.min(true)), float(np.max(true))
        self.diagonal.setData([lo, hi], [lo, hi])
        residual = np.sum((true - predicted) ** 2)
        spread = np.sum((true - true.mean()) ** 2) or 1.0
        r2 = 1 - residual / spread
        self.plot.setTitle(f"validation R² {r2:.3f} (live)<br>dots: samples · dashed: perfect", size="9pt")

    def table(self) -> tuple[list[str], np.ndarray]:
        if self.kind == "classes" and self.counts.size:
            i, j = np.indices(self.counts.shape)
            rows = np.column_stack([i.ravel(), j.ravel(), self.counts.ravel()])
            return ["true", "predicted", "count"], rows
        return ["true", "predicted"], self.pairs


def install(host: ViewHost) -> None:
    """On the Training screen's right column when the data has no 2-D plane; a page of its own."""
    view = LivePredictionsView()
    s = host.session
    s.trainerChanged.connect(view.set_trainer)
    s.networkUpdated.connect(view.set_network)
    view.set_trainer(s.trainer)
    view.set_network(s.view_network)
    host.register("live_predictions", view)
    host.add_page("live_predictions", view.title, view,
                  "What the network predicts on the validation split, live: a confusion matrix or "
                  "predicted against true", slot="task")
    host.register_plot(view)
