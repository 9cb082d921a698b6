"""Synthetic sets, digits, splitting, standardisation and minibatches (engine.data)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import DATASETS, DataError, make_dataset, minibatches, split_indices
from engine.registry import UnknownNameError
from engine.spec import FEATURES, DataSpec

TWO_D = ["circle", "xor", "gaussian", "spiral", "moons", "spiral_multi", "blobs", "plane", "multi_gaussian"]
CLASSIFICATION_2D = ["circle", "xor", "gaussian", "spiral", "moons", "spiral_multi", "blobs"]
# Sets whose class sizes are fixed by construction (labels do not depend on noise).
BALANCED = ["gaussian", "spiral", "moons", "spiral_multi", "blobs"]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def make(source: str, seed: int = 0, **options) -> object:
    return make_dataset(DataSpec(source=source, **options), rng(seed))


def all_y(d) -> np.ndarray:
    return np.concatenate([d.y_train, d.y_val])


def all_points(d) -> np.ndarray:
    return np.concatenate([d.points_train, d.points_val])


# --- the registry ---------------------------------------------------------------------------


def test_registry_lists_every_source_in_menu_order_with_its_traits() -> None:
    assert DATASETS.names() == [*TWO_D, "digits", "shapes", "csv", "image_folder"]
    tasks = {name: DATASETS.get(name).task for name in DATASETS.names()}
    assert tasks["spiral"] == "binary" and tasks["blobs"] == "multiclass"
    assert tasks["plane"] == "regression" and tasks["digits"] == "multiclass" and tasks["csv"] == "auto"
    assert [n for n in DATASETS.names() if DATASETS.get(n).uses_n_classes] == ["spiral_multi", "blobs"]
    assert all(DATASETS.get(n).kind == "2d" and DATASETS.get(n).uses_noise for n in TWO_D)
    assert all(DATASETS.get(n).description for n in DATASETS.names())


def test_unknown_source_suggests_the_nearest_name() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'spiral'"):
        make("spirl")


# --- 2-D sets: shapes, ranges, balance, determinism -----------------------------------------


@pytest.mark.parametrize("source", TWO_D)
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_two_d_set_shapes_and_range(source: str, noise: float) -> None:
    d = make(source, n_samples=301, noise=noise, train_fraction=0.7)
    assert d.name == source
    assert len(d.x_train) + len(d.x_val) == 301
    assert len(d.x_train) == round(0.7 * 301)
    assert d.input_shape == (2,) and d.feature_names == ("x1", "x2") and d.image_shape is None
    assert d.x_train.dtype == np.float64 and d.x_train.shape[1] == 2
    assert d.points_train.shape == (len(d.x_train), 2) and d.points_val.shape == (len(d.x_val), 2)
    pts = all_points(d)
    assert np.all(np.abs(pts) <= 6.0)
    assert np.all(np.isfinite(d.x_train)) and np.all(np.isfinite(d.x_val))
    if d.task == "regression":
        assert d.n_classes == 0 and d.y_train.shape == (len(d.x_train), 1) and d.y_train.dtype == np.float64
        # As in Playground, jitter may push the plane's target past ±1 (by at most the noise share).
        assert np.all(np.abs(all_y(d)) <= 1.2 * (1.0 + noise))
    elif d.task == "binary":
        assert d.n_classes == 2 and d.y_train.shape == (len(d.x_train), 1) and d.y_train.dtype == np.float64
        assert set(np.unique(all_y(d))) == {0.0, 1.0}
        assert d.class_names == ("0", "1")
    else:
        assert d.n_classes == 3 and d.y_train.shape == (len(d.x_train),) and d.y_train.dtype == np.int64
        assert set(np.unique(all_y(d))) == {0, 1, 2}


@pytest.mark.parametrize("source", BALANCED)
def test_classes_are_balanced(source: str) -> None:
    d = make(source, n_samples=401, noise=0.3, n_classes=4)
    counts = np.bincount(all_y(d).astype(int).ravel())
    k = d.n_classes
    assert len(counts) == k and counts.sum() == 401
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("source", ["circle", "xor"])
def test_noise_free_geometric_sets_are_roughly_balanced(source: str) -> None:
    d = make(source, n_samples=1000, noise=0.0)
    share = float(all_y(d).mean())
    assert 0.4 < share < 0.6


@pytest.mark.parametrize("source", ["spiral_multi", "blobs"])
def test_multiclass_sets_follow_n_classes(source: str) -> None:
    d = make(source, n_classes=7, n_samples=350)
    assert d.n_classes == 7 and d.class_names == tuple(str(k) for k in range(7))
    assert np.array_equal(np.unique(all_y(d)), np.arange(7))


@pytest.mark.parametrize("source", [*TWO_D, "digits"])
def test_same_seed_same_data_other_seed_other_data(source: str) -> None:
    a, b = make(source, seed=5, noise=0.2), make(source, seed=5, noise=0.2)
    c = make(source, seed=6, noise=0.2)
    for field in ("x_train", "y_train", "x_val", "y_val"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.x_train, c.x_train)


# --- what noise does ----------------------------------------------------------------------


def generate(source: str, noise: float, n: int = 2000, n_classes: int = 3, seed: int = 1):
    return DATASETS.get(source)(n, noise, n_classes, rng(seed))


def test_circle_labels_follow_the_disc_without_noise_and_cross_it_with_noise() -> None:
    points, labels = generate("circle", 0.0)
    inside = np.hypot(points[:, 0], points[:, 1]) < 2.5
    assert np.array_equal(labels, inside.astype(np.int64))
    points, labels = generate("circle", 0.5)
    flipped = np.mean(labels != (np.hypot(points[:, 0], points[:, 1]) < 2.5))
    assert flipped > 0.05


def test_xor_labels_follow_the_quadrants_without_noise_and_cross_them_with_noise() -> None:
    points, labels = generate("xor", 0.0)
    assert np.array_equal(labels, (points[:, 0] * points[:, 1] >= 0).astype(np.int64))
    assert np.all(np.abs(points) >= 0.3)  # Playground's padding around the axes
    points, labels = generate("xor", 0.5)
    assert np.mean(labels != (points[:, 0] * points[:, 1] >= 0)) > 0.05


def test_plane_target_is_the_scaled_diagonal_and_noise_perturbs_it() -> None:
    points, target = generate("plane", 0.0)
    assert target.shape == (2000, 1)
    assert np.allclose(target[:, 0], (points[:, 0] + points[:, 1]) / 10.0)
    points, target = generate("plane", 0.3)
    assert not np.allclose(target[:, 0], (points[:, 0] + points[:, 1]) / 10.0)


def test_multi_gaussian_bumps() -> None:
    grid = np.array([[-4.0, 2.5], [0.0, 2.5], [0.0, -2.5], [4.0, -2.5]])
    points, target = generate("multi_gaussian", 0.0, n=5000)
    assert target.shape == (5000, 1) and np.all(np.abs(target) <= 1.0)
    for centre, sign in zip(grid, [1, -1, 1, -1], strict=True):
        near = np.hypot(*(points - centre).T) < 0.5
        assert np.all(np.sign(target[near, 0]) == sign)
    # Far from every centre the target is exactly 0.
    far = np.abs(points[:, 1]) < 0.3
    assert np.all(target[far, 0] == 0.0)
    _, noisy = generate("multi_gaussian", 0.5, n=5000)
    assert not np.array_equal(noisy, target)


@pytest.mark.parametrize("source", ["gaussian", "spiral", "moons", "spiral_multi", "blobs"])
def test_noise_moves_points_but_not_labels(source: str) -> None:
    p0, y0 = generate(source, 0.0)
    p1, y1 = generate(source, 0.5)
    assert np.array_equal(y0, y1)
    assert np.mean(np.abs(p1 - p0)) > 0.1


def test_noise_free_spiral_is_exactly_playgrounds() -> None:
    points, labels = generate("spiral", 0.0, n=200)
    i = np.arange(100)
    r, t = i / 100 * 5, 1.75 * i / 100 * 2 * np.pi
    assert np.allclose(points[:100], np.column_stack([r * np.sin(t), r * np.cos(t)]))
    assert np.allclose(points[100:], -points[:100])  # the second arm is turned by pi
    assert np.all(labels[:100] == 1) and np.all(labels[100:] == 0)


# --- derived features, standardisation, featurize -------------------------------------------


def test_derived_features_are_playgrounds_inputs() -> None:
    d = make("circle", features=FEATURES, standardize=False)
    x1, x2 = d.points_train.T
    expected = np.column_stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)])
    assert d.feature_names == FEATURES and d.input_shape == (7,)
    assert np.allclose(d.x_train, expected)


def test_feature_subset_in_the_order_given() -> None:
    d = make("xor", features=("x1_x2", "x1"), standardize=False)
    assert np.allclose(d.x_val, np.column_stack([d.points_val.prod(axis=1), d.points_val[:, 0]]))


def test_standardisation_is_fitted_on_the_training_split_only() -> None:
    raw = make("gaussian", seed=3, noise=0.4, features=("x1", "x2", "x1_sq"), standardize=False)
    std = make("gaussian", seed=3, noise=0.4, features=("x1", "x2", "x1_sq"), standardize=True)
    mean, sd = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    assert np.allclose(std.x_train.mean(axis=0), 0.0, atol=1e-12)
    assert np.allclose(std.x_train.std(axis=0), 1.0)
    assert np.allclose(std.x_val, (raw.x_val - mean) / sd)
    # The validation split is scaled with the training statistics, not its own.
    assert np.abs(std.x_val.mean(axis=0)).max() > 1e-3


@pytest.mark.parametrize("standardize", [True, False])
def test_featurize_reproduces_the_network_inputs(standardize: bool) -> None:
    d = make("spiral", noise=0.3, features=("x1", "x2", "sin_x1", "x1_x2"), standardize=standardize)
    assert np.allclose(d.featurize(d.points_train), d.x_train)
    assert np.allclose(d.featurize(d.points_val), d.x_val)
    gx, gy = np.meshgrid(np.linspace(-6, 6, 25), np.linspace(-6, 6, 20))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    assert d.featurize(grid).shape == (500, 4)


# --- splitting ------------------------------------------------------------------------------


def test_split_covers_every_index_once_and_keeps_class_shares() -> None:
    labels = np.repeat([0, 1, 2], [60, 30, 10])
    train, val = split_indices(100, 0.8, rng(), labels)
    assert len(train) == 80 and len(val) == 20
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    assert np.array_equal(np.bincount(labels[val]), [12, 6, 2])


def test_split_leaves_at_least_one_sample_on_each_side() -> None:
    train, val = split_indices(10, 0.01, rng(), np.repeat([0, 1], 5))
    assert len(train) == 1 and len(val) == 9
    train, val = split_indices(10, 0.99, rng())
    assert len(train) == 9 and len(val) == 1


def test_split_depends_on_the_rng() -> None:
    a, _ = split_indices(50, 0.5, rng(1))
    b, _ = split_indices(50, 0.5, rng(2))
    assert not np.array_equal(a, b)


# --- minibatches ----------------------------------------------------------------------------


def test_minibatches_cover_every_index_once_with_a_partial_last_batch() -> None:
    batches = list(minibatches(10, 4, rng()))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(10))


def test_minibatches_reshuffle_every_epoch_and_repeat_for_a_seed() -> None:
    g = rng(7)
    first, second = np.concatenate(list(minibatches(50, 8, g))), np.concatenate(list(minibatches(50, 8, g)))
    assert not np.array_equal(first, second)
    again = np.concatenate(list(minibatches(50, 8, rng(7))))
    assert np.array_equal(first, again)


def test_minibatches_edge_cases() -> None:
    assert [len(b) for b in minibatches(5, 100, rng())] == [5]
    assert list(minibatches(0, 4, rng())) == []
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(5, 0, rng())


# --- digits -------------------------------------------------------------------------------


def test_digits_shapes_labels_and_counts() -> None:
    d = make("digits", standardize=False)
    assert d.name == "digits" and d.task == "multiclass" and d.n_classes == 10
    assert d.input_shape == (64,) and d.image_shape == (8, 8) and len(d.feature_names) == 64
    assert d.points_train is None and d.featurize is None
    assert len(d.x_train) + len(d.x_val) == 1797 and len(d.x_train) == round(0.8 * 1797)
    x = np.concatenate([d.x_train, d.x_val])
    assert x.dtype == np.float64 and x.min() == 0.0 and x.max() == 1.0
    assert np.allclose(x * 16, np.round(x * 16))  # whole pixel counts 0..16
    counts = np.bincount(all_y(d))
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert set(np.unique(d.y_val)) == set(range(10))  # stratified: every digit is validated
    assert d.class_names == tuple(str(k) for k in range(10))


def test_digits_standardised_on_train() -> None:
    d = make("digits")
    assert np.allclose(d.x_train.mean(axis=0), 0.0, atol=1e-9)
    sd = d.x_train.std(axis=0)
    # Columns blank in every training image stay 0 rather than becoming NaN.
    assert np.all((np.isclose(sd, 1.0)) | (sd == 0.0)) and np.all(np.isfinite(d.x_val))


def test_digits_reject_derived_features_and_a_regression_task() -> None:
    with pytest.raises(DataError, match=r"features.*2-D sets.*'digits'"):
        make("digits", features=("x1", "x2", "x1_sq"))
    with pytest.raises(DataError, match="classification set"):
        make("digits", task="regression")


def test_fixed_sets_reject_a_contradicting_task() -> None:
    with pytest.raises(DataError, match="'plane' is a regression set"):
        make("plane", task="classification")
    assert make("spiral", task="classification").task == "binary"


def test_digits_file_missing_or_broken_is_named(tmp_path) -> None:
    from engine.data.digits import load_digits

    with pytest.raises(DataError, match=r"the digits data file is missing: .*none\.npz"):
        load_digits(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(DataError, match=r"bad\.npz is unreadable"):
        load_digits(tmp_path / "bad.npz")
