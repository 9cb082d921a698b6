"""What the network editor writes beside each layer: its output shape and parameter count.

From the spec by arithmetic (``engine.shapes.layer_shapes``, the same rows ``Network.from_spec``
builds), so it is right for every layer type and is known before (and even without) a build:
a layer that does not fit its input is marked, with the engine's message naming it, and the
layers above it keep their shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.shapes import LayerShape, ShapeError, layer_shapes, wants_images
from engine.spec import ModelSpec


@dataclass(frozen=True)
class RowSize:
    text: str  # what the cell shows: "8×16×16 · 80"
    tip: str  # the long form, and any flatten inserted before the layer
    ok: bool = True


def network_input_shape(dataset: Any, model: ModelSpec) -> tuple[int, ...]:
    """The shape the network is built for: the digits become 1×8×8 images under a first image
    layer (as the trainer builds them), other sets keep their own input shape."""
    shape = tuple(int(d) for d in dataset.input_shape)
    image = getattr(dataset, "image_shape", None)
    if wants_images(model) and len(shape) == 1 and image is not None and len(image) == 2:
        return (1, int(image[0]), int(image[1]))
    return shape


def describe_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def layer_sizes(model: ModelSpec, input_shape: tuple[int, ...], n_outputs: int) -> list[RowSize]:
    """One entry per layer of ``model.layers`` (the editor's rows)."""
    rows: list[LayerShape] | None = None
    error = ""
    try:
        rows = layer_shapes(model, input_shape, n_outputs)
    except (ShapeError, ValueError) as exc:
        error = str(exc)
    if rows is None:
        # Find the first layer that does not fit: the ones before it still have their shapes.
        good = 0
        for k in range(len(model.layers), -1, -1):
            try:
                rows = layer_shapes(ModelSpec(layers=model.layers[:k]), input_shape, n_outputs)
                good = k
                break
            except (ShapeError, ValueError):
                continue
        out = _spec_rows(rows or [], good)
        failed = RowSize("✗ does not fit", error, ok=False)
        after = RowSize("—", "fix the layer above first", ok=False)
        return out + [failed] + [after] * (len(model.layers) - good - 1)
    return _spec_rows(rows, len(model.layers))


def _spec_rows(rows: list[LayerShape], n: int) -> list[RowSize]:
    out: list[RowSize] = []
    flatten: LayerShape | None = None
    for row in rows[:-1]:  # the last is the output layer
        if row.implicit:
            flatten = row
            continue
        tip = f"{row.name}: output {describe_shape(row.output_shape)}, {row.parameters:,} parameters"
        if flatten is not None:
            tip += (f"\n{flatten.name} is inserted before it: the images become "
                    f"{flatten.output_shape[0]:,} features")
            flatten = None
        out.append(RowSize(f"{describe_shape(row.output_shape)} · {row.parameters:,}", tip))
    return out[:n]
