"""Network: an ordered stack of layers over ONE flat parameter buffer and ONE flat gradient
buffer. Every parameter and gradient a layer holds is a view into those buffers, so the
optimizer, clipping and regularisation each update all of them with one in-place operation.
"""

from __future__ import annotations

import copy as _copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.conv import Conv2D
from engine.conv_layers import layer_from_spec
from engine.fastpath import MAX_PLAN_ENTRIES, DensePlan, plannable
from engine.layers import Dense, Dropout, Layer
from engine.npcalls import vdot
from engine.residual import Residual, blocks, flatten_layers
from engine.shapes import layer_shapes

if TYPE_CHECKING:
    from engine.spec import ModelSpec

_add_reduce, _and_reduce = np.add.reduce, np.logical_and.reduce


@dataclass(frozen=True)
class ActivationStats:
    """Summary of one layer's activations over the last forward batch.

    ``dead_fraction``: share of units of a rectifier (relu, leaky_relu, elu) whose
    pre-activation was <= 0 for every sample (they pass no ReLU gradient); 0 for others.
    ``saturated_fraction``: share of outputs in the flat tails (sigmoid < 0.01 or > 0.99,
    tanh |a| > 0.99); 0 for activations without saturation.
    """

    mean: float
    std: float
    dead_fraction: float
    saturated_fraction: float


class Network:
    """Layers applied in order to inputs of shape ``(batch, *input_shape)``."""

    def __init__(
        self,
        layers: list[Layer],
        input_shape: tuple[int, ...],
        rng: np.random.Generator,
        dtype: Any = np.float32,
    ) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.layers = list(layers)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.rng = rng
        _name_layers(self.layers)

        shape = self.input_shape
        for layer in self.layers:
            shape = layer.build(shape)
        self.output_shape = shape
        # Residual blocks own no parameters: their inner layers are laid out and bound in
        # place of the block, under qualified names (res1.dense1.W).
        self.flat_layers = flatten_layers(self.layers)
        _check_unique(self.flat_layers)
        layout: list[tuple[Layer, str, tuple[int, ...]]] = [
            (layer, key, s) for layer in self.flat_layers for key, s in layer.param_shapes().items()
        ]

        sizes = [int(np.prod(s)) for _, _, s in layout]
        self.n_parameters = int(sum(sizes))
        self.params = np.zeros(self.n_parameters, dtype=self.dtype)
        self.grads = np.zeros(self.n_parameters, dtype=self.dtype)
        self.weight_mask = np.zeros(self.n_parameters, dtype=bool)
        self._slices: dict[str, slice] = {}
        per_layer: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {
            layer.name: ({}, {}) for layer in self.flat_layers
        }
        start = 0
        for (layer, key, s), size in zip(layout, sizes, strict=True):
            sl = slice(start, start + size)
            self._slices[f"{layer.name}.{key}"] = sl
            per_layer[layer.name][0][key] = self.params[sl].reshape(s)
            per_layer[layer.name][1][key] = self.grads[sl].reshape(s)
            if key in layer.weight_keys:
                self.weight_mask[sl] = True
            start += size
        for layer in self.flat_layers:
            layer.bind(*per_layer[layer.name])
            if isinstance(layer, Dense) and layer.folds_bias:
                # W then b in the flat buffer are [W; b] as one (in + 1, units) matrix.
                w, b = self._slices[f"{layer.name}.W"], self._slices[f"{layer.name}.b"]
                shape = (layer.input_shape[-1] + 1, layer.units)
                layer.bind_augmented(self.params[w.start : b.stop].reshape(shape),
                                     self.grads[w.start : b.stop].reshape(shape))
        for layer in self.flat_layers:
            layer.initialize(rng)
        # Training steps of a Dense-only stack run through a DensePlan per batch size
        # (engine/fastpath.py); False forces the layer-by-layer path (same results, slower).
        self.use_fast_path = True
        self._plannable = plannable(self.layers)
        self._plans: dict[int, DensePlan] = {}
        self._plan: DensePlan | None = None  # the plan that ran the last forward, if any

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_spec(
        cls,
        model: ModelSpec,
        input_shape: tuple[int, ...],
        n_outputs: int,
        rng: np.random.Generator,
        dtype: Any = np.float32,
    ) -> Network:
        """Hidden layers from ``model.layers`` (dense1, dropout1, batchnorm1, dense2, …),
        then a Dense named 'output' with ``n_outputs`` units and ``model.output_activation``.
        The layers are those ``engine.shapes.layer_shapes`` lists (a Dense after image layers
        gets a flatten first); a layer that does not fit its input raises ShapeError."""
        rows = layer_shapes(model, tuple(input_shape), n_outputs)
        layers = [layer_from_spec(row.spec) for row in rows[:-1]]
        layers.append(
            Dense(n_outputs, activation=model.output_activation, weight_init=model.output_init, name="output")
        )
        return cls(layers, input_shape, rng, dtype)

    def copy(self, dtype: Any = None) -> Network:
        """An independent clone: same layers, parameters, buffers and rng state.

        ``dtype`` casts the clone (e.g. float64 for a gradient check of a float32 model).
        """
        clone = Network(
            [layer.clone() for layer in self.layers],
            self.input_shape,
            _copy.deepcopy(self.rng),
            self.dtype if dtype is None else dtype,
        )
        clone.params[...] = self.params
        for key, buf in self.buffers().items():
            clone.buffers()[key][...] = buf
        # Initialising the clone consumed draws from the copied rng: restore the original state.
        clone.rng.bit_generator.state = self.rng.bit_generator.state
        return clone

    # -- views --------------------------------------------------------------------------

    def parameters(self) -> dict[str, np.ndarray]:
        """'dense1.W', 'dense1.b', 'batchnorm1.gamma', …, 'output.b' → views of ``params``."""
        return {f"{layer.name}.{k}": v for layer in self.flat_layers for k, v in layer.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {f"{layer.name}.{k}": v for layer in self.flat_layers for k, v in layer.grads.items()}

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-trainable state, e.g. 'batchnorm1.running_mean' (live arrays)."""
        return {f"{layer.name}.{k}": v for layer in self.flat_layers for k, v in layer.buffers.items()}

    def slices(self) -> dict[str, slice]:
        """Parameter name → its slice of the flat ``params`` / ``grads`` buffers."""
        return dict(self._slices)

    def layer_slices(self) -> dict[str, tuple[slice, slice | None]]:
        """Layer name → (weight slice, bias slice) for every layer with parameters.

        Dense: (W, b); BatchNorm: (gamma, beta), as PyTorch calls them weight and bias.
        """
        out: dict[str, tuple[slice, slice | None]] = {}
        for layer in self.flat_layers:
            keys = list(layer.param_shapes())
            if keys:
                bias = self._slices[f"{layer.name}.{keys[1]}"] if len(keys) > 1 else None
                out[layer.name] = (self._slices[f"{layer.name}.{keys[0]}"], bias)
        return out

    def layer(self, name: str) -> Layer:
        for layer in [*self.flat_layers, *blocks(self.layers)]:
            if layer.name == name:
                return layer
        raise KeyError(name)

    # -- compute ------------------------------------------------------------------------

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Raw outputs (logits for the cross-entropy losses), shape (batch, *output_shape)."""
        plan = self._plan
        # The training loop's case first, with the fewest checks: the same batch shape and
        # dtype as the last forward, which took a plan (a tiny net's step is ~20 µs).
        if (plan is not None and type(x) is np.ndarray and x.shape == plan.input_shape
                and x.dtype == self.dtype and self.use_fast_path):
            out = plan.forward(x)
            return out if plan.c_order_output else np.ascontiguousarray(out)
        x = np.asarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"input of shape {x.shape} does not fit the network: expected (batch, "
                f"{', '.join(map(str, self.input_shape))})"
            )
        # A Dense stack computes the same in training and evaluation: both take the plan.
        if self._plannable and self.use_fast_path and x.ndim == 2:
            plan = self._plans.get(x.shape[0]) or self._make_plan(x.shape[0])
            if plan is not None:
                if plan is not self._plan:
                    plan.bind_layers()
                    self._plan = plan
                out = plan.forward(x)
                return out if out.flags.c_contiguous else np.ascontiguousarray(out)
        self._plan = None
        for layer in self.layers:
            x = layer.forward(x, training)
        return _c_order(x)

    def _make_plan(self, rows: int) -> DensePlan | None:
        if rows * sum(layer.output_shape[-1] for layer in self.layers) > MAX_PLAN_ENTRIES:
            return None
        if len(self._plans) >= 4:  # a few batch sizes (the last batch of an epoch is shorter)
            self._plans.clear()
        plan = self._plans[rows] = DensePlan(self, rows)
        return plan

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill ``grads`` from d loss / d outputs of the last forward; return d loss / d x.

        Pass ``input_grad=False`` when training: it skips the first layer's input-gradient
        product (the costliest one on wide inputs) and returns None.
        """
        plan = self._plan
        if plan is not None and grad_out.ndim == 2 and grad_out.dtype == self.dtype:
            return plan.backward(grad_out, input_grad)  # the training loop's case, first
        g = grad_out
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        if plan is not None:
            if g.ndim != 2:
                g = g.reshape(-1, self.output_shape[-1])
            return plan.backward(g, input_grad)
        layers = self.layers
        for layer in layers[:0:-1]:
            g = layer.backward(g)
        return layers[0].backward(g, input_grad) if layers else g

    __call__ = forward

    # -- state --------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by name."""
        state = {k: v.copy() for k, v in self.parameters().items()}
        state.update({k: v.copy() for k, v in self.buffers().items()})
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy parameters and buffers in (cast to this network's dtype). Checks everything
        before changing anything; a missing, unexpected or misshapen entry is a ValueError."""
        targets = {**self.parameters(), **self.buffers()}
        missing = [k for k in targets if k not in state]
        if missing:
            raise ValueError(f"state dict is missing key(s): {', '.join(repr(k) for k in missing)}")
        unexpected = [k for k in state if k not in targets]
        if unexpected:
            raise ValueError(f"state dict has unexpected key(s): {', '.join(repr(k) for k in unexpected)}")
        for key, target in targets.items():
            shape = np.shape(state[key])
            if shape != target.shape:
                raise ValueError(f"shape mismatch for {key!r}: expected {target.shape}, got {shape}")
        for key, target in targets.items():
            target[...] = np.asarray(state[key], dtype=self.dtype)

    # -- inspection -----------------------------------------------------------------------

    def activation_stats(self) -> dict[str, ActivationStats]:
        """Per Dense or Conv2D layer, statistics of its activations in the last forward pass.
        A convolution's unit is a filter: it is dead when no sample has a positive
        pre-activation anywhere in its map."""
        stats: dict[str, ActivationStats] = {}
        for layer in self.flat_layers:
            if not isinstance(layer, Dense | Conv2D) or layer.a is None or layer.z is None:
                continue
            # In float64, with the ufunc reductions themselves (what ndarray.sum and np.all
            # call; np.mean / np.std cost several times as much). Once an epoch on every layer.
            a = layer.a
            n = max(a.size, 1)
            # One C-ordered float64 copy: the fast path leaves activations as transposed views,
            # which a casting reduction walks through a buffer, twice.
            centred = np.array(a, np.float64, order="C")
            mean = float(_add_reduce(centred, None)) / n
            centred -= mean
            std = math.sqrt(float(vdot(centred, centred)) / n)
            act = layer.activation
            if act.rectifier:
                unit_axes = (0, 2, 3) if isinstance(layer, Conv2D) else 0
                all_off = _and_reduce(layer.z <= 0, unit_axes)
                dead = np.count_nonzero(all_off) / max(all_off.size, 1)
            else:
                dead = 0.0
            sat = act.saturated(a)
            stats[layer.name] = ActivationStats(
                mean=mean,
                std=std,
                dead_fraction=dead,
                saturated_fraction=0.0 if sat is None else np.count_nonzero(sat) / max(sat.size, 1),
            )
        return stats

    def summary(self) -> list[tuple[str, str, tuple[int, ...], int]]:
        """(name, kind, output shape without the batch axis, number of parameters) per layer;
        a residual block's inner layers (and projection) stand in place of the block."""
        return [(layer.name, layer.kind, layer.output_shape, layer.n_parameters)
                for layer in self.flat_layers]

    def skip_shares(self) -> dict[str, float]:
        """Per residual block, the mean share of d loss / d x that came through its skip path
        over the backwards since the last call (``engine/residual.py`` defines it)."""
        return {block.name: block.pop_mean_skip_share() for block in blocks(self.layers)}

    def set_dropout_frozen(self, frozen: bool) -> None:
        """Make training forwards reuse each Dropout's last mask (for finite differences)."""
        for layer in self.flat_layers:
            if isinstance(layer, Dropout):
                layer.freeze_mask = frozen

    def __repr__(self) -> str:
        body = ", ".join(f"{name}:{kind}{shape}" for name, kind, shape, _ in self.summary())
        return f"Network(input={self.input_shape}, [{body}], params={self.n_parameters}, {self.dtype})"


def _c_order(out: np.ndarray) -> np.ndarray:
    """Outputs in C order: a Dense layer that folds its bias leaves them feature-major, and
    callers (losses included) may reshape them expecting views."""
    return out if out.flags.c_contiguous else np.ascontiguousarray(out)


def _name_layers(layers: list[Layer]) -> None:
    """Give unnamed layers their kind (or name prefix) and a 1-based count ('dense1', 'conv1', …)."""
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for layer in layers:
        prefix = layer.name_prefix or layer.kind  # conv1, res1, dense1, …
        counts[prefix] = counts.get(prefix, 0) + 1
        if not layer.name:
            layer.name = f"{prefix}{counts[prefix]}"
        if layer.name in seen:
            raise ValueError(f"two layers are named {layer.name!r}")
        seen.add(layer.name)
        if isinstance(layer, Residual):
            layer.name_sublayers()


def _check_unique(flat: list[Layer]) -> None:
    seen: set[str] = set()
    for layer in flat:
        if layer.name in seen:
            raise ValueError(f"two layers are named {layer.name!r}")
        seen.add(layer.name)
