"""im2col and col2im: convolution and pooling as matrix products over strided window views.

Images are channel-first (N, C, H, W) as in PyTorch and ONNX. ``windows`` returns every
kh×kw window of a (padded) batch as a zero-copy view (N, C, Ho, Wo, kh, kw) made by
``numpy.lib.stride_tricks.sliding_window_view``; a convolution copies it once into the
column matrix and does one BLAS product. The backward scatters column gradients back with
one strided add per kernel offset (kh·kw of them): never a Python loop over pixels or samples.

Output sizes follow PyTorch's floor rule: ``(H + pad_top + pad_bottom - k) // stride + 1``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Pads = tuple[int, int, int, int]  # top, bottom, left, right


def same_pads(size: tuple[int, int], kernel: tuple[int, int], stride: int) -> Pads:
    """Padding that gives ceil(size / stride) outputs per axis; an odd total puts the extra
    row/column at the bottom/right (ONNX's SAME_UPPER, TensorFlow's 'same')."""
    pads: list[int] = []
    for n, k in zip(size, kernel, strict=True):
        out = math.ceil(n / stride)
        total = max((out - 1) * stride + k - n, 0)
        pads.extend((total // 2, total - total // 2))
    return (pads[0], pads[1], pads[2], pads[3])


def output_size(size: tuple[int, int], kernel: tuple[int, int], stride: int, pads: Pads) -> tuple[int, int]:
    """(Ho, Wo); zero or negative when the kernel does not fit."""
    h = (size[0] + pads[0] + pads[1] - kernel[0]) // stride + 1
    w = (size[1] + pads[2] + pads[3] - kernel[1]) // stride + 1
    return h, w


def pad(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    if not any(pads):
        return x
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def windows(xp: np.ndarray, kernel: tuple[int, int], stride: int, out: tuple[int, int]) -> np.ndarray:
    """Zero-copy view (N, C, Ho, Wo, kh, kw) of the windows of the padded batch ``xp``."""
    v = sliding_window_view(xp, kernel, axis=(2, 3))
    if stride != 1:
        v = v[:, :, ::stride, ::stride]
    return v[:, :, : out[0], : out[1]]


def col2im(
    cols: np.ndarray, padded_shape: tuple[int, ...], kernel: tuple[int, int], stride: int, pads: Pads
) -> np.ndarray:
    """The adjoint of ``windows``: sum window gradients (N, C, Ho, Wo, kh, kw) into an image
    of ``padded_shape``, then cut the padding off. One strided add per kernel offset."""
    ho, wo = cols.shape[2:4]
    dx = np.zeros(padded_shape, dtype=cols.dtype)
    kh, kw = kernel
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += cols[:, :, :, :, i, j]
    top, bottom, left, right = pads
    if any(pads):
        dx = dx[:, :, top : dx.shape[2] - bottom, left : dx.shape[3] - right]
    return dx
