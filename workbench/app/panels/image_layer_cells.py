"""The network editor's cells for image layers: Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool, Flatten.

A conv row: in the Size column a button that reads "8 × 3×3" (filters × kernel) and opens a
small form with filters, kernel size, stride and padding; its activation and weight init as a
Dense row has them. A pool row: its window in the Size column (the stride defaults to the
window). Edits go through the panel's ``set_layer_field`` like every other row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QMenu,
    QSpinBox,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from engine.activations import ACTIVATIONS
from engine.initializers import INITIALIZERS
from engine.spec import MAX_FILTERS, MAX_KERNEL, MAX_STRIDE

IMAGE_LAYER_TYPES = {"conv2d": "Conv2D", "maxpool2d": "MaxPool2D", "avgpool2d": "AvgPool2D",
                     "global_avgpool": "GlobalAvgPool", "flatten": "Flatten"}
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


def conv_text(layer: Any) -> str:
    """What the conv row's button reads: filters × kernel, and the stride when it is not 1 (the
    padding shows in the output shape noted under the row)."""
    text = f"{layer.filters} × {layer.kernel_size}×{layer.kernel_size}"
    if layer.stride != 1:
        text += f" /{layer.stride}"
    return text


class ConvSettings(QToolButton):
    """The conv row's Size cell: a button that opens the convolution's own form."""

    def __init__(self, layer: Any, set_value: Setter) -> None:
        super().__init__()
        self.setText(conv_text(layer))
        self.setToolTip(f"{layer.filters} filters of {layer.kernel_size}×{layer.kernel_size}, stride "
                        f"{layer.stride}, padding {layer.padding}. Click to change them.")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        form_host = QWidget()
        form = QFormLayout(form_host)
        self.filters = _spin(1, MAX_FILTERS, layer.filters, "", "",
                             "Filters: output channels, one feature map each", set_value, "filters")
        self.kernel = _spin(1, MAX_KERNEL, layer.kernel_size, "", "",
                            "Kernel size: each filter looks at k×k pixels of every input channel",
                            set_value, "kernel_size")
        self.stride = _spin(1, MAX_STRIDE, layer.stride, "", "", "Stride: pixels between two windows",
                            set_value, "stride")
        self.padding = QComboBox()
        for value, label in PADDINGS.items():
            self.padding.addItem(label, value)
        if isinstance(layer.padding, int):
            self.padding.addItem(f"{layer.padding} pixels", layer.padding)
        self.padding.setCurrentIndex(self.padding.findData(layer.padding))
        self.padding.setToolTip("same: zero-pad so the output is as large as the input (÷ stride); "
                                "valid: no padding, the output shrinks by kernel − 1")
        self.padding.activated.connect(lambda _i: set_value("padding", self.padding.currentData()))
        form.addRow("Filters", self.filters)
        form.addRow("Kernel size", self.kernel)
        form.addRow("Stride", self.stride)
        form.addRow("Padding", self.padding)
        menu = QMenu(self)
        action = QWidgetAction(menu)
        action.setDefaultWidget(form_host)
        menu.addAction(action)
        self.setMenu(menu)


def image_layer_cells(layer: Any, set_value: Setter, registry_combo: Callable[..., QComboBox],
                      activation_tip: str, init_tip: str) -> tuple[QWidget | None, QWidget | None,
                                                                   QWidget | None]:
    """(Size, Activation, Init) cell widgets for an image layer; None leaves a cell blank."""
    if layer.type == "conv2d":
        act = registry_combo(ACTIVATIONS, activation_tip)
        act.setCurrentIndex(act.findData(layer.activation))
        act.activated.connect(lambda _i: set_value("activation", act.currentData()))
        init = registry_combo(INITIALIZERS, init_tip)
        init.setCurrentIndex(init.findData(layer.weight_init))
        init.activated.connect(lambda _i: set_value("weight_init", init.currentData()))
        return ConvSettings(layer, set_value), act, init
    if layer.type in ("maxpool2d", "avgpool2d"):
        what = "largest" if layer.type == "maxpool2d" else "average"
        size = _spin(1, MAX_KERNEL, layer.pool_size, "", f"×{layer.pool_size}",
                     f"Pool size: each output is the {what} of a window this wide (stride: the same "
                     "unless the file sets one)", set_value, "pool_size")
        size.valueChanged.connect(lambda v: size.setSuffix(f"×{v}"))
        return size, None, None
    return None, None, None
