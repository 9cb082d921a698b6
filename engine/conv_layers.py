"""One spec in, one engine layer out: the bridge ``Network.from_spec`` builds through."""

from __future__ import annotations

from typing import Any

from engine.conv import Conv2D
from engine.layers import BatchNorm, Dense, Dropout, Layer
from engine.pooling import AvgPool2D, Flatten, GlobalAvgPool, MaxPool2D


def layer_from_spec(spec: Any) -> Layer:
    """The unbuilt layer a layer spec describes; None (an implicit flatten) gives a Flatten."""
    if spec is None or spec.type == "flatten":
        return Flatten()
    if spec.type == "dense":
        return Dense(
            spec.units,
            activation=spec.activation,
            activation_options=dict(spec.activation_options),
            weight_init=spec.weight_init,
            weight_init_options=dict(spec.weight_init_options),
            bias_init=spec.bias_init,
            bias_init_options=dict(spec.bias_init_options),
        )
    if spec.type == "conv2d":
        return Conv2D(
            spec.filters,
            kernel_size=spec.kernel_size,
            stride=spec.stride,
            padding=spec.padding,
            activation=spec.activation,
            activation_options=dict(spec.activation_options),
            weight_init=spec.weight_init,
            weight_init_options=dict(spec.weight_init_options),
            bias_init=spec.bias_init,
            bias_init_options=dict(spec.bias_init_options),
        )
    if spec.type == "dropout":
        return Dropout(spec.rate)
    if spec.type == "batchnorm":
        return BatchNorm(momentum=spec.momentum, eps=spec.eps)
    if spec.type == "maxpool2d":
        return MaxPool2D(spec.pool_size, spec.stride)
    if spec.type == "avgpool2d":
        return AvgPool2D(spec.pool_size, spec.stride)
    if spec.type == "global_avgpool":
        return GlobalAvgPool()
    raise ValueError(f"unknown layer type {spec.type!r}")  # pragma: no cover - the union allows no other
