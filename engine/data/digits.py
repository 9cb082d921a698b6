"""The 8×8 UCI optical digits (1,797 images, pixel counts 0–16), as shipped with scikit-learn.

Stored in ``resources/digits.npz`` (see ``resources/make_digits.py``), shipped inside the
package as ``engine.resources`` (``engine.shipped``), and read without pickles, so a tampered
file cannot run code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.data.dataset import DataError, register_source
from engine.shipped import data_file

DIGITS_FILE = "digits.npz"
IMAGE_SHAPE = (8, 8)


@register_source(
    "digits",
    task="multiclass",
    kind="digits",
    description="1,797 handwritten digits, 8×8 pixels, 10 classes (UCI optical digits).",
)
def load_digits(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (1797, 8, 8) float64 scaled to [0, 1] and labels (1797,) int64, from the shipped
    file unless ``path`` names another."""
    source = data_file(DIGITS_FILE) if path is None else Path(path)
    try:
        with source.open("rb") as f, np.load(f, allow_pickle=False) as data:
            images = data["images"]
            labels = data["labels"]
    except (FileNotFoundError, ModuleNotFoundError):
        raise DataError(f"the digits data file is missing: {source}") from None
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"the digits data file {source} is unreadable: {exc}") from None
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or len(labels) != len(images):
        raise DataError(f"the digits data file {source} has unexpected shapes {images.shape}, {labels.shape}")
    return images.astype(np.float64) / 16.0, labels.astype(np.int64)
