"""What a convolutional network sees: every image layer's feature maps for one input, and the
filters of a convolution laid out for display.

Computed on a copy of the network in evaluation mode (BatchNorm's running statistics, no
dropout), layer by layer, so the caller's network and its cached activations are untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.analysis.gradcam import image_layers


def feature_maps(network: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """Layer name → its output for the one image ``x`` (C, H, W), shape (channels, h, w), float64,
    for every layer with image output (convolutions and pools), input side first."""
    x = np.asarray(x)
    if x.shape != tuple(network.input_shape):
        raise ValueError(f"feature_maps needs one image of shape {tuple(network.input_shape)}, got {x.shape}")
    wanted = set(image_layers(network))
    net = network.copy(np.float64)
    h = x.astype(np.float64)[None]
    maps: dict[str, np.ndarray] = {}
    for layer in net.layers:
        h = layer.forward(h, False)
        if layer.name in wanted:
            maps[layer.name] = np.array(h[0])  # a copy: later layers may reuse their buffers
    return maps


def filter_strips(weights: np.ndarray, gap: float = np.nan) -> np.ndarray:
    """Conv weights (F, C, kh, kw) as F pictures (kh, C·kw + C − 1): each filter's C input-channel
    kernels side by side, separated by a one-pixel ``gap`` column (NaN draws as blank)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"conv weights have 4 axes (filters, channels, kh, kw), got shape {w.shape}")
    f, c, kh, kw = w.shape
    out = np.full((f, kh, c * kw + c - 1), gap)
    for ch in range(c):
        out[:, :, ch * (kw + 1) : ch * (kw + 1) + kw] = w[:, ch]
    return out
