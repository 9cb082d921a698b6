"""One sample of a data set as a network input and as a picture: shared by the image views.

A data set stores images flat (digits: 64 values, ``image_shape`` (8, 8)) or channel-first
(``input_shape`` (C, H, W)); a network may want either. ``network_input`` reshapes rows to what
the network was built for, ``picture`` turns one row into an (H, W) grey or (H, W, 3) RGB array
for display, and ``picture_shape`` says whether a set has pictures at all.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

SampleKind = Literal["image", "points", "features"]


def picture_shape(dataset: Any) -> tuple[int, int, int] | None:
    """(channels, height, width) of a set's images, or None for non-image data."""
    shape = tuple(getattr(dataset, "input_shape", ()) or ())
    if len(shape) == 3 and shape[0] in (1, 3):
        return (int(shape[0]), int(shape[1]), int(shape[2]))
    image = getattr(dataset, "image_shape", None)
    if image is not None:
        if len(image) == 3:  # (C, H, W) given as the image shape
            return (int(image[0]), int(image[1]), int(image[2]))
        return (1, int(image[0]), int(image[1]))
    return None


def sample_kind(dataset: Any) -> SampleKind:
    if picture_shape(dataset) is not None:
        return "image"
    if getattr(dataset, "points_val", None) is not None:
        return "points"
    return "features"


def network_input(x: np.ndarray, network: Any) -> np.ndarray:
    """Rows of ``x`` reshaped to the network's input shape, in its dtype (a view when possible)."""
    x = np.asarray(x)
    shape = tuple(network.input_shape)
    if x.shape[1:] != shape:
        x = x.reshape((len(x), *shape))
    return x.astype(network.params.dtype, copy=False)


def picture(row: np.ndarray, dataset: Any) -> np.ndarray:
    """One sample as (H, W) grey or (H, W, 3) RGB in [0, 1].

    Scaled over the sample's mean ± 2 standard deviations, not its min and max: standardised
    pixels that are almost always blank (a digit's corners) reach 20 where a stroke passes and
    would wash every other pixel out."""
    c, h, w = picture_shape(dataset) or (1, 1, np.asarray(row).size)
    image = np.asarray(row, dtype=np.float64).reshape(c, h, w)
    mean, std = float(np.mean(image)), float(np.std(image))
    lo = max(float(np.min(image)), mean - 2.0 * std)
    hi = min(float(np.max(image)), mean + 2.0 * std)
    image = np.clip(image, lo, hi)
    image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    return image[0] if c == 1 else np.moveaxis(image, 0, -1)


def as_picture_grid(values: np.ndarray, dataset: Any, magnitude: bool = False) -> np.ndarray:
    """Per-input values (an attribution) laid out as (H, W).

    Colour channels are summed (signed attributions keep their total), or, with ``magnitude``,
    the largest |value| of a pixel's channels is kept (as gradient saliency shows colour images)."""
    c, h, w = picture_shape(dataset) or (1, 1, np.asarray(values).size)
    grid = np.asarray(values, dtype=np.float64).reshape(c, h, w)
    return np.abs(grid).max(axis=0) if magnitude else grid.sum(axis=0)
