"""Network editor: the stack of hidden layers, each with its type, size, activation, initializer.

Input and output sizes follow from the data and the loss, so they are shown, not typed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.activations import ACTIVATIONS
from engine.initializers import INITIALIZERS
from engine.spec import MAX_LAYERS
from workbench.app.panels.common import TIPS, ErrorLabel, describe, edit_spec
from workbench.app.panels.honest import honest_field, parse_int
from workbench.app.panels.image_layer_cells import IMAGE_LAYER_TYPES, image_layer_cells
from workbench.app.panels.row_notes import NOTE_COLOUR_ROLE, NOTE_ROLE, RowNoteDelegate, cap_widgets
from workbench.model.layer_table import describe_shape, layer_sizes, network_input_shape

LAYER_TYPES = {"dense": "Dense", "dropout": "Dropout", "batchnorm": "BatchNorm",
               "conv2d": "Conv2D", "maxpool2d": "MaxPool", "avgpool2d": "AvgPool",
               "global_avgpool": "GlobalAvgPool", "flatten": "Flatten"}
NEW_LAYER = {
    "dense": {"type": "dense", "units": 8, "activation": "relu", "weight_init": "he_uniform"},
    "dropout": {"type": "dropout", "rate": 0.2},
    "batchnorm": {"type": "batchnorm"},
    "conv2d": {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
    "maxpool2d": {"type": "maxpool2d", "pool_size": 2},
    "avgpool2d": {"type": "avgpool2d", "pool_size": 2},
    "global_avgpool": {"type": "global_avgpool"},
    "flatten": {"type": "flatten"},
}
SHAPE_COLUMN = 1  # each layer's output shape is noted from its Size cell on, under the controls
ROW_HEIGHT = 42  # a 26 px line of controls, and the output shape below it


def registry_combo(registry: Any, tip: str) -> QComboBox:
    combo = QComboBox()
    for name, entry in registry.items():
        combo.addItem(name, name)
        text = describe(entry)
        if text:
            combo.setItemData(combo.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
    combo.setToolTip(tip)
    # Narrow docks: let the combo shrink below its longest entry (the popup still shows it whole).
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(5)
    return combo


class NetworkPanel(QWidget):
    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("NetworkPanel")
        self.input_label = QLabel()
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Type", "Size", "Activation", "Init"])
        self.table.horizontalHeaderItem(SHAPE_COLUMN).setToolTip(
            "Size: units, rate, filters or window. Under it, → the layer's output shape (features, or "
            "channels×height×width) · its parameter count, updated as you edit")
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.setItemDelegate(RowNoteDelegate(self.table, SHAPE_COLUMN))
        header = self.table.horizontalHeader()
        # Names like "he_uniform" are never cut: those columns fit their content, Size takes the rest.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setMinimumHeight(120)
        self.table.setToolTip("Hidden layers, input at the top. Select a row to insert, move or remove it.")
        self.output_label = QLabel()
        self.params_label = QLabel()

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Append a Dense layer at the end (just before the output).")
        self.add_type = QComboBox()
        for kind, label in LAYER_TYPES.items():
            self.add_type.addItem(label, kind)
        self.add_type.setToolTip(TIPS["layer_type"])
        self.insert_button = QPushButton("Insert")
        self.insert_button.setToolTip("Insert a layer above the selected one.")
        self.remove_button = QPushButton("✕")
        self.remove_button.setToolTip("Remove the selected layer.")
        self.up_button = QPushButton("▲")
        self.up_button.setToolTip("Move the selected layer towards the input.")
        self.down_button = QPushButton("▼")
        self.down_button.setToolTip("Move the selected layer towards the output.")
        for b in (self.up_button, self.down_button, self.remove_button):
            b.setMaximumWidth(28)
        for b in (self.add_button, self.insert_button):
            b.setMinimumWidth(10)
        self.add_type.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.add_type.setMinimumContentsLength(6)
        self.add_button.clicked.connect(lambda: self.add_layer(self.add_type.currentData()))
        self.insert_button.clicked.connect(lambda: self.insert_layer(self.add_type.currentData()))
        self.remove_button.clicked.connect(self.remove_layer)
        self.up_button.clicked.connect(lambda: self.move_layer(-1))
        self.down_button.clicked.connect(lambda: self.move_layer(+1))
        for w in (self.add_type, self.add_button, self.insert_button, self.remove_button,
                  self.up_button, self.down_button):
            buttons.addWidget(w)

        out_form = QFormLayout()
        self.output_activation = registry_combo(ACTIVATIONS, TIPS["output_activation"])
        self.output_activation.activated.connect(
            lambda _i: self._edit_model("output_activation", self.output_activation.currentData())
        )
        self.output_init = registry_combo(INITIALIZERS, TIPS["weight_init"])
        self.output_init.activated.connect(
            lambda _i: self._edit_model("output_init", self.output_init.currentData())
        )
        out_form.addRow("Output activation", self.output_activation)
        out_form.addRow("Output init", self.output_init)

        self.error = ErrorLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.input_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.output_label)
        layout.addLayout(out_form)
        layout.addWidget(self.params_label)
        layout.addWidget(self.error)

        self._shown: Any = None
        self._sizes_from: tuple[Any, int] | None = None  # (dataset, outputs) of the last build
        self._select_after: int | None = None
        session.specChanged.connect(self.show_spec)
        session.trainerChanged.connect(self.show_sizes)
        session.buildError.connect(self.error.show_message)
        self.show_spec(session.spec)
        self.show_sizes(session.trainer)
        self.error.show_message(session.build_error)

    # ------------------------------------------------------------------ edits
    def _layers(self) -> list[dict]:
        return [layer.model_dump(mode="json") for layer in self.session.spec.model.layers]

    def _set_layers(self, layers: list[dict], select: int | None = None) -> bool:
        if len(layers) > MAX_LAYERS:
            self.error.show_message(f"At most {MAX_LAYERS} hidden layers.")
            return False
        self._select_after = select
        return edit_spec(
            self.session, lambda d: d["model"].__setitem__("layers", layers), self.error.show_message
        )

    def _edit_model(self, key: str, value: Any) -> None:
        edit_spec(self.session, lambda d: d["model"].__setitem__(key, value), self.error.show_message)

    def selected_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def add_layer(self, kind: str = "dense") -> None:
        layers = self._layers()
        layers.append(dict(NEW_LAYER[kind]))
        self._set_layers(layers, select=len(layers) - 1)

    def insert_layer(self, kind: str = "dense") -> None:
        row = self.selected_row()
        layers = self._layers()
        at = row if row >= 0 else 0
        layers.insert(at, dict(NEW_LAYER[kind]))
        self._set_layers(layers, select=at)

    def remove_layer(self) -> None:
        row = self.selected_row()
        layers = self._layers()
        if row < 0:
            row = len(layers) - 1
        if row < 0:
            return
        del layers[row]
        self._set_layers(layers, select=min(row, len(layers) - 1))

    def move_layer(self, delta: int) -> None:
        row = self.selected_row()
        layers = self._layers()
        to = row + delta
        if row < 0 or not 0 <= to < len(layers):
            return
        layers[row], layers[to] = layers[to], layers[row]
        self._set_layers(layers, select=to)

    def _layer_problem(self, row: int, key: str, value: Any) -> str:
        """Apply one layer field; returns the problem that stopped it, or ""."""
        problems: list[str] = []
        self.error.show_message("")
        layers = self._layers()
        if layers[row].get(key) == value:
            return ""
        layers[row][key] = value
        self._select_after = row
        edit_spec(self.session, lambda d: d["model"].__setitem__("layers", layers), problems.append)
        return next((p for p in problems if p), "")

    def set_layer_field(self, row: int, key: str, value: Any) -> None:
        layers = self._layers()
        if layers[row].get(key) == value:
            return
        if key == "type":
            layers[row] = dict(NEW_LAYER[value])
        else:
            layers[row][key] = value
        self._set_layers(layers, select=row)

    # ------------------------------------------------------------------ display
    def show_spec(self, spec: Any) -> None:
        for combo, value in ((self.output_activation, spec.model.output_activation),
                             (self.output_init, spec.model.output_init)):
            combo.blockSignals(True)
            combo.setCurrentIndex(max(combo.findData(value), 0))
            combo.blockSignals(False)
        if self._shown == spec.model.layers:
            return
        self._shown = spec.model.layers
        # The edit may come from a cell widget that is still emitting: rebuild after it returns.
        QTimer.singleShot(0, self._rebuild_rows)

    def _rebuild_rows(self) -> None:
        spec = self.session.spec
        self._shown = spec.model.layers
        selected = self._select_after if self._select_after is not None else self.selected_row()
        self._select_after = None
        self.table.setRowCount(0)
        self.table.setRowCount(len(spec.model.layers))
        for row, layer in enumerate(spec.model.layers):
            self._fill_row(row, layer)
        self._show_layer_sizes()
        if 0 <= selected < self.table.rowCount():
            self.table.selectRow(selected)

    def _fill_row(self, row: int, layer: Any) -> None:
        kind = QComboBox()
        kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        kind.setMinimumContentsLength(5)
        for key, label in LAYER_TYPES.items():
            kind.addItem(label, key)
        kind.setCurrentIndex(kind.findData(layer.type))
        kind.setToolTip(TIPS["layer_type"])
        kind.activated.connect(lambda _i, r=row, w=kind: self.set_layer_field(r, "type", w.currentData()))
        self.table.setCellWidget(row, 0, kind)
        self.table.setVerticalHeaderItem(row, None)
        if layer.type == "dense":
            # A text field judged by the file format's rules: 0 or 99999 is refused in red with the
            # limit named, never ignored or clamped (a spin box would clamp it silently).
            units = honest_field(
                TIPS["units"], parse_int, lambda v, r=row: self._layer_problem(r, "units", v),
                lambda units=layer.units: str(units), self.error.show_message)
            units.setText(str(layer.units))
            act = registry_combo(ACTIVATIONS, TIPS["activation"])
            act.setCurrentIndex(act.findData(layer.activation))
            act.activated.connect(
                lambda _i, r=row, w=act: self.set_layer_field(r, "activation", w.currentData())
            )
            init = registry_combo(INITIALIZERS, TIPS["weight_init"])
            init.setCurrentIndex(init.findData(layer.weight_init))
            init.activated.connect(
                lambda _i, r=row, w=init: self.set_layer_field(r, "weight_init", w.currentData())
            )
            for col, w in ((1, units), (2, act), (3, init)):
                self.table.setCellWidget(row, col, w)
        elif layer.type == "dropout":
            rate = QDoubleSpinBox()
            rate.setRange(0.0, 0.95)
            rate.setSingleStep(0.05)
            rate.setValue(layer.rate)
            rate.setToolTip(TIPS["rate"])
            rate.editingFinished.connect(lambda r=row, w=rate: self.set_layer_field(r, "rate", w.value()))
            self.table.setCellWidget(row, 1, rate)
            for col in (2, 3):
                self.table.setCellWidget(row, col, _blank())
        elif layer.type in IMAGE_LAYER_TYPES:
            cells = image_layer_cells(layer, lambda key, value, r=row: self.set_layer_field(r, key, value),
                                      registry_combo, TIPS["activation"], TIPS["weight_init"])
            for col, w in zip((1, 2, 3), cells, strict=True):
                self.table.setCellWidget(row, col, w if w is not None else _blank())
        else:
            mom = QDoubleSpinBox()
            mom.setRange(0.01, 1.0)
            mom.setSingleStep(0.05)
            mom.setValue(layer.momentum)
            mom.setToolTip(TIPS["momentum_bn"])
            mom.editingFinished.connect(lambda r=row, w=mom: self.set_layer_field(r, "momentum", w.value()))
            self.table.setCellWidget(row, 1, mom)
            for col in (2, 3):
                self.table.setCellWidget(row, col, _blank())

    def show_sizes(self, trainer: Any) -> None:
        if trainer is not None:
            self._sizes_from = (trainer.dataset, trainer.n_outputs)
        self._show_layer_sizes()
        if trainer is None:
            self.input_label.setText("Input: —")
            self.output_label.setText("Output: —")
            self.params_label.setText("Parameters: —")
            return
        net = trainer.network
        shape = tuple(net.input_shape)
        self.input_label.setText(f"Input: {shape[0]} features" if len(shape) == 1 else
                                 f"Input: {describe_shape(shape)} images (channels×height×width)")
        transform = {"binary": "sigmoid", "multiclass": "softmax"}.get(trainer.loss.task, "")
        via = f" (→ {transform} in the loss)" if transform else ""
        self.output_label.setText(f"Output: {trainer.n_outputs} units{via}")
        self.params_label.setText(f"Parameters: {net.n_parameters:,}")
        self.params_label.setToolTip(
            "\n".join(f"{name}: {kind} {shape} · {n:,} parameters" for name, kind, shape, n in net.summary())
        )


    def _show_layer_sizes(self) -> None:
        """"→ output shape · parameters" under each row's controls, from the spec by arithmetic:
        right for every layer type, and even when the network cannot build (the misfit is named)."""
        cap_widgets(self.table, ROW_HEIGHT)
        if self._sizes_from is None:
            return
        dataset, n_outputs = self._sizes_from
        model = self.session.spec.model
        try:
            sizes = layer_sizes(model, network_input_shape(dataset, model), n_outputs)
        except Exception:  # a data set that has just failed to load: keep the texts as they are
            return
        # One size per top-level layer; with nested rows (a block's layers, when the editor shows
        # them), a layer's note goes on the row whose path is (its index,).
        paths = [getattr(r, "path", None) for r in getattr(self, "_rows", [])]
        for i, size in enumerate(sizes):
            row = paths.index((i,)) if (i,) in paths else (i if not paths else -1)
            if not 0 <= row < self.table.rowCount():
                continue
            item = QTableWidgetItem()
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setToolTip(size.tip)
            item.setData(NOTE_ROLE, f"→ output {size.text}" + (" parameters" if size.ok else ""))
            item.setData(NOTE_COLOUR_ROLE, "#c00" if not size.ok else "#555")
            self.table.setItem(row, SHAPE_COLUMN, item)
        self.table.viewport().update()


def _blank() -> QWidget:
    w = QLabel("—")
    w.setAlignment(Qt.AlignmentFlag.AlignCenter)
    w.setStyleSheet("color: #999;")
    return w
