"""The input standardisation a network was trained behind, saved with its weights.

Training standardises every input column with the mean and standard deviation of the training
split (``engine.data.Standardizer``). A network alone therefore expects standardised inputs; the
weights file stores the two vectors as ``input.mean`` and ``input.std`` (and the run folder's
``weights.npz`` with them), and the ONNX export puts ``(input - mean) / std`` at the front of its
graph, so an exported model takes the feature values as they are in the data: for a CSV table,
its numeric columns as written and its one-hot columns as 0/1, in the order of
``feature_names`` (imputation is not in the graph: give complete rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MEAN_KEY = "input.mean"
STD_KEY = "input.std"
PREFIX = "input."  # weights-file keys that belong to the preprocessing, not to the network


@dataclass(frozen=True)
class Standardization:
    mean: np.ndarray  # (n_inputs,) float64
    std: np.ndarray
    feature_names: tuple[str, ...] = ()

    def arrays(self) -> dict[str, np.ndarray]:
        return {MEAN_KEY: np.asarray(self.mean, dtype=np.float64),
                STD_KEY: np.asarray(self.std, dtype=np.float64)}

    def describe(self) -> dict[str, Any]:
        return {"inputs": "raw feature values; the network sees (x - input.mean) / input.std",
                "feature_names": list(self.feature_names)}

    def apply(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std


def standardization_of(dataset: Any) -> Standardization | None:
    """The dataset's fitted standardisation (None when it has none, e.g. an image set without it)."""
    mean, std = getattr(dataset, "input_mean", None), getattr(dataset, "input_std", None)
    if mean is None or std is None or np.ndim(mean) != 1:
        return None
    return Standardization(np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64),
                           tuple(getattr(dataset, "feature_names", ()) or ()))


def from_arrays(arrays: dict[str, np.ndarray]) -> Standardization | None:
    """The standardisation stored in a weights file's arrays, if any."""
    if MEAN_KEY in arrays and STD_KEY in arrays:
        return Standardization(arrays[MEAN_KEY], arrays[STD_KEY])
    return None
