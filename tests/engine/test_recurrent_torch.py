"""The recurrent layers against torch.nn.RNN / LSTM / GRU in float64: outputs, every gradient
(full and truncated BPTT, padded sequences) and a 10-step SGD trajectory. Run by
``make torch-check``; skipped where torch is not installed."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.layers import Dense  # noqa: E402
from engine.losses import LOSSES  # noqa: E402
from engine.network import Network  # noqa: E402
from engine.optimizers import SGD  # noqa: E402
from engine.recurrent import GRU, LSTM, RNN  # noqa: E402

PAIRS = {"rnn": (RNN, torch.nn.RNN), "lstm": (LSTM, torch.nn.LSTM), "gru": (GRU, torch.nn.GRU)}
H, F, T, B, OUT = 6, 3, 10, 4, 2


class TorchModel(torch.nn.Module):
    def __init__(self, kind: str, return_sequences: bool, truncate: int = 0) -> None:
        super().__init__()
        self.cell = PAIRS[kind][1](F, H, batch_first=True).double()
        self.out = torch.nn.Linear(H, OUT).double()
        self.return_sequences, self.truncate, self.kind = return_sequences, truncate, kind

    def forward(self, x, lengths=None):
        if lengths is not None:
            pack = torch.nn.utils.rnn.pack_padded_sequence
            packed = pack(x, lengths, batch_first=True, enforce_sorted=False)
            _, state = self.cell(packed)
            h = state[0] if self.kind == "lstm" else state
            return self.out(h[-1])
        if not self.truncate:
            seq, _ = self.cell(x)
        else:  # truncated BPTT: the state detached every k steps
            chunks, state = [], None
            for start in range(0, x.shape[1], self.truncate):
                if state is not None:
                    state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
                y, state = self.cell(x[:, start : start + self.truncate], state)
                chunks.append(y)
            seq = torch.cat(chunks, dim=1)
        return self.out(seq if self.return_sequences else seq[:, -1])


def _pair(kind: str, return_sequences: bool, truncate: int = 0):
    torch.manual_seed(0)
    model = TorchModel(kind, return_sequences, truncate)
    layer = PAIRS[kind][0](H, return_sequences=return_sequences, truncate=truncate)
    net = Network([layer, Dense(OUT, name="output")], (T, F), np.random.default_rng(0), np.float64)
    params = net.parameters()
    for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        params[f"{layer.name}.{key}"][...] = getattr(model.cell, f"{key}_l0").detach().numpy()
    params["output.W"][...] = model.out.weight.detach().numpy().T
    params["output.b"][...] = model.out.bias.detach().numpy()
    return net, model


def _torch_grads(model, kind):
    g = {f"{kind}1.{k}": getattr(model.cell, f"{k}_l0").grad.numpy() for k in
         ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    g["output.W"] = model.out.weight.grad.numpy().T
    g["output.b"] = model.out.bias.grad.numpy()
    return g


@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("truncate", [0, 3])
def test_outputs_and_gradients_match_torch(kind, return_sequences, truncate):
    net, model = _pair(kind, return_sequences, truncate)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, T, F))
    y = rng.normal(size=(B, T, OUT) if return_sequences else (B, OUT))
    loss = LOSSES.get("mse")()
    out = net.forward(x, True)
    _, g = loss(out, y)
    dx = net.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    ref = model(xt)
    torch.nn.functional.mse_loss(ref, torch.tensor(y)).backward()
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name, expected in _torch_grads(model, kind).items():
        np.testing.assert_allclose(net.gradients()[name], expected, rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_padded_sequences_match_torch_packed_sequences(kind):
    net, model = _pair(kind, False)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(B, T, F))
    lengths = [T, 7, 3, 9]
    padded = x.copy()
    for b, n in enumerate(lengths):
        padded[b, n:] = np.nan
    y = rng.normal(size=(B, OUT))
    out = net.forward(padded, True)
    _, g = LOSSES.get("mse")()(out, y)
    net.backward(g)
    xt = torch.tensor(np.nan_to_num(padded))
    ref = model(xt, torch.tensor(lengths))
    torch.nn.functional.mse_loss(ref, torch.tensor(y)).backward()
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name, expected in _torch_grads(model, kind).items():
        np.testing.assert_allclose(net.gradients()[name], expected, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_ten_sgd_steps_follow_torch(kind):
    net, model = _pair(kind, False)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, T, F))
    y = rng.normal(size=(B, OUT))
    loss = LOSSES.get("mse")()
    opt = SGD(net.params, lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(10):
        value, g = loss(net.forward(x, True), y)
        net.backward(g, input_grad=False)
        opt.step(net.grads)
        topt.zero_grad()
        ref = torch.nn.functional.mse_loss(model(torch.tensor(x)), torch.tensor(y))
        ref.backward()
        topt.step()
        assert value == pytest.approx(ref.item(), rel=1e-9)
    np.testing.assert_allclose(net.layers[0].params["weight_hh"], model.cell.weight_hh_l0.detach().numpy(),
                               rtol=1e-8, atol=1e-11)
