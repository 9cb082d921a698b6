"""The training step of a plain stack of Dense layers, as one function over preallocated buffers.

On small networks a step costs NumPy's fixed price per call (about a microsecond) times the
number of calls, plus the Python around them. ``Network.forward`` on a network of Dense
layers only therefore runs a ``DensePlan`` made once per batch size:

- every intermediate array (the [x | 1] inputs, pre-activations, activations, input
  gradients, scratch) is allocated once and written with ``out=`` arguments;
- an activation writes straight into the next layer's [a | 1] input, so a layer that folds its
  bias (``layers.FOLD_MAX_INPUTS``) needs no copy and one product for z and one for [dW; db];
- activations apply their derivative in place (``Activation.backward_inplace``);
- the per-layer loop reads prebuilt tuples: no dict look-ups, checks or reshapes per step.

The plan does exactly the arithmetic of ``Dense.forward`` / ``Dense.backward`` in the same
order, so both paths give the same bits (tests/engine/test_fastpath.py); the layer-by-layer
path remains the reference every gradient check runs through.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from engine.layers import MATMUL_MIN_WORK, Dense
from engine.npcalls import copyto, dot

if TYPE_CHECKING:
    from engine.network import Network

# A plan keeps its buffers (about four arrays per layer); beyond this many activation entries
# (rows × units summed over the layers) a forward takes the layer-by-layer path, which frees
# its arrays afterwards. Keeps a network's plans within a few tens of MB.
MAX_PLAN_ENTRIES = 1 << 18


def plannable(layers: list) -> bool:
    """True for a non-empty stack of Dense layers only (the case the plan covers)."""
    return bool(layers) and all(type(layer) is Dense for layer in layers)


class _Step:
    """One layer's views and buffers for a fixed batch size.

    Arrays are named by their logical shape (rows × features); for a layer that folds its bias
    they are transposed views of feature-major buffers, exactly as ``Dense`` lays them out.
    """

    __slots__ = (
        "W",
        "Wa_t",
        "a",
        "act",
        "b",
        "bwd",
        "copy_to",
        "fold",
        "fwd",
        "gW",
        "gWa",
        "gb",
        "gx",
        "gx_buf",
        "identity",
        "inp",
        "layer",
        "ones",
        "tmp",
        "wgp",
        "x_part",
        "z",
        "z_buf",
    )


def _rows_by_features(rows: int, features: int, feature_major: bool, dtype: np.dtype) -> tuple:
    """A (rows, features) array laid out feature-major or not, and the buffer behind it."""
    if feature_major:
        buf = np.empty((features, rows), dtype)
        return buf, buf.T
    buf = np.empty((rows, features), dtype)
    return buf, buf


class DensePlan:
    """Forward and backward of a Dense stack for batches of ``rows`` rows."""

    def __init__(self, net: Network, rows: int) -> None:
        self.rows = rows
        self.input_shape = (rows, *net.input_shape)
        dtype = net.dtype
        steps: list[_Step] = []
        prev_fold = False  # the user's input is row-major
        for layer in net.layers:
            assert isinstance(layer, Dense)
            s = _Step()
            k, n = layer.input_shape[-1], layer.units
            s.layer, s.act, s.identity = layer, layer.activation, layer.activation_name == "identity"
            s.fwd, s.bwd = s.act.forward_into, s.act.backward_inplace
            s.fold = layer.W_aug is not None
            s.W, s.b = layer.params["W"], layer.params["b"]
            s.Wa_t = layer.W_aug.T if s.fold else None
            s.gW, s.gWa, s.gb = layer.grads["W"], layer.grad_W_aug, layer.grads["b"]
            if s.fold:  # the feature-major [x | 1]ᵀ the folded product reads
                s.inp = np.empty((k + 1, rows), dtype)
                s.inp[k] = 1.0
                s.x_part = s.inp[:k].T
            else:  # x in the layout the layer below leaves its activations in
                s.x_part = s.inp = _rows_by_features(rows, k, prev_fold, dtype)[1]
            s.z_buf, s.z = _rows_by_features(rows, n, s.fold, dtype)
            s.tmp = _rows_by_features(rows, n, s.fold, dtype)[1]
            s.gx_buf, s.gx = _rows_by_features(rows, k, s.fold, dtype)
            s.ones = np.ones(rows, dtype)
            # np.dot has less call overhead on small products, np.matmul runs big ones faster
            # (the rule of layers.weight_grad_product, fixed here since the sizes are).
            work = rows * (layer.grad_W_aug.size if s.fold else s.gW.size)
            s.wgp = np.matmul if work > MATMUL_MIN_WORK else dot
            s.a = s.copy_to = None
            steps.append(s)
            prev_fold = s.fold
        self.joined = _join_hidden_outputs(steps, rows, dtype)
        # Each hidden activation goes straight into the next layer's input array, except from
        # a row-major layer into a folded one: there the layer keeps a row-major activation
        # (as Dense does, so its gradients see the same layouts) and copies it over.
        for s, nxt in itertools.pairwise(steps):
            if nxt.fold and not s.fold:
                s.a, s.copy_to = np.empty_like(s.z), nxt.x_part
            else:
                s.a = nxt.x_part
        self.steps = steps
        self.first = steps[0]
        self.pairs = tuple(itertools.pairwise(steps))
        self.last = steps[-1]
        self.down = tuple(zip(reversed(steps[1:]), reversed(steps[:-1]), strict=True))
        # Small networks (every layer folds its bias) run straight-line loops over tuples.
        self.all_fold = all(s.fold for s in steps)
        self._up = tuple((s.Wa_t, s.inp, s.z_buf, s.z, s.fwd, s.a) for s in steps[:-1])
        self._down = tuple(
            (s.wgp, s.inp, s.gWa, s.W, s.gx_buf, s.gx, below, below.tmp) for s, below in self.down
        )
        last = self.last
        self._out = (last.Wa_t, last.inp, None if last.identity else last.act.forward, last.layer)
        if self.joined is not None:
            act, outputs, derivatives = self.joined
            self._derivatives = (act.output_derivative, outputs, derivatives)
        if self.all_fold:  # the same methods without the dispatch through all_fold
            self.forward, self.backward = self._forward_folded, self._backward_folded
        # The output as forward returns it, (rows, units): a transposed view of the feature-major
        # product when the last layer folds, which is in C order only with one row or one unit.
        self.c_order_output = not self.last.fold or 1 in (rows, self.last.layer.units)

    def bind_layers(self) -> None:
        """Point the layers' kept arrays (``_x``, ``z``, ``a``) at this plan's buffers, which
        every forward through it refills (the output layer's are set on every forward)."""
        for s in self.steps[:-1]:
            s.layer._x, s.layer.z, s.layer.a = s.inp, s.z, s.a
        self.last.layer._x = self.last.inp
        if self.first.fold:
            self.first.layer._x = self.first.inp

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The network's output for ``x`` (rows × inputs, the network's dtype): a new array.

        Call ``bind_layers`` first whenever the layers' arrays were last set elsewhere."""
        if self.all_fold:
            return self._forward_folded(x)
        first = self.first
        if first.fold:
            first.x_part[...] = x
            first.layer._x = first.inp
        else:
            first.layer._x = x
        for s, nxt in self.pairs:
            layer, z = s.layer, s.z
            inp = layer._x
            if s.fold:
                dot(s.Wa_t, inp, s.z_buf)
            else:
                inp.dot(s.W, z)
                z += s.b
            s.fwd(z, s.a)
            if s.copy_to is not None:
                s.copy_to[...] = s.a
            layer.z, layer.a = z, s.a
            nxt.layer._x = nxt.inp
        # The output is allocated afresh, as the layer-by-layer path does: callers may keep it.
        s = self.last
        layer = s.layer
        if s.fold:
            z = dot(s.Wa_t, layer._x).T
        else:
            z = layer._x.dot(s.W)
            z += s.b
        out = z if s.identity else s.act.forward(z)
        layer.z, layer.a = z, out
        return out

    def _forward_folded(self, x: np.ndarray) -> np.ndarray:
        copyto(self.first.x_part, x)
        for Wa_t, inp, z_buf, z, fwd, a in self._up:
            dot(Wa_t, inp, z_buf)
            fwd(z, a)
        Wa_t, inp, act, layer = self._out
        z = dot(Wa_t, inp).T
        out = z if act is None else act(z)
        layer.z, layer.a = z, out
        return out

    def backward(self, grad_out: np.ndarray, input_grad: bool) -> np.ndarray | None:
        """Fill the gradient buffer from d loss / d output; d loss / d x if ``input_grad``."""
        if self.all_fold:
            return self._backward_folded(grad_out, input_grad)
        s = self.last
        g = grad_out if s.identity else s.act.backward(s.layer.z, s.layer.a, grad_out)
        joined = self.joined
        if joined is not None:  # every hidden layer's derivative in one pass (in their tmp)
            act, outputs, derivatives = joined
            act.output_derivative(outputs, derivatives)
        for s, below in self.down:
            _weight_grads(s, g)
            if s.fold:
                dot(s.W, g.T, s.gx_buf)
            else:
                g.dot(s.W.T, s.gx)
            g = s.gx
            if joined is not None:
                g *= below.tmp
            elif s.fold == below.fold:
                below.bwd(below.z, below.a, g, below.tmp)
            else:  # layouts differ at this seam: the layer's own call, to lay g out as it does
                g = below.act.backward(below.z, below.a, g)
        s = self.first
        _weight_grads(s, g)
        if not input_grad:
            return None
        return dot(s.W, g.T).T if s.fold else g.dot(s.W.T)


    def _backward_folded(self, grad_out: np.ndarray, input_grad: bool) -> np.ndarray | None:
        s = self.last
        g = grad_out if s.identity else s.act.backward(s.layer.z, s.layer.a, grad_out)
        joined = self.joined
        if joined is not None:  # every hidden layer's derivative in one pass (in their tmp)
            derivative, outputs, derivatives = self._derivatives
            derivative(outputs, derivatives)
        for wgp, inp, gWa, W, gx_buf, gx, below, tmp in self._down:
            wgp(inp, g, gWa)  # [dW; db]: the row of ones gives db
            dot(W, g.T, gx_buf)
            g = gx
            if joined is not None:
                g *= tmp
            else:
                below.bwd(below.z, below.a, g, tmp)
        s = self.first
        s.wgp(s.inp, g, s.gWa)
        return dot(s.W, g.T).T if input_grad else None


def _join_hidden_outputs(steps: list[_Step], rows: int, dtype: np.dtype) -> tuple | None:
    """When every layer folds and the hidden layers share an activation whose derivative is a
    function of its output (tanh, sigmoid), put the layers' [x | 1]ᵀ inputs (the hidden
    outputs) one after another in one buffer, and each hidden layer's scratch in a twin: the
    backward then computes every derivative in one pass (two NumPy calls instead of two per
    layer). The rows of ones give derivatives of 0 that nothing reads.

    Returns (activation, joined outputs, joined derivatives), or None when it does not apply.
    """
    hidden = steps[:-1]
    if len(hidden) < 2 or not all(s.fold for s in steps):
        return None
    kind = type(hidden[0].act)
    if not kind.derivative_from_output or any(type(s.act) is not kind for s in hidden):
        return None
    heights = [s.inp.shape[0] for s in steps[1:]]
    outputs = np.empty((sum(heights), rows), dtype)
    derivatives = np.empty_like(outputs)
    start = 0
    for h, s, height in zip(hidden, steps[1:], heights, strict=True):
        s.inp = outputs[start : start + height]
        s.inp[height - 1] = 1.0
        s.x_part = s.inp[: height - 1].T
        h.tmp = derivatives[start : start + height - 1].T
        start += height
    return hidden[0].act, outputs, derivatives


def _weight_grads(s: _Step, g: np.ndarray) -> None:
    if s.fold:
        s.wgp(s.layer._x, g, out=s.gWa)  # the row of ones gives db
    else:
        s.wgp(s.layer._x.T, g, out=s.gW)
        dot(s.ones, g, out=s.gb)
