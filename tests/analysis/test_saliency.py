"""Saliency: |∂score/∂x| against central differences, for samples and for the raw 2-D plane."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis import saliency, saliency_map_2d
from engine.losses import LOSSES
from engine.network import Network
from engine.spec import DenseSpec, ModelSpec

from .problems import assert_unchanged, make_net, snapshot


def numeric_input_gradient(net: Network, x: np.ndarray, output: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of out[n, output[n]] with respect to every input of sample n (float64)."""
    grad = np.zeros_like(x)
    rows = np.arange(len(x))
    for k in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, k] = h
        plus = net.forward(x + step)[rows, output]
        minus = net.forward(x - step)[rows, output]
        grad[:, k] = (plus - minus) / (2 * h)
    return grad


def test_matches_finite_differences_for_the_predicted_and_a_chosen_class(spiral, ce) -> None:
    net = make_net(spiral, dtype=np.float64, extras=True)  # BatchNorm and Dropout in eval mode too
    x = spiral.x_val[:20].astype(np.float64)
    predicted = np.argmax(net.forward(x), axis=1)
    expected = np.abs(numeric_input_gradient(net, x, predicted))
    np.testing.assert_allclose(saliency(net, ce, x), expected, atol=1e-7)
    chosen = np.full(len(x), 2)
    np.testing.assert_allclose(
        saliency(net, ce, x, target_class=2), np.abs(numeric_input_gradient(net, x, chosen)), atol=1e-7
    )
    assert saliency(net, ce, x).shape == x.shape


def test_single_output_networks_use_their_output(spiral) -> None:
    bce = LOSSES.get("binary_cross_entropy")()
    model = ModelSpec(layers=(DenseSpec(units=8, activation="relu"),))
    net = Network.from_spec(model, spiral.input_shape, 1, np.random.default_rng(2), np.float64)
    x = spiral.x_val[:10].astype(np.float64)
    expected = np.abs(numeric_input_gradient(net, x, np.zeros(len(x), dtype=int)))
    np.testing.assert_allclose(saliency(net, bce, x), expected, atol=1e-7)
    with pytest.raises(ValueError, match="target_class"):
        saliency(net, bce, x, target_class=1)


def test_float32_network_gives_float32_saliency_and_is_untouched(spiral, ce) -> None:
    net = make_net(spiral)
    net.forward(spiral.x_train[:5], training=True)
    before = snapshot(net)
    s = saliency(net, ce, spiral.x_val)
    assert s.dtype == np.float32 and np.all(s >= 0) and s.max() > 0
    assert_unchanged(net, before)


def test_map_2d_chains_through_featurize(spiral, ce) -> None:
    # The spiral's inputs are (x1, x2, x1², sin x2) standardised: featurize is non-linear.
    net = make_net(spiral, dtype=np.float64)
    result = saliency_map_2d(net, ce, spiral.featurize, bounds=((-5.0, 5.0), (-4.0, 4.0)), resolution=7)
    assert result.values.shape == result.classes.shape == (7, 7)
    np.testing.assert_allclose(result.xs, np.linspace(-5, 5, 7))
    np.testing.assert_allclose(result.ys, np.linspace(-4, 4, 7))
    h = 1e-6
    for i, j in [(0, 0), (3, 3), (6, 2), (1, 5)]:
        p = np.array([[result.xs[i], result.ys[j]]])
        c = int(np.argmax(net.forward(spiral.featurize(p))))
        assert result.classes[i, j] == c

        def score(q: np.ndarray, c: int = c) -> float:
            return float(net.forward(spiral.featurize(q))[0, c])

        grad = [(score(p + d) - score(p - d)) / (2 * h) for d in (np.array([[h, 0.0]]), np.array([[0.0, h]]))]
        assert result.values[i, j] == pytest.approx(float(np.hypot(*grad)), rel=1e-5, abs=1e-8)


def test_map_2d_default_bounds_and_bad_resolution(spiral, ce) -> None:
    net = make_net(spiral)
    result = saliency_map_2d(net, ce, spiral.featurize, resolution=5)
    assert result.xs[0] == -6.0 and result.ys[-1] == 6.0
    assert np.all(np.isfinite(result.values))
    with pytest.raises(ValueError, match="resolution"):
        saliency_map_2d(net, ce, spiral.featurize, resolution=1)
