"""Each layer's output shape and parameter count from a ModelSpec, by pure arithmetic.

Nothing is allocated, so the trainer and the file validator can refuse a network that does
not fit its input, or is too large, before building it; the network editor shows these rows
as you build. ``Network.from_spec`` builds exactly the layers listed here, in this order.

The flatten rule: a Dense layer (a hidden one or the output layer) that follows a layer with
image output (channels, height, width) gets a ``flatten`` layer inserted before it, named
like any other (flatten1, …) and listed here with ``implicit=True``. Dense layers act on
feature vectors; flattening in channel-major order is what torch's and ONNX's Flatten do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.spec import (
    AvgPool2dSpec,
    BatchNormSpec,
    Conv2dSpec,
    DenseSpec,
    FlattenSpec,
    GlobalAvgPoolSpec,
    MaxPool2dSpec,
    ModelSpec,
)

IMAGE_LAYERS = ("conv2d", "maxpool2d", "avgpool2d", "global_avgpool")
# Automatic layer names are prefix + count, as engine.network names them.
NAME_PREFIX = {"conv2d": "conv", "maxpool2d": "maxpool", "avgpool2d": "avgpool"}


class ShapeError(ValueError):
    """A layer that does not fit the shape of its input; the message names the layer."""


@dataclass(frozen=True)
class LayerShape:
    name: str  # as the Network names it: 'conv1', 'flatten1', 'output'
    kind: str
    output_shape: tuple[int, ...]  # without the batch axis
    parameters: int
    spec: Any = None  # the layer's spec; None for the output layer and an implicit flatten
    implicit: bool = False  # a flatten the rule above inserted


def wants_images(model: ModelSpec) -> bool:
    """Whether the model's first layer reads images (channels, height, width)."""
    return bool(model.layers) and model.layers[0].type in IMAGE_LAYERS


def _pair_out(size: int, kernel: int, stride: int, pad_total: int) -> int:
    return (size + pad_total - kernel) // stride + 1


def _describe(shape: tuple[int, ...]) -> str:
    return f"{shape[0]} features" if len(shape) == 1 else "×".join(map(str, shape))


def _image(name: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(
            f"{name}: needs images (channels × height × width) as input, got {_describe(shape)}; "
            "put it before any flatten, global_avgpool or dense layer"
        )
    return shape[0], shape[1], shape[2]


def _window(
    name: str, what: str, k: int, stride: int, h: int, w: int, pads: tuple[int, int]
) -> tuple[int, int]:
    if k > h + pads[0] or k > w + pads[1]:
        padded = " (padded)" if any(pads) else ""
        raise ShapeError(f"{name}: a {k}×{k} {what} does not fit a {h}×{w} input{padded}")
    return _pair_out(h, k, stride, pads[0]), _pair_out(w, k, stride, pads[1])


def conv_pad_totals(spec: Conv2dSpec, h: int, w: int) -> tuple[int, int]:
    """Total padding (rows, columns) of a convolution on an h×w input."""
    if spec.padding == "valid":
        return 0, 0
    if spec.padding == "same":
        k, s = spec.kernel_size, spec.stride
        return (max((math.ceil(h / s) - 1) * s + k - h, 0), max((math.ceil(w / s) - 1) * s + k - w, 0))
    return 2 * int(spec.padding), 2 * int(spec.padding)


def layer_shapes(model: ModelSpec, input_shape: tuple[int, ...], n_outputs: int) -> list[LayerShape]:
    """One row per layer the network will hold, the output layer last. Raises ShapeError."""
    counts: dict[str, int] = {}
    rows: list[LayerShape] = []
    shape = tuple(int(d) for d in input_shape)

    def name_of(kind: str) -> str:
        prefix = NAME_PREFIX.get(kind, kind)
        counts[prefix] = counts.get(prefix, 0) + 1
        return f"{prefix}{counts[prefix]}"

    def flatten_if_image() -> None:
        nonlocal shape
        if len(shape) == 3:
            shape = (math.prod(shape),)
            rows.append(LayerShape(name_of("flatten"), "flatten", shape, 0, None, implicit=True))

    for spec in model.layers:
        if isinstance(spec, DenseSpec):
            flatten_if_image()
            name = name_of("dense")
            params = shape[-1] * spec.units + spec.units
            shape = (*shape[:-1], spec.units)
        else:
            name = name_of(spec.type)
            params = 0
            if isinstance(spec, Conv2dSpec):
                c, h, w = _image(name, shape)
                pads = conv_pad_totals(spec, h, w)
                ho, wo = _window(name, "kernel", spec.kernel_size, spec.stride, h, w, pads)
                params = spec.filters * c * spec.kernel_size**2 + spec.filters
                shape = (spec.filters, ho, wo)
            elif isinstance(spec, MaxPool2dSpec | AvgPool2dSpec):
                c, h, w = _image(name, shape)
                stride = spec.stride or spec.pool_size
                shape = (c, *_window(name, "pool", spec.pool_size, stride, h, w, (0, 0)))
            elif isinstance(spec, GlobalAvgPoolSpec):
                shape = (_image(name, shape)[0],)
            elif isinstance(spec, FlattenSpec):
                shape = (math.prod(shape),)
            elif isinstance(spec, BatchNormSpec):
                params = 2 * (shape[0] if len(shape) == 3 else shape[-1])
        rows.append(LayerShape(name, spec.type, shape, params, spec))
    flatten_if_image()
    rows.append(LayerShape("output", "dense", (*shape[:-1], n_outputs), shape[-1] * n_outputs + n_outputs))
    return rows
