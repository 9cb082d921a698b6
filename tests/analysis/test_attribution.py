"""SmoothGrad and Integrated Gradients: against hand-computed values, completeness, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.attribution import attribute, gradient, integrated_gradients, smoothgrad
from engine.losses import LOSSES
from engine.network import Network
from engine.spec import DenseSpec, ModelSpec

from .problems import assert_unchanged, make_net, snapshot


def linear_net(n_in: int, n_out: int, seed: int = 0) -> Network:
    """No hidden layers: out = x @ W + b, so ∂out_k/∂x = W[:, k] everywhere."""
    return Network.from_spec(ModelSpec(layers=()), (n_in,), n_out, np.random.default_rng(seed), np.float64)


def relu_net(n_in: int, n_out: int, seed: int = 0) -> Network:
    model = ModelSpec(layers=(DenseSpec(units=32, activation="relu"), DenseSpec(units=32, activation="relu")))
    return Network.from_spec(model, (n_in,), n_out, np.random.default_rng(seed), np.float64)


def test_gradient_of_a_linear_model_is_its_weight_column(ce) -> None:
    net = linear_net(5, 3)
    x = np.random.default_rng(1).normal(size=(4, 5))
    result = gradient(net, ce, x, target_class=2)
    W = net.parameters()["output.W"]
    np.testing.assert_allclose(result.values, np.tile(W[:, 2], (4, 1)))
    assert np.all(result.target == 2) and result.completeness_error is None


def test_integrated_gradients_of_a_linear_model_is_exact(ce) -> None:
    net = linear_net(5, 3)
    rng = np.random.default_rng(2)
    x, base = rng.normal(size=(6, 5)), rng.normal(size=(5,))
    result = integrated_gradients(net, ce, x, baseline=base, steps=1, target_class=1)
    W = net.parameters()["output.W"]
    np.testing.assert_allclose(result.values, (x - base) * W[:, 1])
    np.testing.assert_allclose(result.completeness_error, 0.0, atol=1e-12)
    out_x, out_b = net.forward(x), net.forward(base[None])
    np.testing.assert_allclose(result.score_change, out_x[:, 1] - out_b[0, 1])


def test_completeness_error_shrinks_with_steps_on_a_smooth_model(spiral, ce) -> None:
    net = make_net(spiral, dtype=np.float64)  # tanh: smooth, so the midpoint rule converges fast
    x = spiral.x_val[:8].astype(np.float64)
    errors = []
    for steps in (2, 8, 32, 256):
        result = integrated_gradients(net, ce, x, baseline=0.0, steps=steps)
        errors.append(float(np.max(np.abs(result.completeness_error))))
        rel = result.relative_error
    assert errors[0] > errors[1] > errors[2] > errors[3], errors
    assert errors[0] > 1e-3  # there was something to shrink
    assert float(np.max(rel)) < 1e-3, rel


def test_integrated_gradients_sums_to_the_score_change_on_a_relu_net_with_enough_steps(ce) -> None:
    net = relu_net(6, 4, seed=3)
    rng = np.random.default_rng(4)
    x, base = rng.normal(size=(5, 6)), rng.normal(size=(6,))
    # Zero biases make a ReLU net linear along every ray from 0: a random baseline crosses kinks.
    coarse = integrated_gradients(net, ce, x, baseline=base, steps=4)
    fine = integrated_gradients(net, ce, x, baseline=base, steps=2000)
    assert np.max(np.abs(fine.completeness_error)) < np.max(np.abs(coarse.completeness_error))
    assert float(np.max(fine.relative_error)) < 1e-2
    # The class explained is the prediction at x, for every point of the path.
    np.testing.assert_array_equal(fine.target, np.argmax(net.forward(x), axis=1))


def test_integrated_gradients_baseline_shapes(ce) -> None:
    net = relu_net(3, 2)
    x = np.random.default_rng(5).normal(size=(4, 3))
    per_sample = integrated_gradients(net, ce, x, baseline=x.copy(), steps=5)
    np.testing.assert_allclose(per_sample.values, 0.0)  # from x to x: nothing to attribute
    np.testing.assert_allclose(per_sample.score_change, 0.0)
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(net, ce, x, steps=0)


def test_smoothgrad_is_seeded_and_averages_noisy_gradients(ce) -> None:
    net = relu_net(4, 3, seed=6)
    x = np.random.default_rng(7).normal(size=(3, 4))
    a = smoothgrad(net, ce, x, np.random.default_rng(11), n_samples=10, noise=0.2)
    b = smoothgrad(net, ce, x, np.random.default_rng(11), n_samples=10, noise=0.2)
    np.testing.assert_array_equal(a.values, b.values)
    # The same average by hand: the same draws, one plain gradient per noisy copy, target fixed.
    rng = np.random.default_rng(11)
    sigma = 0.2 * (x.max(axis=1) - x.min(axis=1))
    target = np.argmax(net.forward(x), axis=1)
    total = np.zeros_like(x)
    for _ in range(10):
        noisy = x + rng.standard_normal(x.shape) * sigma[:, None]
        for n in range(len(x)):
            total[n] += gradient(net, ce, noisy[n : n + 1], target_class=int(target[n])).values[0]
    np.testing.assert_allclose(a.values, total / 10, atol=1e-12)
    plain = gradient(net, ce, x)
    assert not np.allclose(a.values, plain.values)  # the noise changed what a ReLU net shows


def test_smoothgrad_without_noise_is_the_gradient(ce) -> None:
    net = relu_net(4, 3, seed=8)
    x = np.random.default_rng(9).normal(size=(3, 4))
    np.testing.assert_allclose(
        smoothgrad(net, ce, x, np.random.default_rng(0), n_samples=3, noise=0.0).values,
        gradient(net, ce, x).values,
    )
    with pytest.raises(ValueError, match="n_samples"):
        smoothgrad(net, ce, x, np.random.default_rng(0), n_samples=0)


def test_methods_leave_the_network_untouched_and_keep_its_dtype(spiral, ce) -> None:
    net = make_net(spiral)
    net.forward(spiral.x_train[:5], training=True)
    before = snapshot(net)
    for method in ("gradient", "smoothgrad", "integrated_gradients"):
        result = attribute(method, net, ce, spiral.x_val[:7], np.random.default_rng(0), steps=8, n_samples=4)
        assert result.values.shape == (7, spiral.x_val.shape[1])
        assert result.values.dtype == np.float32 or method == "integrated_gradients"
    assert_unchanged(net, before)
    with pytest.raises(ValueError, match="unknown attribution method"):
        attribute("occlusion", net, ce, spiral.x_val[:2], np.random.default_rng(0))  # type: ignore[arg-type]


def test_binary_single_output_explains_its_output(spiral) -> None:
    bce = LOSSES.get("binary_cross_entropy")()
    net = Network.from_spec(ModelSpec(layers=(DenseSpec(units=8, activation="tanh"),)),
                            spiral.input_shape, 1, np.random.default_rng(2), np.float64)
    x = spiral.x_val[:5].astype(np.float64)
    result = integrated_gradients(net, bce, x, steps=400)
    np.testing.assert_array_equal(result.target, 0)
    expected = net.forward(x)[:, 0] - net.forward(np.zeros_like(x))[:, 0]
    np.testing.assert_allclose(result.score_change, expected)
    assert float(np.max(result.relative_error)) < 1e-3
