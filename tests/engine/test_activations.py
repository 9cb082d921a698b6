import math

import numpy as np
import pytest

from engine.activations import ACTIVATIONS, erf, get_activation
from engine.gradcheck import numerical_gradient, relative_errors
from engine.registry import UnknownNameError

NAMES = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus", "silu"]


def _reference(name: str, z: float) -> float:
    """Scalar textbook definitions (torch's formulas) computed with the math module."""
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-z))
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return max(z, 0.0)
    if name == "leaky_relu":
        return z if z > 0 else 0.01 * z
    if name == "elu":
        return z if z > 0 else math.exp(z) - 1.0
    if name == "gelu":
        return z * 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    if name == "softplus":
        return math.log1p(math.exp(z))
    if name == "silu":
        return z / (1.0 + math.exp(-z))
    raise AssertionError(name)


def _away_from_kinks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # Inside [-4, 4]: deep in a saturated tail the derivative (~1e-6) drowns in the
    # finite difference's round-off, which says nothing about the backward code.
    z = np.clip(rng.normal(0.0, 2.0, size=shape), -4.0, 4.0)
    return np.where(np.abs(z) < 0.05, z + np.sign(z + 1e-12) * 0.1, z)


def test_registry_lists_every_activation_in_contract_order():
    assert ACTIVATIONS.names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_the_textbook_definition(name):
    z = np.linspace(-6.0, 6.0, 49)
    got = get_activation(name).forward(z)
    expected = np.array([_reference(name, float(v)) for v in z])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 5)])
def test_backward_matches_central_differences(name, shape):
    rng = np.random.default_rng(3)
    act = get_activation(name)
    z = _away_from_kinks(rng, shape)
    upstream = rng.normal(size=shape)  # a random dL/da
    eps = 1e-6
    # Element-wise functions: each output depends on its own input only, so one vectorised
    # central difference per entry is the full Jacobian-vector product.
    numeric = upstream * (act.forward(z + eps) - act.forward(z - eps)) / (2 * eps)
    analytic = act.backward(z, act.forward(z), upstream)
    assert analytic.shape == z.shape
    assert relative_errors(analytic, numeric).max() < 1e-6


def test_backward_through_a_weighted_sum_matches_numerical_gradient():
    rng = np.random.default_rng(4)
    act = get_activation("gelu")
    z = rng.normal(size=(4, 3))
    w = rng.normal(size=(4, 3))
    numeric = numerical_gradient(lambda: float(np.sum(act.forward(z) * w)), z)
    assert relative_errors(act.backward(z, act.forward(z), w), numeric, floor=1e-3).max() < 1e-6


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_backward_keep_the_dtype(name, dtype):
    act = get_activation(name)
    z = np.linspace(-3, 3, 12, dtype=dtype).reshape(3, 4)
    a = act.forward(z)
    g = act.backward(z, a, np.ones_like(z))
    assert a.dtype == dtype
    assert g.dtype == dtype


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_are_finite_and_raise_no_floating_point_errors(name, dtype):
    act = get_activation(name)
    z = np.array([-1e4, -1e3, -100.0, -30.0, 0.0, 30.0, 100.0, 1e3, 1e4], dtype=dtype)
    with np.errstate(all="raise"):
        a = act.forward(z)
        g = act.backward(z, a, np.ones_like(z))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(g))


def test_extreme_values_are_the_right_limits():
    z = np.array([-1e3, 1e3])
    np.testing.assert_array_equal(get_activation("sigmoid").forward(z), [0.0, 1.0])
    np.testing.assert_allclose(get_activation("softplus").forward(z), [0.0, 1e3], atol=1e-300)
    np.testing.assert_array_equal(get_activation("elu", alpha=2.0).forward(z), [-2.0, 1e3])
    np.testing.assert_allclose(get_activation("gelu").forward(z), [0.0, 1e3])
    np.testing.assert_allclose(get_activation("silu").forward(z), [0.0, 1e3])
    # Saturated units pass (almost) no gradient: the vanishing-gradient story.
    s = get_activation("sigmoid")
    assert np.all(s.backward(z, s.forward(z), np.ones(2)) == 0.0)


def test_erf_is_accurate_across_the_real_line():
    x = np.concatenate([np.linspace(-7, 7, 2801), [0.0, 1e-8, -1e-8, 2.0, -2.0, 6.0, 50.0, -1e300]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), expected, rtol=1e-13, atol=1e-15)
    x32 = x[np.abs(x) < 1e30].astype(np.float32)
    got32 = erf(x32)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, [math.erf(float(v)) for v in x32], rtol=0, atol=5e-7)


def test_options_are_validated_and_used():
    assert get_activation("leaky_relu", negative_slope=0.2).forward(np.array([-1.0]))[0] == -0.2
    assert get_activation("elu").options == {"alpha": 1.0}
    with pytest.raises(TypeError, match="negative_slope"):
        get_activation("relu", negative_slope=0.1)
    with pytest.raises(UnknownNameError, match="did you mean 'relu'"):
        get_activation("rellu")


def test_relu_forward_does_not_modify_its_input():
    z = np.array([-1.0, 2.0])
    get_activation("relu").forward(z)
    np.testing.assert_array_equal(z, [-1.0, 2.0])
