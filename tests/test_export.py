"""NPZ and ONNX export: other tools can load what the workbench trained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from engine.losses import LOSSES
from engine.network import Network
from engine.spec import BatchNormSpec, DenseSpec, DropoutSpec, ModelSpec
from workbench.export import WeightsError, export_onnx, load_weights, read_architecture, save_weights

ort = pytest.importorskip("onnxruntime")

ALL_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus", "silu"]


def _network(activations: list[str], n_out: int = 3, seed: int = 0, output_activation: str = "identity",
             n_in: int = 5) -> Network:
    layers: list = []
    for i, act in enumerate(activations):
        options = {"negative_slope": 0.1} if act == "leaky_relu" else {"alpha": 0.7} if act == "elu" else {}
        layers.append(DenseSpec(units=6 + i % 3, activation=act, activation_options=options))
        if i == 1:
            layers.append(BatchNormSpec())
        if i == 2:
            layers.append(DropoutSpec(rate=0.5))
    model = ModelSpec(layers=layers, output_activation=output_activation)
    return Network.from_spec(model, (n_in,), n_out, np.random.default_rng(seed))


def _train_batchnorm_stats(net: Network, rng: np.random.Generator) -> None:
    """A few training-mode passes so running mean/var (and gamma/beta) are not trivial."""
    for _ in range(5):
        net.forward(rng.normal(1.0, 2.0, (32, net.input_shape[0])).astype(np.float32), training=True)
    for name, p in net.parameters().items():
        if name.endswith((".gamma", ".beta")):
            p[...] = rng.normal(1.0, 0.3, p.shape)


def _onnx_outputs(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input": x}), strict=True))


# ------------------------------------------------------------------------------------ NPZ
def test_npz_round_trip_with_stable_names_and_architecture(tmp_path: Path) -> None:
    net = _network(["relu", "tanh"])
    _train_batchnorm_stats(net, np.random.default_rng(1))
    path = tmp_path / "w.npz"
    save_weights(net, path)
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        arch = json.loads(str(npz["__architecture__"][()]))
    assert {"dense1.W", "dense1.b", "batchnorm1.gamma", "batchnorm1.running_var", "output.W"} <= keys
    assert arch["input_shape"] == [5]
    assert [layer["name"] for layer in arch["layers"]] == [layer.name for layer in net.layers]
    assert arch["parameters"]["dense1.W"] == [5, 6]
    assert read_architecture(path) == arch

    other = _network(["relu", "tanh"], seed=99)
    x = np.random.default_rng(2).normal(size=(10, 5)).astype(np.float32)
    assert not np.allclose(other.forward(x), net.forward(x))
    load_weights(other, path)
    np.testing.assert_array_equal(other.forward(x), net.forward(x))


def test_npz_import_names_the_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    save_weights(_network(["relu", "tanh"]), path)
    wider = Network.from_spec(
        ModelSpec(layers=[DenseSpec(units=9), BatchNormSpec(), DenseSpec(units=7)]), (5,), 3,
        np.random.default_rng(0),
    )
    with pytest.raises(WeightsError, match=r"dense1.W has shape \(5, 6\) in the file but \(5, 9\)"):
        load_weights(wider, path)
    deeper = _network(["relu", "tanh", "relu"])
    with pytest.raises(WeightsError, match=r"missing dense3\.W"):
        load_weights(deeper, path)
    before = deeper.params.copy()
    np.testing.assert_array_equal(deeper.params, before)  # nothing loaded on failure
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="not a readable"):
        load_weights(deeper, tmp_path / "junk.npz")


# ----------------------------------------------------------------------------------- ONNX
@pytest.mark.parametrize(
    ("loss_name", "n_out", "output_name"),
    [("softmax_cross_entropy", 4, "probabilities"), ("binary_cross_entropy", 1, "probabilities"),
     ("mse", 2, "predictions")],
)
def test_onnx_matches_the_engine_for_every_activation(
    tmp_path: Path, loss_name: str, n_out: int, output_name: str
) -> None:
    rng = np.random.default_rng(3)
    net = _network(ALL_ACTIVATIONS, n_out=n_out)
    _train_batchnorm_stats(net, rng)
    loss = LOSSES.get(loss_name)()
    path = tmp_path / "model.onnx"
    export_onnx(net, loss, path)
    # Wide inputs reach the tails of every activation (softplus, elu and gelu saturation).
    x = rng.normal(0.0, 4.0, (64, 5)).astype(np.float32)
    expected = loss.transform(net.forward(x, training=False))
    got = _onnx_outputs(path, x)
    assert list(got) == [output_name]
    np.testing.assert_allclose(got[output_name], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_onnx_each_activation_alone(tmp_path: Path, activation: str) -> None:
    net = _network([activation, activation], n_out=3, output_activation=activation)
    _train_batchnorm_stats(net, np.random.default_rng(4))
    loss = LOSSES.get("softmax_cross_entropy")()
    export_onnx(net, loss, tmp_path / "m.onnx")
    x = np.random.default_rng(5).normal(0.0, 3.0, (40, 5)).astype(np.float32)
    got = _onnx_outputs(tmp_path / "m.onnx", x)["probabilities"]
    np.testing.assert_allclose(got, loss.transform(net.forward(x)), rtol=1e-5, atol=1e-5)


def test_onnx_model_is_valid_and_describes_itself(tmp_path: Path) -> None:
    import onnx

    net = _network(["relu"])
    export_onnx(net, LOSSES.get("softmax_cross_entropy")(), tmp_path / "m.onnx", metadata={"classes": ["a"]})
    model = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 17
    ops = [n.op_type for n in model.graph.node]
    assert ops[-1] == "Softmax" and "Dropout" not in ops
    props = {p.key: p.value for p in model.metadata_props}
    assert props["loss"] == "softmax_cross_entropy" and json.loads(props["classes"]) == ["a"]
    assert model.graph.input[0].type.tensor_type.shape.dim[1].dim_value == 5


# ---------------------------------------------------------------------------- image layers
def _cnn(seed: int = 0, head: str = "implicit flatten") -> Network:
    from engine.spec import AvgPool2dSpec, Conv2dSpec, FlattenSpec, GlobalAvgPoolSpec, MaxPool2dSpec

    layers: list = [
        Conv2dSpec(filters=4, kernel_size=3, padding="same", activation="relu"),
        BatchNormSpec(),
        MaxPool2dSpec(pool_size=2),
        Conv2dSpec(filters=6, kernel_size=2, stride=2, padding="same", activation="tanh"),  # odd 'same' split
        AvgPool2dSpec(pool_size=2, stride=1),
        Conv2dSpec(filters=5, kernel_size=1, padding=1, activation="elu"),
    ]
    layers += {"implicit flatten": [DenseSpec(units=7)], "flatten": [FlattenSpec()],
               "global_avgpool": [GlobalAvgPoolSpec()]}[head]
    return Network.from_spec(ModelSpec(layers=layers), (2, 13, 11), 3, np.random.default_rng(seed))


@pytest.mark.parametrize("head", ["implicit flatten", "flatten", "global_avgpool"])
def test_onnx_matches_the_engine_for_image_layers(tmp_path: Path, head: str) -> None:
    net = _cnn(head=head)
    rng = np.random.default_rng(3)
    for _ in range(3):  # BatchNorm running statistics away from 0 / 1
        net.forward(rng.normal(0.5, 2.0, (16, 2, 13, 11)).astype(np.float32), training=True)
    loss = LOSSES.get("softmax_cross_entropy")()
    path = tmp_path / "cnn.onnx"
    export_onnx(net, loss, path)
    x = rng.normal(size=(9, 2, 13, 11)).astype(np.float32)
    got = _onnx_outputs(path, x)["probabilities"]
    np.testing.assert_allclose(got, loss.transform(net.forward(x)), atol=1e-5)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"Conv", "MaxPool", "AveragePool", "Flatten"} <= ops
    assert ("GlobalAveragePool" in ops) == (head == "global_avgpool")


def test_npz_round_trip_of_a_cnn(tmp_path: Path) -> None:
    net = _cnn()
    net.forward(np.random.default_rng(1).normal(size=(8, 2, 13, 11)).astype(np.float32), training=True)
    path = tmp_path / "cnn.npz"
    save_weights(net, path)
    arch = read_architecture(path)
    assert arch["parameters"]["conv1.W"] == [4, 2, 3, 3]
    assert arch["input_shape"] == [2, 13, 11]
    other = _cnn(seed=5)
    x = np.random.default_rng(2).normal(size=(4, 2, 13, 11)).astype(np.float32)
    assert not np.allclose(other.forward(x), net.forward(x))
    load_weights(other, path)
    np.testing.assert_array_equal(other.forward(x), net.forward(x))
