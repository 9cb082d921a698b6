"""Weight and bias initializers with the PyTorch/Keras formulas.

Every initializer is called as ``init(shape, fan_in, fan_out, rng, options)`` and returns a
float64 array; the layer casts it into its slice of the network's parameter buffer. Each
function carries a ``defaults`` dict of its options (read by the spec validator and GUI).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from engine.registry import Registry

Initializer = Callable[[tuple[int, ...], int, int, np.random.Generator, Mapping[str, Any]], np.ndarray]

INITIALIZERS: Registry[Initializer] = Registry("initializer")


def _register(name: str, defaults: dict[str, float]) -> Callable[[Callable[..., np.ndarray]], Initializer]:
    def decorate(fn: Callable[..., np.ndarray]) -> Initializer:
        def init(
            shape: tuple[int, ...],
            fan_in: int,
            fan_out: int,
            rng: np.random.Generator,
            options: Mapping[str, Any] | None = None,
        ) -> np.ndarray:
            opts = resolve_options(name, defaults, options)
            return np.asarray(fn(tuple(shape), max(int(fan_in), 1), max(int(fan_out), 1), rng, **opts),
                              dtype=np.float64)

        init.__name__ = fn.__name__
        init.__doc__ = fn.__doc__
        init.defaults = dict(defaults)  # type: ignore[attr-defined]
        return INITIALIZERS.register(name)(init)

    return decorate


def resolve_options(
    name: str, defaults: Mapping[str, Any], options: Mapping[str, Any] | None
) -> dict[str, float]:
    """Defaults overlaid with ``options``; an unknown option is a TypeError naming it."""
    options = dict(options or {})
    unknown = set(options) - set(defaults)
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise TypeError(f"{name} got unknown option(s) {', '.join(sorted(unknown))} (allowed: {allowed})")
    return {key: float(options.get(key, value)) for key, value in defaults.items()}


@_register("zeros", {})
def zeros(shape, fan_in, fan_out, rng):
    """All zeros. As weights, every unit of a layer stays identical: symmetry never breaks."""
    return np.zeros(shape)


@_register("constant", {"value": 0.1})
def constant(shape, fan_in, fan_out, rng, value):
    """Every entry equal to ``value`` (symmetric, like zeros)."""
    return np.full(shape, value)


@_register("uniform", {"low": -0.05, "high": 0.05})
def uniform(shape, fan_in, fan_out, rng, low, high):
    """U(low, high), as Keras ``RandomUniform``."""
    return rng.uniform(low, high, size=shape)


@_register("normal", {"mean": 0.0, "std": 0.05})
def normal(shape, fan_in, fan_out, rng, mean, std):
    """N(mean, std²), as Keras ``RandomNormal``."""
    return rng.normal(mean, std, size=shape)


@_register("glorot_uniform", {})
def glorot_uniform(shape, fan_in, fan_out, rng):
    """U(-l, l), l = sqrt(6 / (fan_in + fan_out)): ``xavier_uniform_`` / Keras ``GlorotUniform``."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


@_register("glorot_normal", {})
def glorot_normal(shape, fan_in, fan_out, rng):
    """N(0, 2 / (fan_in + fan_out)), as ``torch.nn.init.xavier_normal_``."""
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


@_register("he_uniform", {})
def he_uniform(shape, fan_in, fan_out, rng):
    """U(-l, l), l = sqrt(6 / fan_in): ``kaiming_uniform_(nonlinearity='relu')`` / Keras ``HeUniform``."""
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


@_register("he_normal", {})
def he_normal(shape, fan_in, fan_out, rng):
    """N(0, 2 / fan_in), as ``kaiming_normal_(nonlinearity='relu')``."""
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


@_register("lecun_normal", {})
def lecun_normal(shape, fan_in, fan_out, rng):
    """N(0, 1 / fan_in), the SELU-friendly LeCun initialization."""
    return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape)


def get_initializer(name: str) -> Initializer:
    return INITIALIZERS.get(name)
