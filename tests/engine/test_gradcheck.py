import numpy as np
import pytest

from engine.gradcheck import EPS_LADDER, MAX_TOLERANCE, gradient_check, numerical_gradient, relative_errors
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
    checks = gradient_check(net, get_loss("softmax_cross_entropy"), x, y)
    assert list(checks) == list(net.parameters())
    assert all(c.status == "pass" for c in checks.values()), checks
    assert max(c.error for c in checks.values()) < 1e-6
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
    checks = gradient_check(net, get_loss("mse"), rng.normal(size=(8, 2)), rng.normal(size=(8, 1)))
    assert checks["dense2.b"].status == "fail" and checks["dense2.b"].error > 1e-3
    assert {n for n, c in checks.items() if c.status != "pass"} == {"dense2.b"}
    assert "DISAGREES" in checks["dense2.b"].describe()


def test_sampled_check_is_reproducible_and_covers_every_parameter():
    net = _model(np.float64)
    x, y = _data()
    loss = get_loss("softmax_cross_entropy")
    a = gradient_check(net, loss, x, y, n_samples=3, rng=np.random.default_rng(9))
    b = gradient_check(net, loss, x, y, n_samples=3, rng=np.random.default_rng(9))
    assert a == b
    assert list(a) == list(net.parameters())
    assert all(c.passed for c in a.values())
    # More samples than entries means all entries.
    full = gradient_check(net, loss, x, y)
    assert gradient_check(net, loss, x, y, n_samples=10_000) == full


def test_eval_mode_check_uses_running_statistics():
    net = _model(np.float64)
    x, y = _data()
    for _ in range(3):
        net.forward(x, training=True)
    checks = gradient_check(net, get_loss("softmax_cross_entropy"), x, y, training=False)
    assert all(c.passed for c in checks.values()) and max(c.error for c in checks.values()) < 1e-6


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


# -- where gradients vanish -------------------------------------------------------------------
# Eight sigmoid layers of 16 units initialised with std 0.1: the first layers' gradients are
# 1e-9 … 1e-8, below what a step of 1e-6 resolves. A yardstick taken from the largest gradient
# in the network (the check before this one) passed a doubled or zeroed dense2.W.


def _vanishing_net(dense=Dense, broken="dense2"):
    init = {"weight_init": "normal", "weight_init_options": {"std": 0.1}}
    at = int(broken.removeprefix("dense")) - 1
    layers = [dense(16, "sigmoid", **init) if i == at else Dense(16, "sigmoid", **init) for i in range(8)]
    return Network([*layers, Dense(3, name="output")], (2,), np.random.default_rng(0), np.float64)


def _vanishing_data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(16, 2)), rng.integers(0, 3, 16)


def _breaks(mode):
    class Broken(Dense):
        def backward(self, grad_y, input_grad=True):
            gx = super().backward(grad_y, input_grad)
            gW = self.grads["W"]
            if mode == "doubled":
                gW *= 2.0
            elif mode == "zeroed":
                gW[...] = 0.0
            else:  # transposed: the classic x.T @ g versus g.T @ x slip
                gW[...] = gW.T.copy()
            return gx

    return Broken


@pytest.mark.parametrize(
    ("mode", "layer"),
    # dense1.W (2x16, gradients ~1e-9): the old global floor gave 9.8e-6 doubled, 9.9e-6 zeroed,
    # under the dialog's 1e-5 pass mark. The transposed slip needs a square matrix: dense2.W.
    [("doubled", "dense1"), ("zeroed", "dense1"), ("transposed", "dense2")],
)
def test_a_broken_backward_fails_where_gradients_have_vanished(mode, layer):
    x, y = _vanishing_data()
    loss = get_loss("softmax_cross_entropy")
    net = _vanishing_net(_breaks(mode), layer)
    checks = gradient_check(net, loss, x, y, n_samples=24, names=[f"{layer}.W", "output.W"])
    bad = checks[f"{layer}.W"]
    assert bad.scale < 1e-7  # the gradients here really have vanished
    assert bad.status == "fail", bad
    assert bad.eps > EPS_LADDER[0]  # 1e-6 could not resolve them; a larger step did
    assert checks["output.W"].status == "pass"


def test_vanished_gradients_are_never_passed_silently():
    x, y = _vanishing_data()
    checks = gradient_check(_vanishing_net(), get_loss("softmax_cross_entropy"), x, y, n_samples=24,
                            names=["dense1.W", "dense2.W", "output.W"])
    assert all(c.status != "fail" for c in checks.values()), checks
    # dense1.W (~1e-9) is beyond float64 finite differences even at the largest step: reported, not passed.
    first = checks["dense1.W"]
    assert first.status == "not checkable" and first.tolerance > MAX_TOLERANCE
    assert first.eps == EPS_LADDER[-1]
    assert "not checkable at this precision" in first.describe()
    # dense2.W is resolved once the step grows, and its correct gradient passes.
    assert checks["dense2.W"].status == "pass" and checks["dense2.W"].eps > EPS_LADDER[0]


def test_names_must_exist():
    net = _model(np.float64)
    x, y = _data()
    with pytest.raises(ValueError, match=r"no parameter named dense9\.W"):
        gradient_check(net, get_loss("softmax_cross_entropy"), x, y, names=["dense9.W"])
