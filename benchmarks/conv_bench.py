"""Convolutional training steps against the bare im2col GEMM floor, measured in one run.

``make bench`` prints, per net (``benchmarks/conv_workloads.py``), the engine's steps/s and the
rate of its matrix products alone (the floor of an im2col engine), one BLAS thread. The ratio
engine / floor is the share of a step spent in BLAS: the rest is window copies, col2im, pooling,
activations, the loss and the optimizer. The PyTorch comparison runs in ``make torch-check``
(``benchmarks/conv_torch.py``).
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from benchmarks.conv_workloads import NETS, STEPS, best_rates


def main(seconds: float = 4.0) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    print("\nConvolutional nets: training steps/s (Adam, batch 64, float32, 1 BLAS thread)")
    with threadpool_limits(1):
        for net, (title, _, _) in NETS.items():
            r = results[net] = best_rates({name: make(net) for name, make in STEPS.items()}, seconds)
            print(f"\n{title}")
            print(f"  {'':<22}{'steps/s':>10}{'µs/step':>10}   ratio")
            for name, rate in r.items():
                ratio = rate / r["gemm floor"]
                print(f"  {name:<22}{rate:>10,.0f}{1e6 / rate:>10.0f}   {ratio:>5.2f}× gemm floor")
    return results


if __name__ == "__main__":
    main()
