"""A trained network as an ONNX model that onnxruntime (and Netron, and other tools) can run.

The graph is the network in inference form: Dense → ``MatMul`` + ``Add`` and its activation,
a residual block → its inner layers and an ``Add`` of the block's input (through a ``MatMul``
when the block projects it to another width),
Dropout left out (identity at inference), BatchNorm folded into ``Mul`` + ``Add`` with its
running statistics (per channel on images), the image layers as ``Conv``, ``MaxPool``,
``AveragePool``, ``GlobalAveragePool`` + ``Flatten`` and ``Flatten`` (onnx_image_layers.py),
and the loss's output transform (``Softmax`` / ``Sigmoid``) last, so the
output reads as the engine's ``loss.transform(network.forward(x))``. Classification models
name their output ``probabilities``, regression models ``predictions``; the input is
``input`` with shape ``(batch, *input_shape)``.

With a ``standardization`` (the app and run folders always pass the dataset's), the graph starts
with ``Sub`` and ``Div`` by the training split's mean and standard deviation, so ``input`` takes
the feature values as they are in the data (a CSV's columns after one-hot encoding, in the order
of the ``feature_names`` metadata); the metadata ``input`` says ``raw``. Without one, ``input``
is the network's own input (standardised), and ``input`` says ``standardized``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from workbench.experiment.io import atomic_write_bytes
from workbench.export.onnx_image_layers import channel_shape, image_layer
from workbench.export.onnx_recurrent import OPS as RECURRENT_OPS
from workbench.export.onnx_recurrent import recurrent_nodes

OPSET = 17
IR_VERSION = 8  # the oldest IR that carries opset 17: the widest range of runtimes loads it

_TRANSFORMS = {"multiclass": "Softmax", "binary": "Sigmoid"}


class _Graph:
    """Collects nodes and constant tensors while the layers are translated."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray | float) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output


def to_onnx(network: Any, loss: Any, *, name: str = "gradient-workbench", metadata: dict | None = None,
            standardization: Any = None) -> onnx.ModelProto:
    """Build the ONNX model of ``network`` followed by ``loss``'s output transform, preceded by the
    input standardisation when given (``workbench.export.preprocessing.Standardization``)."""
    g = _Graph()
    x = "input"
    if standardization is not None:
        x = g.op("Sub", [x, g.const("input.mean", standardization.mean)], "input/centered")
        x = g.op("Div", [x, g.const("input.std", standardization.std)], "input/standardized")
    params = network.parameters()
    buffers = network.buffers()
    skips: list[str] = []  # the input of each open residual block
    for layer in _with_block_edges(network.layers):
        kind = layer.kind
        if kind == "dense":
            w = g.const(f"{layer.name}.W", params[f"{layer.name}.W"])
            b = g.const(f"{layer.name}.b", params[f"{layer.name}.b"])
            z = g.op("MatMul", [x, w], f"{layer.name}/matmul")
            z = g.op("Add", [z, b], f"{layer.name}/z")
            x = _activation(g, layer, z)
        elif kind == "dropout":
            continue  # identity at inference
        elif kind == "batchnorm":
            gamma = params[f"{layer.name}.gamma"].astype(np.float64)
            beta = params[f"{layer.name}.beta"].astype(np.float64)
            mean = buffers[f"{layer.name}.running_mean"].astype(np.float64)
            var = buffers[f"{layer.name}.running_var"].astype(np.float64)
            scale = gamma / np.sqrt(var + layer.eps)
            scale_c = channel_shape(layer, scale)
            scaled = g.op("Mul", [x, g.const(f"{layer.name}.scale", scale_c)], f"{layer.name}/scaled")
            shift = g.const(f"{layer.name}.shift", channel_shape(layer, beta - mean * scale))
            x = g.op("Add", [scaled, shift], f"{layer.name}/out")
        elif kind in RECURRENT_OPS:  # rnn, lstm, gru: workbench/export/onnx_recurrent.py
            x = recurrent_nodes(g, layer, x, params)
        elif kind == "residual/start":
            skips.append(x)
        elif kind == "residual/end":
            x = _residual_add(g, layer.block, skips.pop(), x, params)
        else:
            out = image_layer(g, layer, x, params, _activation)
            if out is None:
                raise ValueError(f"cannot export a {kind!r} layer to ONNX")
            x = out

    task = getattr(loss, "task", "regression")
    transform = _TRANSFORMS.get(task)
    out_name = "probabilities" if transform else "predictions"
    if transform == "Softmax":
        g.op("Softmax", [x], out_name, axis=-1)
    elif transform == "Sigmoid":
        g.op("Sigmoid", [x], out_name)
    else:
        g.op("Identity", [x], out_name)

    input_shape = [int(d) for d in (getattr(network, "input_shape", None) or network.layers[0].input_shape)]
    output_shape = [int(d) for d in network.layers[-1].output_shape]
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", *output_shape])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="gradient-workbench",
        producer_version=_app_version(),
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    if standardization is not None:
        model.doc_string = ("Inputs are raw feature values (after the dataset's featurisation and one-hot "
                            "encoding); the graph standardises them with the training split's mean and std.")
    else:
        model.doc_string = "Inputs are the network's features, already standardised as in training."
    props = {"loss": getattr(loss, "name", ""), "task": task,
             "input": "raw" if standardization is not None else "standardized", **(metadata or {})}
    if standardization is not None and standardization.feature_names:
        props["feature_names"] = list(standardization.feature_names)
    helper.set_model_props(model, {k: v if isinstance(v, str) else json.dumps(v) for k, v in props.items()})
    onnx.checker.check_model(model)
    return model


def export_onnx(network: Any, loss: Any, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write the ONNX model of ``network`` + ``loss`` transform to ``path`` (atomically)."""
    atomic_write_bytes(Path(path), to_onnx(network, loss, **kwargs).SerializeToString())


@dataclass(frozen=True)
class _BlockEdge:
    """Where a residual block's inner layers start or end in the flat walk over the layers."""

    kind: str  # 'residual/start' | 'residual/end'
    block: Any


def _with_block_edges(layers: list[Any]) -> Iterator[Any]:
    """The layers in order, a residual block as its start edge, its inner layers, its end edge."""
    for layer in layers:
        if layer.kind == "residual":
            yield _BlockEdge("residual/start", layer)
            yield from _with_block_edges(layer.inner)
            yield _BlockEdge("residual/end", layer)
        else:
            yield layer


def _residual_add(g: _Graph, block: Any, skip: str, branch: str, params: dict[str, np.ndarray]) -> str:
    """x + f(x): an Add node, after a MatMul (the bias-free projection) when the width changes."""
    if block.projection is not None:
        name = block.projection.name
        w = g.const(f"{name}.W", params[f"{name}.W"])
        skip = g.op("MatMul", [skip, w], f"{name}/matmul")
    return g.op("Add", [skip, branch], f"{block.name}/out")


def _activation(g: _Graph, layer: Any, z: str) -> str:
    name = getattr(layer, "activation_name", "identity")
    options = dict(getattr(layer.activation, "options", {}) or {})
    out = f"{layer.name}/a"
    if name == "identity":
        return z
    if name == "sigmoid":
        return g.op("Sigmoid", [z], out)
    if name == "tanh":
        return g.op("Tanh", [z], out)
    if name == "relu":
        return g.op("Relu", [z], out)
    if name == "leaky_relu":
        return g.op("LeakyRelu", [z], out, alpha=float(options.get("negative_slope", 0.01)))
    if name == "elu":
        return g.op("Elu", [z], out, alpha=float(options.get("alpha", 1.0)))
    if name == "softplus":
        return g.op("Softplus", [z], out)
    if name == "silu":  # z * sigmoid(z)
        s = g.op("Sigmoid", [z], f"{layer.name}/sigmoid")
        return g.op("Mul", [z, s], out)
    if name == "gelu":  # exact form: 0.5 * z * (1 + erf(z / sqrt(2))), Gelu is only in opset 20
        scaled = g.op("Mul", [z, g.const(f"{layer.name}.inv_sqrt2", 1.0 / math.sqrt(2.0))],
                      f"{layer.name}/z_over_sqrt2")
        e = g.op("Erf", [scaled], f"{layer.name}/erf")
        one_plus = g.op("Add", [e, g.const(f"{layer.name}.one", 1.0)], f"{layer.name}/one_plus_erf")
        half_z = g.op("Mul", [z, g.const(f"{layer.name}.half", 0.5)], f"{layer.name}/half_z")
        return g.op("Mul", [half_z, one_plus], out)
    raise ValueError(f"cannot export activation {name!r} of layer {layer.name!r} to ONNX")


def _app_version() -> str:
    from workbench import __version__

    return __version__
