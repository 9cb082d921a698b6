"""Loss landscape: filter-normalised and PCA directions, exact centre, path projection, no side effects."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.analysis import Cancelled, filter_normalized_direction, loss_landscape
from engine.analysis.landscape import path_grid, pca_directions, project_path

from .problems import assert_unchanged, make_net, snapshot


def test_centre_of_the_grid_is_the_loss_at_the_current_weights(spiral, ce) -> None:
    net = make_net(spiral)
    expected, _ = ce(net.forward(spiral.x_train), spiral.y_train)
    x, y = spiral.x_train, spiral.y_train
    result = loss_landscape(net, ce, x, y, rng=np.random.default_rng(0), resolution=9)
    assert result.losses.shape == (9, 9)
    assert result.alphas[4] == 0.0 and result.betas[4] == 0.0
    assert result.losses[4, 4] == pytest.approx(float(expected), rel=1e-12)
    assert result.center_loss == result.losses[4, 4]
    assert np.all(np.isfinite(result.losses))
    # Moving away in random directions makes a trained-for-nothing net no better on average.
    assert result.losses.max() > result.losses[4, 4]


def test_grid_point_is_the_loss_at_center_plus_alpha_d1_plus_beta_d2(spiral, ce) -> None:
    net = make_net(spiral, dtype=np.float64)
    result = loss_landscape(
        net, ce, spiral.x_train, spiral.y_train, rng=np.random.default_rng(1), resolution=5, span=0.5
    )
    assert result.alphas.tolist() == [-0.5, -0.25, 0.0, 0.25, 0.5]
    d1, d2 = result.directions
    probe = net.copy()
    probe.params[:] = net.params + 0.5 * d1 - 0.25 * d2  # alphas[4], betas[1]
    value, _ = ce(probe.forward(spiral.x_train), spiral.y_train)
    assert result.losses[4, 1] == pytest.approx(float(value), rel=1e-10)


def test_filter_normalised_columns_match_weight_columns_and_biases_are_zero(spiral) -> None:
    net = make_net(spiral, extras=True)  # BatchNorm gamma/beta must get no direction either
    d = filter_normalized_direction(net, np.random.default_rng(3))
    assert d.shape == net.params.shape and d.dtype == net.params.dtype
    params = net.parameters()
    checked = 0
    for name, sl in net.slices().items():
        if name.endswith(".W"):
            w = params[name]
            cols = d[sl].reshape(w.shape)
            np.testing.assert_allclose(np.linalg.norm(cols, axis=0), np.linalg.norm(w, axis=0), rtol=1e-5)
            assert not np.allclose(cols, w)  # random, not the weights themselves
            checked += 1
        else:
            assert name.split(".")[1] in {"b", "gamma", "beta"}
            assert not d[sl].any(), name
    assert checked == 3


def test_two_directions_differ_and_the_rng_makes_them_reproducible(spiral, ce) -> None:
    net = make_net(spiral)
    args = (net, ce, spiral.x_train, spiral.y_train)
    a = loss_landscape(*args, rng=np.random.default_rng(5), resolution=3)
    b = loss_landscape(*args, rng=np.random.default_rng(5), resolution=3)
    assert np.array_equal(a.losses, b.losses)
    assert not np.allclose(a.directions[0], a.directions[1])


def test_network_is_untouched_and_dropout_is_off(spiral, ce) -> None:
    net = make_net(spiral, extras=True)
    net.forward(spiral.x_train, training=True)  # leaves cached activations and moves the dropout rng
    net.backward(np.ones((len(spiral.x_train), 3), np.float32))
    before = snapshot(net)
    x, y = spiral.x_train, spiral.y_train
    result = loss_landscape(net, ce, x, y, rng=np.random.default_rng(0), resolution=5)
    assert_unchanged(net, before)
    eval_loss, _ = ce(net.copy().forward(spiral.x_train, training=False), spiral.y_train)
    assert result.losses[2, 2] == pytest.approx(float(eval_loss), rel=1e-12)


def test_path_projection_recovers_plane_coordinates() -> None:
    rng = np.random.default_rng(0)
    center = rng.normal(size=50)
    d1, d2 = rng.normal(size=50), rng.normal(size=50)  # not orthogonal: needs least squares
    coords = [(0.0, 0.0), (0.3, -0.2), (-1.0, 0.7)]
    off_plane = rng.normal(size=50)
    off_plane -= np.linalg.lstsq(np.stack([d1, d2], 1), off_plane, rcond=None)[0] @ np.stack([d1, d2])
    path = [center + a * d1 + b * d2 + 0.1 * off_plane for a, b in coords]
    np.testing.assert_allclose(project_path(path, center, (d1, d2)), coords, atol=1e-12)
    assert project_path([], center, (d1, d2)).shape == (0, 2)


def test_path_in_a_landscape_ends_at_the_centre(spiral, ce) -> None:
    net = make_net(spiral)
    start = net.params.copy()
    later = net.copy()
    later.params[:] = start + 0.01  # the "current" weights, after some training
    result = loss_landscape(
        later, ce, spiral.x_train, spiral.y_train, rng=np.random.default_rng(0), resolution=3,
        path=[start, later.params.copy()],
    )
    assert result.path_xy.shape == (2, 2)
    np.testing.assert_allclose(result.path_xy[-1], [0.0, 0.0], atol=1e-6)
    assert np.abs(result.path_xy[0]).max() > 0.0


def test_progress_rises_to_one_and_cancel_raises(spiral, ce) -> None:
    net = make_net(spiral)
    seen: list[float] = []
    loss_landscape(
        net, ce, spiral.x_train, spiral.y_train, rng=np.random.default_rng(0), resolution=4,
        progress=seen.append,
    )
    assert seen == [0.25, 0.5, 0.75, 1.0]

    before = snapshot(net)
    calls: list[float] = []
    with pytest.raises(Cancelled):
        loss_landscape(
            net, ce, spiral.x_train, spiral.y_train, rng=np.random.default_rng(0), resolution=6,
            progress=calls.append, cancelled=lambda: len(calls) >= 2,
        )
    assert calls == pytest.approx([1 / 6, 2 / 6])
    assert_unchanged(net, before)


def test_bad_arguments(spiral, ce) -> None:
    net = make_net(spiral)
    with pytest.raises(ValueError, match="resolution"):
        loss_landscape(net, ce, spiral.x_train, spiral.y_train, rng=np.random.default_rng(0), resolution=1)
    with pytest.raises(ValueError, match="span"):
        loss_landscape(net, ce, spiral.x_train, spiral.y_train, rng=np.random.default_rng(0), span=0.0)


# ----------------------------------------------------------------------------- PCA directions
def sgd_path(dataset: Any, ce: Any, net: Any, steps: int = 200, every: int = 10) -> list[np.ndarray]:
    """Snapshots of plain minibatch SGD on ``net`` (trained in place), first and last included."""
    rng = np.random.default_rng(0)
    path = [net.params.copy()]
    for step in range(steps):
        idx = rng.choice(len(dataset.x_train), 32, replace=False)
        _, grad = ce(net.forward(dataset.x_train[idx], training=True), dataset.y_train[idx])
        net.backward(grad)
        net.params -= 0.5 * net.grads
        if (step + 1) % every == 0:
            path.append(net.params.copy())
    return path


def test_pca_directions_of_a_training_path_are_orthonormal_and_ranked(spiral, ce) -> None:
    net = make_net(spiral, dtype=np.float64)
    path = sgd_path(spiral, ce, net)
    (d1, d2), var, coords = pca_directions(path, net.params)
    basis = np.stack([d1, d2])
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-10)
    assert 0.0 <= var[1] <= var[0] <= 1.0 and var[0] + var[1] <= 1.0 + 1e-12
    assert var[0] > 0.5  # SGD mostly heads one way: the first component holds most of the path
    offsets = np.stack(path) - net.params
    np.testing.assert_allclose(coords, offsets @ basis.T, atol=1e-9)
    # Centred by default, as the paper (textbook PCA): the shares of the variance about the mean,
    # what an SVD of the mean-centred offsets gives.
    centred = offsets - offsets.mean(axis=0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(var, sv[:2] ** 2 / (sv**2).sum(), rtol=1e-9)
    np.testing.assert_allclose(np.abs(basis @ vt[:2].T), np.eye(2), atol=1e-8)
    assert coords[0, 0] < 0.0 and coords[0, 1] <= 0.0  # the path starts on the left
    np.testing.assert_allclose(coords[-1], [0.0, 0.0], atol=1e-9)  # the plane still passes through θ_now
    # The uncentred variant: shares of the path's squared distance from the current weights,
    # not comparable with the paper's.
    (u1, u2), uvar, ucoords = pca_directions(path, net.params, centered=False)
    ubasis = np.stack([u1, u2])
    np.testing.assert_allclose(ucoords, offsets @ ubasis.T, atol=1e-9)
    np.testing.assert_allclose(uvar, (ucoords**2).sum(axis=0) / float((offsets**2).sum()), rtol=1e-9)
    assert not np.allclose(uvar, var)


def test_a_path_in_a_plane_is_reproduced_exactly(spiral, ce) -> None:
    net = make_net(spiral, dtype=np.float64)
    rng = np.random.default_rng(4)
    u, v = rng.normal(size=(2, net.params.size))  # a plane through the current weights, not orthogonal
    ab = [(3.0, 1.0), (2.0, -0.5), (1.2, 0.4), (0.5, 0.1), (0.0, 0.0)]
    path = [net.params + a * u + b * v for a, b in ab]
    result = loss_landscape(net, ce, spiral.x_train, spiral.y_train, rng=rng, resolution=5, path=path,
                            directions="pca")
    assert result.method == "pca" and result.pca_centered and result.pca_label() == "centred PCA"
    assert result.explained_variance is not None and sum(result.explained_variance) == pytest.approx(1.0)
    d1, d2 = (d.astype(np.float64) for d in result.directions)
    rebuilt = [net.params + x * d1 + y * d2 for x, y in result.path_xy]
    np.testing.assert_allclose(rebuilt, path, atol=1e-9)


def test_pca_landscape_spans_the_path_and_is_centred_on_the_current_loss(spiral, ce) -> None:
    trained = make_net(spiral)
    path = sgd_path(spiral, ce, trained, steps=100)
    before = snapshot(trained)
    x, y = spiral.x_train, spiral.y_train
    result = loss_landscape(trained, ce, x, y, rng=np.random.default_rng(0), resolution=11, path=path,
                            directions="pca", margin=0.25)
    assert_unchanged(trained, before)
    d1, d2 = result.directions
    assert d1.dtype == trained.params.dtype
    assert float(d1 @ d1) == pytest.approx(1.0, abs=1e-5) and abs(float(d1 @ d2)) < 1e-5

    # The current weights are a grid point and their loss is the model's eval loss now.
    expected, _ = ce(trained.copy().forward(x, training=False), y)
    assert result.center_loss == pytest.approx(float(expected), rel=1e-12)
    i, j = int(np.flatnonzero(result.alphas == 0.0)[0]), int(np.flatnonzero(result.betas == 0.0)[0])
    assert result.losses[i, j] == result.center_loss

    # Every path point lies inside the grid, with room around it; the path really moves on it.
    for axis, grid in ((0, result.alphas), (1, result.betas)):
        lo, hi = result.path_xy[:, axis].min(), result.path_xy[:, axis].max()
        extent = max(hi, 0.0) - min(lo, 0.0)
        assert grid[0] <= min(lo, 0.0) - 0.25 * extent + 1e-12 and grid[-1] >= max(hi, 0.0) + 0.25 * extent
        assert grid[-1] - grid[0] <= 2.0 * extent  # sized to the path, not to an arbitrary span
    assert abs(result.path_xy[0, 0]) > 0.4 * (result.alphas[-1] - result.alphas[0])

    # A grid point is the loss at centre + α·d1 + β·d2 (the PC axes are real directions).
    probe = trained.copy()
    probe.params[:] = trained.params + float(result.alphas[2]) * d1 + float(result.betas[7]) * d2
    value, _ = ce(probe.forward(x, training=False), y)
    assert result.losses[2, 7] == pytest.approx(float(value), rel=1e-6)
    # The start of training had a higher loss than now, and the grid shows it near the start.
    assert result.losses[0].max() > result.center_loss


def test_random_directions_barely_see_the_path_that_pca_spans(spiral, ce) -> None:
    net = make_net(spiral)
    path = sgd_path(spiral, ce, net, steps=100)
    args = (net, ce, spiral.x_train, spiral.y_train)
    rand = loss_landscape(*args, rng=np.random.default_rng(0), resolution=3, path=path)
    pca = loss_landscape(*args, rng=np.random.default_rng(0), resolution=3, path=path, directions="pca")
    assert rand.method == "random" and rand.explained_variance is None
    rand_share = np.abs(rand.path_xy[0]).max() / rand.alphas[-1]
    pca_share = np.abs(pca.path_xy[0]).max() / (pca.alphas[-1] - pca.alphas[0])
    assert pca_share > 5 * rand_share


def test_a_straight_path_gets_an_orthogonal_second_direction(spiral) -> None:
    net = make_net(spiral, dtype=np.float64)
    u = np.random.default_rng(2).normal(size=net.params.size)
    path = [net.params + t * u for t in (2.0, 1.0, 0.0)]
    (d1, d2), var, coords = pca_directions(path, net.params, rng=np.random.default_rng(0), network=net)
    assert var == (pytest.approx(1.0), 0.0)
    assert abs(float(d1 @ d2)) < 1e-12 and float(d2 @ d2) == pytest.approx(1.0)
    np.testing.assert_allclose(coords[:, 1], 0.0, atol=1e-9)
    np.testing.assert_allclose(np.abs(coords[:, 0]), [2.0 * np.linalg.norm(u), np.linalg.norm(u), 0.0])


def test_path_grid_has_zero_on_it_and_covers_the_margin() -> None:
    for coords in (np.array([-3.0, -1.0, 0.0]), np.array([0.2, -0.7, 0.0]), np.array([5.0, 0.0])):
        for n in (3, 4, 21, 40):
            grid = path_grid(coords, n, 0.25)
            extent = max(coords.max(), 0.0) - min(coords.min(), 0.0)
            assert len(grid) == n and (np.diff(grid) > 0).all()
            assert 0.0 in grid.tolist()
            assert grid[0] <= min(coords.min(), 0.0) - 0.25 * extent + 1e-12
            assert grid[-1] >= max(coords.max(), 0.0) + 0.25 * extent - 1e-12


def test_pca_needs_a_path_that_moves(spiral, ce) -> None:
    net = make_net(spiral)
    args = (net, ce, spiral.x_train, spiral.y_train)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="path"):
        loss_landscape(*args, rng=rng, directions="pca")
    with pytest.raises(ValueError, match="moves"):
        loss_landscape(*args, rng=rng, directions="pca", path=[net.params.copy()])
    with pytest.raises(ValueError, match="resolution"):
        loss_landscape(*args, rng=rng, directions="pca", path=[net.params + 1.0], resolution=2)
    with pytest.raises(ValueError, match="directions"):
        loss_landscape(*args, rng=rng, directions="hessian")  # type: ignore[arg-type]
