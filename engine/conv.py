"""Conv2D: a 2-D convolution (cross-correlation, as PyTorch's ``Conv2d``) over NCHW images.

Weights have shape (out_channels, in_channels, kh, kw) as torch and ONNX store them; the bias
has one entry per filter. The forward copies the input's windows once into a column matrix
``cols`` (N·Ho·Wo, kh·kw·C) and multiplies it by the (F, kh·kw·C) weight matrix: one BLAS
product (``engine/im2col.py``). The result is laid out (N, Ho, Wo, F) in memory (channels
last) and handed on as an (N, F, Ho, Wo) view: the next layer reads it channels-last again
through strides, so no transposing copy is made. The backward is two more products
(dW = gᵀ·cols, d cols = g·W) and a col2im over the kh·kw kernel offsets.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from engine.im2col import (
    Pads,
    channels_first,
    channels_last,
    col2im,
    im2col,
    output_size,
    pad_nhwc,
    same_pads,
)
from engine.initializers import INITIALIZERS
from engine.layers import LAYERS, Layer

Padding = Literal["valid", "same"] | int


def image_input(layer: Layer, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(C, H, W) of an image input, or a ValueError naming the layer."""
    if len(input_shape) != 3:
        got = f"{input_shape[0]} features" if len(input_shape) == 1 else "×".join(map(str, input_shape))
        raise ValueError(
            f"{layer.name or layer.kind}: needs images (channels × height × width) as input, got {got}; "
            "put it before any flatten, global_avgpool or dense layer"
        )
    c, h, w = input_shape
    return c, h, w


def kernel_fits(layer: Layer, kernel: tuple[int, int], size: tuple[int, int], pads: Pads, what: str) -> None:
    ph, pw = size[0] + pads[0] + pads[1], size[1] + pads[2] + pads[3]
    if kernel[0] > ph or kernel[1] > pw:
        padded = "" if not any(pads) else " (padded)"
        raise ValueError(
            f"{layer.name or layer.kind}: a {kernel[0]}×{kernel[1]} {what} does not fit a "
            f"{size[0]}×{size[1]} input{padded}"
        )


def resolve_padding(padding: Padding, size: tuple[int, int], kernel: tuple[int, int], stride: int) -> Pads:
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        return same_pads(size, kernel, stride)
    p = int(padding)
    return (p, p, p, p)


@LAYERS.register("conv2d")
class Conv2D(Layer):
    """y = activation(conv(x, W) + b) over (N, C, H, W) inputs; W has shape (F, C, kh, kw)."""

    kind = "conv2d"
    name_prefix = "conv"
    defaults = {
        "filters": 8,
        "kernel_size": 3,
        "stride": 1,
        "padding": "valid",
        "activation": "relu",
        "weight_init": "he_uniform",
        "bias_init": "zeros",
    }
    weight_keys = frozenset({"W"})

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        padding: Padding = "valid",
        activation: str = "identity",
        activation_options: dict[str, Any] | None = None,
        weight_init: str = "he_uniform",
        weight_init_options: dict[str, Any] | None = None,
        bias_init: str = "zeros",
        bias_init_options: dict[str, Any] | None = None,
        name: str = "",
    ) -> None:
        super().__init__(name)
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.kernel: tuple[int, int] = (int(ks[0]), int(ks[1]))
        if int(filters) < 1 or min(self.kernel) < 1 or int(stride) < 1:
            raise ValueError(f"conv2d needs filters, kernel size and stride of at least 1, got "
                             f"{filters}, {kernel_size}, {stride}")
        if not (padding in ("valid", "same") or (isinstance(padding, int) and padding >= 0)):
            raise ValueError(f"conv2d padding must be 'valid', 'same' or a count >= 0, got {padding!r}")
        self.filters = int(filters)
        self.stride = int(stride)
        self.padding: Padding = padding
        self._set_activation_and_init(activation, activation_options, weight_init, weight_init_options,
                                      bias_init, bias_init_options)
        self.pads: Pads = (0, 0, 0, 0)
        self.z: np.ndarray | None = None  # last pre-activation, (N, F, Ho, Wo) view
        self.a: np.ndarray | None = None  # last output, (N, F, Ho, Wo) view
        self._cols: np.ndarray | None = None
        self._w2 = np.zeros((0, 0))
        self._padded_shape: tuple[int, ...] = ()
        self._ones = np.ones(0)

    def config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "kernel_size": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
            "activation": self.activation_name,
            "activation_options": dict(self.activation_options),
            "weight_init": self.weight_init,
            "weight_init_options": dict(self.weight_init_options),
            "bias_init": self.bias_init,
            "bias_init_options": dict(self.bias_init_options),
        }

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        _, h, w = image_input(self, self.input_shape)
        self.pads = resolve_padding(self.padding, (h, w), self.kernel, self.stride)
        kernel_fits(self, self.kernel, (h, w), self.pads, "kernel")
        self.out_hw = output_size((h, w), self.kernel, self.stride, self.pads)
        self.output_shape = (self.filters, *self.out_hw)
        return self.output_shape

    @property
    def fan_in(self) -> int:
        return self.input_shape[0] * self.kernel[0] * self.kernel[1]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.filters, self.input_shape[0], *self.kernel), "b": (self.filters,)}

    def initialize(self, rng: np.random.Generator) -> None:
        # Fans as torch counts them for a convolution: each output sees C·kh·kw inputs.
        fan_in, fan_out = self.fan_in, self.filters * self.kernel[0] * self.kernel[1]
        W, b = self.params["W"], self.params["b"]
        W[...] = INITIALIZERS.get(self.weight_init)(W.shape, fan_in, fan_out, rng, self.weight_init_options)
        b[...] = INITIALIZERS.get(self.bias_init)(b.shape, fan_in, fan_out, rng, self.bias_init_options)

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        n = x.shape[0]
        ho, wo = self.out_hw
        xp = pad_nhwc(channels_last(x), self.pads)
        self._padded_shape = xp.shape
        cols = self._cols = im2col(xp, self.kernel, self.stride, self.out_hw)
        # Columns are ordered (kh, kw, C): the weights' (F, C, kh, kw) as (F, kh·kw·C).
        w2 = self._w2 = self.params["W"].transpose(0, 2, 3, 1).reshape(self.filters, -1)
        z = np.dot(cols, w2.T)
        z += self.params["b"]
        a = z if self._identity else self.activation.forward(z)
        self.z = channels_first(z.reshape(n, ho, wo, self.filters))
        self.a = channels_first(a.reshape(n, ho, wo, self.filters))
        return self.a

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if self._cols is None or self.z is None or self.a is None:
            raise RuntimeError(f"{self.name or 'conv2d'}: backward before forward")
        g = grad_y if self._identity else self.activation.backward(self.z, self.a, grad_y)
        n, f = g.shape[0], self.filters
        gm = channels_last(g).reshape(-1, f)  # a view when g kept the forward's layout
        kh, kw = self.kernel
        c = self.input_shape[0]
        dw2 = np.dot(gm.T, self._cols)
        self.grads["W"][...] = dw2.reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
        ones = self._ones
        if ones.shape[0] != gm.shape[0] or ones.dtype != gm.dtype:
            ones = self._ones = np.ones(gm.shape[0], dtype=gm.dtype)
        np.dot(ones, gm, out=self.grads["b"])
        if not input_grad:
            return None
        ho, wo = self.out_hw
        # d cols = g·W, laid out offset-major (kh, kw, N·Ho·Wo, C) by one batched product, so
        # each of col2im's adds reads one contiguous block.
        w3 = self._w2.reshape(f, kh * kw, c).transpose(1, 0, 2)
        dcols = np.matmul(gm, w3).reshape(kh, kw, n, ho, wo, c)
        return channels_first(col2im(dcols, self._padded_shape, self.kernel, self.stride, self.pads))
