"""Layers: Dense, Dropout and BatchNorm over parameter views owned by the Network.

A layer sees ``x`` of shape ``(batch, *features)``. It never allocates its own parameters:
``Network`` hands it views into one flat parameter buffer and one flat gradient buffer
(``bind``), so an optimizer can update every parameter in a single in-place operation.
``backward`` overwrites the layer's gradients (it does not accumulate).

Per-call Python overhead matters on small networks, so the hot paths avoid extra
reshapes, copies and temporaries; ``np.dot(..., out=view)`` writes weight gradients
straight into the gradient buffer. A Dense layer with few inputs folds its bias into the
product (see ``FOLD_MAX_INPUTS``); ``engine/fastpath.py`` runs whole Dense stacks with the
same arithmetic in preallocated buffers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.activations import Activation, get_activation
from engine.initializers import INITIALIZERS, resolve_options
from engine.registry import Registry

LAYERS: Registry[type[Layer]] = Registry("layer")

# A Dense layer with at most this many inputs folds its bias into its products: W and b lie
# next to each other in the flat buffer, so [W; b] is one (in + 1, units) matrix, and
# z = [x | 1] @ [W; b], [dW; db] = [x | 1]ᵀ @ dz (two NumPy calls fewer per layer and step).
# These layers keep their arrays feature-major ((units, batch) in memory, handed out as
# transposed views): the [x | 1] array is then x's rows plus a row of ones, so an activation
# can be written straight into the next layer's input as one contiguous block. Wider inputs
# keep x @ W + b: copying x into the augmented array would cost more than the calls saved.
FOLD_MAX_INPUTS = 64
# Above this many multiply-adds, np.matmul runs a product faster; below, np.dot's smaller
# call overhead wins.
MATMUL_MIN_WORK = 100_000


def weight_grad_product(x_t: np.ndarray, g: np.ndarray, out: np.ndarray) -> None:
    """``out = x_t @ g`` with the call that is faster for this size (both paths use it)."""
    if g.shape[0] * out.size > MATMUL_MIN_WORK:
        np.matmul(x_t, g, out=out)
    else:
        np.dot(x_t, g, out=out)


class Layer:
    """Base class. Subclasses set ``kind`` and implement build/forward/backward."""

    kind: ClassVar[str] = ""
    # Automatic names are prefix + count ('conv1'); empty means the kind.
    name_prefix: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    # Parameters that L1/L2 penalties apply to (weights, never biases or BatchNorm's gamma/beta).
    weight_keys: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.input_shape: tuple[int, ...] = ()
        self.output_shape: tuple[int, ...] = ()

    def config(self) -> dict[str, Any]:
        """Constructor arguments (without the name): enough to build an identical layer."""
        return {}

    def _set_activation_and_init(
        self,
        activation: str,
        activation_options: dict[str, Any] | None,
        weight_init: str,
        weight_init_options: dict[str, Any] | None,
        bias_init: str,
        bias_init_options: dict[str, Any] | None,
    ) -> None:
        """The activation and initializers of a layer with weights (Dense, Conv2D). Names and
        options are resolved now, so a typo fails when the layer is made, not later."""
        self.activation_name = activation
        self.activation_options = dict(activation_options or {})
        self.activation: Activation = get_activation(activation, **self.activation_options)
        self._identity = activation == "identity"
        self.weight_init = weight_init
        self.weight_init_options = dict(weight_init_options or {})
        self.bias_init = bias_init
        self.bias_init_options = dict(bias_init_options or {})
        for init_name, opts in ((weight_init, self.weight_init_options), (bias_init, self.bias_init_options)):
            resolve_options(init_name, INITIALIZERS.get(init_name).defaults, opts)  # type: ignore[attr-defined]

    def clone(self) -> Layer:
        """A new, unbuilt layer with the same configuration and name."""
        return type(self)(name=self.name, **self.config())

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        self.output_shape = self.input_shape
        return self.output_shape

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def sublayers(self) -> list[Layer]:
        """Layers this one is made of (a residual block's); their parameters are theirs."""
        return []

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.params = params
        self.grads = grads

    def initialize(self, rng: np.random.Generator) -> None:
        pass

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Overwrite this layer's gradients; return d loss / d x (None if ``input_grad`` is False)."""
        raise NotImplementedError

    @property
    def n_parameters(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({self.name!r}{', ' if args else ''}{args})"


@LAYERS.register("dense")
class Dense(Layer):
    """y = activation(x @ W + b) on the last axis; W has shape (in, out)."""

    kind = "dense"
    defaults = {
        "units": 8,
        "activation": "identity",
        "weight_init": "he_uniform",
        "bias_init": "zeros",
    }
    weight_keys = frozenset({"W"})

    def __init__(
        self,
        units: int,
        activation: str = "identity",
        activation_options: dict[str, Any] | None = None,
        weight_init: str = "he_uniform",
        weight_init_options: dict[str, Any] | None = None,
        bias_init: str = "zeros",
        bias_init_options: dict[str, Any] | None = None,
        name: str = "",
    ) -> None:
        super().__init__(name)
        if int(units) < 1:
            raise ValueError(f"Dense needs at least 1 unit, got {units}")
        self.units = int(units)
        self._set_activation_and_init(activation, activation_options, weight_init, weight_init_options,
                                      bias_init, bias_init_options)
        self.z: np.ndarray | None = None  # last pre-activation, 2-D (samples, units)
        self.a: np.ndarray | None = None  # last output, 2-D
        self._x: np.ndarray | None = None
        self._ones = np.ones(0)
        # [W; b] and [dW; db] as (in + 1, units) views of the flat buffers (set by the Network
        # when the layer folds its bias), and the cached feature-major [x | 1]ᵀ array.
        self.W_aug: np.ndarray | None = None
        self.grad_W_aug: np.ndarray | None = None
        self._xa_t: np.ndarray | None = None

    def config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "activation": self.activation_name,
            "activation_options": dict(self.activation_options),
            "weight_init": self.weight_init,
            "weight_init_options": dict(self.weight_init_options),
            "bias_init": self.bias_init,
            "bias_init_options": dict(self.bias_init_options),
        }

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        if not self.input_shape:
            raise ValueError(f"{self.name or 'dense'}: input needs at least one feature axis")
        self.output_shape = (*self.input_shape[:-1], self.units)
        return self.output_shape

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.input_shape[-1], self.units), "b": (self.units,)}

    @property
    def folds_bias(self) -> bool:
        return self.input_shape[-1] <= FOLD_MAX_INPUTS

    def bind_augmented(self, W_aug: np.ndarray, grad_W_aug: np.ndarray) -> None:
        """Views of [W; b] and [dW; db], shape (in + 1, units), for the folded product."""
        self.W_aug, self.grad_W_aug = W_aug, grad_W_aug

    def initialize(self, rng: np.random.Generator) -> None:
        fan_in, fan_out = self.input_shape[-1], self.units
        W, b = self.params["W"], self.params["b"]
        W[...] = INITIALIZERS.get(self.weight_init)(W.shape, fan_in, fan_out, rng, self.weight_init_options)
        b[...] = INITIALIZERS.get(self.bias_init)(b.shape, fan_in, fan_out, rng, self.bias_init_options)

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        lead = None
        if x.ndim != 2:
            lead = x.shape[:-1]
            x = x.reshape(-1, x.shape[-1])
        self._x = x
        if self.W_aug is not None:
            m, k = x.shape
            xa_t = self._xa_t
            if xa_t is None or xa_t.shape[1] != m or xa_t.dtype != x.dtype:
                xa_t = self._xa_t = np.empty((k + 1, m), dtype=x.dtype)
                xa_t[k] = 1.0
            xa_t[:k] = x.T
            self._x = xa_t  # for backward: the transposed [x | 1]
            z = np.dot(self.W_aug.T, xa_t).T
        else:
            z = x.dot(self.params["W"])
            z += self.params["b"]
        # Identity keeps z itself as the output: no copy on the (usual) linear output layer.
        a = z if self._identity else self.activation.forward(z)
        self.z = z
        self.a = a
        return a if lead is None else a.reshape(*lead, self.units)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if grad_y.ndim != 2:
            grad_y = grad_y.reshape(-1, self.units)
        g = grad_y if self._identity else self.activation.backward(self.z, self.a, grad_y)
        x = self._x
        if self.grad_W_aug is not None:
            weight_grad_product(x, g, self.grad_W_aug)  # the row of ones gives db
            if not input_grad:
                return None
            # Feature-major like the forward: the next layer down works on contiguous blocks.
            gx = np.dot(self.params["W"], g.T).T
        else:
            weight_grad_product(x.T, g, self.grads["W"])
            ones = self._ones
            if ones.shape[0] != g.shape[0] or ones.dtype != g.dtype:
                ones = self._ones = np.ones(g.shape[0], dtype=g.dtype)
            # ones @ g is several times faster than g.sum(0) on small batches.
            np.dot(ones, g, out=self.grads["b"])
            if not input_grad:
                return None
            gx = g.dot(self.params["W"].T)
        return gx if len(self.input_shape) == 1 else gx.reshape(-1, *self.input_shape)


@LAYERS.register("dropout")
class Dropout(Layer):
    """Inverted dropout: in training, zero each entry with probability ``rate`` and scale the
    rest by 1 / (1 - rate); identity in evaluation. Masks come from the Network's rng."""

    kind = "dropout"
    defaults = {"rate": 0.2}

    def __init__(self, rate: float = 0.2, name: str = "") -> None:
        super().__init__(name)
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.rng: np.random.Generator | None = None
        self.mask: np.ndarray | None = None
        # When True, a training forward reuses the last mask (gradient checks need a fixed mask).
        self.freeze_mask = False

    def config(self) -> dict[str, Any]:
        return {"rate": self.rate}

    def initialize(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        if not training or self.rate == 0.0:
            self.mask = None
            return x
        mask = self.mask
        if not (self.freeze_mask and mask is not None and mask.shape == x.shape and mask.dtype == x.dtype):
            if self.rng is None:
                raise RuntimeError(f"{self.name or 'dropout'}: no rng; build it inside a Network")
            keep = self.rng.random(x.shape, dtype=x.dtype) >= self.rate
            mask = np.multiply(keep, 1.0 / (1.0 - self.rate), dtype=x.dtype)
            self.mask = mask
        return x * mask

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        return grad_y if self.mask is None else grad_y * self.mask


@LAYERS.register("batchnorm")
class BatchNorm(Layer):
    """Batch normalisation over every axis but the last, as ``torch.nn.BatchNorm1d``; on
    images (N, C, H, W) per channel over N, H and W, as ``torch.nn.BatchNorm2d``.

    Training normalises with the batch's biased variance and updates the running mean and
    the running (unbiased) variance with ``momentum``; evaluation uses the running values.
    A training batch of a single row has no variance: it normalises to zero (PyTorch raises)
    and leaves the running variance as it was.
    """

    kind = "batchnorm"
    defaults = {"momentum": 0.1, "eps": 1e-5}

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5, name: str = "") -> None:
        super().__init__(name)
        self.momentum = float(momentum)
        self.eps = float(eps)
        self._cache: tuple[Any, ...] | None = None

    def config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "eps": self.eps}

    @property
    def channels(self) -> int:
        """Features normalised one by one: the last axis, or an image's channel axis."""
        return self.input_shape[0] if len(self.input_shape) == 3 else self.input_shape[-1]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"gamma": (self.channels,), "beta": (self.channels,)}

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        super().bind(params, grads)
        n, dtype = self.channels, params["gamma"].dtype
        self.buffers = {"running_mean": np.zeros(n, dtype), "running_var": np.ones(n, dtype)}

    def initialize(self, rng: np.random.Generator) -> None:
        self.params["gamma"][...] = 1.0
        self.params["beta"][...] = 0.0
        self.buffers["running_mean"][...] = 0.0
        self.buffers["running_var"][...] = 1.0

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        if x.ndim == 4:  # channels last as rows: a view when a convolution made x
            n, c, h, w = x.shape
            y = self.forward(x.transpose(0, 2, 3, 1).reshape(-1, c), training)
            return y.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        shape = x.shape
        if x.ndim != 2:
            x = x.reshape(-1, shape[-1])
        if training:
            m = x.shape[0]
            mean = x.mean(axis=0)
            xc = x - mean
            var = np.einsum("ij,ij->j", xc, xc)
            var *= 1.0 / m
            inv = 1.0 / np.sqrt(var + self.eps)
            mom = self.momentum
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            rm *= 1.0 - mom
            rm += mom * mean
            if m > 1:
                rv *= 1.0 - mom
                rv += (mom * m / (m - 1)) * var
        else:
            xc = x - self.buffers["running_mean"]
            inv = 1.0 / np.sqrt(self.buffers["running_var"] + self.eps)
        xhat = xc * inv
        self._cache = (xhat, inv, training)
        y = xhat * self.params["gamma"]
        y += self.params["beta"]
        return y if len(shape) == 2 else y.reshape(shape)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._cache is None:
            raise RuntimeError(f"{self.name or 'batchnorm'}: backward before forward")
        if grad_y.ndim == 4:
            n, c, h, w = grad_y.shape
            gx = self.backward(grad_y.transpose(0, 2, 3, 1).reshape(-1, c), input_grad)
            return None if gx is None else gx.reshape(n, h, w, c).transpose(0, 3, 1, 2)
        xhat, inv, training = self._cache
        shape = grad_y.shape
        g = grad_y if grad_y.ndim == 2 else grad_y.reshape(-1, shape[-1])
        sum_g = g.sum(axis=0)
        sum_g_xhat = np.einsum("ij,ij->j", g, xhat)
        self.grads["beta"][...] = sum_g
        self.grads["gamma"][...] = sum_g_xhat
        if not input_grad:
            return None
        scale = self.params["gamma"] * inv
        if training:
            # d/dx of gamma * (x - mean) / sqrt(var + eps) with batch mean and variance:
            # scale * (g - mean(g) - xhat * mean(g * xhat))
            m = 1.0 / g.shape[0]
            gx = xhat * (sum_g_xhat * m)
            np.subtract(g, gx, out=gx)
            gx -= sum_g * m
            gx *= scale
        else:
            gx = g * scale
        return gx if len(shape) == 2 else gx.reshape(shape)


def make_layer(kind: str, **options: Any) -> Layer:
    """A layer by registry name: ``make_layer('dense', units=8, activation='relu')``."""
    return LAYERS.get(kind)(**options)
