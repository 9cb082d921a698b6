import numpy as np
import pytest

from engine.gradcheck import gradient_check, numerical_gradient, relative_errors
from engine.layers import BatchNorm, Dense, Dropout
from engine.losses import get_loss
from engine.network import Network


def _model(dtype=np.float32, seed=0):
    layers = [Dense(6, "tanh"), BatchNorm(), Dropout(0.3), Dense(5, "silu"), Dense(3)]
    return Network(layers, (4,), np.random.default_rng(seed), dtype)


def _data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(12, 4)), rng.integers(0, 3, 12)


def test_float32_model_checks_clean_in_float64_and_is_left_untouched():
    net = _model()
    x, y = _data()
    net.forward(x, training=True)
    params, buffers = net.params.copy(), {k: v.copy() for k, v in net.buffers().items()}
    rng_state = net.rng.bit_generator.state
    errors = gradient_check(net, get_loss("softmax_cross_entropy"), x, y)
    assert list(errors) == list(net.parameters())
    assert max(errors.values()) < 1e-6
    np.testing.assert_array_equal(net.params, params)
    for k, v in net.buffers().items():
        np.testing.assert_array_equal(v, buffers[k])
    assert net.rng.bit_generator.state == rng_state
    assert net.params.dtype == np.float32


def test_a_wrong_gradient_is_caught_and_attributed_to_its_parameter():
    class BrokenBias(Dense):
        def backward(self, grad_y, input_grad=True):
            gx = super().backward(grad_y, input_grad)
            self.grads["b"] *= 1.01  # a 1 % error, the kind a typo makes
            return gx

    net = Network([Dense(4, "tanh"), BrokenBias(3, "sigmoid"), Dense(1)], (2,), np.random.default_rng(0))
    rng = np.random.default_rng(2)
    errors = gradient_check(net, get_loss("mse"), rng.normal(size=(8, 2)), rng.normal(size=(8, 1)))
    assert errors["dense2.b"] > 1e-3
    assert errors["dense2.W"] < 1e-6 and errors["dense3.W"] < 1e-6


def test_sampled_check_is_reproducible_and_covers_every_parameter():
    net = _model(np.float64)
    x, y = _data()
    loss = get_loss("softmax_cross_entropy")
    a = gradient_check(net, loss, x, y, n_samples=3, rng=np.random.default_rng(9))
    b = gradient_check(net, loss, x, y, n_samples=3, rng=np.random.default_rng(9))
    assert a == b
    assert list(a) == list(net.parameters())
    assert max(a.values()) < 1e-6
    # More samples than entries means all entries.
    full = gradient_check(net, loss, x, y)
    assert gradient_check(net, loss, x, y, n_samples=10_000) == full


def test_eval_mode_check_uses_running_statistics():
    net = _model(np.float64)
    x, y = _data()
    for _ in range(3):
        net.forward(x, training=True)
    errors = gradient_check(net, get_loss("softmax_cross_entropy"), x, y, training=False)
    assert max(errors.values()) < 1e-6


def test_numerical_gradient_of_a_quadratic():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    a = np.array([[2.0, 1.0], [-1.0, 0.5]])
    numeric = numerical_gradient(lambda: float(np.sum(a * x * x)), x)
    np.testing.assert_allclose(numeric, 2 * a * x, rtol=1e-8)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored exactly
    some = numerical_gradient(lambda: float(np.sum(a * x * x)), x, indices=np.array([3, 0]))
    np.testing.assert_allclose(some, [2 * 0.5 * 3.0, 2 * 2.0 * 1.0], rtol=1e-8)


def test_relative_errors():
    np.testing.assert_allclose(relative_errors([1.0, 0.0, 2.0], [1.1, 0.0, -2.0]), [0.1 / 1.1, 0.0, 2.0])
    # The floor turns noise around a zero gradient into a small error.
    assert relative_errors([0.0], [1e-10], floor=1e-3)[0] == pytest.approx(1e-7)
