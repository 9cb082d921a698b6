"""Residual blocks in exports: ONNX Add (+ MatMul for projections) matching the engine, NPZ round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.losses import LOSSES
from engine.network import Network
from engine.spec import BatchNormSpec, DenseSpec, DropoutSpec, ModelSpec, ResidualSpec
from workbench.export import export_onnx, load_weights, save_weights

ort = pytest.importorskip("onnxruntime")


def _network(seed: int = 0) -> Network:
    model = ModelSpec(layers=(
        DenseSpec(units=6, activation="tanh"),
        ResidualSpec(layers=(DenseSpec(units=6, activation="relu"), BatchNormSpec(),
                             DenseSpec(units=6, activation="identity"))),
        ResidualSpec(layers=(DropoutSpec(rate=0.3), DenseSpec(units=9, activation="gelu"))),  # projection
        ResidualSpec(layers=(ResidualSpec(layers=(DenseSpec(units=9, activation="sigmoid"),)),)),
    ))
    net = Network.from_spec(model, (5,), 3, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for _ in range(4):  # running statistics that are not the defaults
        net.forward(rng.normal(1.0, 2.0, (32, 5)).astype(np.float32), training=True)
    return net


@pytest.mark.parametrize("loss_name", ["softmax_cross_entropy", "mse"])
def test_onnx_matches_the_engine_with_residual_blocks(tmp_path: Path, loss_name: str) -> None:
    import onnx

    net = _network()
    loss = LOSSES.get(loss_name)()
    path = tmp_path / "res.onnx"
    export_onnx(net, loss, path)
    ops = [(n.op_type, n.name) for n in onnx.load(str(path)).graph.node]
    assert ("Add", "res1/out") in ops and ("Add", "res2/out") in ops and ("Add", "res3.res1/out") in ops
    assert ("MatMul", "res2.proj/matmul") in ops and ("MatMul", "res1.proj/matmul") not in ops
    x = np.random.default_rng(7).normal(0.0, 2.0, (50, 5)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, loss.transform(net.forward(x, training=False)), rtol=1e-5, atol=1e-5)


def test_npz_round_trip_with_inner_names(tmp_path: Path) -> None:
    net = _network()
    path = tmp_path / "w.npz"
    save_weights(net, path)
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        arch = json.loads(str(npz["__architecture__"][()]))
    assert {"res1.dense1.W", "res1.batchnorm1.running_var", "res2.proj.W", "res3.res1.dense1.b"} <= keys
    blocks = [entry for entry in arch["layers"] if entry["kind"] == "residual"]
    assert [b["name"] for b in blocks] == ["res1", "res2", "res3"]
    assert [e["name"] for e in blocks[1]["layers"]] == ["res2.dropout1", "res2.dense1", "res2.proj"]
    assert blocks[2]["layers"][0]["layers"][0]["name"] == "res3.res1.dense1"
    other = _network(seed=5)
    x = np.random.default_rng(2).normal(size=(8, 5)).astype(np.float32)
    assert not np.allclose(other.forward(x), net.forward(x))
    load_weights(other, path)
    np.testing.assert_array_equal(other.forward(x), net.forward(x))
