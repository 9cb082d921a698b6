"""Analyze ▸ Step Through Backprop: the computation graph of one sample, filled in step by step.

The numbers come from ``engine.analysis.step_through`` (the engine's own forward and backward
on a copy of ``session.view_network``); this view only draws them. Columns are the graph's
nodes, left to right: x, then each layer's z = xW + b and a = f(z), then the loss with its
target. "Forward ▶" (Right arrow or Space) reveals the next step: a forward value, the loss,
then ∂L/∂node edge by edge (red, under the value), the parameter gradients, the minibatch
average and the optimizer update. "◀ Back" (Left arrow or Backspace) hides it again. The edge
the step computes along is drawn thick and orange; the panel under the graph shows the rule
and the same rule in numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QPushButton, QSpinBox, QWidget

from engine.analysis.step_through import MAX_BATCH, StepThrough, step_through
from engine.layers import Dense
from workbench.app.jobs import training_arrays
from workbench.app.plots.base import PlotView, columns
from workbench.model.history import History

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

TIP = (
    "Backpropagation on one sample, step by step, with the engine's own numbers: the forward pass "
    "fills in each node's value, the loss compares the output with the target, and the backward pass "
    "applies the chain rule edge by edge (∂L/∂z = ∂L/∂a · f′(z)), ending with the optimizer's update "
    "of one weight. Right arrow / Space: next step; Left arrow / Backspace: previous step."
)
HIGHLIGHT = (255, 127, 14)
GRAD_COLOUR = (200, 30, 30)
SPACING = 1.6  # between units
LABEL_DX = 0.16  # labels start just right of their node
LABEL_DY = 0.14  # and clear of the edge leaving it
# Drawing order, bottom to top: the value and gradient labels are always readable, on an opaque
# card, however many thick highlighted edges pass under them.
Z_EDGES, Z_HOT, Z_NODES, Z_LABELS = 0, 1, 2, 10
LABEL_FILL = (255, 255, 255, 255)


class StepThroughView(PlotView):
    title = "Backprop step-through"

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.walk: StepThrough | None = None
        self.position = 0  # steps revealed
        self.columns: list[str] = []
        self.error = ""
        p = self.plot_item
        p.hideAxis("left")
        p.hideAxis("bottom")
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        self.edges = pg.PlotDataItem(pen=pg.mkPen(200, 200, 200, 160, width=1), connect="pairs")
        self.hot = pg.PlotDataItem(pen=pg.mkPen(*HIGHLIGHT, width=4), connect="pairs")
        self.nodes = pg.ScatterPlotItem(size=18, pen=pg.mkPen(80, 80, 80), brush=pg.mkBrush(245, 245, 245))
        for item, z in ((self.edges, Z_EDGES), (self.hot, Z_HOT), (self.nodes, Z_NODES)):
            item.setZValue(z)
            p.addItem(item)
        self.texts: list[pg.TextItem] = []

        self.sample = self._spin("sample", 0, 0, "Which training sample to follow.")
        self.batch = self._spin("batch", 1, MAX_BATCH, "1: one sample. More: a minibatch starting at the "
                                "sample; the last steps show each sample's gradient and their average.")
        self.first_layer = self._spin("from layer", 1, 1, "Large networks show 4 layers at a time: the first "
                                      "one shown.")
        self.first_unit = self._spin("from unit", 0, 0, "Wide layers show 8 units at a time: the first one "
                                     "shown.")
        self.back_button = QPushButton("◀ Back")
        self.back_button.setToolTip("Previous step (Left arrow or Backspace)")
        self.forward_button = QPushButton("Forward ▶")
        self.forward_button.setToolTip("Next step (Right arrow or Space)")
        self.end_button = QPushButton("All ▶▶")
        self.end_button.setToolTip("Show every step")
        self.counter = QLabel("")
        for w in (self.back_button, self.forward_button, self.end_button, self.counter):
            self.controls.addWidget(w)
        self.controls.addStretch(1)
        self.panel = QLabel("")
        self.panel.setWordWrap(True)
        self.panel.setTextFormat(Qt.TextFormat.RichText)
        self.panel.setMinimumHeight(120)
        self.panel.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.panel.setStyleSheet("padding: 4px 8px; background: #fafafa; border-top: 1px solid #ddd;")
        self.layout().addWidget(self.panel)
        self.setToolTip(TIP)
        self.plot_widget.setToolTip(TIP)

        self.back_button.clicked.connect(self.back)
        self.forward_button.clicked.connect(self.forward)
        self.end_button.clicked.connect(lambda: self.go_to(len(self.walk.steps) if self.walk else 0))
        for keys, slot in ((("Right", "Space"), self.forward), (("Left", "Backspace"), self.back)):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(slot)
        for box in (self.sample, self.batch, self.first_layer, self.first_unit):
            box.valueChanged.connect(lambda _v: self.rebuild())
        session.trainerChanged.connect(lambda _t: self._trainer_changed())
        session.networkUpdated.connect(lambda _n: self._weights_changed())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _spin(self, label: str, low: int, high: int, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, max(low, high))
        box.setToolTip(tip)
        box.setKeyboardTracking(False)
        text = QLabel(label)
        text.setToolTip(tip)
        self.controls.addWidget(text)
        self.controls.addWidget(box)
        return box

    # -- computing --------------------------------------------------------------------------
    def rebuild(self) -> bool:
        """Walk the current network on the chosen sample(s); keeps the step position."""
        s = self.session
        if s.trainer is None or s.view_network is None:
            self.walk = None
            self.panel.setText("Build a network first (the experiment has errors).")
            return False
        x, y = training_arrays(s)
        n = len(x)
        for box, high in ((self.sample, n - 1), (self.batch, min(MAX_BATCH, n))):
            box.blockSignals(True)
            box.setMaximum(high)
            box.blockSignals(False)
        dense = [layer for layer in s.view_network.layers if isinstance(layer, Dense)]
        self.first_layer.blockSignals(True)
        self.first_layer.setMaximum(len(dense))
        self.first_layer.blockSignals(False)
        widest = max([s.view_network.input_shape[-1]] + [layer.units for layer in dense])
        self.first_unit.blockSignals(True)
        self.first_unit.setMaximum(max(0, widest - 1))
        self.first_unit.blockSignals(False)
        start = min(self.sample.value(), n - 1)
        stop = min(n, start + self.batch.value())
        spec = s.spec
        options = {"lr": spec.optimizer.lr, **spec.optimizer.options}
        state = None
        if not s.is_running and s.trainer.step > 0:
            # The run's own optimizer state (momentum buffer, Adam's moments), read between runs.
            state = s.trainer.optimizer.state_dict()
        try:
            self.walk = step_through(s.view_network, s.trainer.loss, x[start:stop], y[start:stop],
                                     optimizer_name=spec.optimizer.name, optimizer_options=options,
                                     optimizer_state=state, first_layer=self.first_layer.value() - 1,
                                     first_unit=self.first_unit.value())
        except (ValueError, TypeError) as exc:
            self.walk = None
            self.error = str(exc)
            self.panel.setText(f"Cannot step through this network: {exc}")
            return False
        self.error = ""
        self._layout_graph()
        self.go_to(min(self.position, len(self.walk.steps)))
        return True

    def _trainer_changed(self) -> None:
        # Another network: the old walk no longer fits it. Rebuilt now if shown, else when shown.
        self.walk = None
        if self.isVisible():
            self.rebuild()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.walk is None and self.session.trainer is not None:
            self.rebuild()
        # The arrow keys step the walk: a tab bar or table that kept the focus would take them.
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _weights_changed(self) -> None:
        if self.walk is not None and self.isVisible() and not self.session.is_running:
            self.rebuild()

    # -- stepping ---------------------------------------------------------------------------
    def forward(self) -> None:
        if self.walk is not None:
            self.go_to(self.position + 1)

    def back(self) -> None:
        self.go_to(self.position - 1)

    def go_to(self, position: int) -> None:
        total = len(self.walk.steps) if self.walk else 0
        self.position = max(0, min(position, total))
        self.back_button.setEnabled(self.position > 0)
        self.forward_button.setEnabled(self.position < total)
        self.end_button.setEnabled(self.position < total)
        self.counter.setText(f"step {self.position} of {total}")
        self._draw()

    @property
    def current(self) -> Any:
        if self.walk is None or self.position == 0:
            return None
        return self.walk.steps[self.position - 1]

    # -- drawing ----------------------------------------------------------------------------
    def _layout_graph(self) -> None:
        walk = self.walk
        assert walk is not None
        net = self.session.view_network
        names = [layer.name for layer in net.layers]
        first = names.index(walk.shown[0])
        last = names.index(walk.shown[-1])
        cols = ["x" if first == 0 else f"{names[first - 1]}.a"]
        for layer in net.layers[first : last + 1]:
            dense = isinstance(layer, Dense)
            cols += [f"{layer.name}.z", f"{layer.name}.a"] if dense else [f"{layer.name}.a"]
        if last == len(names) - 1:
            cols.append("loss")
        self.columns = cols

    def _pos(self, col: int, unit: int) -> tuple[float, float]:
        node = self.columns[col]
        lo = self.walk.units.get(node, (0, 1))[0] if node != "loss" else 0
        return 2.0 * col, -SPACING * (unit - lo)

    def _units(self, node: str) -> range:
        if node == "loss":
            return range(1)
        lo, hi = self.walk.units[node]
        return range(lo, hi)

    def _draw(self) -> None:
        for item in self.texts:
            self.plot_item.removeItem(item)
        self.texts = []
        walk = self.walk
        if walk is None:
            self.nodes.setData([], [])
            self.edges.setData([], [])
            self.hot.setData([], [])
            return
        revealed = walk.steps[: self.position]
        forward = {s.node for s in revealed if s.phase in ("forward", "loss")}
        backward = {s.node for s in revealed if s.phase == "backward"}
        xs, ys, edge_x, edge_y = [], [], [], []
        for c, node in enumerate(self.columns):
            for u in self._units(node):
                px, py = self._pos(c, u)
                xs.append(px)
                ys.append(py)
            if c > 0:
                prev = self.columns[c - 1]
                for u in self._units(node):
                    sources = list(self._units(prev)) if _all_to_all(node) else [u]
                    for v in sources:
                        a, b = self._pos(c - 1, v), self._pos(c, u)
                        edge_x += [a[0], b[0]]
                        edge_y += [a[1], b[1]]
        self.nodes.setData(xs, ys)
        self.edges.setData(edge_x, edge_y)
        small = QFont()
        small.setPointSize(8)
        bold = QFont()
        bold.setBold(True)
        for c, node in enumerate(self.columns):
            top = self._pos(c, self._units(node)[0])[1] + 1.0
            header = "x" if node == "x" else ("L" if node == "loss" else node.replace(".", " "))
            self._text(header, 2.0 * c, top, (0, 0, 0), bold, anchor=(0.5, 1.0))
            for u in self._units(node):
                px, py = self._pos(c, u)
                above, below = (px + LABEL_DX, py + LABEL_DY), (px + LABEL_DX, py - LABEL_DY)
                if node == "loss":
                    if "loss" in forward:
                        self._text(f"L = {walk.loss_value:.4g}", *above, (0, 0, 0), small, anchor=(0.0, 1.0))
                        target = ", ".join(f"{t:g}" for t in walk.values["target"][0][:4])
                        self._text(f"target {target}", *below, (0, 0, 0), small, anchor=(0.0, 0.0))
                    continue
                # Beside the node, value above and gradient below: readable even 8 units high.
                if (node in forward or (node == "x" and self.position > 0)) and node in walk.values:
                    value = walk.values[node][0, u]
                    self._text(f"{value:.3g}", *above, (0, 0, 0), small, anchor=(0.0, 1.0))
                if node in backward and node in walk.grads:
                    grad = walk.grads[node][0, u]
                    self._text(f"∂ {grad:.3g}", *below, GRAD_COLOUR, small, anchor=(0.0, 0.0))
        self._highlight()
        self.plot_item.setXRange(-0.6, 2.0 * (len(self.columns) - 1) + 1.6, padding=0.02)
        tallest = max(len(self._units(n)) for n in self.columns)
        self.plot_item.setYRange(-SPACING * (tallest - 1) - 1.0, 1.6, padding=0.02)
        self._panel()

    def _text(self, text: str, x: float, y: float, colour: tuple, font: QFont,
              anchor: tuple[float, float]) -> None:
        item = pg.TextItem(text, color=colour, anchor=anchor, fill=LABEL_FILL)
        item.setFont(font)
        item.setZValue(Z_LABELS)
        item.setPos(x, y)
        self.plot_item.addItem(item)
        self.texts.append(item)

    def _highlight(self) -> None:
        step = self.current
        hx: list[float] = []
        hy: list[float] = []
        if step is not None and step.edge is not None:
            a, b = step.edge
            # A parameter step lights up the weights it is about: the edges into that layer's z.
            if step.phase in ("parameters", "average", "update"):
                layer = step.node.split(".")[0]
                b = f"{layer}.z"
                a = self.columns[self.columns.index(b) - 1] if b in self.columns else a
            if a in self.columns and b in self.columns:
                ca, cb = self.columns.index(a), self.columns.index(b)
                lo_c, hi_c = min(ca, cb), max(ca, cb)
                if hi_c - lo_c == 1:
                    left, right = self.columns[lo_c], self.columns[hi_c]
                    for u in self._units(right):
                        sources = list(self._units(left)) if _all_to_all(right) else [u]
                        if step.phase == "update" and self.walk is not None:
                            _, wi, wj = self.walk.weight
                            sources = [wi] if u == wj else []
                        for v in sources:
                            p, q = self._pos(lo_c, v), self._pos(hi_c, u)
                            hx += [p[0], q[0]]
                            hy += [p[1], q[1]]
        self.hot.setData(hx, hy)

    def _panel(self) -> None:
        step = self.current
        if self.walk is None:
            return
        if step is None:
            self.panel.setText(f"<b>{len(self.walk.steps)} steps</b> for this sample. "
                               "Press <b>Forward ▶</b> "
                               "(or the Right arrow) to run the forward pass node by node.")
            return
        numbers = _html(step.numbers).replace("\n", "<br>")
        if self.walk.batch > 1 and step.phase in ("forward", "backward"):
            numbers += (f"<br><span style='color:#555'>(the first of {self.walk.batch} samples; ∂L/∂node "
                        "is of the batch-mean loss, so each sample's share carries 1/B)</span>")
        note = f"<br><span style='color:#c81e1e'><b>{_html(step.note)}</b></span>" if step.note else ""
        self.panel.setText(
            f"<b>{self.position}/{len(self.walk.steps)} · {step.phase}</b> — {_html(step.title)}<br>"
            f"<span style='color:#555'>{_html(step.formula)}</span><br>"
            f"<span style='font-family: monospace'>{numbers}</span>{note}")

    def panel_text(self) -> str:
        """The formula panel as plain text (what a person reads; the tests read it too)."""
        doc = self.panel.text()
        from PySide6.QtGui import QTextDocument

        text = QTextDocument()
        text.setHtml(doc)
        return text.toPlainText()

    # -- plot contract ------------------------------------------------------------------------
    def refresh(self, history: History, force: bool = False) -> None:
        if force:
            self._draw()

    def redraw(self, history: History | None) -> None:
        self._draw()

    def table(self) -> tuple[list[str], np.ndarray]:
        header = ["column", "unit", "value", "dL/dnode"]
        if self.walk is None:
            return header, np.empty((0, 4))
        rows: list[list[float]] = []
        for c, node in enumerate(self.columns):
            if node == "loss":
                rows.append([c, 0, self.walk.loss_value, np.nan])
                continue
            for u in self._units(node):
                value = self.walk.values.get(node)
                grad = self.walk.grads.get(node)
                rows.append([c, u, value[0, u] if value is not None else np.nan,
                             grad[0, u] if grad is not None else np.nan])
        data = np.array(rows, dtype=float)
        return header, columns(*data.T)


def _all_to_all(node: str) -> bool:
    """Every unit feeds every unit of ``node`` (a weighted sum, or the loss); an activation,
    dropout or batch normalisation acts unit by unit."""
    return node == "loss" or node.endswith(".z")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def install(host: ViewHost) -> None:
    """Analyze ▸ Step Through Backprop: opens its page on the first training sample."""
    view = StepThroughView(host.session)
    host.add_analysis("step_through", view, "Step Through Backprop", TIP, run=view.rebuild, separator=True)
