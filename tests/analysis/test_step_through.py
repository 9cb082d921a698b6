"""The backprop step-through shows the engine's own numbers, and they are the right numbers.

Every displayed ∂L/∂node is checked three ways: it is what the step's text and value show,
it equals the engine's gradient from an ordinary ``Network.backward`` (the fast path, on
another copy), and it equals a float64 central finite difference through the engine's layers,
for every activation and every loss in the registries.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.activations import ACTIVATIONS
from engine.analysis.step_through import step_through
from engine.layers import Dense
from engine.losses import LOSSES, get_loss
from engine.network import Network
from engine.optimizers import get_optimizer

H = 1e-6


def _net(activation: str, n_out: int, rng: np.random.Generator) -> Network:
    layers = [Dense(3, activation=activation), Dense(3, activation=activation), Dense(n_out, name="output")]
    net = Network(layers, (2,), rng, np.float64)
    for key, value in net.parameters().items():
        if key.endswith(".b"):  # zero biases put a dead ReLU's z exactly on the kink
            value[...] = rng.normal(scale=0.3, size=value.shape)
    return net


def _data(loss_name: str, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    x = rng.normal(size=(batch, 2))
    task = LOSSES.get(loss_name).task
    if task == "multiclass":
        return x, rng.integers(0, 3, size=batch), 3
    if task == "binary":
        return x, rng.integers(0, 2, size=(batch, 1)).astype(np.float64), 1
    return x, rng.normal(size=(batch, 2)), 2


def _loss_from(net: Network, loss, x, y, start: int, h: np.ndarray) -> float:
    """The loss with layer ``start`` onwards applied to ``h`` (the engine's layers)."""
    for layer in net.layers[start:]:
        h = layer.forward(h, training=False)
    return loss(np.ascontiguousarray(h), y)[0]


def _fd_node(net: Network, loss, x, y, index: int, kind: str, base: np.ndarray) -> np.ndarray:
    """Central differences of the loss with respect to layer ``index``'s z ('z') or output ('a')."""
    layer = net.layers[index]
    grad = np.zeros_like(base)
    for pos in np.ndindex(base.shape):
        values = []
        for sign in (1.0, -1.0):
            v = base.copy()
            v[pos] += sign * H
            h = layer.activation.forward(v) if kind == "z" else v
            values.append(_loss_from(net, loss, x, y, index + 1, h))
        grad[pos] = (values[0] - values[1]) / (2 * H)
    return grad


def _fd_params(net: Network, loss, x, y) -> np.ndarray:
    grad = np.zeros_like(net.params)
    for k in range(net.params.size):
        keep = net.params[k]
        values = []
        for sign in (1.0, -1.0):
            net.params[k] = keep + sign * H
            values.append(loss(net.forward(x), y)[0])
        net.params[k] = keep
        grad[k] = (values[0] - values[1]) / (2 * H)
    return grad


@pytest.mark.parametrize("loss_name", LOSSES.names())
@pytest.mark.parametrize("activation", ACTIVATIONS.names())
@pytest.mark.parametrize("batch", [1, 3])
def test_every_displayed_gradient_is_the_engines_and_a_finite_difference(activation: str, loss_name: str,
                                                                         batch: int) -> None:
    rng = np.random.default_rng(7)
    x, y, n_out = _data(loss_name, batch, rng)
    net = _net(activation, n_out, rng)
    loss = get_loss(loss_name)
    walk = step_through(net, loss, x, y)

    # The engine's own gradient, through the ordinary (fast) path on another copy.
    engine = net.copy()
    out = engine.forward(x, training=True)
    _, g = loss(out, y)
    dx = engine.backward(g)
    np.testing.assert_allclose(walk.grads["x"], dx, rtol=1e-12, atol=1e-15)
    fd = _fd_params(net.copy(), loss, x, y)
    for key, sl in net.slices().items():
        np.testing.assert_allclose(walk.grads[key], engine.grads[sl].reshape(walk.grads[key].shape),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(walk.grads[key].ravel(), fd[sl], rtol=1e-5, atol=1e-7)

    # Node gradients: ∂L/∂z and ∂L/∂a of every layer against central differences.
    probe = net.copy()
    probe.use_fast_path = False
    h = x
    for index, layer in enumerate(probe.layers):
        h = layer.forward(h, training=False)
        z = np.array(layer.z)
        np.testing.assert_allclose(walk.values[f"{layer.name}.z"], z, rtol=1e-12)
        np.testing.assert_allclose(walk.grads[f"{layer.name}.z"], _fd_node(probe, loss, x, y, index, "z", z),
                                   rtol=1e-5, atol=1e-7)
        a = np.array(h)
        np.testing.assert_allclose(walk.grads[f"{layer.name}.a"], _fd_node(probe, loss, x, y, index, "a", a),
                                   rtol=1e-5, atol=1e-7)
        h = a

    # What the steps display is those arrays (the first sample's row), and the chain rule holds.
    for step in walk.steps:
        if step.phase == "backward" and step.node in walk.grads:
            np.testing.assert_array_equal(step.value, walk.grads[step.node][0])
    for name in walk.dense:
        np.testing.assert_allclose(walk.grads[f"{name}.z"],
                                   walk.grads[f"{name}.a"] * walk.derivatives[name], rtol=1e-12, atol=1e-300)


def test_minibatch_per_sample_gradients_average_to_the_batch_gradient() -> None:
    rng = np.random.default_rng(3)
    net = _net("tanh", 2, rng)
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    walk = step_through(net, get_loss("mse"), x, y)
    assert walk.batch == 4
    for key in net.slices():
        assert walk.per_sample[key].shape[0] == 4
        np.testing.assert_allclose(walk.per_sample[key].mean(axis=0), walk.grads[key].ravel(), rtol=1e-12)
    # Each per-sample gradient is that sample walked alone.
    alone = step_through(net, get_loss("mse"), x[2:3], y[2:3])
    np.testing.assert_allclose(walk.per_sample["dense1.W"][2], alone.grads["dense1.W"].ravel(), rtol=1e-12)
    average = [s for s in walk.steps if s.phase == "average"]
    assert len(average) == 1 and "mean" in average[0].numbers


@pytest.mark.parametrize("name,options", [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adam", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("adamw", {"lr": 0.01}),
    ("adagrad", {"lr": 0.1}),
])
def test_the_displayed_update_is_the_optimizers_actual_step(name: str, options: dict) -> None:
    rng = np.random.default_rng(11)
    net = _net("sigmoid", 1, rng)
    loss = get_loss("mse")
    x, y = rng.normal(size=(2, 2)), rng.normal(size=(2, 1))
    # Two real training steps first, so the momentum buffer / moments are not at their start.
    trained = net.copy()
    opt = get_optimizer(name, trained.params, **options)
    for _ in range(2):
        _, g = loss(trained.forward(x), y)
        trained.backward(g)
        opt.step(trained.grads)
    walk = step_through(trained, loss, x, y, optimizer_name=name, optimizer_options=options,
                        optimizer_state=opt.state_dict())
    # The run's optimizer takes its third step on the same gradient.
    _, g = loss(trained.forward(x), y)
    trained.backward(g)
    opt.step(trained.grads)
    np.testing.assert_array_equal(walk.update["params_after"], trained.params)
    u = walk.update
    layer, i, j = walk.weight
    assert u["step"] == 3
    assert u["w_new"] == trained.parameters()[f"{layer}.W"][i, j]
    # The formula shown (W − lr · direction from the optimizer's own state) gives that weight.
    decay = u["w_old"] * (1.0 - u["lr"] * 0.01) if name == "adamw" else u["w_old"]
    assert decay - u["lr"] * u["direction"] == pytest.approx(u["w_new"], rel=1e-9, abs=1e-14)
    text = walk.steps[-1].numbers
    assert "W_new = W − lr · direction" in text and f"{u['w_new']:.4f}" in text
    if options.get("momentum"):
        assert "momentum buffer" in text
    if name == "adam":
        assert "bias correction at step 3" in text


def test_a_2_2_1_network_matches_the_hand_computed_table() -> None:
    # x = (1, 2), sigmoid hidden layer, identity output, MSE against y = 1.
    net = Network([Dense(2, activation="sigmoid"), Dense(1, name="output")], (2,),
                  np.random.default_rng(0), np.float64)
    p = net.parameters()
    p["dense1.W"][...] = [[0.1, 0.2], [0.3, 0.4]]
    p["dense1.b"][...] = [0.0, 0.1]
    p["output.W"][...] = [[0.5], [0.6]]
    p["output.b"][...] = [0.2]
    walk = step_through(net, get_loss("mse"), np.array([[1.0, 2.0]]), np.array([[1.0]]),
                        optimizer_name="sgd", optimizer_options={"lr": 0.5})
    # By hand: z1 = (1·0.1 + 2·0.3 + 0, 1·0.2 + 2·0.4 + 0.1) = (0.7, 1.1)
    #          a1 = σ(z1) = (0.66818777, 0.75026011)
    #          z2 = 0.5·0.66818777 + 0.6·0.75026011 + 0.2 = 0.98424995
    #          L = (z2 − 1)² = 2.4806409e-4;  ∂L/∂z2 = 2(z2 − 1) = −0.031500101
    #          ∂L/∂W2 = a1 · ∂L/∂z2 = (−0.021047982, −0.023633269)
    #          ∂L/∂a1 = ∂L/∂z2 · W2 = (−0.015750051, −0.018900061)
    #          σ′(z1) = a1(1 − a1) = (0.22171287, 0.18736988)
    #          ∂L/∂z1 = ∂L/∂a1 · σ′(z1) = (−0.0034919890, −0.0035413021)
    #          ∂L/∂W1 = x ⊗ ∂L/∂z1 = ((−0.0034919890, −0.0035413021), (−0.0069839779, −0.0070826042))
    table = {
        ("values", "dense1.z"): [0.7, 1.1],
        ("values", "dense1.a"): [0.66818777, 0.75026011],
        ("values", "output.z"): [0.98424995],
        ("grads", "output.z"): [-0.031500101],
        ("grads", "output.W"): [-0.021047982, -0.023633269],
        ("grads", "output.b"): [-0.031500101],
        ("grads", "dense1.a"): [-0.015750051, -0.018900061],
        ("grads", "dense1.z"): [-0.0034919890, -0.0035413021],
        ("grads", "dense1.W"): [-0.0034919890, -0.0035413021, -0.0069839779, -0.0070826042],
        ("grads", "dense1.b"): [-0.0034919890, -0.0035413021],
    }
    for (where, node), expected in table.items():
        got = np.ravel(getattr(walk, where)[node])
        np.testing.assert_allclose(got, expected, rtol=1e-7, err_msg=f"{where} {node}")
    np.testing.assert_allclose(walk.derivatives["dense1"].ravel(), [0.22171287, 0.18736988], rtol=1e-7)
    assert walk.loss_value == pytest.approx(2.4806409e-4, rel=1e-7)
    # SGD lr 0.5 on output.W[0, 0]: 0.5 − 0.5 · (−0.021047982) = 0.51052399
    assert walk.weight == ("output", 0, 0)
    assert walk.update["w_new"] == pytest.approx(0.51052399, rel=1e-8)
    chain = next(s for s in walk.steps if s.node == "dense1.z" and s.phase == "backward")
    assert "-0.0158 · 0.2217 = -0.0035" in chain.numbers


def test_saturated_sigmoid_shows_the_collapse() -> None:
    net = Network([Dense(2, activation="sigmoid"), Dense(1, name="output")], (2,),
                  np.random.default_rng(0), np.float64)
    net.parameters()["dense1.W"][...] = [[8.0, 0.1], [8.0, 0.1]]  # z ≈ 16 on unit 0: flat tail
    walk = step_through(net, get_loss("mse"), np.array([[1.0, 1.0]]), np.array([[3.0]]))
    chain = next(s for s in walk.steps if s.node == "dense1.z" and s.phase == "backward")
    assert walk.derivatives["dense1"][0, 0] < 1e-6
    assert abs(walk.grads["dense1.z"][0, 0]) < 1e-6 < abs(walk.grads["dense1.a"][0, 0])
    assert "saturated" in chain.note and "vanishing" in chain.note


def test_a_large_network_shows_a_slice_but_keeps_every_array() -> None:
    rng = np.random.default_rng(0)
    layers = [Dense(20, activation="relu") for _ in range(6)] + [Dense(3, name="output")]
    net = Network(layers, (5,), rng, np.float64)
    walk = step_through(net, get_loss("softmax_cross_entropy"), rng.normal(size=(1, 5)), np.array([1]),
                        first_layer=2, first_unit=4)
    assert walk.shown == ["dense3", "dense4", "dense5", "dense6"]
    assert walk.units["dense3.z"] == (4, 12)
    assert walk.grads["dense1.W"].shape == (5, 20)  # computed for the whole network
    shown_nodes = {s.node.split(".")[0] for s in walk.steps if s.phase in ("forward", "parameters")}
    assert "dense1" not in shown_nodes and "dense3" in shown_nodes
    assert "…" in next(s for s in walk.steps if s.node == "dense3.z").numbers


def test_the_callers_network_is_untouched_and_bad_input_is_refused() -> None:
    rng = np.random.default_rng(0)
    net = _net("relu", 1, rng)
    before = net.params.copy()
    step_through(net, get_loss("mse"), rng.normal(size=(1, 2)), np.zeros((1, 1)), optimizer_name="adam")
    np.testing.assert_array_equal(net.params, before)
    assert net.use_fast_path
    with pytest.raises(ValueError, match="at most 32 samples"):
        step_through(net, get_loss("mse"), np.zeros((33, 2)), np.zeros((33, 1)))
    with pytest.raises(ValueError, match="batch, features"):
        step_through(net, get_loss("mse"), np.zeros(2), np.zeros(1))


def test_dropout_and_batchnorm_layers_are_walked_in_evaluation_mode() -> None:
    from engine.layers import BatchNorm, Dropout

    rng = np.random.default_rng(5)
    layers = [Dense(4, activation="elu"), BatchNorm(), Dropout(0.5), Dense(2, name="output")]
    net = Network(layers, (3,), rng, np.float64)
    net.buffers()["batchnorm1.running_mean"][...] = rng.normal(size=4)
    net.buffers()["batchnorm1.running_var"][...] = rng.uniform(0.5, 2.0, size=4)
    x, y = rng.normal(size=(2, 3)), rng.normal(size=(2, 2))
    loss = get_loss("huber")
    walk = step_through(net, loss, x, y)
    engine = net.copy()
    _, g = loss(engine.forward(x, training=False), y)
    engine.backward(g)
    fd = _fd_params(net.copy(), loss, x, y)
    for key, sl in net.slices().items():
        np.testing.assert_allclose(walk.grads[key].ravel(), engine.grads[sl], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(walk.grads[key].ravel(), fd[sl], rtol=1e-5, atol=1e-7)
    nodes = [s.node for s in walk.steps if s.phase == "forward"]
    assert nodes == ["x", "dense1.z", "dense1.a", "batchnorm1.a", "dropout1.a", "output.z", "output.a"]
    np.testing.assert_array_equal(walk.values["dropout1.a"], walk.values["batchnorm1.a"])  # identity in eval
