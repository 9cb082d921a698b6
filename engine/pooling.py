"""Pooling and reshaping layers over NCHW images: max and average pooling, global average
pooling and flatten. Pools work channels-last like convolutions (``engine/im2col.py``): the
max pool copies its windows once and takes an argmax; the average pool adds one strided slice
per window offset; both backwards scatter with one strided operation per window offset.

Pool windows are unpadded and the output size is floor((H - pool) / stride) + 1, as in
PyTorch's ``MaxPool2d``/``AvgPool2d`` with their defaults (stride = pool size). A max pool
sends each window's gradient to its first largest entry, as torch does on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.conv import image_input, kernel_fits
from engine.im2col import channels_first, channels_last, output_size, windows
from engine.layers import LAYERS, Layer


class _Pool2D(Layer):
    defaults = {"pool_size": 2, "stride": None}

    def __init__(self, pool_size: int = 2, stride: int | None = None, name: str = "") -> None:
        super().__init__(name)
        self.pool_size = int(pool_size)
        self.stride = self.pool_size if stride is None else int(stride)
        if self.pool_size < 1 or self.stride < 1:
            raise ValueError(f"{self.kind} needs a pool size and stride of at least 1, got "
                             f"{pool_size}, {stride}")
        self.out_hw = (0, 0)
        self._n = 0  # batch size of the last forward

    @property
    def kernel(self) -> tuple[int, int]:
        return (self.pool_size, self.pool_size)

    def config(self) -> dict[str, Any]:
        return {"pool_size": self.pool_size, "stride": self.stride}

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        c, h, w = image_input(self, self.input_shape)
        kernel_fits(self, self.kernel, (h, w), (0, 0, 0, 0), "pool")
        self.out_hw = output_size((h, w), self.kernel, self.stride, (0, 0, 0, 0))
        self.output_shape = (c, *self.out_hw)
        return self.output_shape

    def _offsets(self) -> list[tuple[int, int, tuple[slice, slice, slice]]]:
        """(i, j, index) per window offset: ``xh[index]`` is every window's entry at (i, j)."""
        ho, wo, s = *self.out_hw, self.stride
        return [(i, j, (slice(None), slice(i, i + s * ho, s), slice(j, j + s * wo, s)))
                for i in range(self.pool_size) for j in range(self.pool_size)]

    def _scatter(self, dtype: Any, part: Any) -> np.ndarray:
        """dx (an (N, C, H, W) view of channels-last memory) from ``part(i, j)``: the
        gradient, channels last, that each window sends to its entry at offset (i, j)."""
        n, (c, h, w) = self._n, self.input_shape
        dxh = np.zeros((n, h, w, c), dtype=dtype)
        for i, j, index in self._offsets():
            dxh[index] += part(i, j)
        return channels_first(dxh)


@LAYERS.register("maxpool2d")
class MaxPool2D(_Pool2D):
    """The largest value of each pool_size × pool_size window."""

    kind = "maxpool2d"
    name_prefix = "maxpool"

    def __init__(self, pool_size: int = 2, stride: int | None = None, name: str = "") -> None:
        super().__init__(pool_size, stride, name)
        self._argmax: np.ndarray | None = None
        self._tiles: np.ndarray | None = None  # non-overlapping windows: (N, Ho, p, Wo, p, C)
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        if self.stride == self.pool_size:
            return self._forward_tiles(x)
        self._tiles = None
        xh = channels_last(x)
        self._n = n = x.shape[0]
        ho, wo = self.out_hw
        p, c = self.pool_size, x.shape[1]
        flat = np.empty((n, ho, wo, p, p, c), dtype=x.dtype)
        flat[...] = windows(xh, self.kernel, self.stride, self.out_hw).transpose(0, 1, 2, 4, 5, 3)
        flat = flat.reshape(n, ho, wo, p * p, c)
        idx = self._argmax = flat.argmax(axis=3)  # the first largest, as torch picks
        return channels_first(np.take_along_axis(flat, idx[:, :, :, None], axis=3)[:, :, :, 0])

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        if self._tiles is not None:
            return self._backward_tiles(grad_y)
        if self._argmax is None:
            raise RuntimeError(f"{self.name or self.kind}: backward before forward")
        idx, p, gh = self._argmax, self.pool_size, channels_last(grad_y)
        zero = grad_y.dtype.type(0)
        return self._scatter(grad_y.dtype, lambda i, j: np.where(idx == i * p + j, gh, zero))


    # Windows that tile the image (stride = pool size, the usual case) are a reshape of the
    # input, not a copy, and each input entry belongs to one window: a max over two axes and a
    # backward of p·p masked writes, with no scatter-add.
    def _forward_tiles(self, x: np.ndarray) -> np.ndarray:
        n, c = x.shape[:2]
        (ho, wo), p = self.out_hw, self.pool_size
        self._n = n
        tiles = channels_last(x)[:, : ho * p, : wo * p].reshape(n, ho, p, wo, p, c)
        out = tiles[:, :, 0, :, 0].copy()  # p·p elementwise maxima beat a reduction over two axes
        for i in range(p):
            for j in range(p):
                if i or j:
                    np.maximum(out, tiles[:, :, i, :, j], out=out)
        self._tiles, self._out = tiles, out
        return channels_first(out)

    def _backward_tiles(self, grad_y: np.ndarray) -> np.ndarray:
        tiles, out = self._tiles, self._out
        assert tiles is not None and out is not None
        n, ho, p, wo, _, c = tiles.shape
        _, h, w = self.input_shape
        gh = channels_last(grad_y)
        dx = np.zeros((n, h, w, c), dtype=grad_y.dtype)
        cropped = (h, w) != (ho * p, wo * p)
        dt = np.zeros((n, ho, p, wo, p, c), dtype=grad_y.dtype) if cropped else dx.reshape(tiles.shape)
        taken = np.zeros(out.shape, dtype=bool)
        for i in range(p):
            for j in range(p):
                # The first largest entry of each window in row-major order, as torch picks.
                hit = tiles[:, :, i, :, j] == out
                hit &= ~taken
                taken |= hit
                np.multiply(gh, hit, out=dt[:, :, i, :, j])
        if cropped:
            dx[:, : ho * p, : wo * p] = dt.reshape(n, ho * p, wo * p, c)
        return channels_first(dx)


@LAYERS.register("avgpool2d")
class AvgPool2D(_Pool2D):
    """The mean of each pool_size × pool_size window."""

    kind = "avgpool2d"
    name_prefix = "avgpool"

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        xh = channels_last(x)
        self._n = x.shape[0]
        offsets = self._offsets()
        total = np.array(xh[offsets[0][2]])
        for _, _, index in offsets[1:]:
            total += xh[index]
        total *= x.dtype.type(1.0 / (self.pool_size * self.pool_size))
        return channels_first(total)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        share = channels_last(grad_y) * grad_y.dtype.type(1.0 / (self.pool_size * self.pool_size))
        return self._scatter(grad_y.dtype, lambda i, j: share)


@LAYERS.register("global_avgpool")
class GlobalAvgPool(Layer):
    """The mean of each channel over the whole image: (N, C, H, W) -> (N, C)."""

    kind = "global_avgpool"

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        c, _, _ = image_input(self, self.input_shape)
        self.output_shape = (c,)
        return self.output_shape

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        return x.mean(axis=(2, 3), dtype=x.dtype)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        c, h, w = self.input_shape
        share = grad_y * grad_y.dtype.type(1.0 / (h * w))
        return channels_first(np.broadcast_to(share[:, None, None, :], (len(grad_y), h, w, c)).copy())


@LAYERS.register("flatten")
class Flatten(Layer):
    """(N, C, H, W) -> (N, C·H·W) in channel-major order, as torch's and ONNX's Flatten."""

    kind = "flatten"

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        self.output_shape = (int(np.prod(self.input_shape)),)
        return self.output_shape

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        return x.reshape(len(x), -1)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        return grad_y.reshape(len(grad_y), *self.input_shape)
