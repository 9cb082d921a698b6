"""A trained network as an ONNX model that onnxruntime (and Netron, and other tools) can run.

The graph is the network in inference form: Dense → ``MatMul`` + ``Add`` and its activation,
Dropout left out (identity at inference), BatchNorm folded into ``Mul`` + ``Add`` with its
running statistics (per channel on images), the image layers as ``Conv``, ``MaxPool``,
``AveragePool``, ``GlobalAveragePool`` + ``Flatten`` and ``Flatten`` (onnx_image_layers.py),
and the loss's output transform (``Softmax`` / ``Sigmoid``) last, so the
output reads as the engine's ``loss.transform(network.forward(x))``. Classification models
name their output ``probabilities``, regression models ``predictions``; the input is
``input`` with shape ``(batch, *input_shape)`` — the network's inputs, i.e. after the
dataset's featurisation and standardisation.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from workbench.experiment.io import atomic_write_bytes
from workbench.export.onnx_image_layers import channel_shape, image_layer

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


def to_onnx(network: Any, loss: Any, *, name: str = "gradient-workbench", metadata: dict | None = None
            ) -> onnx.ModelProto:
    """Build the ONNX model of ``network`` followed by ``loss``'s output transform."""
    g = _Graph()
    x = "input"
    params = network.parameters()
    buffers = network.buffers()
    for layer in network.layers:
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
    model.doc_string = "Inputs are the network's features (after the dataset's featurisation)."
    props = {"loss": getattr(loss, "name", ""), "task": task, **(metadata or {})}
    helper.set_model_props(model, {k: v if isinstance(v, str) else json.dumps(v) for k, v in props.items()})
    onnx.checker.check_model(model)
    return model


def export_onnx(network: Any, loss: Any, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write the ONNX model of ``network`` + ``loss`` transform to ``path`` (atomically)."""
    atomic_write_bytes(Path(path), to_onnx(network, loss, **kwargs).SerializeToString())


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
