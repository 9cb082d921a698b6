"""The engine's convolutional training steps against PyTorch CPU on one thread, in one run.

Run by ``make torch-check`` with the PyTorch venv (``PYTHONPATH=. .venv-torch/bin/python -m
benchmarks.conv_torch``). The same nets as ``benchmarks/conv_workloads.py`` (forward, softmax
cross-entropy, backward, Adam, batch 64, float32), torch with ``torch.set_num_threads(1)`` and
NumPy with one BLAS thread; blocks of each are taken in turn and the best kept.
Targets (issue 12): digits CNN ≥ 1.5× torch, LeNet-5 size ≥ 0.8× torch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from threadpoolctl import threadpool_limits

from benchmarks.conv_workloads import BATCH, N_CLASSES, NETS, best_rates, data, engine_step

TARGETS = {"digits": 1.5, "lenet": 0.8}


def torch_step(net: str) -> Callable[[], None]:
    model = network_in_torch(net)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data(net)
    batches = [(torch.from_numpy(x[i : i + BATCH]), torch.from_numpy(y[i : i + BATCH]))
               for i in range(0, len(x), BATCH)]
    state = [0]
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        state[0] = (state[0] + 1) % len(batches)
        xb, yb = batches[state[0]]
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()

    return step


def network_in_torch(net: str) -> torch.nn.Module:
    nn = torch.nn
    _, shape, layers = NETS[net]
    modules: list[torch.nn.Module] = []
    c, h, w = shape
    for spec in layers:
        if spec.type == "conv2d":
            pad = spec.kernel_size // 2 if spec.padding == "same" else 0
            modules += [nn.Conv2d(c, spec.filters, spec.kernel_size, padding=pad), nn.ReLU()]
            c = spec.filters
            h, w = h + 2 * pad - spec.kernel_size + 1, w + 2 * pad - spec.kernel_size + 1
        elif spec.type == "maxpool2d":
            modules.append(nn.MaxPool2d(spec.pool_size))
            h, w = h // spec.pool_size, w // spec.pool_size
        elif spec.type == "dense":
            if not any(isinstance(m, nn.Flatten) for m in modules):
                modules.append(nn.Flatten())
                c, h, w = c * h * w, 1, 1
            modules += [nn.Linear(c, spec.units), nn.ReLU()]
            c = spec.units
    if not any(isinstance(m, nn.Flatten) for m in modules):
        modules.append(nn.Flatten())
        c = c * h * w
    modules.append(nn.Linear(c, N_CLASSES))
    return nn.Sequential(*modules)


def main(seconds: float = 5.0) -> dict[str, dict[str, float]]:
    torch.set_num_threads(1)
    results: dict[str, dict[str, float]] = {}
    print(f"\nConvolutional nets against PyTorch {torch.__version__} CPU, one thread each, batch {BATCH}")
    with threadpool_limits(1):
        for net, (title, _, _) in NETS.items():
            r = results[net] = best_rates({"engine": engine_step(net), "torch": torch_step(net)}, seconds)
            ratio = r["engine"] / r["torch"]
            print(f"\n{title}")
            print(f"  engine {r['engine']:>8,.0f} steps/s   torch {r['torch']:>8,.0f} steps/s   "
                  f"engine / torch {ratio:.2f}× (target ≥ {TARGETS[net]})")
    return results


if __name__ == "__main__":
    main()
