"""``shapes``: a seeded procedural image set for convolutional networks and Grad-CAM.

Each image (1 × size × size) holds one filled square, circle, cross or triangle of random size
and position on Gaussian noise; the classes are balanced. The object's bounding box is kept
(``top, left, bottom, right``, bottom/right exclusive, in pixels), so one can score whether an
explanation such as Grad-CAM points at the object. Everything is drawn from the rng passed in,
with whole-batch NumPy operations (no loop over images).
"""

from __future__ import annotations

import numpy as np

from engine.data.dataset import register_source

SHAPE_NAMES = ("square", "circle", "cross", "triangle")
BASE_NOISE = 0.15  # background noise std at noise 0; the spec's noise adds to it
MIN_HALF_FRACTION = 0.15  # half-size of an object, as a fraction of the image size
MAX_HALF_FRACTION = 0.3


@register_source(
    "shapes",
    task="multiclass",
    kind="shapes",
    description="Squares, circles, crosses and triangles of random size and position on noise "
                "(1×16×16 or larger; generated, seeded, with bounding boxes for Grad-CAM).",
    uses_noise=True,
)
def make_shapes(
    n_samples: int, noise: float, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (n, 1, size, size) float64 in about [0, 1] plus noise, labels (n,) int64 indexing
    ``SHAPE_NAMES``, and boxes (n, 4) int64 as (top, left, bottom, right)."""
    n, s = int(n_samples), int(size)
    labels = rng.permutation(np.arange(n) % len(SHAPE_NAMES)).astype(np.int64)
    half = rng.uniform(MIN_HALF_FRACTION * s, MAX_HALF_FRACTION * s, size=n)
    # Centres keep the whole object inside the image (pixel centres at integer coordinates).
    lo, hi = half, s - 1 - half
    cy = lo + rng.random(n) * (hi - lo)
    cx = lo + rng.random(n) * (hi - lo)
    brightness = rng.uniform(0.7, 1.0, size=n)

    grid = np.arange(s, dtype=np.float64)
    dy = grid[None, :, None] - cy[:, None, None]  # (n, s, 1)
    dx = grid[None, None, :] - cx[:, None, None]  # (n, 1, s)
    r = half[:, None, None]
    bar = r / 3.0
    masks = np.stack([
        (np.abs(dy) <= r) & (np.abs(dx) <= r),  # square
        dy * dy + dx * dx <= r * r,  # circle
        ((np.abs(dy) <= bar) & (np.abs(dx) <= r)) | ((np.abs(dx) <= bar) & (np.abs(dy) <= r)),  # cross
        (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2.0),  # triangle, apex up
    ])  # (4, n, s, s)
    mask = masks[labels, np.arange(n)]
    images = rng.normal(0.0, BASE_NOISE + float(noise), size=(n, s, s))
    images += mask * brightness[:, None, None]
    return images[:, None], labels, bounding_boxes(mask)


def bounding_boxes(mask: np.ndarray) -> np.ndarray:
    """(top, left, bottom, right) of the true pixels of each (h, w) mask, bottom/right exclusive."""
    rows, cols = mask.any(axis=2), mask.any(axis=1)
    h, w = mask.shape[1:]
    top = rows.argmax(axis=1)
    bottom = h - rows[:, ::-1].argmax(axis=1)
    left = cols.argmax(axis=1)
    right = w - cols[:, ::-1].argmax(axis=1)
    return np.stack([top, left, bottom, right], axis=1).astype(np.int64)


def in_box(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Whether each (row, col) point lies inside its box."""
    r, c = points[:, 0], points[:, 1]
    return (r >= boxes[:, 0]) & (r < boxes[:, 2]) & (c >= boxes[:, 1]) & (c < boxes[:, 3])
