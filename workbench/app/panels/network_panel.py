"""Network editor: the stack of hidden layers, each with its type, size, activation, initializer.

Input and output sizes follow from the data and the loss, so they are shown, not typed. A
residual block is a row of its own followed by its inner layers, numbered 3.1, 3.2, … in the
row header; the row edits go through ``workbench.model.layer_tree`` (paths into the nesting).
"""

from __future__ import annotations

import copy
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
from workbench.app.panels.recurrent_cells import fit_recurrent_cells, recurrent_cell
from workbench.app.panels.row_notes import NOTE_COLOUR_ROLE, NOTE_ROLE, RowNoteDelegate, cap_widgets
from workbench.model import layer_tree
from workbench.model.layer_table import layer_sizes, network_input_shape
from workbench.model.layer_tree import Row, TreeEditError

LAYER_TYPES = {"dense": "Dense", "dropout": "Dropout", "batchnorm": "BatchNorm",
               "conv2d": "Conv2D", "maxpool2d": "MaxPool", "avgpool2d": "AvgPool",
               "global_avgpool": "GlobalAvgPool", "flatten": "Flatten", "residual": "Residual"}
RECURRENT_TYPES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}  # on sequence data (engine/recurrent.py)
LAYER_TYPES.update(RECURRENT_TYPES)
NEW_LAYER = {
    "dense": {"type": "dense", "units": 8, "activation": "relu", "weight_init": "he_uniform"},
    "dropout": {"type": "dropout", "rate": 0.2},
    "batchnorm": {"type": "batchnorm"},
    **{kind: {"type": kind, "units": 16} for kind in RECURRENT_TYPES},
    "residual": {"type": "residual", "layers": [
        {"type": "dense", "units": 8, "activation": "relu", "weight_init": "he_uniform"},
        {"type": "dense", "units": 8, "activation": "identity", "weight_init": "he_uniform"},
    ]},
    "conv2d": {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
    "maxpool2d": {"type": "maxpool2d", "pool_size": 2},
    "avgpool2d": {"type": "avgpool2d", "pool_size": 2},
    "global_avgpool": {"type": "global_avgpool"},
    "flatten": {"type": "flatten"},
}
BLOCK_TIP = ("A residual block adds its input to what its layers compute: y = x + f(x). The gradient "
             "then has a direct path back to earlier layers, which is what lets very deep networks "
             "train. When the block's last layer changes the width, x goes through a linear "
             "projection first (extra weights, no bias).")

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
            "Size: units, rate, filters, window or momentum. Under it, → the layer's output shape "
            "(features, or "
            "channels×height×width) · its parameter count, updated as you edit")
        self.table.horizontalHeaderItem(2).setToolTip("The activation after a Dense or Conv2D layer")
        self.table.horizontalHeaderItem(3).setToolTip(
            "How a Dense or Conv2D layer's weights start. Recurrent rows say in one cell across "
            "Activation and Init what they hold: their cell and their output.")
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
        self.block_button = QPushButton("Add to block")
        self.block_button.setToolTip("Append a layer of the chosen type at the end of the selected residual "
                                     "block (select the block's row or one of its layers).")
        self.block_button.setMinimumWidth(10)
        self.block_button.clicked.connect(lambda: self.add_to_block(self.add_type.currentData()))
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
        block_buttons = QHBoxLayout()
        block_buttons.addStretch(1)
        block_buttons.addWidget(self.block_button)

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
        layout.addLayout(block_buttons)
        layout.addWidget(self.output_label)
        layout.addLayout(out_form)
        layout.addWidget(self.params_label)
        layout.addWidget(self.error)

        self._shown: Any = None
        self._sizes_from: tuple[Any, int] | None = None  # (dataset, outputs) of the last build
        self._select_after: int | None = None
        self._rows: list[Row] = []  # what each table row shows, in order
        self.table.itemSelectionChanged.connect(self._update_block_button)
        session.specChanged.connect(self.show_spec)
        session.trainerChanged.connect(self.show_sizes)
        session.buildError.connect(self.error.show_message)
        self.show_spec(session.spec)
        self.show_sizes(session.trainer)
        self.error.show_message(session.build_error)

    # ------------------------------------------------------------------ edits
    def _layers(self) -> list[dict]:
        return [layer.model_dump(mode="json") for layer in self.session.spec.model.layers]

    def _set_layers(self, layers: list[dict], select: int | tuple[int, ...] | None = None) -> bool:
        if len(layer_tree.rows(layers)) > MAX_LAYERS:
            self.error.show_message(f"At most {MAX_LAYERS} hidden layers, counting those inside "
                                    "residual blocks.")
            return False
        if isinstance(select, tuple):  # a path: the row it will have
            select = next((i for i, r in enumerate(layer_tree.rows(layers)) if r.path == select), None)
        self._select_after = select
        return edit_spec(
            self.session, lambda d: d["model"].__setitem__("layers", layers), self.error.show_message
        )

    def _edit_model(self, key: str, value: Any) -> None:
        edit_spec(self.session, lambda d: d["model"].__setitem__(key, value), self.error.show_message)

    def selected_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def selected_path(self) -> tuple[int, ...] | None:
        row = self.selected_row()
        return self._rows[row].path if 0 <= row < len(self._rows) else None

    def _new_layer(self, kind: str, layers: list[dict], path: tuple[int, ...]) -> dict:
        """A fresh layer; a new residual block keeps the width it receives (no projection needed)."""
        new = copy.deepcopy(NEW_LAYER[kind])
        if kind == "residual":
            width = layer_tree.width_before(layers, path, 8)
            for inner in new["layers"]:
                inner["units"] = width
        return new

    def add_layer(self, kind: str = "dense") -> None:
        layers = self._layers()
        layers.append(self._new_layer(kind, layers, (len(layers),)))
        self._set_layers(layers, select=(len(layers) - 1,))

    def insert_layer(self, kind: str = "dense") -> None:
        layers = self._layers()
        path = self.selected_path() or (0,)
        self._set_layers(layer_tree.insert(layers, path, self._new_layer(kind, layers, path)), select=path)

    def add_to_block(self, kind: str = "dense") -> None:
        """Append a layer at the end of the selected block (or of the block holding the selected layer)."""
        path = self.selected_path()
        layers = self._layers()
        if path is not None and layer_tree.get(layers, path).get("type") != "residual":
            path = path[:-1] or None
        if path is None:
            self.error.show_message("Select a residual block (or a layer inside one) to add a layer to it.")
            return
        end = (*path, len(layer_tree.get(layers, path)["layers"]))
        new, at = layer_tree.append_to_block(layers, path, self._new_layer(kind, layers, end))
        self._set_layers(new, select=at)

    def remove_layer(self) -> None:
        layers = self._layers()
        path = self.selected_path()
        if path is None:
            if not layers:
                return
            path = (len(layers) - 1,)
        try:
            new = layer_tree.remove(layers, path)
        except TreeEditError as exc:
            self.error.show_message(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
            return
        siblings = len(layer_tree.rows(new))
        row = min(self.selected_row() if self.selected_row() >= 0 else siblings - 1, siblings - 1)
        self._set_layers(new, select=row if row >= 0 else None)

    def move_layer(self, delta: int) -> None:
        path = self.selected_path()
        if path is None:
            return
        new, to = layer_tree.move(self._layers(), path, delta)
        if to != path:
            self._set_layers(new, select=to)

    def _layer_problem(self, row: int, key: str, value: Any) -> str:
        """Apply one layer field; returns the problem that stopped it, or ""."""
        problems: list[str] = []
        self.error.show_message("")
        path = self._rows[row].path
        layers = self._layers()
        if layer_tree.get(layers, path).get(key) == value:
            return ""
        layers = layer_tree.set_field(layers, path, key, value)
        self._select_after = row
        edit_spec(self.session, lambda d: d["model"].__setitem__("layers", layers), problems.append)
        return next((p for p in problems if p), "")

    def set_layer_field(self, row: int, key: str, value: Any) -> None:
        path = self._rows[row].path
        layers = self._layers()
        if layer_tree.get(layers, path).get(key) == value:
            return
        if key == "type":
            layers = layer_tree.replace(layers, path, self._new_layer(value, layers, path))
        else:
            layers = layer_tree.set_field(layers, path, key, value)
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
        self._rows = layer_tree.rows(self._layers())
        self.table.setRowCount(0)
        self.table.clearSpans()
        self.table.setRowCount(len(self._rows))
        for row, entry in enumerate(self._rows):
            self._fill_row(row, _spec_at(spec.model.layers, entry.path), entry)
        self._show_layer_sizes()
        fit_recurrent_cells(self.table)
        if 0 <= selected < self.table.rowCount():
            self.table.selectRow(selected)
        self._update_block_button()

    def _update_block_button(self) -> None:
        path = self.selected_path()
        self.block_button.setEnabled(path is not None and (self._rows[self.selected_row()].is_block
                                                           or len(path) > 1))

    def _fill_row(self, row: int, layer: Any, entry: Row | None = None) -> None:
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
        if entry is not None and (entry.depth or entry.is_block):
            # Numbered by nesting (3, 3.1, 3.2): the row header is what shows a layer is inside a block.
            header = QTableWidgetItem(("   " * entry.depth) + entry.label)
            header.setToolTip(f"Inside residual block {entry.label.rsplit('.', 1)[0]}" if entry.depth
                              else "Residual block: its layers follow, numbered "
                                   f"{entry.label}.1, {entry.label}.2, …")
            self.table.setVerticalHeaderItem(row, header)
        if layer.type == "residual":
            n = len(layer.layers)
            summary = QLabel(f"x + f(x), f = the {n} layer{'s' if n != 1 else ''} below")
            summary.setToolTip(BLOCK_TIP)
            summary.setStyleSheet("color: #555; padding-left: 4px;")
            kind.setToolTip(BLOCK_TIP)
            self.table.setCellWidget(row, 1, summary)
            self.table.setSpan(row, 1, 1, 3)  # the sentence needs the width of Size, Activation and Init
        elif layer.type == "dense":
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
        elif layer.type in RECURRENT_TYPES:
            self._fill_recurrent_row(row, layer)
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

    def _fill_recurrent_row(self, row: int, layer: Any) -> None:
        """Hidden size; then one cell across Activation and Init that says itself what it holds:
        the cell's non-linearity and what the layer outputs (a recurrent layer has no weight-init
        choice, so nothing may sit under the Init header)."""
        units = honest_field(
            TIPS["units"], parse_int, lambda v, r=row: self._layer_problem(r, "units", v),
            lambda units=layer.units: str(units), self.error.show_message)
        units.setText(str(layer.units))
        self.table.setCellWidget(row, 1, units)
        self.table.setCellWidget(row, 2, recurrent_cell(
            layer, lambda value, r=row: self.set_layer_field(r, "return_sequences", value)))
        self.table.setSpan(row, 2, 1, 2)

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
        shape = trainer.dataset.input_shape
        self.input_label.setText(f"Input: {'×'.join(map(str, shape))} images" if len(shape) == 3
                                 else f"Input: {shape[0]} steps × {shape[1]} features" if len(shape) == 2
                                 else f"Input: {shape[0]} features")
        transform = {"binary": "sigmoid", "multiclass": "softmax"}.get(trainer.loss.task, "")
        via = f" (→ {transform} in the loss)" if transform else ""
        unit = "unit" if trainer.n_outputs == 1 else "units"
        self.output_label.setText(f"Output: {trainer.n_outputs} {unit}{via}")
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


def _spec_at(layers: Any, path: tuple[int, ...]) -> Any:
    for i in path[:-1]:
        layers = layers[i].layers
    return layers[path[-1]]


def _blank() -> QWidget:
    w = QLabel("—")
    w.setAlignment(Qt.AlignmentFlag.AlignCenter)
    w.setStyleSheet("color: #999;")
    return w
