"""Grad-CAM (Selvaraju et al. 2017): where in the image a convolutional layer found the evidence
for a class.

For the chosen layer's output A (F maps of h×w) and a class score y (its raw logit),
α_f = mean over the h×w positions of ∂y/∂A_f, and the map is ReLU(Σ_f α_f · A_f), bilinearly
upsampled to the input's height and width. Everything comes from the engine's own forward
and backward on a copy of the network, in evaluation mode (BatchNorm's running statistics,
no dropout), so the live network and its gradients are untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def image_layers(network: Any) -> list[str]:
    """Names of the layers whose output is a stack of feature maps (channels, h, w): the
    layers Grad-CAM can look at, convolutions and pools, input side first."""
    return [layer.name for layer in network.layers if len(layer.output_shape) == 3]


def grad_cam(network: Any, x: np.ndarray, class_index: int, layer_name: str) -> np.ndarray:
    """The Grad-CAM map of ``class_index`` at layer ``layer_name`` for image(s) ``x``.

    ``x``: one image (C, H, W) or a batch (N, C, H, W), as the network takes it (standardised).
    Returns (H, W) for one image or (N, H, W) for a batch, float64, non-negative, in the
    units of α·A (not normalised: divide by the max to show it; an all-zero map means no
    positive evidence for the class at that layer). ``layer_name`` must be one of
    ``image_layers(network)``; ``class_index`` an output of the network.
    """
    x = np.asarray(x)
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4 or x.shape[1:] != tuple(network.input_shape):
        raise ValueError(f"grad_cam needs images of shape {tuple(network.input_shape)}, got {x.shape[1:]}")
    names = [layer.name for layer in network.layers]
    if layer_name not in image_layers(network):
        choices = ", ".join(image_layers(network)) or "none (the network has no image layers)"
        raise ValueError(f"{layer_name!r} has no feature maps; choose one of: {choices}")
    n_out = int(np.prod(network.output_shape))
    if not 0 <= class_index < n_out:
        raise ValueError(f"class_index must be in [0, {n_out}), got {class_index}")

    net = network.copy(np.float64)
    at = names.index(layer_name)
    h = x.astype(np.float64)
    maps = h
    for i, layer in enumerate(net.layers):
        h = layer.forward(h, False)
        if i == at:
            maps = np.array(h)  # A, (N, F, h, w); later layers may reuse their buffers
    seed = np.zeros_like(h).reshape(len(h), -1)
    seed[:, class_index] = 1.0
    g = seed.reshape(h.shape)
    for layer in net.layers[:at:-1]:
        g = layer.backward(g)
    alpha = np.asarray(g).mean(axis=(2, 3))  # (N, F)
    cam = np.maximum(np.einsum("nf,nfhw->nhw", alpha, maps), 0.0)
    cam = upsample_bilinear(cam, x.shape[2:])
    return cam[0] if single else cam


def upsample_bilinear(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, h, w) -> (N, H, W) by bilinear interpolation with pixel centres aligned as
    torch's ``interpolate(..., mode='bilinear', align_corners=False)``."""
    out = maps
    for axis, new in ((1, int(size[0])), (2, int(size[1]))):
        old = out.shape[axis]
        if old == new:
            continue
        pos = np.clip((np.arange(new) + 0.5) * (old / new) - 0.5, 0.0, old - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, old - 1)
        frac = pos - lo
        shape = [1, 1, 1]
        shape[axis] = new
        frac = frac.reshape(shape)
        out = np.take(out, lo, axis=axis) * (1.0 - frac) + np.take(out, hi, axis=axis) * frac
    return out
