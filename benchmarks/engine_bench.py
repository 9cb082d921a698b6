"""Engine throughput against the BLAS floor of the same matrix products.

(a) 784-256-128-10 ReLU, softmax cross-entropy, Adam, batch 64, float32:
    target step time ≤ 1.5 × the bare matrix products of that step.
(b) 2-8-8-1 tanh, MSE, SGD, batch 10: times against the matmul floor; its target is a ratio
    against a bare NumPy loop, in benchmarks/loops.py.
Each workload is timed as the engine's raw step (forward, loss, backward, optimizer) and as
a full Trainer step (which also measures per-layer gradient norms every step, weight norms and
update ratios every 25th step). benchmarks/loops.py gives the same loops as ratios.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from engine.data import Dataset
from engine.losses import LOSSES
from engine.network import Network
from engine.optimizers import OPTIMIZERS
from engine.spec import DataSpec, DenseSpec, ExperimentSpec, ModelSpec, TrainingSpec
from engine.trainer import Trainer


def best_rate(fn: Callable[[], None], seconds: float = 1.5, repeats: int = 5) -> float:
    """Calls per second: the best of several timed blocks (least disturbed by the machine)."""
    fn()
    n = 1
    while True:  # grow the block until it takes ~ seconds / repeats
        t = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t
        if dt > seconds / repeats / 4:
            break
        n *= 2
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = max(best, n / (time.perf_counter() - t))
    return best


def synthetic_dataset(
    n: int, n_in: int, n_classes: int, rng: np.random.Generator, regression: bool
) -> Dataset:
    x = rng.standard_normal((n, n_in))
    if regression:
        y = np.tanh(x.sum(1, keepdims=True))
        task, classes = "regression", 0
    else:
        y = rng.integers(0, n_classes, n).astype(np.int64)
        task, classes = "multiclass", n_classes
    return Dataset(
        name="synthetic",
        task=task,
        x_train=x,
        y_train=y,
        x_val=x[:64],
        y_val=y[:64],
        n_classes=classes,
        feature_names=tuple(f"x{i}" for i in range(n_in)),
        input_shape=(n_in,),
        image_shape=None,
        points_train=None,
        points_val=None,
        featurize=None,
    )


def workload(
    label: str,
    sizes: list[int],
    activation: str,
    loss_name: str,
    optimizer: str,
    lr: float,
    batch: int,
    target: str,
) -> dict[str, float]:
    rng = np.random.default_rng(0)
    n_in, hidden, n_out = sizes[0], sizes[1:-1], sizes[-1]
    regression = loss_name == "mse"
    model = ModelSpec(layers=tuple(DenseSpec(units=u, activation=activation) for u in hidden))
    net = Network.from_spec(model, (n_in,), n_out, rng, dtype=np.float32)
    loss = LOSSES.get(loss_name)()
    opt = OPTIMIZERS.get(optimizer)(net.params, lr=lr)
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    y = (
        rng.standard_normal((batch, n_out)).astype(np.float32)
        if regression
        else rng.integers(0, n_out, batch).astype(np.int64)
    )

    def engine_step() -> None:
        out = net.forward(x, training=True)
        _, g = loss(out, y)
        net.backward(g, input_grad=False)
        opt.step(net.grads)

    # The same matrix products alone: forward x@W, backward dW = a.T@g and dA = g@W.T
    # (no input gradient for the first layer), on preallocated outputs.
    ws = [rng.standard_normal((a, b)).astype(np.float32) for a, b in itertools.pairwise(sizes)]
    acts = [x] + [np.empty((batch, w.shape[1]), np.float32) for w in ws]
    dws = [np.empty_like(w) for w in ws]
    grads = [np.empty((batch, w.shape[0]), np.float32) for w in ws]

    def matmuls() -> None:
        for i, w in enumerate(ws):
            np.matmul(acts[i], w, out=acts[i + 1])
        for i in range(len(ws) - 1, -1, -1):
            np.matmul(acts[i].T, acts[i + 1], out=dws[i])
            if i > 0:
                np.matmul(acts[i + 1], ws[i].T, out=grads[i])

    spec = ExperimentSpec(
        model=model,
        loss={"name": loss_name},
        optimizer={"name": optimizer, "lr": lr},
        training=TrainingSpec(epochs=100_000, batch_size=batch),
        data=DataSpec(standardize=False),
    )
    trainer = Trainer(spec, dataset=synthetic_dataset(batch * 50, n_in, n_out, rng, regression))
    events = trainer.run()

    def trainer_step() -> None:
        next(events)

    def optimizer_step() -> None:
        opt.step(net.grads)

    rates = {
        "matmul floor": best_rate(matmuls),
        "optimizer only": best_rate(optimizer_step),
        "engine step": best_rate(engine_step),
        "trainer step": best_rate(trainer_step),
    }
    trainer.request_stop()
    floor = rates["matmul floor"]
    print(f"\n{label}  (target: {target})")
    print(f"  {'':<14}{'steps/s':>12}{'µs/step':>10}{'× floor':>9}")
    for name, rate in rates.items():
        print(f"  {name:<14}{rate:>12,.0f}{1e6 / rate:>10.1f}{floor / rate:>9.2f}")
    return rates


def blas_description() -> str:
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} threads={i.get('num_threads')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )


def main() -> None:
    with threadpool_limits(limits=1, user_api="blas"):
        print("BLAS:", blas_description())
        a = workload("(a) 784-256-128-10 ReLU, softmax CE, Adam, batch 64, float32",
                     [784, 256, 128, 10], "relu", "softmax_cross_entropy", "adam", 1e-3, 64,
                     "engine step ≤ 1.5 × matmul floor")
        b = workload("(b) 2-8-8-1 tanh, MSE, SGD, batch 10, float32",
                     [2, 8, 8, 1], "tanh", "mse", "sgd", 0.03, 10, "ratio to a bare NumPy loop: see below")
    ratio = a["matmul floor"] / a["engine step"]
    print("\nSummary")
    print(f"  (a) engine step = {ratio:.2f} × floor: {'met' if ratio <= 1.5 else 'NOT met'} (≤ 1.5);"
          f" trainer step = {a['matmul floor'] / a['trainer step']:.2f} × floor")
    adam_share = (1 / a["optimizer only"]) / (1 / a["engine step"])
    rest = 1 - adam_share - (1 / a["matmul floor"]) / (1 / a["engine step"])
    print(f"      of the engine step: matmuls {a['engine step'] / a['matmul floor']:.0%},"
          f" Adam over 235k parameters {adam_share:.0%}, everything else {rest:.0%}")
    print(f"  (b) engine step = {b['matmul floor'] / b['engine step']:.2f} × floor, trainer step ="
          f" {b['matmul floor'] / b['trainer step']:.2f} × floor; the tiny-net target is a ratio against"
          " a bare NumPy loop of the same network (the loop benchmark below)")


if __name__ == "__main__":
    main()
