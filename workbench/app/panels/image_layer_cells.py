"""The network editor's cells for image layers: Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool, Flatten.

A conv row: filters and kernel size in the Size column, its activation, and padding and stride
in the Init column. A pool row: its window in the Size column (the stride defaults to the window).
Edits go through the panel's ``set_layer_field`` like every other row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSpinBox, QWidget

from engine.activations import ACTIVATIONS
from engine.spec import MAX_FILTERS, MAX_KERNEL, MAX_STRIDE

IMAGE_LAYER_TYPES = {"conv2d": "Conv2D", "maxpool2d": "MaxPool2D", "avgpool2d": "AvgPool2D",
                     "global_avgpool": "GlobalAvgPool", "flatten": "Flatten"}
NEW_IMAGE_LAYER: dict[str, dict] = {
    "conv2d": {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
    "maxpool2d": {"type": "maxpool2d", "pool_size": 2},
    "avgpool2d": {"type": "avgpool2d", "pool_size": 2},
    "global_avgpool": {"type": "global_avgpool"},
    "flatten": {"type": "flatten"},
}
PADDINGS = {"same": "same", "valid": "valid"}

Setter = Callable[[str, Any], None]


def _spin(lo: int, hi: int, value: int, prefix: str, suffix: str, tip: str, set_value: Setter,
          key: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setPrefix(prefix)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    box.editingFinished.connect(lambda: set_value(key, box.value()))
    return box


def _pair(*widgets: QWidget) -> QWidget:
    host = QWidget()
    layout = QHBoxLayout(host)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for w in widgets:
        layout.addWidget(w)
    return host


def image_layer_cells(layer: Any, set_value: Setter, registry_combo: Callable[..., QComboBox],
                      activation_tip: str) -> tuple[QWidget | None, QWidget | None, QWidget | None]:
    """(Size, Activation, Init) cell widgets for an image layer; None leaves a cell blank."""
    if layer.type == "conv2d":
        filters = _spin(1, MAX_FILTERS, layer.filters, "", " f",
                        "Filters: output channels, one feature map each", set_value, "filters")
        kernel = _spin(1, MAX_KERNEL, layer.kernel_size, "k", "",
                       "Kernel size: each filter looks at k×k pixels of every input channel",
                       set_value, "kernel_size")
        act = registry_combo(ACTIVATIONS, activation_tip)
        act.setCurrentIndex(act.findData(layer.activation))
        act.activated.connect(lambda _i: set_value("activation", act.currentData()))
        padding = QComboBox()
        for value, label in PADDINGS.items():
            padding.addItem(label, value)
        if isinstance(layer.padding, int):
            padding.addItem(f"pad {layer.padding}", layer.padding)
        padding.setCurrentIndex(padding.findData(layer.padding))
        padding.setToolTip("same: zero-pad so the output is as large as the input (÷ stride); "
                           "valid: no padding, the output shrinks by kernel − 1")
        padding.activated.connect(lambda _i: set_value("padding", padding.currentData()))
        stride = _spin(1, MAX_STRIDE, layer.stride, "s", "", "Stride: pixels between two windows",
                       set_value, "stride")
        return _pair(filters, kernel), act, _pair(padding, stride)
    if layer.type in ("maxpool2d", "avgpool2d"):
        what = "largest" if layer.type == "maxpool2d" else "average"
        size = _spin(1, MAX_KERNEL, layer.pool_size, "", f"×{layer.pool_size}",
                     f"Pool size: each output is the {what} of a window this wide (stride: the same "
                     "unless the file sets one)", set_value, "pool_size")
        size.valueChanged.connect(lambda v: size.setSuffix(f"×{v}"))
        return size, None, None
    return None, None, None
