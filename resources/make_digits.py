"""One-off conversion of scikit-learn's copy of the UCI optical digits to ``digits.npz``.

This was run once, by hand, to produce ``resources/digits.npz``; the product never imports
scikit-learn. To regenerate (from the repository root)::

    python -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn
    /tmp/skl/bin/python resources/make_digits.py

The data: 1,797 handwritten digits as 8×8 images of pixel counts 0–16 (UCI ML "Optical
Recognition of Handwritten Digits", Alpaydin & Kaynak, CC BY 4.0, as distributed with
scikit-learn). The file holds two uint8 arrays, ``images`` (1797, 8, 8) and ``labels`` (1797,),
stored without pickles so the engine loads it with ``allow_pickle=False``.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits


def main() -> None:
    digits = load_digits()
    images = np.asarray(digits.images)
    labels = np.asarray(digits.target)
    # The pixel counts are whole numbers 0..16, so uint8 loses nothing.
    assert images.shape == (1797, 8, 8) and np.array_equal(images, np.round(images))
    assert images.min() >= 0 and images.max() <= 16
    out = Path(__file__).resolve().parent / "digits.npz"
    np.savez_compressed(out, images=images.astype(np.uint8), labels=labels.astype(np.uint8))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
