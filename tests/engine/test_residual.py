"""Residual blocks: x + f(x) with a bias-free projection when widths differ."""

import math

import numpy as np
import pytest

from engine.gradcheck import gradient_check
from engine.layers import BatchNorm, Dense, Dropout
from engine.losses import get_loss
from engine.network import Network
from engine.residual import Residual
from engine.spec import DenseSpec, ModelSpec, ResidualSpec, count_parameters


def _net(dtype=np.float64, seed=0):
    layers = [
        Dense(5, "tanh"),
        Residual([Dense(5, "tanh"), Dense(5)]),  # same width: identity skip
        Residual([Dense(7, "silu"), BatchNorm(), Dropout(0.25), Dense(3, "sigmoid")]),  # projection
        Residual([Residual([Dense(3, "tanh")]), Dense(3, "elu")]),  # a block inside a block
        Dense(2),
    ]
    return Network(layers, (4,), np.random.default_rng(seed), dtype)


def test_inner_layers_keep_their_own_names_in_the_one_flat_buffer():
    net = _net()
    names = list(net.parameters())
    assert names[:6] == ["dense1.W", "dense1.b", "res1.dense1.W", "res1.dense1.b",
                         "res1.dense2.W", "res1.dense2.b"]
    assert "res2.proj.W" in names and "res2.proj.b" not in names  # the projection has no bias
    assert "res2.batchnorm1.gamma" in names and "res3.res1.dense1.W" in names
    assert "res1.proj.W" not in names  # equal widths: no projection
    for name, view in net.parameters().items():
        assert np.shares_memory(view, net.params), name
    for name, view in net.gradients().items():
        assert np.shares_memory(view, net.grads), name
    assert net.n_parameters == net.params.size == sum(v.size for v in net.parameters().values())
    assert net.weight_mask[net.slices()["res2.proj.W"]].all()
    assert not net.weight_mask[net.slices()["res1.dense1.b"]].any()
    assert [name for name, *_ in net.summary()][:3] == ["dense1", "res1.dense1", "res1.dense2"]
    assert "res2.batchnorm1.running_mean" in net.buffers()
    assert set(net.layer_slices()) >= {"res1.dense1", "res2.proj", "res3.res1.dense1"}


def test_output_is_input_plus_branch():
    net = _net()
    x = np.random.default_rng(3).normal(size=(6, 4))
    h = net.layers[0].forward(x, False)
    block = net.layers[1]
    f = block.inner[1].forward(block.inner[0].forward(h, False), False)
    np.testing.assert_allclose(block.forward(h, False), h + f)
    wide = net.layers[2]
    y = wide.forward(h, False)
    branch = h
    for layer in wide.inner:
        branch = layer.forward(branch, False)
    np.testing.assert_allclose(y, h @ wide.projection.params["W"] + branch)


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "mse"])
def test_float64_finite_differences_agree_for_every_inner_parameter(loss):
    net = _net()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 4))
    y = rng.integers(0, 2, 10) if loss == "softmax_cross_entropy" else rng.normal(size=(10, 2))
    checks = gradient_check(net, get_loss(loss), x, y)
    assert list(checks) == list(net.parameters())
    failed = {k: c.describe() for k, c in checks.items() if c.status != "pass"}
    assert not failed


def test_input_gradient_matches_finite_differences():
    net = _net()
    net.set_dropout_frozen(True)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 4))
    loss = get_loss("mse")
    y = rng.normal(size=(5, 2))
    net.forward(x, training=True)
    _, g = loss(net.forward(x, training=True), y)
    gx = net.backward(g)
    eps, num = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        num[i] = (loss(net.forward(xp, True), y)[0] - loss(net.forward(xm, True), y)[0]) / (2 * eps)
    np.testing.assert_allclose(gx, num, rtol=1e-5, atol=1e-8)


def test_skip_share_is_the_skip_paths_part_of_the_input_gradient():
    net = Network([Residual([Dense(4, "tanh"), Dense(4)]), Dense(1)], (4,), np.random.default_rng(0),
                  np.float64)
    block = net.layers[0]
    x = np.random.default_rng(1).normal(size=(8, 4))
    _, g = get_loss("mse")(net.forward(x, True), np.zeros((8, 1)))
    net.backward(g)
    g_out = net.layers[1].backward(g)  # d loss / d block output
    g_branch = g_out
    for layer in reversed(block.inner):
        g_branch = layer.backward(g_branch)
    skip, branch = np.linalg.norm(g_out), np.linalg.norm(g_branch)
    assert block.skip_share == pytest.approx(skip / (skip + branch))
    # Zero the branch's last layer: all of the gradient goes through the skip.
    block.inner[1].params["W"][...] = 0.0
    net.forward(x, True)
    net.backward(g)
    assert block.skip_share == pytest.approx(1.0)
    shares = net.skip_shares()
    assert set(shares) == {"res1"} and 0.0 < shares["res1"] <= 1.0
    assert math.isnan(net.skip_shares()["res1"])  # read and reset


def test_copy_is_independent_and_identical():
    net = _net(np.float32)
    clone = net.copy(np.float64)
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_allclose(clone.forward(x), net.forward(x), rtol=1e-5, atol=1e-6)
    assert list(clone.parameters()) == list(net.parameters())
    clone.params[...] = 0
    assert np.any(net.params != 0)


def test_from_spec_and_count_parameters_agree():
    model = ModelSpec(
        layers=(
            DenseSpec(units=6, activation="tanh"),
            ResidualSpec(layers=(DenseSpec(units=6), DenseSpec(units=6, activation="identity"))),
            ResidualSpec(layers=(DenseSpec(units=9),)),
            ResidualSpec(layers=(ResidualSpec(layers=(DenseSpec(units=9),)),)),
        )
    )
    net = Network.from_spec(model, (3,), 2, np.random.default_rng(0))
    assert net.n_parameters == count_parameters(model, 3, 2)
    assert "res2.proj.W" in net.parameters() and net.parameters()["res2.proj.W"].shape == (6, 9)
    assert "res3.res1.dense1.W" in net.parameters()


def test_torch_agrees_on_outputs_and_gradients():
    torch = pytest.importorskip("torch")
    net = Network([Dense(5, "tanh"), Residual([Dense(5, "relu"), Dense(3)]), Dense(2, name="output")], (4,),
                  np.random.default_rng(0), np.float64)
    p = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in net.parameters().items()}
    x = np.random.default_rng(1).normal(size=(7, 4))
    xt = torch.tensor(x)
    h = torch.tanh(xt @ p["dense1.W"] + p["dense1.b"])
    f = torch.relu(h @ p["res1.dense1.W"] + p["res1.dense1.b"]) @ p["res1.dense2.W"] + p["res1.dense2.b"]
    h = h @ p["res1.proj.W"] + f
    out = h @ p["output.W"] + p["output.b"]
    target = torch.zeros_like(out)
    torch.nn.functional.mse_loss(out, target).backward()
    ours = net.forward(x, True)
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12, atol=1e-12)
    net.backward(get_loss("mse")(ours, np.zeros_like(ours))[1])
    for k, g in net.gradients().items():
        np.testing.assert_allclose(g, p[k].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_a_block_that_changes_more_than_the_last_axis_is_refused():
    from engine.layers import Layer

    class Flatten(Layer):
        kind = "flatten"

        def build(self, input_shape):
            self.input_shape = input_shape
            self.output_shape = (int(np.prod(input_shape)),)
            return self.output_shape

    with pytest.raises(ValueError, match="res1: the inner layers change the shape"):
        Network([Residual([Flatten()])], (2, 3), np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least one inner layer"):
        Residual([])
