"""Derived inputs of 2-D points (TensorFlow Playground's feature set) and standardisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Playground's inputs X1, X2, X1², X2², X1X2, sin(X1), sin(X2), under the spec's names.
_DERIVED: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2,
    "x1_x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}
FEATURE_NAMES: tuple[str, ...] = tuple(_DERIVED)
DEFAULT_FEATURES: tuple[str, ...] = ("x1", "x2")


def derive_features(points: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """Network inputs (M, len(features)) float64 from raw 2-D points (M, 2)."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"expected 2-D points of shape (M, 2), got {pts.shape}")
    unknown = [f for f in features if f not in _DERIVED]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose from {list(FEATURE_NAMES)}")
    x1, x2 = pts[:, 0], pts[:, 1]
    out = np.empty((len(pts), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        out[:, j] = _DERIVED[name](x1, x2)
    return out


class Standardizer:
    """Per-column (x - mean) / std, fitted once (on the training split only).

    Fitting on the training split alone keeps validation data out of the preprocessing,
    so the validation score stays an honest estimate. Constant columns (std 0, e.g. the
    always-blank border pixels of digits) are left unscaled instead of divided by zero.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = mean
        self.std = std

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        mean = x.mean(axis=0)
        # Given the mean NumPy skips computing it again: the same sum and division, so the same bits.
        std = x.std(axis=0, mean=np.expand_dims(mean, 0))
        std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        return cls(mean, std)

    @classmethod
    def identity(cls, n_features: int) -> Standardizer:
        return cls(np.zeros(n_features), np.ones(n_features))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def apply_in_place(self, x: np.ndarray) -> np.ndarray:
        """``self(x)`` written over ``x`` (float64), bit for bit: no copy of a large split."""
        x -= self.mean
        x /= self.std
        return x
