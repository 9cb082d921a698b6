"""Finite-difference gradient checks: does back-propagation agree with the loss's slope?

Works on a float64 copy of the network, so a float32 model can be checked without
touching it. Dropout masks are drawn once and then held fixed during the check.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.losses import Loss
from engine.network import Network

# Entries whose gradients are tiny next to the largest one are compared against this
# fraction of the largest gradient instead of their own size: central differences carry
# round-off noise (about 1e-16·|loss| / eps) that is meaningless relative to a zero.
FLOOR_FRACTION = 1e-3


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, eps: float = 1e-6, indices: np.ndarray | None = None
) -> np.ndarray:
    """Central differences (f(x + eps) - f(x - eps)) / 2eps of ``f()`` w.r.t. entries of ``x``.

    ``x`` is perturbed in place (one flat entry at a time) and restored exactly. Returns an
    array of x's shape (zeros where not sampled) when ``indices`` is None, else one value
    per index (flat indices into ``x``).
    """
    flat = x.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb in place")
    idx = np.arange(flat.size) if indices is None else np.asarray(indices).reshape(-1)
    out = np.empty(idx.size, dtype=np.float64)
    for j, i in enumerate(idx):
        orig = flat[i]
        flat[i] = orig + eps
        plus = float(f())
        flat[i] = orig - eps
        minus = float(f())
        flat[i] = orig
        out[j] = (plus - minus) / (2.0 * eps)
    return out.reshape(x.shape) if indices is None else out


def relative_errors(analytic: np.ndarray, numeric: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """|a - n| / max(|a|, |n|, floor) entry-wise (0 where both are exactly 0)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    diff = np.abs(a - n)
    return np.divide(diff, denom, out=np.zeros_like(diff), where=denom > 0)


def gradient_check(
    network: Network,
    loss: Loss,
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_samples: int | None = None,
    eps: float = 1e-6,
    rng: np.random.Generator | None = None,
    training: bool = True,
) -> dict[str, float]:
    """Max relative error between back-propagated and central-difference gradients, per
    parameter name ('dense1.W', …). Float64 throughout, on a copy of ``network``.

    ``n_samples`` checks that many random entries per parameter (all when None or larger);
    ``rng`` picks them (a fixed default keeps results reproducible). ``training`` selects
    the forward mode: True checks BatchNorm's batch statistics and a fixed dropout mask.
    Relative error is |a - n| / max(|a|, |n|, 1e-3 · largest gradient): see FLOOR_FRACTION.
    Values below about 1e-6 mean the gradients agree; a kink (ReLU at 0) near an entry can
    legitimately give a larger error.
    """
    net = network.copy(np.float64)
    # The layers' own code is what is checked; the fast path (engine/fastpath.py) reproduces
    # it bit for bit (tests/engine/test_fastpath.py).
    net.use_fast_path = False
    x64 = np.asarray(x, dtype=np.float64)
    y_arr = np.asarray(y)
    if y_arr.dtype.kind == "f":
        y_arr = y_arr.astype(np.float64)
    rng = np.random.default_rng(0) if rng is None else rng

    # Draw dropout masks once, then hold them: the loss must be a fixed function of params.
    net.forward(x64, training=training)
    net.set_dropout_frozen(True)

    def objective() -> float:
        return loss(net.forward(x64, training=training), y_arr)[0]

    _, grad_out = loss(net.forward(x64, training=training), y_arr)
    net.backward(grad_out)
    analytic_all = net.grads.copy()

    picks: dict[str, np.ndarray] = {}
    for name, sl in net.slices().items():
        size = sl.stop - sl.start
        if n_samples is None or n_samples >= size:
            picks[name] = np.arange(sl.start, sl.stop)
        else:
            picks[name] = sl.start + np.sort(rng.choice(size, size=int(n_samples), replace=False))

    numeric = {name: numerical_gradient(objective, net.params, eps, idx) for name, idx in picks.items()}
    analytic = {name: analytic_all[idx] for name, idx in picks.items()}
    scale = max(
        (float(np.max(np.abs(v))) for d in (numeric, analytic) for v in d.values() if v.size), default=0.0
    )
    floor = max(FLOOR_FRACTION * scale, 1e-12)
    return {
        name: float(np.max(relative_errors(analytic[name], numeric[name], floor), initial=0.0))
        for name in picks
    }
