"""Convolution, pooling, flatten and per-channel BatchNorm: values against direct sums,
float64 finite-difference gradients (parameters and inputs), shapes and build messages."""

from __future__ import annotations

import numpy as np
import pytest

from engine.gradcheck import gradient_check, numerical_gradient
from engine.losses import get_loss
from engine.network import Network
from engine.shapes import ShapeError, layer_shapes
from engine.spec import (
    AvgPool2dSpec,
    BatchNormSpec,
    Conv2dSpec,
    DenseSpec,
    FlattenSpec,
    GlobalAvgPoolSpec,
    MaxPool2dSpec,
    ModelSpec,
    count_parameters,
)

LOSS = get_loss("softmax_cross_entropy")


def _net(layers, input_shape=(2, 7, 6), n_out=3, seed=0) -> Network:
    return Network.from_spec(ModelSpec(layers=tuple(layers)), input_shape, n_out,
                             np.random.default_rng(seed), dtype=np.float64)


def _direct_conv(x, W, b, stride, pads):
    """The definition, one output pixel at a time (slow and obviously right)."""
    top, bottom, left, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, _, hp, wp = xp.shape
    f, _, kh, kw = W.shape
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, W) + b
    return out


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "pads"),
    [(3, 1, "valid", (0, 0, 0, 0)), (3, 1, "same", (1, 1, 1, 1)), (2, 1, "same", (0, 1, 0, 1)),
     (3, 2, 1, (1, 1, 1, 1)), (2, 2, "valid", (0, 0, 0, 0)), (3, 2, "same", (1, 1, 1, 1))],
)
def test_conv_forward_matches_the_definition(kernel, stride, padding, pads):
    spec = Conv2dSpec(filters=4, kernel_size=kernel, stride=stride, padding=padding, activation="identity")
    net = _net([spec], input_shape=(2, 7, 7))
    x = np.random.default_rng(1).normal(size=(3, 2, 7, 7))
    net.forward(x)
    conv = net.layer("conv1")
    want = _direct_conv(x, conv.params["W"], conv.params["b"], stride, pads)
    np.testing.assert_allclose(conv.a, want, atol=1e-12)
    assert conv.output_shape == want.shape[1:]


def test_same_padding_keeps_the_size_at_stride_1_and_divides_it_at_stride_2():
    net = _net([Conv2dSpec(filters=2, kernel_size=4, padding="same"),
                Conv2dSpec(filters=2, kernel_size=3, stride=2, padding="same")], input_shape=(1, 9, 9))
    assert net.layer("conv1").output_shape == (2, 9, 9)
    assert net.layer("conv2").output_shape == (2, 5, 5)


def test_pools_match_the_definition():
    x = np.random.default_rng(2).normal(size=(2, 3, 7, 6))
    net = _net([MaxPool2dSpec(pool_size=3, stride=2), FlattenSpec()], input_shape=(3, 7, 6))
    out = net.layers[0].forward(x, False)
    want = np.array([[[[x[n, c, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max() for j in range(2)]
                       for i in range(3)] for c in range(3)] for n in range(2)])
    np.testing.assert_array_equal(out, want)
    avg = _net([AvgPool2dSpec(pool_size=2)], input_shape=(3, 7, 6)).layers[0].forward(x, False)
    np.testing.assert_allclose(avg[1, 2, 2, 1], x[1, 2, 4:6, 2:4].mean())
    assert avg.shape == (2, 3, 3, 3)


def test_maxpool_sends_a_tie_to_the_first_largest_entry_as_torch():
    net = _net([MaxPool2dSpec(pool_size=2)], input_shape=(1, 2, 2))
    layer = net.layers[0]
    layer.forward(np.ones((1, 1, 2, 2)), True)
    g = layer.backward(np.full((1, 1, 1, 1), 5.0))
    np.testing.assert_array_equal(g[0, 0], [[5.0, 0.0], [0.0, 0.0]])


CASES = {
    "conv valid relu": [Conv2dSpec(filters=3, kernel_size=3),
                        Conv2dSpec(filters=2, kernel_size=2, activation="tanh")],
    "conv same stride 2": [Conv2dSpec(filters=3, kernel_size=3, stride=2, padding="same", activation="elu"),
                           Conv2dSpec(filters=2, kernel_size=2, padding=1, activation="sigmoid")],
    "maxpool": [Conv2dSpec(filters=3, kernel_size=2, activation="tanh"), MaxPool2dSpec(pool_size=2),
                Conv2dSpec(filters=2, kernel_size=2, activation="tanh")],
    "overlapping avgpool": [Conv2dSpec(filters=3, kernel_size=2, activation="tanh"),
                            AvgPool2dSpec(pool_size=3, stride=1), DenseSpec(units=4, activation="tanh")],
    "global avgpool": [Conv2dSpec(filters=3, kernel_size=3, padding="same", activation="tanh"),
                       Conv2dSpec(filters=4, kernel_size=3, activation="tanh"), GlobalAvgPoolSpec()],
    "batchnorm 2d": [Conv2dSpec(filters=3, kernel_size=3, activation="identity"), BatchNormSpec(),
                     Conv2dSpec(filters=2, kernel_size=2, activation="tanh"), FlattenSpec()],
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("training", [True, False])
def test_gradients_match_finite_differences(case, training):
    net = _net(CASES[case])
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 2, 7, 6))
    if not training:  # BatchNorm's running statistics away from their initial 0/1
        net.forward(x * 2 + 1, training=True)
    y = rng.integers(0, 3, size=4)
    checks = gradient_check(net, LOSS, x, y, training=training, n_samples=24)
    assert checks, "nothing was checked"
    # A bias just before a training-mode BatchNorm is subtracted out again: its gradient is
    # exactly zero in theory and round-off in practice, which the check rightly cannot certify.
    cancelled = {"conv1.b"} if case == "batchnorm 2d" and training else set()
    assert all(checks[k].status != "fail" for k in cancelled)
    failed = {k: v.describe() for k, v in checks.items() if not v.passed and k not in cancelled}
    assert not failed


@pytest.mark.parametrize("case", list(CASES))
def test_input_gradients_match_finite_differences(case):
    net = _net(CASES[case])
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 2, 7, 6))
    y = rng.integers(0, 3, size=3)
    _, g_out = LOSS(net.forward(x, training=True), y)
    gx = net.backward(g_out)
    numeric = numerical_gradient(lambda: LOSS(net.forward(x, training=True), y)[0], x, eps=1e-6)
    assert gx.shape == x.shape
    np.testing.assert_allclose(gx, numeric, rtol=1e-5, atol=1e-8)


def test_batchnorm_on_images_normalises_each_channel_over_batch_height_and_width():
    net = _net([BatchNormSpec(), FlattenSpec()], input_shape=(3, 4, 5))
    x = np.random.default_rng(5).normal(3.0, 2.0, size=(6, 3, 4, 5)) * np.array([1, 5, 9])[:, None, None]
    y = net.layers[0].forward(x, True)
    assert net.layer("batchnorm1").params["gamma"].shape == (3,)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)


def test_a_kernel_too_large_is_refused_naming_the_layer():
    layers = (Conv2dSpec(filters=2, kernel_size=3), Conv2dSpec(filters=2, kernel_size=5))
    with pytest.raises(ShapeError, match=r"^conv2: a 5×5 kernel does not fit a 3×3 input$"):
        count_parameters(ModelSpec(layers=layers), (1, 5, 5), 3)
    with pytest.raises(ShapeError, match="conv2: a 5×5 kernel does not fit a 3×3 input"):
        _net(layers, input_shape=(1, 5, 5))
    with pytest.raises(ShapeError, match="maxpool1: a 4×4 pool does not fit a 3×3 input"):
        _net([MaxPool2dSpec(pool_size=4)], input_shape=(1, 3, 3))


def test_an_image_layer_after_a_flat_one_is_refused_naming_it():
    with pytest.raises(ShapeError, match=r"conv1: needs images .* got 8 features"):
        _net([DenseSpec(units=8), Conv2dSpec()], input_shape=(1, 6, 6))
    with pytest.raises(ShapeError, match="conv1: needs images"):
        _net([Conv2dSpec()], input_shape=(36,))


def test_a_dense_layer_after_images_gets_a_flatten_listed_in_the_shapes():
    layers = [Conv2dSpec(filters=4, kernel_size=3), DenseSpec(units=5)]
    rows = layer_shapes(ModelSpec(layers=tuple(layers)), (1, 6, 6), 3)
    assert [(r.name, r.output_shape, r.implicit) for r in rows] == [
        ("conv1", (4, 4, 4), False), ("flatten1", (64,), True), ("dense1", (5,), False),
        ("output", (3,), False)]
    net = _net(layers, input_shape=(1, 6, 6))
    assert [layer.name for layer in net.layers] == ["conv1", "flatten1", "dense1", "output"]
    # The output layer too: a convolution as the last hidden layer.
    assert [r.name for r in layer_shapes(ModelSpec(layers=(Conv2dSpec(),)), (1, 6, 6), 3)] == [
        "conv1", "flatten1", "output"]


@pytest.mark.parametrize("case", list(CASES))
def test_count_parameters_is_what_the_network_allocates(case):
    model = ModelSpec(layers=tuple(CASES[case]))
    assert count_parameters(model, (2, 7, 6), 3) == _net(CASES[case]).n_parameters
    assert [r.output_shape for r in layer_shapes(model, (2, 7, 6), 3)] == [
        layer.output_shape for layer in _net(CASES[case]).layers]


def test_a_float32_network_trains_images_in_float32():
    net = Network.from_spec(ModelSpec(layers=(Conv2dSpec(filters=2), MaxPool2dSpec())), (1, 8, 8), 2,
                            np.random.default_rng(0), dtype=np.float32)
    out = net.forward(np.ones((2, 1, 8, 8), dtype=np.float32), training=True)
    assert out.dtype == np.float32
    net.backward(np.ones_like(out), input_grad=False)
    assert net.grads.dtype == np.float32 and np.any(net.grads != 0)


def test_activation_stats_count_a_convolution_filter_dead_when_its_whole_map_is():
    net = _net([Conv2dSpec(filters=3, kernel_size=3, activation="relu")], input_shape=(1, 5, 5))
    conv = net.layer("conv1")
    conv.params["W"][...] = 0.1
    conv.params["b"][...] = [0.0, -100.0, 0.0]  # filter 2 can never be positive on inputs in [0, 1]
    net.forward(np.random.default_rng(0).random((4, 1, 5, 5)), training=True)
    stats = net.activation_stats()["conv1"]
    assert stats.dead_fraction == pytest.approx(1 / 3)
