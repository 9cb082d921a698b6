"""im2col and col2im: convolution and pooling as matrix products over strided window views.

Layers take and return (N, C, H, W) arrays as PyTorch and ONNX do, but compute channels-last:
``x.transpose(0, 2, 3, 1)`` is an (N, H, W, C) view, and a convolution's output is (N, H, W, C)
memory handed on as an (N, C, H, W) view, so between convolutions no transposing copy is made.
Channels last makes every copy below move contiguous runs of C values.

``windows`` returns every kh×kw window of a channels-last batch as a zero-copy view
(N, Ho, Wo, C, kh, kw) made by ``numpy.lib.stride_tricks.sliding_window_view``; a convolution
copies it once into the column matrix, ordered (kh, kw, C) per row, and does one BLAS product.
``col2im`` scatters column gradients back with one strided add per kernel offset (kh·kw of
them): never a Python loop over pixels or samples.

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


def channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> an (N, H, W, C) view."""
    return x.transpose(0, 2, 3, 1)


def channels_first(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> an (N, C, H, W) view."""
    return x.transpose(0, 3, 1, 2)


def pad_nhwc(xh: np.ndarray, pads: Pads) -> np.ndarray:
    """A zero-padded channels-last copy (the input itself when there is no padding)."""
    if not any(pads):
        return xh
    top, bottom, left, right = pads
    n, h, w, c = xh.shape
    out = np.zeros((n, h + top + bottom, w + left + right, c), dtype=xh.dtype)
    out[:, top : top + h, left : left + w] = xh
    return out


def windows(xh: np.ndarray, kernel: tuple[int, int], stride: int, out: tuple[int, int]) -> np.ndarray:
    """Zero-copy view (N, Ho, Wo, C, kh, kw) of the windows of the channels-last batch ``xh``."""
    v = sliding_window_view(xh, kernel, axis=(1, 2))
    if stride != 1:
        v = v[:, ::stride, ::stride]
    return v[:, : out[0], : out[1]]


def im2col(xh: np.ndarray, kernel: tuple[int, int], stride: int, out: tuple[int, int]) -> np.ndarray:
    """The column matrix (N·Ho·Wo, kh·kw·C) of a (padded) channels-last batch: one copy."""
    n, c = xh.shape[0], xh.shape[3]
    ho, wo = out
    cols = np.empty((n, ho, wo, kernel[0], kernel[1], c), dtype=xh.dtype)
    cols[...] = windows(xh, kernel, stride, out).transpose(0, 1, 2, 4, 5, 3)
    return cols.reshape(n * ho * wo, -1)


def col2im(
    dcols: np.ndarray, padded_shape: tuple[int, ...], kernel: tuple[int, int], stride: int, pads: Pads
) -> np.ndarray:
    """The adjoint of ``im2col``: window gradients (kh, kw, N, Ho, Wo, C) summed into a
    channels-last image of ``padded_shape``, returned without its padding (a view).
    One strided add per kernel offset."""
    ho, wo = dcols.shape[3:5]
    dx = np.zeros(padded_shape, dtype=dcols.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            dx[:, i : i + stride * ho : stride, j : j + stride * wo : stride] += dcols[i, j]
    top, bottom, left, right = pads
    if any(pads):
        dx = dx[:, top : dx.shape[1] - bottom, left : dx.shape[2] - right]
    return dx
