"""Convolutional training steps timed by ``benchmarks.conv_bench`` (against the bare im2col GEMM
floor) and ``benchmarks.conv_torch`` (against PyTorch): the digits CNN and a LeNet-5-sized net.

Every step is one minibatch: forward, softmax cross-entropy, backward, Adam, float32.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.losses import LOSSES
from engine.network import Network
from engine.optimizers import OPTIMIZERS
from engine.spec import Conv2dSpec, DenseSpec, MaxPool2dSpec, ModelSpec

BATCH = 64
N_CLASSES = 10

# name → (title, input shape, hidden layers)
NETS: dict[str, tuple[str, tuple[int, int, int], tuple]] = {
    "digits": (
        "digits CNN 1×8×8: conv 8@3×3 same, maxpool, conv 16@3×3 same, maxpool, dense 10",
        (1, 8, 8),
        (Conv2dSpec(filters=8, padding="same"), MaxPool2dSpec(), Conv2dSpec(filters=16, padding="same"),
         MaxPool2dSpec()),
    ),
    "lenet": (
        "LeNet-5 size 1×28×28: conv 6@5×5 same, maxpool, conv 16@5×5, maxpool, dense 120, 84, 10",
        (1, 28, 28),
        (Conv2dSpec(filters=6, kernel_size=5, padding="same"), MaxPool2dSpec(),
         Conv2dSpec(filters=16, kernel_size=5), MaxPool2dSpec(),
         DenseSpec(units=120, activation="relu"), DenseSpec(units=84, activation="relu")),
    ),
}


def data(net: str, batches: int = 8) -> tuple[np.ndarray, np.ndarray]:
    shape = NETS[net][1]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batches * BATCH, *shape)).astype(np.float32)
    return x, rng.integers(0, N_CLASSES, len(x)).astype(np.int64)


def network(net: str) -> Network:
    _, shape, layers = NETS[net]
    return Network.from_spec(ModelSpec(layers=layers), shape, N_CLASSES, np.random.default_rng(0))


def _cycle(x: np.ndarray, y: np.ndarray) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]
    state = [0]

    def next_batch() -> tuple[np.ndarray, np.ndarray]:
        state[0] = (state[0] + 1) % len(batches)
        return batches[state[0]]

    return next_batch


def engine_step(net: str) -> Callable[[], None]:
    """One step of the engine's scripting loop."""
    model = network(net)
    loss = LOSSES.get("softmax_cross_entropy")()
    opt = OPTIMIZERS.get("adam")(model.params, lr=1e-3)
    next_batch = _cycle(*data(net))

    def step() -> None:
        xb, yb = next_batch()
        _, g = loss(model.forward(xb, training=True), yb)
        model.backward(g, input_grad=False)
        opt.step(model.grads)

    return step


def gemm_floor_step(net: str) -> Callable[[], None]:
    """Only the matrix products of the same step, on preallocated arrays of the engine's shapes:
    per convolution the forward product cols·Wᵀ, dW = gᵀ·cols and (except the first) d cols = g·W;
    per dense layer its three products. What an im2col engine cannot go below."""
    model = network(net)
    rng = np.random.default_rng(0)
    products: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for i, layer in enumerate(model.layers):
        if layer.kind == "conv2d":
            m = BATCH * layer.out_hw[0] * layer.out_hw[1]
            k, f = layer.fan_in, layer.filters
        elif layer.kind == "dense":
            m, k, f = BATCH, layer.input_shape[-1], layer.units
        else:
            continue
        cols = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((f, k)).astype(np.float32)
        g = rng.standard_normal((m, f)).astype(np.float32)
        products.append((cols, w.T, np.empty((m, f), np.float32)))
        products.append((g.T, cols, np.empty((f, k), np.float32)))
        if i > 0:
            products.append((g, w, np.empty((m, k), np.float32)))

    def step() -> None:
        for a, b, out in products:
            np.matmul(a, b, out=out)

    return step


STEPS: dict[str, Callable[[str], Callable[[], None]]] = {"engine": engine_step, "gemm floor": gemm_floor_step}


def best_rates(steps: dict[str, Callable[[], None]], seconds: float, block: float = 0.05) -> dict[str, float]:
    """Best steps/s of each step function, running blocks of ~``block`` seconds in turn (a burst
    of load from another process hits every contender alike)."""
    import time

    sizes = {}
    for name, fn in steps.items():
        n = 2
        while True:
            t = time.perf_counter()
            for _ in range(n):
                fn()
            if time.perf_counter() - t >= block:
                break
            n *= 2
        sizes[name] = n
    best = dict.fromkeys(steps, 0.0)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for name, fn in steps.items():
            t = time.perf_counter()
            for _ in range(sizes[name]):
                fn()
            best[name] = max(best[name], sizes[name] / (time.perf_counter() - t))
    return best
