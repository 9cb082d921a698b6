"""What the classifier gets wrong: the confusion matrix and its most confident mistakes.

Left, the validation split's confusion matrix (rows: true class, columns: predicted class),
coloured by the share of each true class so a rare class is as readable as a common one, with
counts or row percentages written in the cells. Right, the gallery: the validation samples the
model got wrong with the highest confidence, pictures for image data, the points on the plane
for 2-D data, a strip of feature cells otherwise. Clicking a cell keeps that cell's mistakes; clicking
a mistake opens its saliency (and Grad-CAM, for a network with convolutions).
Computed by ``engine.analysis.confusion.classify`` on copies of ``session.view_network``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QComboBox, QPushButton

from engine.analysis.confusion import Classification, classify
from workbench.app.plots.base import MapThrottle, WeightsMapView
from workbench.app.plots.boundary_plot import PALETTE
from workbench.app.views.colour_scales import set_bar_label
from workbench.app.views.matrix_texts import matrix_cell_texts
from workbench.app.views.tiles import TileGrid
from workbench.model.history import History
from workbench.model.samples import network_input, picture, sample_kind

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

GALLERY = 16  # mistakes shown: 4 × 4 tiles
COLUMNS = 4
MATRIX_MAP = pg.ColorMap([0.0, 1.0], [(247, 251, 255), (8, 69, 148)])  # pale to dark blue


# The colour is always the share of the row's true class (a rare class reads as well as a common
# one); the bar says so in both modes, and what the numbers in the cells are.
BAR_LABELS = {"counts": "colour: % of true class · cells: counts",
              "percent": "colour and cells: % of true class"}

class ConfusionView(WeightsMapView):
    title = "Confusion matrix"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.grid_widget = self.use_grid_layout()
        ci = self.grid_widget.ci
        self.matrix_plot = ci.addPlot(row=0, col=0)
        self.matrix_plot.setMenuEnabled(False)
        self.matrix_plot.setMouseEnabled(False, False)
        self.matrix_plot.hideButtons()
        self.matrix_plot.invertY(True)
        self.matrix_plot.setAspectLocked(True)
        self.matrix_plot.setLabel("bottom", "predicted class")
        self.matrix_plot.setLabel("left", "true class")
        self.matrix_image = pg.ImageItem(axisOrder="row-major")
        self.matrix_image.setColorMap(MATRIX_MAP)
        self.matrix_plot.addItem(self.matrix_image)
        self.matrix_image.mouseClickEvent = self._matrix_clicked
        self.colour_bar = pg.ColorBarItem(values=(0.0, 100.0), colorMap=MATRIX_MAP, interactive=False,
                                          label=BAR_LABELS["counts"], width=14)
        self.colour_bar.setImageItem(self.matrix_image)
        ci.addItem(self.colour_bar, row=0, col=1)
        self.gallery_layout = ci.addLayout(row=0, col=2)
        self.gallery_title = self.gallery_layout.addLabel("", row=0, col=0, colspan=COLUMNS)
        # Either the tiles (pictures, feature strips) or the plane (2-D data) sits under the title:
        # a hidden item would still take its share of a pyqtgraph layout.
        self.tile_layout = self.gallery_layout.addLayout(row=1, col=0, colspan=COLUMNS)
        self.tiles = TileGrid(self.tile_layout, GALLERY, COLUMNS, on_click=self._tile_clicked)
        self.points_plot = pg.PlotItem()
        for plot in (self.matrix_plot, self.points_plot):
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)
        self.points_plot.setLabel("bottom", "x₁")
        self.points_plot.setLabel("left", "x₂")
        self.background_points = pg.ScatterPlotItem(size=5, pen=None)
        self.mistake_points = pg.ScatterPlotItem(size=13, pen=pg.mkPen("k", width=2), symbol="o")
        self.mistake_points.sigClicked.connect(self._point_clicked)
        self.points_plot.addItem(self.background_points)
        self.points_plot.addItem(self.mistake_points)
        self.rank_labels: list[pg.TextItem] = []
        # The same preferred width on both sides: the stretch factors alone share the page out.
        self.matrix_plot.setPreferredWidth(200)
        self.gallery_layout.setPreferredWidth(200)
        ci.layout.setColumnStretchFactor(0, 4)
        ci.layout.setColumnStretchFactor(2, 6)
        self.cell_texts: list[pg.TextItem] = []

        self.show_box = QComboBox()
        self.show_box.addItem("cells: counts", "counts")
        self.show_box.addItem("cells: % of true class", "percent")
        self.show_box.setToolTip("What the cells say: the number of validation samples, or the share "
                                 "of the row's true class (the diagonal is then each class's recall)")
        self.show_box.currentIndexChanged.connect(lambda _i: self._changed())
        self.all_button = QPushButton("All mistakes")
        self.all_button.setToolTip("Show the most confident mistakes of every cell again")
        self.all_button.clicked.connect(lambda: self.choose_cell(None))
        self.controls.addWidget(self.show_box)
        self.controls.addWidget(self.all_button)
        self.hint = self.add_hint("")
        self.setToolTip(
            "Rows are the true class, columns the predicted class, on the validation split. A cell's "
            "colour is its share of the row, so the diagonal is dark when each class is recognised. "
            "Click a cell to see its mistakes; click a mistake to see its saliency (and Grad-CAM)."
        )
        self.trainer: Any = None
        self.network: Any = None
        self.result: Classification | None = None
        self.kind = "features"
        self.cell: tuple[int, int] | None = None
        self.shown: np.ndarray = np.zeros(0, dtype=np.int64)  # validation indices in the gallery
        self.explain: Callable[[int, int], None] | None = None  # (validation index, class) → opens views
        self.throttle = MapThrottle()

    # ------------------------------------------------------------------ inputs
    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer
        self.throttle.reset()
        self.result = None
        self.cell = None
        ds = getattr(trainer, "dataset", None)
        self.kind = sample_kind(ds) if ds is not None else "features"
        points = self.kind == "points"
        if points:
            self.tiles.show(0)  # while the tiles' layout is still in the scene: pyqtgraph needs it
        shown, hidden = self.points_plot, self.tile_layout
        if not points:
            shown, hidden = hidden, shown
        if hidden in self.gallery_layout.items:
            self.gallery_layout.removeItem(hidden)
        if shown not in self.gallery_layout.items:
            self.gallery_layout.addItem(shown, row=1, col=0, colspan=COLUMNS)
        shown.setVisible(True)
        hidden.setVisible(False)
        self._changed()

    def set_network(self, network: Any) -> None:
        self.network = network
        self.throttle.changed()

    def choose_cell(self, cell: tuple[int, int] | None) -> None:
        """Keep the mistakes of one (true, predicted) cell in the gallery; None: all of them."""
        self.cell = None if cell is None or cell[0] == cell[1] else cell
        self._changed()

    @property
    def classifier(self) -> bool:
        t = self.trainer
        return t is not None and t.dataset.task in ("binary", "multiclass")

    # ------------------------------------------------------------------ clicks
    def _matrix_clicked(self, ev) -> None:
        if self.result is None:
            return
        pos = ev.pos()
        k = self.result.n_classes
        col, row = int(pos.x()), int(pos.y())
        if 0 <= row < k and 0 <= col < k:
            ev.accept()
            self.choose_cell((row, col))

    def _tile_clicked(self, i: int) -> None:
        if i < len(self.shown):
            self.open_example(int(self.shown[i]))

    def _point_clicked(self, _item: Any, points: Any, *_args: Any) -> None:
        if len(points):
            self.open_example(int(points[0].data()))

    def open_example(self, index: int) -> None:
        """Explain validation sample ``index`` for the class the model predicted."""
        if self.result is not None and self.explain is not None:
            self.explain(index, int(self.result.predicted[index]))

    # ------------------------------------------------------------------ drawing
    def redraw(self, history: History) -> None:
        if self.trainer is None or self.network is None:
            self.hint.setText("Fix the experiment to see its confusion matrix.")
            return
        if not self.classifier:
            self._clear()
            self.hint.setText("A confusion matrix needs a classifier; this data set is a regression.")
            return
        ds = self.trainer.dataset
        try:
            self.result = classify(self.network, self.trainer.loss, network_input(ds.x_val, self.network),
                                   ds.y_val, _class_names(ds))
        except Exception as exc:  # a half-edited network never takes the app down
            self.hint.setText(f"Confusion matrix not available: {exc}")
            return
        self._draw_matrix(self.result)
        self._draw_gallery(self.result)

    def _clear(self) -> None:
        self.result = None
        self.matrix_image.clear()
        for t in self.cell_texts:
            self.matrix_plot.removeItem(t)
        self.cell_texts = []
        self.tiles.show(0)
        self.shown = np.zeros(0, dtype=np.int64)

    def _draw_matrix(self, r: Classification) -> None:
        k = r.n_classes
        share = r.row_normalized()
        self.matrix_image.setImage(100.0 * share, levels=(0.0, 100.0))
        self.matrix_image.setRect(QRectF(0, 0, k, k))
        if len(self.cell_texts) != k * k:
            self.cell_texts = matrix_cell_texts(self.matrix_plot, k, self.cell_texts)
            ticks = [[(j + 0.5, name) for j, name in enumerate(r.class_names)]]
            for side in ("bottom", "left"):
                self.matrix_plot.getAxis(side).setTicks(ticks)
            # A new number of classes: fit the new matrix (and keep fitting it as the page resizes).
            self.matrix_plot.vb.enableAutoRange()
            self.matrix_plot.vb.autoRange(padding=0.02)
        percent = self.show_box.currentData() == "percent"
        set_bar_label(self.colour_bar, BAR_LABELS[self.show_box.currentData() or "counts"])
        for i in range(k):
            for j in range(k):
                text = f"{100 * share[i, j]:.0f}%" if percent else f"{r.counts[i, j]:d}"
                dark = share[i, j] > 0.55
                selected = self.cell == (i, j)
                self.cell_texts[i * k + j].setHtml(
                    f'<span style="color:{"#fff" if dark else "#141414"};'
                    f'{"font-weight:bold;text-decoration:underline" if selected else ""}">{text}</span>')
        n = int(r.counts.sum())
        self.hint.setText(f"accuracy {100 * r.accuracy:.1f} % on {n:,} validation samples · "
                          "click a cell for its mistakes, a mistake to explain it")

    def _draw_gallery(self, r: Classification) -> None:
        true_c, pred_c = self.cell if self.cell is not None else (None, None)
        self.shown = r.mistakes(GALLERY, true_c, pred_c)
        names = r.class_names
        where = f"true {names[true_c]} → {names[pred_c]}" if self.cell else "all cells"
        n_wrong = int(np.sum(r.predicted != r.labels)) if self.cell is None else int(r.counts[true_c, pred_c])
        self.gallery_title.setText(
            f"Most confident mistakes: {len(self.shown)} of {n_wrong} ({where})" if n_wrong else
            f"No mistakes ({where})")
        self.all_button.setEnabled(self.cell is not None)
        if self.kind == "points":
            self._draw_points(r)
            return
        ds = self.trainer.dataset
        self.tiles.show(len(self.shown))
        for slot, index in enumerate(self.shown):
            box = self.tiles.boxes[slot]
            if self.kind == "image":
                image = picture(ds.x_val[index], ds)
                box.show_picture(1.0 - image if _grey(ds) else image, levels=(0.0, 1.0))
            else:
                box.show_picture(_feature_strip(ds.x_val[index]), levels=(-3.0, 3.0),
                                 lut=_diverging_lut())
            self.tiles.set_title(slot, f"{names[r.labels[index]]}→{names[r.predicted[index]]} "
                                       f"{100 * r.confidence[index]:.0f}%")
            box.setToolTip(f"validation sample {index}: true {names[r.labels[index]]}, predicted "
                           f"{names[r.predicted[index]]} with {100 * r.confidence[index]:.1f}% · "
                           "click to explain")

    def _draw_points(self, r: Classification) -> None:
        ds = self.trainer.dataset
        cache = [pg.mkBrush(*PALETTE[i % len(PALETTE)], 90) for i in range(max(r.n_classes, 2))]
        self.background_points.setData(pos=ds.points_val, brush=[cache[int(c)] for c in r.labels])
        strong = [pg.mkBrush(*PALETTE[i % len(PALETTE)]) for i in range(max(r.n_classes, 2))]
        pts = ds.points_val[self.shown]
        self.mistake_points.setData(pos=pts, brush=[strong[int(r.predicted[i])] for i in self.shown],
                                    data=list(self.shown))
        for t in self.rank_labels:
            self.points_plot.removeItem(t)
        self.rank_labels = []
        for rank, (x, y) in enumerate(pts):
            t = pg.TextItem(str(rank + 1), color=(0, 0, 0), anchor=(-0.3, 1.1))
            t.setPos(float(x), float(y))
            self.points_plot.addItem(t)
            self.rank_labels.append(t)
        self.points_plot.setTitle("ringed: mistakes in the predicted colour, 1 = most confident", size="8pt")
        self.points_plot.setToolTip("Faint dots: every validation point in its true class's colour. Ringed: "
                                    "the mistakes, filled with the class the model predicted, numbered "
                                    "from the most confident. Click one to explain it.")

    def table(self) -> tuple[list[str], np.ndarray]:
        if self.result is None:
            return ["true", "predicted", "count"], np.empty((0, 3))
        k = self.result.n_classes
        i, j = np.indices((k, k))
        return ["true", "predicted", "count", "share_of_true"], np.column_stack(
            [i.ravel(), j.ravel(), self.result.counts.ravel(), self.result.row_normalized().ravel()])


def _class_names(ds: Any) -> tuple[str, ...]:
    k = max(ds.n_classes, 2)
    names = tuple(ds.class_names)
    return names if len(names) == k else tuple(str(c) for c in range(k))


def _grey(ds: Any) -> bool:
    """Grey images are drawn ink-dark on light paper, as the saliency view draws them."""
    shape = getattr(ds, "input_shape", ())
    return not (len(shape) == 3 and shape[0] == 3)


def _feature_strip(row: np.ndarray) -> np.ndarray:
    """A sample's (standardised) features as one row of cells, for sets without pictures."""
    return np.asarray(row, dtype=np.float64).reshape(1, -1)


def _diverging_lut() -> np.ndarray:
    from workbench.app.views.neuron_maps import DIVERGING_LUT

    return DIVERGING_LUT


def install(host: ViewHost) -> None:
    """Analyze ▸ Confusion Matrix and Mistakes: a workspace page."""
    view = ConfusionView()
    s = host.session
    s.trainerChanged.connect(view.set_trainer)
    s.networkUpdated.connect(view.set_network)
    view.set_network(s.view_network)
    view.set_trainer(s.trainer)

    def explain(index: int, cls: int) -> None:
        saliency = host.views.get("saliency")
        if saliency is not None:
            saliency.show_sample(index, cls)
            host.open_page("saliency")
        gradcam = host.views.get("gradcam")
        if gradcam is not None and gradcam.available():
            gradcam.show_sample(index, cls)
            host.open_page("gradcam")

    view.explain = explain
    host.add_analysis("confusion", view, "Confusion Matrix and Mistakes",
                      "Which classes the model confuses, and its most confident mistakes")
