"""Hidden-layer activations and their derivatives.

Each activation maps a pre-activation ``z`` to ``a`` and back-propagates ``grad_a`` to
``grad_z``. Implementations are written to stay finite and warning-free at extreme inputs
(even under ``np.errstate(all='raise')``) and to keep the input's dtype: scalars are
Python floats because a NumPy float64 scalar would promote float32 arrays.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from engine.registry import Registry, apply_options

ACTIVATIONS: Registry[type[Activation]] = Registry("activation")

# 1 in each float type: a typed scalar saves NumPy converting a Python float on every call
# (the value, hence the result, is the same).
_ONE = {"f": np.float32(1.0), "d": np.float64(1.0)}
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Lowest exponent whose exp() is still a normal number, by float size (float32, float64).
_EXP_FLOOR = {4: -80.0, 8: -700.0}

# erf(x) / x as a polynomial in x² on |x| <= 2 (Chebyshev least-squares fit against
# math.erf, converted to the power basis; max abs error 2e-15).
_ERF_SMALL = (
    1.1283791670955123, -0.3761263890317898, 0.11283791670844286, -0.026866170634977697,
    0.005223977577534843, -0.0008548325674638857, 0.00012055308247207676, -1.4925338110763954e-05,
    1.6459302050339524e-06, -1.6347361576629663e-07, 1.4717431835255418e-08, -1.1967081728169588e-09,
    8.560747442327185e-11, -5.031382537125751e-12, 2.1107378114340698e-13, -4.590343423581127e-15,
)  # fmt: skip
# x·exp(x²)·erfc(x) as a polynomial in 1/x on 2 <= x <= 6 (same fit; max rel error 2e-14).
# Beyond 6, erfc(x) < 2.2e-17, so erf(x) rounds to 1 in float64.
_ERFC_LARGE = (
    0.5641892076597328, 1.7514628959619354e-05, -0.28246273104793396, 0.004573061179028382,
    0.3862616490881601, 0.19635797534938362, -1.6987731866052627, 0.75378817052111,
    7.4226176106116455, -21.65780303577343, 31.357677432911036, -27.03812033123877,
    13.341147036988241, -2.929338088605137,
)  # fmt: skip


def _horner(coefs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, coefs[-1])
    for c in coefs[-2::-1]:
        out *= x
        out += c
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorised, without SciPy: to about 1e-14 in float64 and to
    float32 rounding (computed in float32) for float32 input."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    ax = np.abs(x)
    np.minimum(ax, 6.0, out=ax)  # clamping keeps exp() clear of underflow
    small = np.minimum(ax, 2.0)
    near = _horner(_ERF_SMALL, small * small)
    near *= small
    far_x = np.maximum(ax, 2.0)
    far = _horner(_ERFC_LARGE, 1.0 / far_x)
    far /= far_x
    sq = far_x * far_x
    np.negative(sq, out=sq)
    far *= np.exp(sq, out=sq)
    np.subtract(1.0, far, out=far)
    # Blend instead of np.where (several times slower here): both branches are finite.
    near -= far
    near *= ax <= 2.0
    near += far
    return np.copysign(near, x, out=near)


class Activation:
    """An element-wise function with its derivative; options are validated on creation."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, float]] = {}
    # Used by activation statistics: rectifiers can "die", squashing functions saturate.
    rectifier: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        apply_options(self, self.name, self.defaults, options)

    @property
    def options(self) -> dict[str, float]:
        return {key: getattr(self, key) for key in self.defaults}

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        """d loss / d z, given the forward's input ``z``, output ``a`` and d loss / d a."""
        raise NotImplementedError

    def saturated(self, a: np.ndarray) -> np.ndarray | None:
        """Boolean mask of saturated outputs, or None when the notion does not apply."""
        return None

    # The fast path (engine/fastpath.py) writes into preallocated buffers. Overrides must do
    # exactly the arithmetic of forward/backward, in the same order, so both paths agree to
    # the bit; these defaults do that by calling them.
    def forward_into(self, z: np.ndarray, out: np.ndarray) -> None:
        """``out[...] = forward(z)``; ``out`` may be a strided view."""
        out[...] = self.forward(z)

    def backward_inplace(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, tmp: np.ndarray) -> None:
        """``grad[...] = backward(z, a, grad)``, using ``tmp`` (grad's shape) as scratch."""
        grad[...] = self.backward(z, a, grad)

    # True when d a / d z is a function of the output alone (``output_derivative``): the fast
    # path then computes it for several layers with one pass over their joined outputs.
    derivative_from_output: ClassVar[bool] = False

    def output_derivative(self, a: np.ndarray, out: np.ndarray) -> None:
        """``out[...] = d a / d z`` from the output ``a`` (with ``derivative_from_output``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


@ACTIVATIONS.register("identity")
class Identity(Activation):
    name = "identity"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z.copy()

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        return grad_a

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> None:
        np.copyto(out, z)

    def backward_inplace(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, tmp: np.ndarray) -> None:
        pass


def sigmoid(z: np.ndarray) -> np.ndarray:
    # The tanh form never overflows or underflows: tails become exact 0 and 1.
    s = np.tanh(z * 0.5)
    s *= 0.5
    s += 0.5
    return s


@ACTIVATIONS.register("sigmoid")
class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(z)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        return grad_a * (a * (1.0 - a))

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> None:
        np.multiply(z, 0.5, out)
        np.tanh(out, out)
        out *= 0.5
        out += 0.5

    derivative_from_output = True

    def output_derivative(self, a: np.ndarray, out: np.ndarray) -> None:
        np.subtract(_ONE[out.dtype.char], a, out)
        out *= a

    def backward_inplace(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, tmp: np.ndarray) -> None:
        self.output_derivative(a, tmp)
        grad *= tmp

    def saturated(self, a: np.ndarray) -> np.ndarray:
        return (a < 0.01) | (a > 0.99)


@ACTIVATIONS.register("tanh")
class Tanh(Activation):
    name = "tanh"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        return grad_a * (1.0 - a * a)

    # The ufunc itself (called as forward_into(z, out)): no Python frame per layer and step.
    forward_into = staticmethod(np.tanh)

    derivative_from_output = True

    def output_derivative(self, a: np.ndarray, out: np.ndarray) -> None:
        np.multiply(a, a, out)
        np.subtract(_ONE[out.dtype.char], out, out)

    def backward_inplace(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, tmp: np.ndarray) -> None:
        self.output_derivative(a, tmp)
        grad *= tmp

    def saturated(self, a: np.ndarray) -> np.ndarray:
        return np.abs(a) > 0.99


@ACTIVATIONS.register("relu")
class ReLU(Activation):
    name = "relu"
    rectifier = True

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        # Multiplying by the boolean mask is cheaper than np.where or boolean assignment.
        return grad_a * (z > 0)

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> None:
        np.maximum(z, 0, out=out)

    def backward_inplace(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, tmp: np.ndarray) -> None:
        np.greater(z, 0, tmp)  # the mask as 0.0 / 1.0: the same products as the boolean one
        grad *= tmp


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(Activation):
    name = "leaky_relu"
    defaults = {"negative_slope": 0.01}
    rectifier = True
    negative_slope: float

    def forward(self, z: np.ndarray) -> np.ndarray:
        # max/min rather than np.where, which is several times slower
        slope = self.negative_slope
        return np.maximum(z, z * slope) if slope <= 1.0 else np.minimum(z, z * slope)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        # slope + (1 - slope)·[z > 0]
        d = np.multiply(z > 0, 1.0 - self.negative_slope, dtype=grad_a.dtype)
        d += self.negative_slope
        d *= grad_a
        return d


@ACTIVATIONS.register("elu")
class ELU(Activation):
    name = "elu"
    defaults = {"alpha": 1.0}
    rectifier = True
    alpha: float

    def forward(self, z: np.ndarray) -> np.ndarray:
        # max(z, 0) + alpha·expm1(min(z, 0)): one of the two terms is always 0; expm1 of the
        # clipped input is exactly -1 in the far tail and never overflows.
        neg = np.expm1(np.minimum(z, 0))
        neg *= self.alpha
        neg += np.maximum(z, 0)
        return neg

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        # z <= 0: d/dz alpha·(exp(z) - 1) = a + alpha;  z > 0: 1 = alpha + (1 - alpha)
        d = np.minimum(a, 0)
        d += self.alpha
        d += np.multiply(z > 0, 1.0 - self.alpha, dtype=d.dtype)
        d *= grad_a
        return d


@ACTIVATIONS.register("gelu")
class GELU(Activation):
    """x·Φ(x) with the exact normal CDF, as ``torch.nn.GELU()`` (approximate='none')."""

    name = "gelu"

    def forward(self, z: np.ndarray) -> np.ndarray:
        cdf = erf(z * _SQRT_HALF)
        cdf += 1.0
        cdf *= 0.5
        return z * cdf

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        cdf = erf(z * _SQRT_HALF)
        cdf += 1.0
        cdf *= 0.5
        # Clamp before squaring so exp() neither over- nor underflows at extreme inputs.
        zc = np.clip(z, -12.0, 12.0)
        pdf = np.exp(zc * zc * -0.5)
        pdf *= _INV_SQRT_2PI
        cdf += zc * pdf
        return grad_a * cdf


@ACTIVATIONS.register("softplus")
class Softplus(Activation):
    """log(1 + exp(z)), as ``torch.nn.Softplus()`` up to its linear cut-over at z > 20."""

    name = "softplus"

    def forward(self, z: np.ndarray) -> np.ndarray:
        # max(z, 0) + log1p(exp(-|z|)); the exponent is clamped so exp() never underflows
        # (the clamped term is far below the precision of anything it is added to).
        t = np.abs(z)
        np.negative(t, out=t)
        np.maximum(t, _EXP_FLOOR.get(t.dtype.itemsize, -80.0), out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)
        t += np.maximum(z, 0)
        return t

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        return grad_a * sigmoid(z)


@ACTIVATIONS.register("silu")
class SiLU(Activation):
    """z·sigmoid(z) (a.k.a. swish), as ``torch.nn.SiLU()``."""

    name = "silu"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z * sigmoid(z)

    def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray) -> np.ndarray:
        s = sigmoid(z)
        # s + z·s·(1 - s) = s + a·(1 - s)
        d = 1.0 - s
        d *= a
        d += s
        return grad_a * d


def get_activation(name: str, **options: Any) -> Activation:
    """An activation instance by registry name; unknown names raise UnknownNameError."""
    return ACTIVATIONS.get(name)(**options)
