"""Loss landscape: filter-normalised directions, exact centre, path projection, no side effects."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis import Cancelled, filter_normalized_direction, loss_landscape
from engine.analysis.landscape import project_path

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
