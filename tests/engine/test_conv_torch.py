"""Image layers against PyTorch in float64: outputs, parameter and input gradients, and
10-step optimizer trajectories of whole networks (conv, pools, BatchNorm2d, flatten, dense).

Skipped unless torch is installed (``make torch-check`` runs it)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.losses import get_loss
from engine.network import Network
from engine.optimizers import get_optimizer
from engine.spec import (
    AvgPool2dSpec,
    BatchNormSpec,
    Conv2dSpec,
    DenseSpec,
    FlattenSpec,
    GlobalAvgPoolSpec,
    MaxPool2dSpec,
    ModelSpec,
)

torch = pytest.importorskip("torch")
nn = torch.nn

INPUT = (2, 9, 8)
N_OUT = 3


def _pair(layers):
    """Our network and the same network in torch with the same weights."""
    ours = Network.from_spec(ModelSpec(layers=tuple(layers)), INPUT, N_OUT, np.random.default_rng(0),
                             dtype=np.float64)
    modules = []
    for layer in ours.layers:
        kind = layer.kind
        if kind == "conv2d":
            m = nn.Conv2d(layer.input_shape[0], layer.filters, layer.kernel, stride=layer.stride,
                          padding=0, dtype=torch.float64)
            p = layer.pads
            pad = nn.ZeroPad2d((p[2], p[3], p[0], p[1]))
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(layer.params["W"]))
                m.bias.copy_(torch.from_numpy(layer.params["b"]))
            act = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "identity": nn.Identity(), "sigmoid": nn.Sigmoid()}
            modules += [pad, m, act[layer.activation_name]]
        elif kind == "maxpool2d":
            modules.append(nn.MaxPool2d(layer.pool_size, stride=layer.stride))
        elif kind == "avgpool2d":
            modules.append(nn.AvgPool2d(layer.pool_size, stride=layer.stride))
        elif kind == "global_avgpool":
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "batchnorm":
            modules.append(nn.BatchNorm2d(layer.channels, momentum=layer.momentum, eps=layer.eps,
                                          dtype=torch.float64))
        elif kind == "dense":
            m = nn.Linear(layer.input_shape[-1], layer.units, dtype=torch.float64)
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                m.bias.copy_(torch.from_numpy(layer.params["b"]))
            modules += [m] + ([nn.ReLU()] if layer.activation_name == "relu" else [])
    return ours, nn.Sequential(*modules)


def _torch_params(model):
    """torch parameters in our flat order (conv W, b; batchnorm gamma, beta; dense W, b)."""
    return [p for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear | nn.BatchNorm2d)
            for p in (m.weight, m.bias)]


CASES = {
    "conv same + maxpool": [Conv2dSpec(filters=4, kernel_size=3, padding="same"), MaxPool2dSpec(pool_size=2),
                            Conv2dSpec(filters=3, kernel_size=2, stride=2, padding=1, activation="tanh")],
    "conv + avgpool overlapping": [Conv2dSpec(filters=3, kernel_size=3), AvgPool2dSpec(pool_size=3, stride=2),
                                   DenseSpec(units=5)],
    "conv + batchnorm2d + global avg": [Conv2dSpec(filters=4, kernel_size=3, activation="identity"),
                                        BatchNormSpec(), Conv2dSpec(filters=5, kernel_size=3, padding="same"),
                                        GlobalAvgPoolSpec()],
    "strided conv + flatten": [Conv2dSpec(filters=3, kernel_size=4, stride=2, padding="same"),
                               MaxPool2dSpec(pool_size=2, stride=1), FlattenSpec()],
}


def _grads_in_torch_order(ours):
    out = []
    for layer in ours.layers:
        for key in layer.grads:
            g = layer.grads[key]
            out.append(g.T if layer.kind == "dense" and key == "W" else g)
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_outputs_and_gradients_match_torch(case):
    ours, theirs = _pair(CASES[case])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, *INPUT))
    y = rng.integers(0, N_OUT, size=5)
    loss = get_loss("softmax_cross_entropy")
    out = ours.forward(x, training=True)
    value, g = loss(out, y)
    gx = ours.backward(g)

    xt = torch.tensor(x, requires_grad=True)
    theirs.train()
    tout = theirs(xt)
    tloss = nn.functional.cross_entropy(tout, torch.from_numpy(y))
    tloss.backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert value == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    for mine, p in zip(_grads_in_torch_order(ours), _torch_params(theirs), strict=True):
        np.testing.assert_allclose(mine, p.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(("opt", "options"), [("sgd", {"lr": 0.1, "momentum": 0.9}), ("adam", {"lr": 0.01})])
def test_ten_optimizer_steps_follow_torch(case, opt, options):
    ours, theirs = _pair(CASES[case])
    rng = np.random.default_rng(2)
    loss = get_loss("softmax_cross_entropy")
    ours_opt = get_optimizer(opt, ours.params, **options)
    torch_opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[opt](theirs.parameters(), **options)
    theirs.train()
    for _ in range(10):
        x = rng.normal(size=(6, *INPUT))
        y = rng.integers(0, N_OUT, size=6)
        _, g = loss(ours.forward(x, training=True), y)
        ours.backward(g, input_grad=False)
        ours_opt.step(ours.grads)
        torch_opt.zero_grad()
        nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        torch_opt.step()
    with_params = [m for m in theirs.modules() if isinstance(m, nn.Conv2d | nn.Linear | nn.BatchNorm2d)]
    for layer, m in zip([la for la in ours.layers if la.params], with_params, strict=True):
        w = layer.params[next(iter(layer.params))]
        tw = m.weight.detach().numpy()
        np.testing.assert_allclose(w.T if layer.kind == "dense" else w, tw, rtol=1e-7, atol=1e-10)
        if layer.kind == "batchnorm":
            np.testing.assert_allclose(layer.buffers["running_var"], m.running_var.numpy(), rtol=1e-7)
            np.testing.assert_allclose(layer.buffers["running_mean"], m.running_mean.numpy(), rtol=1e-7,
                                       atol=1e-12)
