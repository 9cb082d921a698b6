"""ONNX export of the recurrent layers: onnxruntime gives the engine's outputs within 1e-5,
for last-step and sequence outputs, stacked layers and NaN-padded sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.layers import Dense
from engine.losses import LOSSES
from engine.network import Network
from engine.recurrent import GRU, LSTM, RNN
from workbench.export import export_onnx

ort = pytest.importorskip("onnxruntime")

KINDS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x.astype(np.float32)})[0]


def _net(layers: list, steps: int = 12, features: int = 3) -> Network:
    rng = np.random.default_rng(0)
    net = Network([*layers, Dense(2, name="output")], (steps, features), rng, np.float64)
    net.params[...] = rng.normal(0.0, 0.4, net.params.shape)  # gates well away from 0.5
    return net


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_onnx_matches_the_engine(tmp_path: Path, kind: str, return_sequences: bool) -> None:
    net = _net([KINDS[kind](7, return_sequences=return_sequences)])
    x = np.random.default_rng(1).normal(size=(5, 12, 3))
    export_onnx(net, LOSSES.get("mse")(), tmp_path / "m.onnx")
    got = _run(tmp_path / "m.onnx", x)
    want = net.forward(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_onnx_matches_on_padded_sequences_and_stacks(tmp_path: Path, kind: str) -> None:
    net = _net([GRU(5, return_sequences=True), KINDS[kind](6)])
    x = np.random.default_rng(2).normal(size=(4, 12, 3))
    x[1, 7:] = np.nan
    x[3, 2:] = np.nan
    export_onnx(net, LOSSES.get("mse")(), tmp_path / "m.onnx")
    got = _run(tmp_path / "m.onnx", x)
    np.testing.assert_allclose(got, net.forward(x), atol=1e-5, rtol=0)


def test_onnx_of_a_classifier_ends_in_softmax(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    net = Network([LSTM(4), Dense(3, name="output")], (6, 2), rng, np.float32)
    x = rng.normal(size=(3, 6, 2)).astype(np.float32)
    loss = LOSSES.get("softmax_cross_entropy")()
    export_onnx(net, loss, tmp_path / "c.onnx")
    np.testing.assert_allclose(_run(tmp_path / "c.onnx", x), loss.transform(net.forward(x)), atol=1e-5)
