"""The dataset container, the data error, the source registry and minibatch indices."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.registry import Registry

TASKS = ("binary", "multiclass", "regression")


class DataError(ValueError):
    """Data that cannot be used as asked: a broken CSV, a bad option for this source.

    The message names the file, line and column where there is one; ``problems`` keeps
    every listed problem as its own string for views that show them one per row.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


@dataclass(frozen=True)
class Dataset:
    """A split, standardised dataset ready for training (float64; the trainer casts)."""

    name: str
    task: str  # 'binary' | 'multiclass' | 'regression'
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int  # 0 for regression
    feature_names: tuple[str, ...]
    input_shape: tuple[int, ...]
    image_shape: tuple[int, int] | None
    points_train: np.ndarray | None
    points_val: np.ndarray | None
    featurize: Callable[[np.ndarray], np.ndarray] | None
    # Display names of classes in label order ('0', '1', … or a CSV's own labels); () for regression.
    class_names: tuple[str, ...] = ()
    # Generated image sets ('shapes'): each image's object box (top, left, bottom, right),
    # bottom/right exclusive, in pixels; None for data without boxes.
    boxes_train: np.ndarray | None = None
    boxes_val: np.ndarray | None = None

    @property
    def is_images(self) -> bool:
        """Whether inputs are images (channels, height, width)."""
        return len(self.input_shape) == 3

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def n_val(self) -> int:
        return len(self.x_val)

    @property
    def n_targets(self) -> int:
        """Columns of a regression target (1 otherwise)."""
        return int(self.y_train.shape[1]) if self.task == "regression" else 1


# A source is a function with these attributes, read by the GUI to fill its lists and to
# enable only the controls that matter for the chosen source:
#   task: 'binary' | 'multiclass' | 'regression' | 'auto' (decided by the data, CSV)
#   kind: '2d' (synthetic points, call as fn(n_samples, noise, n_classes, rng)), 'digits', 'csv',
#         'shapes' (fn(n_samples, noise, size, rng)), 'image_folder' (fn(folder, display, size, channels))
#   uses_noise, uses_n_classes: bool;  description: one line for tooltips.
# Build datasets with ``make_dataset``; the functions are its building blocks.
DATASETS: Registry[Callable[..., object]] = Registry("dataset")


def register_source(
    name: str,
    *,
    task: str,
    kind: str,
    description: str,
    uses_noise: bool = False,
    uses_n_classes: bool = False,
) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Register a data source under ``name`` and attach what the GUI needs to know about it."""

    def decorate(fn: Callable[..., object]) -> Callable[..., object]:
        fn.task = task  # type: ignore[attr-defined]
        fn.kind = kind  # type: ignore[attr-defined]
        fn.description = description  # type: ignore[attr-defined]
        fn.uses_noise = uses_noise  # type: ignore[attr-defined]
        fn.uses_n_classes = uses_n_classes  # type: ignore[attr-defined]
        return DATASETS.register(name)(fn)

    return decorate


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays covering ``range(n)`` once each, in a fresh random order every call.

    The last batch is smaller when ``batch_size`` does not divide ``n``: dropping it would
    silently never train on some samples of an epoch. Arguments are checked and the order
    drawn at call time, not at the first ``next()``, so the rng is consumed predictably.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    order = rng.permutation(n)
    return (order[start : start + batch_size] for start in range(0, n, batch_size))


def format_problems(problems: list[str], total: int | None = None, limit: int = 10) -> str:
    """The first ``limit`` problems, one a line, and how many more were left out."""
    total = len(problems) if total is None else total
    lines = problems[:limit]
    if total > len(lines):
        lines = [*lines, f"... and {total - len(lines)} more"]
    return "\n".join(lines)
