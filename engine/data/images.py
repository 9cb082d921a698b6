"""What image data looks like to the network: input shapes from a spec and per-channel scaling.

The digits are 8×8 images: given as 64 features to a network that starts with a Dense layer
(as always) and as 1×8×8 images to one that starts with an image layer (convolution or pool).
``shapes`` and image folders are always images; a Dense first layer flattens them
(``engine.shapes``).
"""

from __future__ import annotations

import numpy as np

from engine.data.digits import IMAGE_SHAPE
from engine.data.features import Standardizer
from engine.shapes import wants_images
from engine.spec import DataSpec, ModelSpec


def spec_input_shape(data: DataSpec, model: ModelSpec, kind: str | None) -> tuple[int, ...] | None:
    """The network's input shape for image sources, from the spec alone; None for others."""
    if kind == "digits":
        return (1, *IMAGE_SHAPE) if wants_images(model) else (IMAGE_SHAPE[0] * IMAGE_SHAPE[1],)
    if kind == "shapes":
        return (1, data.image_size, data.image_size)
    if kind == "image_folder":
        return (data.channels, data.image_size, data.image_size)
    return None


def fit_channel_standardizer(images: np.ndarray) -> Standardizer:
    """(x - mean) / std with one mean and std per channel over every pixel of the training
    images. Per-pixel scaling (what flat features get) would treat the same stroke differently
    at different positions, which a convolution's shared weights cannot undo."""
    c = images.shape[1]
    mean = images.mean(axis=(0, 2, 3)).reshape(c, 1, 1)
    std = images.std(axis=(0, 2, 3)).reshape(c, 1, 1)
    std = np.where(std > 1e-12, std, 1.0)
    return Standardizer(mean, std)


def identity_standardizer(channels: int) -> Standardizer:
    return Standardizer(np.zeros((channels, 1, 1)), np.ones((channels, 1, 1)))


def pixel_names(shape: tuple[int, int, int]) -> tuple[str, ...]:
    c, h, w = shape
    if c == 1:
        return tuple(f"pixel_{r}_{q}" for r in range(h) for q in range(w))
    return tuple(f"pixel_{k}_{r}_{q}" for k in range(c) for r in range(h) for q in range(w))
