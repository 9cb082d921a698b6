"""Datasets: Playground-style synthetic 2-D sets, the 8×8 digits and the user's CSV files.

``make_dataset(spec, rng, base_dir)`` builds a split, standardised ``Dataset``;
``minibatches(n, batch_size, rng)`` yields shuffled index arrays; ``DATASETS`` lists the
sources (with ``task``, ``kind``, ``uses_noise``, ``uses_n_classes`` and ``description``
attributes) for menus.
"""

from engine.data.build import make_dataset, split_indices
from engine.data.dataset import DATASETS, DataError, Dataset, minibatches
from engine.data.features import FEATURE_NAMES, Standardizer, derive_features

# isort: off
from engine.data import sequences  # noqa: F401  (registers the sequence sources, listed last)
# isort: on

__all__ = [
    "DATASETS",
    "FEATURE_NAMES",
    "DataError",
    "Dataset",
    "Standardizer",
    "derive_features",
    "make_dataset",
    "minibatches",
    "split_indices",
]
