import math

import numpy as np
import pytest

from engine.gradcheck import gradient_check
from engine.initializers import INITIALIZERS
from engine.layers import LAYERS, BatchNorm, Dense, Dropout, make_layer
from engine.losses import get_loss
from engine.network import Network
from engine.registry import UnknownNameError

ACTS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus", "silu"]


def _net(layers, input_shape, seed=0, dtype=np.float64):
    return Network(layers, input_shape, np.random.default_rng(seed), dtype)


def test_layers_registry_names():
    assert LAYERS.names()[:3] == ["dense", "dropout", "batchnorm"]
    assert isinstance(make_layer("dense", units=3, activation="relu"), Dense)
    with pytest.raises(UnknownNameError):
        make_layer("conv")


# -- gradient checks ------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("input_shape", [(4,), (3, 4)], ids=["rank2", "rank3"])
def test_dense_gradients_match_finite_differences(activation, input_shape):
    rng = np.random.default_rng(1)
    net = _net([Dense(5, activation, weight_init="glorot_normal", bias_init="normal"), Dense(3)], input_shape)
    x = rng.normal(size=(6, *input_shape))
    y = rng.normal(size=(6, *input_shape[:-1], 3))
    errors = gradient_check(net, get_loss("mse"), x, y)
    assert set(errors) == {"dense1.W", "dense1.b", "dense2.W", "dense2.b"}
    assert all(c.passed for c in errors.values()), errors
    assert max(c.error for c in errors.values()) < 1e-5


def test_dense_input_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    net = _net([Dense(4, "tanh"), Dense(2)], (3, 5))
    x = rng.normal(size=(2, 3, 5))
    y = rng.normal(size=(2, 3, 2))
    loss = get_loss("mse")
    _, g = loss(net.forward(x), y)
    gx = net.backward(g)
    eps = 1e-6
    numeric = np.zeros_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += eps
        xm.flat[i] -= eps
        numeric.flat[i] = (loss(net.forward(xp), y)[0] - loss(net.forward(xm), y)[0]) / (2 * eps)
    assert gx.shape == x.shape
    np.testing.assert_allclose(gx, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("input_shape", [(4,), (3, 4)], ids=["rank2", "rank3"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batchnorm_gradients_match_finite_differences(input_shape, training):
    rng = np.random.default_rng(3)
    net = _net([Dense(5, "tanh"), BatchNorm(), Dense(2, "sigmoid")], input_shape)
    # Non-trivial gamma/beta and running statistics so every term of the backward matters.
    p = net.parameters()
    p["batchnorm1.gamma"][...] = rng.uniform(0.5, 1.5, 5)
    p["batchnorm1.beta"][...] = rng.normal(size=5)
    net.buffers()["batchnorm1.running_mean"][...] = rng.normal(size=5) * 0.1
    net.buffers()["batchnorm1.running_var"][...] = rng.uniform(0.5, 2.0, 5)
    x = rng.normal(size=(8, *input_shape))
    y = rng.normal(size=(8, *input_shape[:-1], 2))
    errors = gradient_check(net, get_loss("mse"), x, y, training=training)
    assert all(c.passed for c in errors.values()), errors
    assert max(c.error for c in errors.values()) < 1e-5


def test_dropout_gradients_with_a_fixed_mask_match_finite_differences():
    rng = np.random.default_rng(4)
    net = _net([Dense(6, "tanh"), Dropout(0.5), Dense(3)], (4,))
    x = rng.normal(size=(10, 4))
    y = rng.integers(0, 3, 10)
    errors = gradient_check(net, get_loss("softmax_cross_entropy"), x, y)
    assert all(c.passed for c in errors.values()), errors
    assert max(c.error for c in errors.values()) < 1e-5


# -- Dense ----------------------------------------------------------------------------


def test_dense_computes_activation_of_affine_map_on_the_last_axis():
    net = _net([Dense(2, "relu")], (2, 3))
    W = net.parameters()["dense1.W"]
    b = net.parameters()["dense1.b"]
    W[...] = [[1.0, -1.0], [2.0, 0.5], [0.0, 1.0]]
    b[...] = [0.5, -0.25]
    x = np.arange(12.0).reshape(2, 2, 3) - 6.0
    expected = np.maximum(x @ W + b, 0.0)
    np.testing.assert_allclose(net.forward(x), expected)
    assert net.output_shape == (2, 2)


def test_dense_rejects_unknown_names_and_options_when_made():
    with pytest.raises(UnknownNameError):
        Dense(3, activation="relux")
    with pytest.raises(UnknownNameError):
        Dense(3, weight_init="he_unifrom")
    with pytest.raises(TypeError, match="stdev"):
        Dense(3, weight_init="normal", weight_init_options={"stdev": 1.0})
    with pytest.raises(ValueError):
        Dense(0)


def test_backward_overwrites_rather_than_accumulates():
    rng = np.random.default_rng(5)
    net = _net([Dense(3, "tanh"), Dense(1)], (2,))
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    loss = get_loss("mse")
    net.backward(loss(net.forward(x), y)[1])
    first = net.grads.copy()
    net.backward(loss(net.forward(x), y)[1])
    np.testing.assert_array_equal(net.grads, first)


def test_backward_without_input_gradient_fills_the_same_parameter_gradients():
    rng = np.random.default_rng(6)
    net = _net([Dense(3, "relu"), Dense(2)], (4,))
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    loss = get_loss("mse")
    assert net.backward(loss(net.forward(x), y)[1]).shape == (5, 4)
    full = net.grads.copy()
    assert net.backward(loss(net.forward(x), y)[1], input_grad=False) is None
    np.testing.assert_array_equal(net.grads, full)


# -- Dropout --------------------------------------------------------------------------


def test_dropout_is_inverted_and_identity_in_eval():
    net = _net([Dropout(0.25)], (1000,), dtype=np.float32)
    x = np.ones((20, 1000), np.float32)
    y = net.forward(x, training=True)
    kept = y != 0
    assert abs(1.0 - kept.mean() - 0.25) < 0.02
    np.testing.assert_allclose(y[kept], 1.0 / 0.75, rtol=1e-6)
    assert y.dtype == np.float32
    # Gradient flows only through kept entries, with the same scale.
    g = net.backward(np.ones_like(y))
    np.testing.assert_array_equal(g, y)
    np.testing.assert_array_equal(net.forward(x, training=False), x)


def test_dropout_rate_is_validated():
    with pytest.raises(ValueError):
        Dropout(1.0)
    with pytest.raises(ValueError):
        Dropout(-0.1)


def test_dropout_masks_come_from_the_network_rng():
    a = _net([Dropout(0.5)], (50,), seed=11).forward(np.ones((4, 50)), training=True)
    b = _net([Dropout(0.5)], (50,), seed=11).forward(np.ones((4, 50)), training=True)
    c = _net([Dropout(0.5)], (50,), seed=12).forward(np.ones((4, 50)), training=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# -- BatchNorm ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 3), (4, 5, 3)])
def test_batchnorm_matches_torch_batchnorm1d_semantics(shape):
    rng = np.random.default_rng(7)
    net = _net([BatchNorm(momentum=0.2, eps=1e-3)], shape[1:])
    gamma, beta = net.parameters()["batchnorm1.gamma"], net.parameters()["batchnorm1.beta"]
    gamma[...] = [1.0, 2.0, 0.5]
    beta[...] = [0.0, -1.0, 3.0]
    x = rng.normal(2.0, 3.0, size=shape)
    flat = x.reshape(-1, 3)
    mean, var = flat.mean(0), flat.var(0)
    expected = (x - mean) / np.sqrt(var + 1e-3) * gamma + beta
    np.testing.assert_allclose(net.forward(x, training=True), expected, rtol=1e-12)
    buffers = net.buffers()
    n = flat.shape[0]
    np.testing.assert_allclose(buffers["batchnorm1.running_mean"], 0.2 * mean)
    np.testing.assert_allclose(buffers["batchnorm1.running_var"], 0.8 + 0.2 * var * n / (n - 1))
    # Evaluation uses the running statistics.
    rm, rv = buffers["batchnorm1.running_mean"], buffers["batchnorm1.running_var"]
    np.testing.assert_allclose(net.forward(x), (x - rm) / np.sqrt(rv + 1e-3) * gamma + beta, rtol=1e-12)


def test_batchnorm_single_row_batch_does_not_crash_or_poison_running_var():
    net = _net([BatchNorm()], (3,))
    y = net.forward(np.array([[1.0, 2.0, 3.0]]), training=True)
    np.testing.assert_array_equal(y, 0.0)
    np.testing.assert_array_equal(net.buffers()["batchnorm1.running_var"], 1.0)


def test_batchnorm_has_no_weight_decay_parameters():
    net = _net([Dense(3), BatchNorm()], (2,))
    mask = net.weight_mask
    sl = net.slices()
    assert mask[sl["dense1.W"]].all()
    assert not mask[sl["dense1.b"]].any()
    assert not mask[sl["batchnorm1.gamma"]].any() and not mask[sl["batchnorm1.beta"]].any()


# -- Initializers ---------------------------------------------------------------------


def test_initializer_registry_names_and_defaults():
    assert INITIALIZERS.names() == [
        "zeros", "constant", "uniform", "normal", "glorot_uniform", "glorot_normal",
        "he_uniform", "he_normal", "lecun_normal",
    ]  # fmt: skip
    assert INITIALIZERS.get("constant").defaults == {"value": 0.1}
    assert INITIALIZERS.get("uniform").defaults == {"low": -0.05, "high": 0.05}
    assert INITIALIZERS.get("normal").defaults == {"mean": 0.0, "std": 0.05}


@pytest.mark.parametrize(
    "name, kind, scale",
    [
        ("glorot_uniform", "uniform", math.sqrt(6.0 / (400 + 300))),
        ("he_uniform", "uniform", math.sqrt(6.0 / 400)),
        ("glorot_normal", "normal", math.sqrt(2.0 / (400 + 300))),
        ("he_normal", "normal", math.sqrt(2.0 / 400)),
        ("lecun_normal", "normal", math.sqrt(1.0 / 400)),
    ],
)
def test_variance_scaling_initializers_follow_pytorch_formulas(name, kind, scale):
    w = INITIALIZERS.get(name)((400, 300), 400, 300, np.random.default_rng(0), {})
    assert w.shape == (400, 300) and w.dtype == np.float64
    if kind == "uniform":
        assert np.abs(w).max() <= scale
        assert np.abs(w).max() > 0.99 * scale
        assert abs(w.std() - scale / math.sqrt(3.0)) < 0.01 * scale
    else:
        assert abs(w.std() - scale) < 0.01 * scale
    assert abs(w.mean()) < 0.01 * scale


def test_simple_initializers_and_options():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(INITIALIZERS.get("constant")((3,), 1, 1, rng, {"value": 2.5}), 2.5)
    u = INITIALIZERS.get("uniform")((1000,), 1, 1, rng, {"low": 1.0, "high": 2.0})
    assert u.min() >= 1.0 and u.max() < 2.0
    n = INITIALIZERS.get("normal")((5000,), 1, 1, rng, {"mean": 3.0})
    assert abs(n.mean() - 3.0) < 0.01 and abs(n.std() - 0.05) < 0.005
    with pytest.raises(TypeError, match="value"):
        INITIALIZERS.get("zeros")((3,), 1, 1, rng, {"value": 1.0})


def test_zero_initialization_never_breaks_symmetry():
    # What a student should see: with all-zero weights every hidden unit stays identical.
    rng = np.random.default_rng(8)
    net = _net([Dense(4, "tanh", weight_init="zeros"), Dense(1, weight_init="zeros")], (2,))
    x, y = rng.normal(size=(16, 2)), rng.normal(size=(16, 1))
    loss = get_loss("mse")
    for _ in range(20):
        net.backward(loss(net.forward(x, training=True), y)[1])
        net.params -= 0.1 * net.grads
    W1 = net.parameters()["dense1.W"]
    np.testing.assert_array_equal(W1, np.repeat(W1[:, :1], 4, axis=1))  # all hidden units equal
