"""Step functions timed by ``benchmarks.loops``: the engine's scripting loop, the Trainer and a
bare hand-written NumPy loop, on the 2-8-8-1 Playground net and the 784-256-128-10 Adam net.

Imports only the engine's public API that older checkouts also have, so a child process can
time today's code and an older checkout side by side (``benchmarks/baseline_child.py``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np

from engine.data import Dataset
from engine.events import EpochMetrics, StepMetrics
from engine.losses import LOSSES
from engine.network import Network
from engine.optimizers import OPTIMIZERS
from engine.spec import DataSpec, DenseSpec, ExperimentSpec, ModelSpec, TrainingSpec
from engine.trainer import Trainer

# name → (layer sizes, hidden activation, loss, optimizer, lr, batch, training points)
NETS: dict[str, tuple[list[int], str, str, str, float, int, int]] = {
    "tiny": ([2, 8, 8, 1], "tanh", "mse", "sgd", 0.03, 10, 500),
    "mnist": ([784, 256, 128, 10], "relu", "softmax_cross_entropy", "adam", 1e-3, 64, 64 * 50),
}


def _data(net: str) -> tuple[np.ndarray, np.ndarray]:
    sizes, _, loss_name, _, _, _, n = NETS[net]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, sizes[0]))
    if loss_name == "mse":
        return x, np.tanh(x.sum(1, keepdims=True))
    return x, rng.integers(0, sizes[-1], n).astype(np.int64)


def _model(net: str) -> ModelSpec:
    sizes, activation = NETS[net][0], NETS[net][1]
    return ModelSpec(layers=tuple(DenseSpec(units=u, activation=activation) for u in sizes[1:-1]))


def engine_loop(net: str) -> Callable[[], None]:
    """One step of the documented scripting loop (forward, loss, backward, opt.step) per call,
    cycling over the training points in order."""
    sizes, _, loss_name, optimizer, lr, batch, _ = NETS[net]
    network = Network.from_spec(_model(net), (sizes[0],), sizes[-1], np.random.default_rng(0))
    loss = LOSSES.get(loss_name)()
    opt = OPTIMIZERS.get(optimizer)(network.params, lr=lr)
    x, y = _data(net)
    x = x.astype(np.float32)
    y = y.astype(np.float32) if loss_name == "mse" else y
    next_batch = batch_cycle(x, y, batch)

    def step() -> None:
        xb, yb = next_batch()
        out = network.forward(xb, training=True)
        _, g = loss(out, yb)
        network.backward(g, input_grad=False)
        opt.step(network.grads)

    return step


def trainer_loop(net: str, exclude_evaluation: bool = False) -> Callable[[], None]:
    """One Trainer step per call, through its events as the window and the CLI receive them;
    once an epoch, the call also runs the epoch's evaluation over both splits.

    ``exclude_evaluation``: the evaluation's seconds are added to ``step.excluded``, so the
    caller can count the training steps alone."""
    sizes, _, loss_name, optimizer, lr, batch, n = NETS[net]
    x, y = _data(net)
    regression = loss_name == "mse"
    dataset = Dataset(
        name="synthetic",
        task="regression" if regression else "multiclass",
        x_train=x,
        y_train=y,
        x_val=x[: max(n // 5, 1)],
        y_val=y[: max(n // 5, 1)],
        n_classes=0 if regression else sizes[-1],
        feature_names=tuple(f"x{i}" for i in range(sizes[0])),
        input_shape=(sizes[0],),
        image_shape=None,
        points_train=None,
        points_val=None,
        featurize=None,
    )
    spec = ExperimentSpec(
        model=_model(net),
        loss={"name": loss_name},
        optimizer={"name": optimizer, "lr": lr},
        training=TrainingSpec(epochs=100_000, batch_size=batch),
        data=DataSpec(standardize=False),
    )
    events = Trainer(spec, dataset=dataset).run()
    steps_per_epoch = -(-n // batch)
    done = [0]  # steps so far

    def step() -> None:
        if done[0] and done[0] % steps_per_epoch == 0:
            # This next() ends the epoch: its evaluation over both splits.
            t = time.process_time()
            event = next(events)
            if exclude_evaluation:
                step.excluded += time.process_time() - t  # type: ignore[attr-defined]
            assert type(event) is EpochMetrics, event
        event = next(events)
        assert type(event) is StepMetrics, event
        done[0] += 1

    step.excluded = 0.0  # type: ignore[attr-defined]
    return step


def bare_loop(net: str) -> Callable[[], None]:
    """The same network as a plain hand-written NumPy loop (float32, no engine at all): the
    floor of the approach for the 2-8-8-1 net."""
    sizes, _, _, _, lr, batch, _ = NETS[net]
    if net != "tiny":
        raise ValueError("the bare loop is written for the 2-8-8-1 tanh / MSE / SGD net")
    rng = np.random.default_rng(0)
    f32 = np.float32
    W1, W2, W3 = (rng.uniform(-0.5, 0.5, (a, b)).astype(f32) for a, b in itertools.pairwise(sizes))
    b1, b2, b3 = np.zeros(8, f32), np.zeros(8, f32), np.zeros(1, f32)
    x, y = _data(net)
    x, y = x.astype(f32), y.astype(f32)
    next_batch = batch_cycle(x, y, batch)

    def step() -> None:
        xb, yb = next_batch()
        a1 = np.tanh(xb @ W1 + b1)
        a2 = np.tanh(a1 @ W2 + b2)
        d = a2 @ W3 + b3 - yb
        _ = float(np.vdot(d, d)) / d.size
        d *= 2.0 / d.size
        g3, gb3 = a2.T @ d, d.sum(0)
        g = (d @ W3.T) * (1.0 - a2 * a2)
        g2, gb2 = a1.T @ g, g.sum(0)
        g = (g @ W2.T) * (1.0 - a1 * a1)
        g1, gb1 = xb.T @ g, g.sum(0)
        for p, gp in ((W1, g1), (b1, gb1), (W2, g2), (b2, gb2), (W3, g3), (b3, gb3)):
            p -= lr * gp

    return step


LOOPS: dict[str, Callable[[str], Callable[[], None]]] = {
    "engine": engine_loop,
    "trainer": trainer_loop,
    "trainer_steps": lambda net: trainer_loop(net, exclude_evaluation=True),
    "bare": bare_loop,
}


def batch_cycle(x: np.ndarray, y: np.ndarray, batch: int) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """The minibatches of ``x``, ``y`` in order, round and round: one call per step, for every loop
    timed (the same cost in each, so the ratios compare the loops alone)."""
    return itertools.cycle([(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)]).__next__
