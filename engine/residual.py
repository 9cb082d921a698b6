"""Residual blocks: y = x + f(x), with a linear projection of x when f changes the width.

A ``Residual`` wraps a short stack of inner layers f. It owns no parameters itself: its inner
layers (and its ``Projection``, when there is one) are ordinary layers that the ``Network``
binds to views of its one flat parameter and gradient buffer, under qualified names
(``res1.dense1.W``, ``res1.proj.W``). Optimizers, clipping, L1/L2 and every per-layer statistic
therefore see them exactly like top-level layers.

The projection is ``x @ W`` without a bias, as a 1×1 convolution shortcut or a bias-free
``torch.nn.Linear`` in PyTorch's ResNets. It is initialised ``glorot_uniform`` (variance kept in
both directions) where torch's Linear default would draw U(±1/√fan_in): a deliberate difference,
so the shortcut neither shrinks nor amplifies the signal at the start.

The skip path's share of the gradient. In backward, d loss / d x is the sum of two parts: the
part through the skip, ``g_skip`` (``g`` itself, or ``g @ Wᵀ`` with a projection), and the part
through the residual branch, ``g_branch`` (the inner layers' input gradient). A block records

    skip_share = ‖g_skip‖ / (‖g_skip‖ + ‖g_branch‖)        (Frobenius norms over the batch)

between 0 and 1: near 1 the gradient reaches the layers below mostly through the identity
path (what keeps deep residual stacks trainable); 0.5, both paths carry as much; near 0, the
branch dominates. ``Network.skip_shares`` reads the mean since it was last read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.initializers import INITIALIZERS
from engine.layers import LAYERS, Layer


class Projection(Layer):
    """y = x @ W on the last axis, no bias: the shortcut of a block that changes the width."""

    kind = "projection"
    weight_keys = frozenset({"W"})

    def __init__(self, units: int, name: str = "") -> None:
        super().__init__(name)
        self.units = int(units)
        self._x: np.ndarray | None = None

    def config(self) -> dict[str, Any]:
        return {"units": self.units}

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        self.output_shape = (*self.input_shape[:-1], self.units)
        return self.output_shape

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.input_shape[-1], self.units)}

    def initialize(self, rng: np.random.Generator) -> None:
        W = self.params["W"]
        W[...] = INITIALIZERS.get("glorot_uniform")(W.shape, W.shape[0], W.shape[1], rng, {})

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        self._x = x2
        y = x2.dot(self.params["W"])
        return y if x.ndim == 2 else y.reshape(*x.shape[:-1], self.units)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._x is None:
            raise RuntimeError(f"{self.name or 'projection'}: backward before forward")
        g = grad_y if grad_y.ndim == 2 else grad_y.reshape(-1, self.units)
        np.dot(self._x.T, g, out=self.grads["W"])
        if not input_grad:
            return None
        gx = g.dot(self.params["W"].T)
        return gx if grad_y.ndim == 2 else gx.reshape(*grad_y.shape[:-1], self.input_shape[-1])


@LAYERS.register("residual")
class Residual(Layer):
    """x + f(x) over inner layers f; a ``Projection`` of x when f's output width differs."""

    kind = "residual"
    name_prefix = "res"  # blocks are named res1, res2, …; their layers res1.dense1, res1.proj

    def __init__(self, layers: list[Layer], name: str = "") -> None:
        super().__init__(name)
        if not layers:
            raise ValueError("a residual block needs at least one inner layer")
        self.inner = list(layers)
        self.projection: Projection | None = None
        self.skip_share = math.nan  # of the last backward
        self._share_sum = 0.0
        self._share_n = 0

    def config(self) -> dict[str, Any]:
        return {"layers": [layer.clone() for layer in self.inner]}

    @property
    def n_parameters(self) -> int:
        return sum(layer.n_parameters for layer in self.sublayers())

    def sublayers(self) -> list[Layer]:
        return [*self.inner, *([self.projection] if self.projection is not None else [])]

    def name_sublayers(self) -> None:
        """Name unnamed inner layers after this block: res1.dense1, res1.dropout1, …"""
        counts: dict[str, int] = {}
        for layer in self.inner:
            stem = layer.name_prefix or layer.kind
            counts[stem] = counts.get(stem, 0) + 1
            if not layer.name:
                layer.name = f"{self.name}.{stem}{counts[stem]}"
            if hasattr(layer, "name_sublayers"):
                layer.name_sublayers()

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        shape = self.input_shape
        for layer in self.inner:
            shape = layer.build(shape)
        if shape[:-1] != self.input_shape[:-1]:
            raise ValueError(f"{self.name}: the inner layers change the shape {self.input_shape} to {shape}; "
                             "a residual block may only change the last axis")
        if shape[-1] != self.input_shape[-1]:
            self.projection = Projection(shape[-1], name=f"{self.name}.proj")
            self.projection.build(self.input_shape)
        else:
            self.projection = None
        self.output_shape = shape
        return shape

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        h = x
        for layer in self.inner:
            h = layer.forward(h, training)
        skip = x if self.projection is None else self.projection.forward(x, training)
        return np.add(skip, h)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        g_branch = grad_y
        for layer in reversed(self.inner):
            g_branch = layer.backward(g_branch)
        g_skip = grad_y if self.projection is None else self.projection.backward(grad_y)
        skip, branch = _norm(g_skip), _norm(g_branch)
        total = skip + branch
        self.skip_share = skip / total if total > 0.0 else math.nan
        if math.isfinite(self.skip_share):
            self._share_sum += self.skip_share
            self._share_n += 1
        if not input_grad:
            return None
        return np.add(g_skip, g_branch.reshape(g_skip.shape))

    def pop_mean_skip_share(self) -> float:
        """Mean skip share over the backwards since the last call (NaN if none)."""
        mean = self._share_sum / self._share_n if self._share_n else math.nan
        self._share_sum, self._share_n = 0.0, 0
        return mean


def _norm(a: np.ndarray) -> float:
    flat = a.ravel(order="K")  # no copy for the transposed views that folded Dense layers return
    return math.sqrt(float(np.dot(flat, flat)))


def flatten_layers(layers: list[Layer]) -> list[Layer]:
    """Every layer that is not a block, in order, a block's inner layers in place of the block."""
    out: list[Layer] = []
    for layer in layers:
        subs = layer.sublayers()
        out.extend(flatten_layers(subs) if subs else [layer])
    return out


def blocks(layers: list[Layer]) -> list[Residual]:
    """Every residual block, outer ones before the blocks they contain."""
    out: list[Residual] = []
    for layer in layers:
        if isinstance(layer, Residual):
            out.append(layer)
            out.extend(blocks(layer.inner))
    return out
