"""An LSTM training step against PyTorch on the CPU, one thread each, in one run.

Workload: LSTM with 64 hidden units on sequences of 50 steps × 2 features (the adding
problem's shape), batch 32, a Dense output, MSE, Adam, float32: forward, loss, backward
through time and the optimizer step. Reported as the ratio torch time / engine time
(≥ 1.0: the engine's step is at least as fast). The two take turns running short blocks
(about 0.1 s each, 15 rounds) and the best block of each is kept, so a burst of load from
another process hits both alike. Torch is not a dependency: without it the row says so.
``make torch-check`` runs this with the PyTorch venv.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.engine_bench import best_rate
from engine.layers import Dense
from engine.losses import LOSSES
from engine.network import Network
from engine.optimizers import OPTIMIZERS
from engine.recurrent import GRU, LSTM, RNN

HIDDEN, STEPS, BATCH, FEATURES = 64, 50, 32, 2
KINDS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def engine_step(kind: str = "lstm"):
    rng = np.random.default_rng(0)
    net = Network([KINDS[kind](HIDDEN), Dense(1, name="output")], (STEPS, FEATURES), rng, np.float32)
    opt = OPTIMIZERS.get("adam")(net.params, lr=1e-3)
    loss = LOSSES.get("mse")()
    x = rng.standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32)
    y = rng.standard_normal((BATCH, 1)).astype(np.float32)

    def step() -> None:
        _, g = loss(net.forward(x, True), y)
        net.backward(g, input_grad=False)
        opt.step(net.grads)

    return step


def torch_step(kind: str = "lstm"):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cell = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    rnn = cell(FEATURES, HIDDEN, batch_first=True)
    out = torch.nn.Linear(HIDDEN, 1)
    params = [*rnn.parameters(), *out.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.randn(BATCH, STEPS, FEATURES)
    y = torch.randn(BATCH, 1)

    def step() -> None:
        opt.zero_grad()
        seq, _ = rnn(x)
        torch.nn.functional.mse_loss(out(seq[:, -1]), y).backward()
        opt.step()

    return step


def alternating_rates(steps: list[Callable[[], None]], rounds: int = 15,
                      block_seconds: float = 0.1) -> list[float]:
    """Steps per second of each function: the best of ``rounds`` blocks, the functions taking
    turns block by block."""
    counts = []
    for step in steps:
        step()
        t = time.perf_counter()
        step()
        counts.append(max(1, round(block_seconds / max(time.perf_counter() - t, 1e-6))))
    best = [0.0] * len(steps)
    for _ in range(rounds):
        for k, (step, n) in enumerate(zip(steps, counts, strict=True)):
            t = time.perf_counter()
            for _ in range(n):
                step()
            best[k] = max(best[k], n / (time.perf_counter() - t))
    return best


def main() -> None:
    print(f"\nRecurrent training step ({HIDDEN} hidden, {STEPS} steps, batch {BATCH}, Adam, float32, "
          "one thread)")
    try:
        import torch  # noqa: F401
    except ImportError:
        torch_ok = False
    else:
        torch_ok = True
    with threadpool_limits(limits=1, user_api="blas"):
        for kind in ("lstm", "gru", "rnn"):
            if torch_ok:
                ours, theirs = alternating_rates([engine_step(kind), torch_step(kind)])
                line = (f"  {kind:5s} engine {ours:8.1f} steps/s · torch CPU {theirs:8.1f} steps/s"
                        f" · engine / torch speed {ours / theirs:.2f}×")
            else:
                ours = best_rate(engine_step(kind))
                line = (f"  {kind:5s} engine {ours:8.1f} steps/s · torch not installed: no comparison"
                        " (make torch-check runs one)")
            print(line, flush=True)


if __name__ == "__main__":
    main()
