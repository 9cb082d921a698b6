"""ONNX nodes for the recurrent layers: the ONNX ``RNN``, ``LSTM`` and ``GRU`` operators.

The engine keeps PyTorch's gate order; ONNX has its own, so the weight blocks are reordered:
LSTM torch i, f, g, o → ONNX i, o, f, c; GRU torch r, z, n → ONNX z, r, h, with
``linear_before_reset = 1`` (torch applies the reset gate after the hidden product). ONNX wants
time-major input ``(time, batch, features)``: the graph transposes in and out.

Padding travels as in the engine: a step whose features are not all finite is padding (at the end
of a sequence, as the readers pad). The graph counts each sequence's valid steps into the
operator's ``sequence_lens`` and feeds zeros in place of NaN, so ``Y_h`` is the state after the
last valid step and padded steps output 0, exactly as ``engine/recurrent.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import helper, numpy_helper

OPS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
# ONNX block k takes torch block ORDER[kind][k].
ORDER = {"rnn": [0], "lstm": [0, 3, 1, 2], "gru": [1, 0, 2]}


def _reorder(w: np.ndarray, kind: str, units: int) -> np.ndarray:
    blocks = [w[k * units : (k + 1) * units] for k in ORDER[kind]]
    return np.concatenate(blocks, axis=0)


def recurrent_nodes(g: Any, layer: Any, x: str, params: dict[str, np.ndarray]) -> str:
    """Append the nodes of ``layer`` reading ``x`` (batch, time, features); returns its output."""
    kind, name, units = layer.kind, layer.name, layer.units
    keys = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    p = {k: params[f"{name}.{k}"].astype(np.float64) for k in keys}
    w = g.const(f"{name}.W", _reorder(p["weight_ih"], kind, units)[None])
    r = g.const(f"{name}.R", _reorder(p["weight_hh"], kind, units)[None])
    b = g.const(f"{name}.B", np.concatenate([_reorder(p["bias_ih"], kind, units),
                                             _reorder(p["bias_hh"], kind, units)])[None])

    def ints(suffix: str, values: list[int]) -> str:
        const = f"{name}.{suffix}"
        g.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), const))
        return const

    nan = g.op("IsNaN", [x], f"{name}/is_nan")
    padded = g.op("ReduceMax", [g.op("Cast", [nan], f"{name}/nan_f", to=1)], f"{name}/padded_step",
                  axes=[2], keepdims=0)
    valid = g.op("Sub", [g.const(f"{name}.one", 1.0), padded], f"{name}/valid_step")
    lengths = g.op("ReduceSum", [valid, ints("time_axis", [1])], f"{name}/lengths_f", keepdims=0)
    lengths = g.op("Cast", [lengths], f"{name}/lengths", to=6)  # int32
    clean = g.op("Where", [nan, g.const(f"{name}.zero", 0.0), x], f"{name}/x_clean")
    xt = g.op("Transpose", [clean], f"{name}/x_time_major", perm=[1, 0, 2])
    attrs: dict[str, Any] = {"hidden_size": units}
    if kind == "gru":
        attrs["linear_before_reset"] = 1
    outputs = [f"{name}/Y", f"{name}/Y_h"]
    g.nodes.append(helper.make_node(OPS[kind], [xt, w, r, b, lengths], outputs, name=f"{name}/{OPS[kind]}",
                                    **attrs))
    if layer.return_sequences:
        y = g.op("Squeeze", [outputs[0], ints("dir_axis", [1])], f"{name}/Y_squeezed")  # (time, batch, H)
        return g.op("Transpose", [y], f"{name}/out", perm=[1, 0, 2])
    return g.op("Squeeze", [outputs[1], ints("dir_axis0", [0])], f"{name}/out")  # (batch, H)
