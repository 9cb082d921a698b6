"""The Dense-stack fast path (engine/fastpath.py) against the layer-by-layer path.

Both must give the same bits: outputs, every gradient, the input gradient and the layers'
kept activations, over activations, dtypes, batch sizes and widths on both sides of the bias
folding threshold; and training with either path must follow the same trajectory.
"""

import numpy as np
import pytest

from engine.gradcheck import gradient_check, numerical_gradient
from engine.layers import FOLD_MAX_INPUTS, Dense
from engine.losses import get_loss
from engine.network import Network
from engine.optimizers import OPTIMIZERS

ACTIVATIONS = ["tanh", "relu", "sigmoid", "identity", "leaky_relu", "elu", "gelu", "softplus", "silu"]


def _pair(widths, activations, n_in, n_out, dtype, seed=0):
    """Two identical networks: one on the fast path, one forced through the layers."""
    layers = [Dense(w, a) for w, a in zip(widths, activations, strict=True)] + [Dense(n_out, name="output")]
    fast = Network(layers, (n_in,), np.random.default_rng(seed), dtype)
    slow = fast.copy()
    slow.use_fast_path = False
    return fast, slow


def _step(net, x, y, loss, input_grad=True):
    out = net.forward(x, training=True)
    value, g = loss(out, y)
    gx = net.backward(g, input_grad=input_grad)
    return out, value, gx


def _assert_same(fast, slow, x, y, loss, input_grad=True):
    out_f, value_f, gx_f = _step(fast, x, y, loss, input_grad)
    assert fast._plan is not None, "the fast path did not run"
    out_s, value_s, gx_s = _step(slow, x, y, loss, input_grad)
    assert slow._plan is None
    np.testing.assert_array_equal(out_f, out_s)
    assert value_f == value_s
    np.testing.assert_array_equal(fast.grads, slow.grads)
    if input_grad:
        np.testing.assert_array_equal(gx_f, gx_s)
    else:
        assert gx_f is None and gx_s is None
    for lf, ls in zip(fast.layers, slow.layers, strict=True):
        np.testing.assert_array_equal(lf.a, ls.a)
        np.testing.assert_array_equal(lf.z, ls.z)
    return out_f


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fast_path_gives_the_same_bits_as_the_layers(activation, dtype):
    rng = np.random.default_rng(1)
    fast, slow = _pair([8, 8], [activation, activation], 2, 1, dtype)
    x = rng.normal(size=(10, 2)).astype(dtype)
    y = rng.normal(size=(10, 1)).astype(dtype)
    _assert_same(fast, slow, x, y, get_loss("mse"))


@pytest.mark.parametrize(
    ("widths", "n_in", "n_out"),
    [
        ([8, 8], 2, 1),  # every layer folds its bias
        ([100, 70], 3, 4),  # a folded layer feeds wide ones
        ([100, 8], 80, 3),  # wide input, then a wide layer feeding a folded one
        ([30, 90, 5], FOLD_MAX_INPUTS, 2),  # at the threshold
        ([12], FOLD_MAX_INPUTS + 1, 3),  # just above it
        ([], 5, 3),  # a single (output) layer
    ],
)
@pytest.mark.parametrize("rows", [1, 7, 64])
def test_same_bits_across_widths_and_batch_sizes(widths, n_in, n_out, rows):
    rng = np.random.default_rng(2)
    activations = ["relu", "tanh", "sigmoid"][: len(widths)]
    for dtype in (np.float32, np.float64):
        fast, slow = _pair(widths, activations, n_in, n_out, dtype)
        x = rng.normal(size=(rows, n_in)).astype(dtype)
        labels = rng.integers(0, n_out, rows)
        _assert_same(fast, slow, x, labels, get_loss("softmax_cross_entropy"))
        _assert_same(fast, slow, x, labels, get_loss("softmax_cross_entropy"), input_grad=False)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_joined_derivatives_of_several_hidden_layers_give_the_same_bits(activation):
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        fast, slow = _pair([5, 12, 7], [activation] * 3, 3, 2, dtype)
        x, y = rng.normal(size=(11, 3)).astype(dtype), rng.normal(size=(11, 2)).astype(dtype)
        _assert_same(fast, slow, x, y, get_loss("mse"))
        assert fast._plan.joined is not None


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_follows_the_same_trajectory_on_both_paths(optimizer):
    rng = np.random.default_rng(3)
    fast, slow = _pair([8, 8], ["tanh", "tanh"], 2, 1, np.float32)
    opts = [OPTIMIZERS.get(optimizer)(net.params, lr=0.05) for net in (fast, slow)]
    loss = get_loss("mse")
    x = rng.normal(size=(105, 2)).astype(np.float32)
    y = np.tanh(x.sum(1, keepdims=True))
    for _epoch in range(3):
        for start in range(0, 105, 10):  # the last batch is shorter: a second plan
            xb, yb = x[start : start + 10], y[start : start + 10]
            for net, opt in zip((fast, slow), opts, strict=True):
                _step(net, xb, yb, loss, input_grad=False)
                opt.step(net.grads)
    np.testing.assert_array_equal(fast.params, slow.params)
    assert len(fast._plans) == 2


def test_outputs_are_fresh_c_ordered_arrays_a_caller_may_keep():
    rng = np.random.default_rng(4)
    fast, _ = _pair([8], ["tanh"], 2, 3, np.float32)
    x1, x2 = (rng.normal(size=(10, 2)).astype(np.float32) for _ in range(2))
    out1 = fast.forward(x1, training=True)
    kept = out1.copy()
    out2 = fast.forward(x2, training=True)
    assert out1.flags.c_contiguous and out2.flags.c_contiguous
    assert not np.shares_memory(out1, out2)
    np.testing.assert_array_equal(out1, kept)
    # Evaluation gives the same outputs as the training forward of a Dense stack.
    np.testing.assert_array_equal(fast.forward(x1, training=False), kept)


def test_fast_path_gradients_match_central_differences():
    rng = np.random.default_rng(5)
    loss = get_loss("softmax_cross_entropy")
    for n_in in (3, FOLD_MAX_INPUTS + 6):
        net = Network([Dense(6, "tanh"), Dense(5, "sigmoid"), Dense(3)], (n_in,), np.random.default_rng(0),
                      np.float64)
        x, y = rng.normal(size=(9, n_in)), rng.integers(0, 3, 9)
        _step(net, x, y, loss, input_grad=False)
        assert net._plan is not None
        analytic = net.grads.copy()
        def objective(n=net, x=x, y=y):
            return loss(n.forward(x, training=True), y)[0]

        numeric = numerical_gradient(objective, net.params)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    # The gradient check itself runs the layers' own code.
    checks = gradient_check(net, loss, x, y)
    assert {name: c.status for name, c in checks.items()} == dict.fromkeys(checks, "pass"), checks


def test_huge_batches_take_the_layer_path(monkeypatch):
    import engine.network

    monkeypatch.setattr(engine.network, "MAX_PLAN_ENTRIES", 100)
    fast, slow = _pair([8], ["tanh"], 2, 1, np.float64)
    x = np.random.default_rng(6).normal(size=(20, 2))  # 20 rows × 9 units > 100
    out = fast.forward(x, training=True)
    assert fast._plan is None
    np.testing.assert_array_equal(out, slow.forward(x, training=True))
