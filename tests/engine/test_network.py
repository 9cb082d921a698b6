import numpy as np
import pytest

from engine.layers import BatchNorm, Dense, Dropout
from engine.losses import get_loss
from engine.network import ActivationStats, Network
from engine.spec import BatchNormSpec, DenseSpec, DropoutSpec, ModelSpec


def _spec_net(seed=0, dtype=np.float32):
    model = ModelSpec(
        layers=(
            DenseSpec(units=6, activation="relu"),
            BatchNormSpec(momentum=0.3),
            DropoutSpec(rate=0.25),
            DenseSpec(units=4, activation="tanh", weight_init="glorot_uniform"),
        ),
        output_activation="identity",
    )
    return Network.from_spec(model, (3,), 2, np.random.default_rng(seed), dtype)


def test_from_spec_names_shapes_and_summary():
    net = _spec_net()
    assert [layer.name for layer in net.layers] == ["dense1", "batchnorm1", "dropout1", "dense2", "output"]
    shapes = {k: v.shape for k, v in net.parameters().items()}
    assert shapes == {
        "dense1.W": (3, 6), "dense1.b": (6,),
        "batchnorm1.gamma": (6,), "batchnorm1.beta": (6,),
        "dense2.W": (6, 4), "dense2.b": (4,),
        "output.W": (4, 2), "output.b": (2,),
    }  # fmt: skip
    assert list(net.gradients()) == list(net.parameters())
    assert list(net.buffers()) == ["batchnorm1.running_mean", "batchnorm1.running_var"]
    assert net.n_parameters == 18 + 6 + 6 + 6 + 24 + 4 + 8 + 2
    assert net.summary() == [
        ("dense1", "dense", (6,), 24),
        ("batchnorm1", "batchnorm", (6,), 12),
        ("dropout1", "dropout", (6,), 0),
        ("dense2", "dense", (4,), 28),
        ("output", "dense", (2,), 10),
    ]
    out = net.layers[-1]
    assert out.activation_name == "identity" and out.weight_init == "glorot_uniform"
    assert net.layers[2].rate == 0.25 and net.layers[1].momentum == 0.3


def test_default_spec_builds():
    net = Network.from_spec(ModelSpec(), (2,), 3, np.random.default_rng(0))
    assert [layer.name for layer in net.layers] == ["dense1", "dense2", "output"]
    assert net.forward(np.zeros((5, 2))).shape == (5, 3)


def test_every_parameter_and_gradient_is_a_view_of_one_flat_buffer():
    net = _spec_net()
    for name, view in net.parameters().items():
        assert np.shares_memory(view, net.params), name
    for name, view in net.gradients().items():
        assert np.shares_memory(view, net.grads), name
    # One in-place update of the flat buffer is visible through every named view…
    net.params[...] = 7.0
    assert all(np.all(v == 7.0) for v in net.parameters().values())
    # …and the layers compute with it.
    net.params[net.slices()["output.b"]] = np.array([1.0, -1.0])
    net.params[net.slices()["output.W"]] = 0.0
    np.testing.assert_array_equal(net.forward(np.ones((2, 3))), [[1.0, -1.0], [1.0, -1.0]])


def test_slices_cover_the_buffer_in_order_and_match_the_views():
    net = _spec_net()
    slices = net.slices()
    assert list(slices) == list(net.parameters())
    position = 0
    for name, sl in slices.items():
        assert sl.start == position
        position = sl.stop
        np.testing.assert_array_equal(net.params[sl], net.parameters()[name].ravel())
    assert position == net.n_parameters == net.params.size == net.grads.size
    layer_slices = net.layer_slices()
    assert list(layer_slices) == ["dense1", "batchnorm1", "dense2", "output"]
    assert layer_slices["dense1"] == (slices["dense1.W"], slices["dense1.b"])
    assert layer_slices["batchnorm1"] == (slices["batchnorm1.gamma"], slices["batchnorm1.beta"])


def test_weight_mask_marks_dense_weights_only():
    net = _spec_net()
    expected = np.zeros(net.n_parameters, bool)
    for name in ("dense1.W", "dense2.W", "output.W"):
        expected[net.slices()[name]] = True
    np.testing.assert_array_equal(net.weight_mask, expected)


def test_backward_fills_the_flat_gradient_buffer():
    rng = np.random.default_rng(1)
    net = _spec_net()
    x = rng.normal(size=(8, 3))
    _, g = get_loss("mse")(net.forward(x, training=True), rng.normal(size=(8, 2)))
    net.backward(g)
    assert np.count_nonzero(net.grads) > net.n_parameters // 2
    for name, view in net.gradients().items():
        np.testing.assert_array_equal(net.grads[net.slices()[name]], view.ravel())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_forward_backward(dtype):
    rng = np.random.default_rng(2)
    net = _spec_net(dtype=dtype)
    x = rng.normal(size=(8, 3))  # float64 input is cast to the network's dtype
    out = net.forward(x, training=True)
    _, g = get_loss("softmax_cross_entropy")(out, rng.integers(0, 2, 8))
    gx = net.backward(g)
    assert out.dtype == dtype and gx.dtype == dtype
    assert net.params.dtype == dtype and net.grads.dtype == dtype
    assert all(b.dtype == dtype for b in net.buffers().values())


def test_same_seed_gives_bit_identical_parameters_and_outputs():
    x = np.random.default_rng(3).normal(size=(16, 3))
    a, b, c = _spec_net(seed=5), _spec_net(seed=5), _spec_net(seed=6)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    # Training forwards draw dropout masks from the network's rng: identical too.
    for _ in range(3):
        np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))
    np.testing.assert_array_equal(a.forward(x), b.forward(x))


def test_input_shape_is_checked():
    net = _spec_net()
    with pytest.raises(ValueError, match=r"expected \(batch, 3\)"):
        net.forward(np.zeros((4, 5)))


def test_duplicate_layer_names_are_rejected():
    with pytest.raises(ValueError, match="dense1"):
        Network([Dense(2), Dense(2, name="dense1")], (2,), np.random.default_rng(0))


# -- state ----------------------------------------------------------------------------


def test_state_dict_round_trip_restores_outputs():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(10, 3))
    src = _spec_net(seed=1)
    src.forward(x, training=True)  # moves BatchNorm's running statistics
    state = src.state_dict()
    assert set(state) == set(src.parameters()) | set(src.buffers())
    assert not any(np.shares_memory(v, src.params) for v in state.values())  # copies
    dst = _spec_net(seed=2)
    dst.load_state_dict(state)
    np.testing.assert_array_equal(dst.params, src.params)
    np.testing.assert_array_equal(dst.forward(x), src.forward(x))
    # Loading into a float64 network casts.
    dst64 = _spec_net(seed=2, dtype=np.float64)
    dst64.load_state_dict(state)
    np.testing.assert_allclose(dst64.forward(x), src.forward(x), rtol=1e-5, atol=1e-6)


def test_load_state_dict_names_the_missing_key():
    net = _spec_net()
    state = net.state_dict()
    del state["dense2.b"]
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"missing.*'dense2\.b'"):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net.params, before)


def test_load_state_dict_names_the_shape_mismatch():
    net = _spec_net()
    state = net.state_dict()
    state["dense1.W"] = np.zeros((4, 6))
    with pytest.raises(ValueError, match=r"'dense1.W'.*\(3, 6\).*\(4, 6\)"):
        net.load_state_dict(state)


def test_load_state_dict_rejects_unexpected_keys():
    net = _spec_net()
    state = net.state_dict()
    state["dense9.W"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"unexpected.*'dense9\.W'"):
        net.load_state_dict(state)


def test_copy_is_independent_and_can_change_dtype():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 3))
    net = _spec_net()
    net.forward(x, training=True)
    clone = net.copy()
    np.testing.assert_array_equal(clone.params, net.params)
    np.testing.assert_array_equal(clone.forward(x), net.forward(x))
    # Same rng state: the next dropout masks agree.
    np.testing.assert_array_equal(clone.forward(x, training=True), net.forward(x, training=True))
    clone.params += 1.0
    assert not np.array_equal(clone.params, net.params)
    wide = net.copy(np.float64)
    assert wide.params.dtype == np.float64 and net.params.dtype == np.float32
    np.testing.assert_allclose(wide.forward(x), net.forward(x), rtol=1e-5, atol=1e-6)
    for layer in wide.layers:
        for view in layer.params.values():
            assert np.shares_memory(view, wide.params)


# -- activation statistics -----------------------------------------------------------


def _fixed(layers, input_shape):
    net = Network(layers, input_shape, np.random.default_rng(0), np.float64)
    for view in net.parameters().values():
        view[...] = np.eye(*view.shape) if view.ndim == 2 else 0.0
    return net


def test_activation_stats_dead_relu_units():
    net = _fixed([Dense(3, "relu")], (3,))
    # unit 0 negative for every sample (dead), unit 1 mixed, unit 2 always positive
    x = np.array([[-1.0, -2.0, 1.0], [-3.0, 2.0, 3.0]])
    net.forward(x)
    stats = net.activation_stats()["dense1"]
    assert isinstance(stats, ActivationStats)
    a = np.maximum(x, 0)
    assert stats.mean == pytest.approx(a.mean())
    assert stats.std == pytest.approx(a.std())
    assert stats.dead_fraction == pytest.approx(1 / 3)
    assert stats.saturated_fraction == 0.0


def test_activation_stats_saturation():
    sig = _fixed([Dense(4, "sigmoid")], (4,))
    sig.forward(np.array([[-10.0, 10.0, 0.0, 1.0]]))  # two of four outputs beyond 0.01/0.99
    s = sig.activation_stats()["dense1"]
    assert s.saturated_fraction == pytest.approx(0.5)
    assert s.dead_fraction == 0.0
    tanh = _fixed([Dense(2, "tanh"), Dense(2, "relu")], (2,))
    tanh.forward(np.array([[5.0, 0.1], [-5.0, 0.2], [0.0, 3.0]]))
    stats = tanh.activation_stats()
    assert list(stats) == ["dense1", "dense2"]
    assert stats["dense1"].saturated_fraction == pytest.approx(3 / 6)  # |tanh(5)|, tanh(3) > 0.99


def test_activation_stats_on_rank3_inputs_count_units_on_the_last_axis():
    net = _fixed([Dense(2, "relu")], (2, 2))
    x = np.array([[[-1.0, 1.0], [-2.0, -1.0]], [[-1.0, -1.0], [-0.5, 2.0]]])
    net.forward(x)
    assert net.activation_stats()["dense1"].dead_fraction == pytest.approx(0.5)


def test_activation_stats_of_a_float32_fast_path_forward_are_float64_exact():
    net = Network([Dense(16, "tanh"), Dense(8, "relu"), Dense(3)], (2,), np.random.default_rng(2), np.float32)
    net.forward(np.random.default_rng(3).standard_normal((300, 2)).astype(np.float32))
    assert net._plan is not None  # the fast path's feature-major buffers
    for name, stats in net.activation_stats().items():
        a = net.layer(name).a.astype(np.float64)
        assert stats.mean == pytest.approx(a.mean(), rel=1e-12, abs=1e-15)
        assert stats.std == pytest.approx(a.std(), rel=1e-10)


def test_activation_stats_empty_before_any_forward():
    assert _spec_net().activation_stats() == {}


def test_networks_without_parameterised_first_layer_work():
    rng = np.random.default_rng(6)
    net = Network([Dropout(0.5), BatchNorm(), Dense(2)], (3,), rng, np.float64)
    x = rng.normal(size=(4, 3))
    out = net.forward(x, training=True)
    gx = net.backward(np.ones_like(out))
    assert gx.shape == x.shape
