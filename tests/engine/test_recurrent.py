"""Recurrent layers: float64 finite-difference checks of every parameter and the input, for
full and truncated BPTT, sequence and last-step outputs, and padded sequences."""

from __future__ import annotations

import numpy as np
import pytest

from engine.gradcheck import gradient_check, numerical_gradient
from engine.layers import Dense
from engine.losses import LOSSES
from engine.network import Network
from engine.recurrent import GRU, LSTM, RNN, time_gradients

KINDS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def _net(kind: str, return_sequences: bool, truncate: int = 0, steps: int = 6, features: int = 3):
    rng = np.random.default_rng(3)
    layer = KINDS[kind](5, return_sequences=return_sequences, truncate=truncate)
    output = Dense(2, name="output", weight_init="glorot_uniform")
    net = Network([layer, output], (steps, features), rng, np.float64)
    # Larger weights than the default keep gates away from their linear middle.
    net.params[...] = rng.normal(0.0, 0.5, net.params.shape)
    return net


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_parameter_gradients_match_finite_differences(kind, return_sequences):
    net = _net(kind, return_sequences)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6, 3))
    y = rng.normal(size=(4, 6, 2) if return_sequences else (4, 2))
    # Truncated BPTT is not the loss's gradient; the torch comparison and the truncation test
    # below check it.
    checks = gradient_check(net, LOSSES.get("mse")(), x, y, n_samples=25)
    assert checks, "no parameters checked"
    for name, check in checks.items():
        assert check.passed, f"{kind} {name}: {check.describe()}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_input_gradient_matches_finite_differences(kind):
    net = _net(kind, True)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, 3))
    y = rng.normal(size=(3, 6, 2))
    loss = LOSSES.get("mse")()
    _, g = loss(net.forward(x, True), y)
    dx = net.backward(g)
    num = numerical_gradient(lambda: loss(net.forward(x, True), y)[0], x, 1e-6)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_truncation_cuts_the_gradient_beyond_k_steps(kind):
    """Last-step output, k = 2 over 6 steps: inputs before step 4 get no gradient at all,
    the last two steps get exactly the full-BPTT gradient's first-order terms."""
    full = _net(kind, False, 0)
    cut = _net(kind, False, 2)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 6, 3))
    y = rng.normal(size=(3, 2))
    loss = LOSSES.get("mse")()
    _, g = loss(cut.forward(x, True), y)
    dx_cut = cut.backward(g)
    _, g = loss(full.forward(x, True), y)
    dx_full = full.backward(g)
    assert np.all(dx_cut[:, :4] == 0.0)
    np.testing.assert_allclose(dx_cut[:, 4:], dx_full[:, 4:], rtol=1e-12)
    assert np.abs(dx_full[:, :4]).max() > 0
    assert np.all(cut.layers[0].time_grad_norms[:4] == 0.0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_padded_steps_change_nothing_and_pass_no_gradient(kind):
    """A sequence padded with NaN rows gives the same last-step output and gradients as the
    same sequence unpadded; padding masks per sample."""
    net = _net(kind, False, steps=6)
    short = _net(kind, False, steps=4)
    short.params[...] = net.params
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 3))
    y = rng.normal(size=(2, 2))
    loss = LOSSES.get("mse")()
    padded = x.copy()
    padded[0, 4:] = np.nan  # sample 0 has 4 valid steps, sample 1 all 6
    out = net.forward(padded, True)
    np.testing.assert_allclose(out[0], short.forward(x[:1, :4], True)[0], rtol=1e-12)
    np.testing.assert_allclose(out[1], net.forward(x[1:], True)[0], rtol=1e-12)
    # Gradient check through the masked path (padding fixed, parameters varied).
    checks = gradient_check(net, loss, padded, y, n_samples=25)
    for name, check in checks.items():
        assert check.passed, f"{kind} {name}: {check.describe()}"
    _, g = loss(net.forward(padded, True), y)
    dx = net.backward(g)
    assert np.all(dx[0, 4:] == 0.0)


def test_masked_mse_counts_valid_steps_only():
    loss = LOSSES.get("masked_mse")()
    out = np.array([[1.0, 2.0, 3.0]])
    target = np.array([[0.0, np.nan, 1.0]])
    value, grad = loss(out, target)
    assert value == pytest.approx((1.0 + 4.0) / 2)
    np.testing.assert_allclose(grad, [[1.0, 0.0, 2.0]])
    plain, _ = LOSSES.get("mse")()(out, np.array([[0.0, 5.0, 1.0]]))
    assert loss(out, np.array([[0.0, 5.0, 1.0]]))[0] == pytest.approx(plain)


def test_time_gradients_are_recorded_per_step():
    net = _net("rnn", False, steps=6)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 6, 3))
    _, g = LOSSES.get("mse")()(net.forward(x, True), rng.normal(size=(4, 2)))
    net.backward(g, input_grad=False)
    norms = time_gradients(net)["rnn1"]
    assert norms.shape == (6,)
    # The last step's gradient is the output layer's back-propagated gradient.
    expected = g @ net.layer("output").params["W"].T
    assert norms[-1] == pytest.approx(np.linalg.norm(expected))
    assert np.all(norms > 0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_float32_forward_stays_float32(kind):
    rng = np.random.default_rng(7)
    net = Network([KINDS[kind](4, True), Dense(1, name="output")], (5, 2), rng, np.float32)
    out = net.forward(rng.normal(size=(3, 5, 2)).astype(np.float32), True)
    assert out.dtype == np.float32 and out.shape == (3, 5, 1)
    net.backward(np.ones_like(out), input_grad=False)
    assert net.grads.dtype == np.float32 and np.isfinite(net.grads).all()


def test_lstm_reused_workspace_gives_what_a_fresh_layer_gives():
    """The LSTM keeps its arrays between calls; batches of other sizes in between (an
    evaluation's), an evaluation forward before a backward, and gate values read in between
    must not change any result."""
    rng = np.random.default_rng(3)
    net = Network([LSTM(64, return_sequences=True), Dense(1, name="output")], (20, 3), rng)
    x = rng.standard_normal((16, 20, 3))
    grad = rng.standard_normal((16, 20, 1))

    def run(network: Network, training: bool = True) -> tuple[np.ndarray, np.ndarray]:
        out = network.forward(x, training)
        network.backward(grad)
        return out, network.grads.copy()

    expected_out, expected_grads = run(net.copy())
    for batch in (16, 5, 16, 1, 16):
        net.forward(rng.standard_normal((batch, 20, 3)), training=False)
        net.layer("lstm1").gate_values  # noqa: B018 (reading them finishes the sigmoid gates)
        out, grads = run(net, training=batch != 1)
        np.testing.assert_array_equal(out, expected_out)
        np.testing.assert_array_equal(grads, expected_grads)
