"""``make_dataset``: a DataSpec and an rng in, a split and standardised Dataset out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

# isort: off
# Importing the sources registers them; this order is the order menus list them in.
from engine.data import synthetic  # noqa: F401
from engine.data import digits  # noqa: F401
from engine.data import shapes  # noqa: F401
from engine.data import csvfile
from engine.data import imagefolder  # noqa: F401
# isort: on
from engine.data.dataset import DATASETS, DataError, Dataset
from engine.data.features import DEFAULT_FEATURES, Standardizer, derive_features
from engine.data.images import fit_channel_standardizer, identity_standardizer, pixel_names
from engine.data.shapes import SHAPE_NAMES
from engine.data.table_build import legacy_checks, prepare_parsed
from engine.data.table_read import parse_table
from engine.spec import DataSpec, TableSpec

_CLASSIFICATION = ("binary", "multiclass")


def make_dataset(
    spec: DataSpec,
    rng: np.random.Generator,
    base_dir: Path | None = None,
    confined: bool = False,
    images: bool = False,
) -> Dataset:
    """Generate or load ``spec.source``, split it with ``rng`` and standardise on the train split.

    The same spec and rng seed give the same dataset. ``base_dir`` is the folder a CSV
    path is relative to (the experiment file's folder); None means the working directory.
    ``confined`` applies the shared-file rule (``csvfile.resolve_path``): the CSV must lie
    inside ``base_dir``. ``images``: give the digits as 1×8×8 images (the trainer sets it
    when the network's first layer is an image layer, ``engine.shapes.wants_images``); the
    'shapes' set and image folders are always images. Images are standardised per channel.
    """
    source = DATASETS.get(spec.source)
    kind = source.kind  # type: ignore[attr-defined]
    if kind != "2d" and tuple(spec.features) != DEFAULT_FEATURES:
        raise DataError(
            f"derived features {list(spec.features)} apply only to the 2-D sets; {spec.source!r} "
            f"uses its own columns as inputs, so set features to {list(DEFAULT_FEATURES)}"
        )

    if kind in ("sequence", "csv_series"):  # (samples, time, features): engine/data/sequences.py
        from engine.data.sequences import make_sequence_dataset

        return make_sequence_dataset(spec, rng, base_dir, confined)

    points: np.ndarray | None = None
    image_shape: tuple[int, int] | None = None
    class_names: tuple[str, ...] = ()
    boxes: np.ndarray | None = None
    name = spec.source
    if kind == "2d":
        task = source.task  # type: ignore[attr-defined]
        n_classes = spec.n_classes if task == "multiclass" else 2 if task == "binary" else 0
        points, y = source(spec.n_samples, float(spec.noise), n_classes, rng)
        x = derive_features(points, spec.features)
        feature_names = tuple(spec.features)
    elif kind == "digits":
        pictures, y = source()
        x = pictures[:, None] if images else pictures.reshape(len(pictures), -1)
        task, n_classes = "multiclass", 10
        image_shape = (int(pictures.shape[1]), int(pictures.shape[2]))
        feature_names = tuple(f"pixel_{r}_{c}" for r in range(image_shape[0]) for c in range(image_shape[1]))
    elif kind == "shapes":
        x, y, boxes = source(spec.n_samples, float(spec.noise), spec.image_size, rng)
        task, n_classes, class_names = "multiclass", len(SHAPE_NAMES), SHAPE_NAMES
        image_shape = (spec.image_size, spec.image_size)
        feature_names = pixel_names(x.shape[1:])
    elif kind == "image_folder":
        if not spec.path:
            raise DataError("the data source is 'image_folder' but no folder path is set")
        folder = csvfile.resolve_path(spec.path, base_dir, confined)
        x, y, class_names = source(folder, spec.path, spec.image_size, spec.channels)
        task, n_classes = "multiclass", len(class_names)
        image_shape = (spec.image_size, spec.image_size)
        feature_names = pixel_names(x.shape[1:])
    elif spec.table is not None:  # csv with table options
        if not spec.path:
            raise DataError("the data source is 'csv' but no CSV path is set")
        return _table_dataset(spec, rng, csvfile.resolve_path(spec.path, base_dir, confined))
    else:  # csv as before table options: numbers only, every column used
        if not spec.path:
            raise DataError("the data source is 'csv' but no CSV path is set")
        table = source(csvfile.resolve_path(spec.path, base_dir, confined), spec.path, spec.target, spec.task)
        x, y, task, n_classes = table.x, table.y, table.task, table.n_classes
        feature_names, class_names, name = table.feature_names, table.class_names, table.name
        # Two feature columns are a 2-D set: plot them and draw decision boundaries over them.
        if x.shape[1] == 2:
            points = x

    _check_task(spec, task)
    if task in _CLASSIFICATION and not class_names:
        class_names = tuple(str(k) for k in range(n_classes))

    train, val = split_indices(len(x), spec.train_fraction, rng, y if task in _CLASSIFICATION else None)
    if x.ndim == 4:
        scaler = fit_channel_standardizer(x[train]) if spec.standardize else identity_standardizer(x.shape[1])
    else:
        scaler = Standardizer.fit(x[train]) if spec.standardize else Standardizer.identity(x.shape[1])

    featurize: Callable[[np.ndarray], np.ndarray] | None = None
    if points is not None:
        feats = tuple(spec.features) if kind == "2d" else None

        def featurize(raw: np.ndarray) -> np.ndarray:
            """Raw 2-D points (M, 2) -> network inputs, exactly as the training inputs were made."""
            raw = np.asarray(raw, dtype=np.float64)
            return scaler(derive_features(raw, feats) if feats is not None else raw)

    y = _targets(y, task)
    warnings: tuple = ()
    if kind == "csv":
        warnings = tuple(legacy_checks(x, feature_names, y, task, class_names, train, val, name))
    return Dataset(
        name=name,
        task=task,
        x_train=np.ascontiguousarray(scaler(x[train])),
        y_train=y[train],
        x_val=np.ascontiguousarray(scaler(x[val])),
        y_val=y[val],
        n_classes=n_classes,
        feature_names=feature_names,
        input_shape=tuple(int(d) for d in x.shape[1:]),
        image_shape=image_shape,
        points_train=None if points is None else points[train].copy(),
        points_val=None if points is None else points[val].copy(),
        featurize=featurize,
        class_names=class_names,
        warnings=warnings,
        input_mean=scaler.mean,
        input_std=scaler.std,
        boxes_train=None if boxes is None else boxes[train],
        boxes_val=None if boxes is None else boxes[val],
    )


def _table_dataset(spec: DataSpec, rng: np.random.Generator, path: Path) -> Dataset:
    """A CSV read under ``spec.table``: split first, then gaps filled and inputs standardised from
    the training rows alone."""
    display = spec.path or path.name
    raw = csvfile.read_bytes(path, display)
    table = parse_table(raw, display, spec.table or TableSpec())
    del raw  # 50 MB of text no longer needed while the splits are built
    prepared = prepare_parsed(table, spec)
    task, y = prepared.task, prepared.y
    _check_task(spec, task)
    stratify = spec.table is not None and spec.table.stratify and task in _CLASSIFICATION
    train, val = split_indices(len(y), spec.train_fraction, rng, y if stratify else None)
    # Each split built once, in its own order, and standardised in place: on a 50 MB table the
    # whole matrix, its indexed copies and their standardised copies were four copies of the data.
    x_train = prepared.encode(train, train)
    width = x_train.shape[1]
    # Fitted before the validation split exists: std's temporary copy of x_train is the peak.
    scaler = Standardizer.fit(x_train) if spec.standardize else Standardizer.identity(width)
    x_val = prepared.encode(train, val)
    points = (x_train.copy(), x_val.copy()) if width == 2 else None
    featurize = (lambda raw: scaler(np.asarray(raw, dtype=np.float64))) if points is not None else None
    labels_train, labels_val = y[train], y[val]  # gathered once for the dataset and the checks
    return Dataset(
        name=prepared.name,
        task=task,
        x_train=scaler.apply_in_place(x_train),
        y_train=_targets(labels_train, task),
        x_val=scaler.apply_in_place(x_val),
        y_val=_targets(labels_val, task),
        n_classes=prepared.n_classes,
        feature_names=prepared.feature_names,
        input_shape=(width,),
        image_shape=None,
        points_train=None if points is None else points[0],
        points_val=None if points is None else points[1],
        featurize=featurize,
        class_names=prepared.class_names,
        warnings=tuple(prepared.checks(train, val, labels_train, labels_val)),
        input_mean=scaler.mean,
        input_std=scaler.std,
    )


def _check_task(spec: DataSpec, task: str) -> None:
    # For CSV the loader already obeyed spec.task; a fixed set must agree with it.
    if spec.task == "auto":
        return
    is_classification = task in _CLASSIFICATION
    if (spec.task == "classification") != is_classification:
        raise DataError(
            f"{spec.source!r} is a {'classification' if is_classification else 'regression'} set, "
            f"but the task is set to {spec.task!r}; set it to 'auto'"
        )


def _targets(y: np.ndarray, task: str) -> np.ndarray:
    """The contract's target layout: binary (N, 1) float 0/1, multiclass (N,) int64, regression (N, k)."""
    if task == "binary":
        return np.asarray(y, dtype=np.float64).reshape(-1, 1)
    if task == "multiclass":
        return np.asarray(y, dtype=np.int64).reshape(-1)
    y = np.asarray(y, dtype=np.float64)
    return y.reshape(-1, 1) if y.ndim == 1 else y


def split_indices(
    n: int, train_fraction: float, rng: np.random.Generator, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train and validation indices, ``round(train_fraction * n)`` of them for training.

    Both splits get at least one sample. With ``labels`` the split is stratified: each class
    goes to train in (as nearly as possible) the same proportion, so a small validation set
    does not miss a class by chance.
    """
    if n < 2:
        raise DataError(f"need at least 2 samples to split into training and validation, got {n}")
    n_train = min(max(round(train_fraction * n), 1), n - 1)
    if labels is None:
        order = rng.permutation(n)
        return order[:n_train], order[n_train:]
    labels = np.asarray(labels).reshape(-1)
    classes, counts = _class_counts(labels)
    quota = counts * (n_train / n)
    take = np.floor(quota).astype(np.int64)
    # Largest remainders get the leftover training slots (ties to the larger class, then order).
    leftover = n_train - int(take.sum())
    if leftover:
        rank = np.lexsort((-counts, -(quota - take)))
        take[rank[:leftover]] += 1
    train_parts, val_parts = [], []
    for cls, k in zip(classes, take, strict=True):
        members = rng.permutation(np.flatnonzero(labels == cls))
        train_parts.append(members[:k])
        val_parts.append(members[k:])
    train = rng.permutation(np.concatenate(train_parts))
    val = rng.permutation(np.concatenate(val_parts))
    return train, val


def _class_counts(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(labels, return_counts=True)``; small non-negative integer labels (every table
    target) by counting instead of sorting."""
    if labels.dtype.kind in "iu" and len(labels) and labels.min() >= 0 and labels.max() < 1 << 16:
        counts = np.bincount(labels)
        classes = np.flatnonzero(counts)
        return classes.astype(labels.dtype), counts[classes].astype(np.intp)
    return np.unique(labels, return_counts=True)
