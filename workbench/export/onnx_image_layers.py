"""ONNX nodes for the image layers: Conv, MaxPool, AveragePool, GlobalAveragePool, Flatten.

Both the engine and ONNX are channel-first (N, C, H, W) with convolution weights stored
(out, in, kh, kw), so weights go over unchanged. Padding is written out as explicit ``pads``
(top, left, bottom, right), the engine's 'same' included, so no runtime has to agree with us
on how to split an odd amount.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def image_layer(g: Any, layer: Any, x: str, params: dict[str, np.ndarray], activation: Any) -> str | None:
    """Append ``layer``'s nodes to graph ``g`` reading ``x``; its output's name, or None when
    ``layer`` is not an image layer. ``activation(g, layer, z)`` adds an activation."""
    kind, name = layer.kind, layer.name
    if kind == "conv2d":
        top, bottom, left, right = layer.pads
        w = g.const(f"{name}.W", params[f"{name}.W"])
        b = g.const(f"{name}.b", params[f"{name}.b"])
        z = g.op("Conv", [x, w, b], f"{name}/z", kernel_shape=list(layer.kernel),
                 strides=[layer.stride, layer.stride], pads=[top, left, bottom, right])
        return str(activation(g, layer, z))
    if kind in ("maxpool2d", "avgpool2d"):
        op = "MaxPool" if kind == "maxpool2d" else "AveragePool"
        return str(g.op(op, [x], f"{name}/out", kernel_shape=list(layer.kernel),
                        strides=[layer.stride, layer.stride]))
    if kind == "global_avgpool":
        pooled = g.op("GlobalAveragePool", [x], f"{name}/pooled")
        return str(g.op("Flatten", [pooled], f"{name}/out", axis=1))
    if kind == "flatten":
        return str(g.op("Flatten", [x], f"{name}/out", axis=1))
    return None


def channel_shape(layer: Any, values: np.ndarray) -> np.ndarray:
    """Per-channel constants of a BatchNorm on images as (C, 1, 1), to broadcast over H and W."""
    return values.reshape(-1, 1, 1) if len(layer.input_shape) == 3 else values
