"""The 8×8 UCI optical digits (1,797 images, pixel counts 0–16), as shipped with scikit-learn.

Stored in ``resources/digits.npz`` (see ``resources/make_digits.py``) and read without
pickles, so a tampered file cannot run code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.data.dataset import DataError, register_source

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DIGITS_FILE = RESOURCES / "digits.npz"
IMAGE_SHAPE = (8, 8)


@register_source(
    "digits",
    task="multiclass",
    kind="digits",
    description="1,797 handwritten digits, 8×8 pixels, 10 classes (UCI optical digits).",
)
def load_digits(path: Path = DIGITS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """Images (1797, 8, 8) float64 scaled to [0, 1] and labels (1797,) int64."""
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            labels = data["labels"]
    except FileNotFoundError:
        raise DataError(f"the digits data file is missing: {path}") from None
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"the digits data file {path} is unreadable: {exc}") from None
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or len(labels) != len(images):
        raise DataError(f"the digits data file {path} has unexpected shapes {images.shape}, {labels.shape}")
    return images.astype(np.float64) / 16.0, labels.astype(np.int64)
