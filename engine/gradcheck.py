"""Finite-difference gradient checks: does back-propagation agree with the loss's slope?

Works on a float64 copy of the network, so a float32 model can be checked without
touching it. Dropout masks are drawn once and then held fixed during the check.

Every parameter tensor is judged on its own scale, never against the rest of the network:
where gradients have vanished (a deep sigmoid net) a global yardstick would call any error in
a tiny gradient small. For each tensor the check

1. measures the finite difference's own error at a step ``eps``: central differences at
   ``eps`` and ``eps/2`` differ by about 3/4 of the truncation error, and a round-off bound of
   ``ROUNDOFF_SAFETY · machine-eps · |loss| / eps`` covers the noise two agreeing steps can hide.
   Only the numerical side enters this estimate, so a broken backward cannot widen it;
2. turns that into the tensor's tolerance: ``TOLERANCE_FACTOR ×`` the largest finite-difference
   error relative to the tensor's largest gradient, at least ``MIN_TOLERANCE``;
3. walks ``eps`` up the ladder ``EPS_LADDER`` (a larger step has less round-off and more
   truncation) and keeps the step with the smallest tolerance, stopping early once it is below
   ``GOOD_TOLERANCE``;
4. fails the tensor if any entry misses its finite difference by more than ``TOLERANCE_FACTOR``
   times that entry's own finite-difference error (and by more than ``MIN_TOLERANCE``
   relative): a miss that large is a wrong gradient however small the gradients are;
5. otherwise passes it only if the best step resolves the tensor: a tolerance above
   ``MAX_TOLERANCE`` means its gradients are too small for float64 finite differences, and it
   is reported "not checkable at this precision", never passed.

The relative error of an entry is |a - n| / max(|a|, |n|, floor) with the floor at
``FLOOR_FRACTION`` of the largest gradient in the same tensor: central differences carry
round-off that is meaningless relative to an exact zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engine.losses import Loss
from engine.network import Network

FLOOR_FRACTION = 1e-3
# Steps tried per tensor, smallest first. 1e-6 suits gradients of order 1e-3 and up; the larger
# steps resolve gradients down to about 1e-12 on an O(1) loss.
EPS_LADDER = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
ROUNDOFF_SAFETY = 2.0  # a loss summed over a batch carries a few ulps of |loss| per evaluation
TOLERANCE_FACTOR = 10.0
MIN_TOLERANCE = 1e-6
GOOD_TOLERANCE = 1e-5  # stop climbing the ladder once a step is this precise
# Above this the check could no longer tell a 1 % error in the backward from numerical noise.
MAX_TOLERANCE = 1e-3

CheckStatus = Literal["pass", "fail", "not checkable"]


@dataclass(frozen=True)
class TensorCheck:
    """The verdict on one parameter tensor."""

    name: str
    entries: int  # entries compared
    error: float  # max relative error between back-propagation and finite differences
    tolerance: float  # finite-difference error / largest gradient, × TOLERANCE_FACTOR
    eps: float  # the step used
    scale: float  # largest |gradient| in the tensor (either side)
    status: CheckStatus
    # The worst entry's miss as a share of what that entry is allowed (its own finite-difference
    # error × TOLERANCE_FACTOR, plus MIN_TOLERANCE relative): above 1 fails. This, not ``error``
    # against ``tolerance``, is the verdict: a tiny entry may err more than the tensor's tolerance.
    worst_share: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def describe(self) -> str:
        if self.status == "not checkable":
            return (f"not checkable at this precision: gradients of ~{self.scale:.1e} are below what "
                    f"float64 finite differences resolve even at eps {self.eps:g}")
        word = "agrees" if self.status == "pass" else "DISAGREES"
        return (f"{word}: the worst entry misses by {self.worst_share:.2g}× what it is allowed; "
                f"max relative error {self.error:.1e}, finite-difference precision "
                f"{self.tolerance:.0e} (step {self.eps:g})")


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, eps: float = 1e-6, indices: np.ndarray | None = None
) -> np.ndarray:
    """Central differences (f(x + eps) - f(x - eps)) / 2eps of ``f()`` w.r.t. entries of ``x``.

    ``x`` is perturbed in place (one flat entry at a time) and restored exactly. Returns an
    array of x's shape (zeros where not sampled) when ``indices`` is None, else one value
    per index (flat indices into ``x``).
    """
    return _central(f, x, eps, indices)[0]


def _central(
    f: Callable[[], float], x: np.ndarray, eps: float, indices: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Central differences and, per entry, the largest |f| seen (for the round-off bound)."""
    flat = x.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb in place")
    idx = np.arange(flat.size) if indices is None else np.asarray(indices).reshape(-1)
    out = np.empty(idx.size, dtype=np.float64)
    size = np.empty(idx.size, dtype=np.float64)
    for j, i in enumerate(idx):
        orig = flat[i]
        flat[i] = orig + eps
        plus = float(f())
        flat[i] = orig - eps
        minus = float(f())
        flat[i] = orig
        out[j] = (plus - minus) / (2.0 * eps)
        size[j] = max(abs(plus), abs(minus))
    shape = x.shape if indices is None else out.shape
    return out.reshape(shape), size.reshape(shape)


def relative_errors(analytic: np.ndarray, numeric: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """|a - n| / max(|a|, |n|, floor) entry-wise (0 where both are exactly 0)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    diff = np.abs(a - n)
    return np.divide(diff, denom, out=np.zeros_like(diff), where=denom > 0)


def check_tensor(
    name: str, objective: Callable[[], float], params: np.ndarray, indices: np.ndarray, analytic: np.ndarray
) -> TensorCheck:
    """Judge one tensor's back-propagated ``analytic`` gradient at flat ``indices`` of ``params``."""
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None  # resolution, eps, numeric, fd error
    for eps in EPS_LADDER:
        numeric, size = _central(objective, params, eps, indices)
        half, size_half = _central(objective, params, eps / 2.0, indices)
        # Truncation shrinks 4x from eps to eps/2, so eps/2 is the better estimate and the gap is
        # 3x its error; round-off grows as 1/step, bounded from the loss's size.
        roundoff = ROUNDOFF_SAFETY * np.finfo(np.float64).eps * np.maximum(size, size_half) / (eps / 2.0)
        fd_error = np.abs(numeric - half) / 3.0 + roundoff
        scale = float(np.max(np.abs(half), initial=0.0))
        resolution = float(np.max(fd_error, initial=0.0)) / scale if scale > 0 else np.inf
        if best is None or resolution < best[0]:
            best = (resolution, eps, half, fd_error)
        if TOLERANCE_FACTOR * resolution <= GOOD_TOLERANCE:
            break
    assert best is not None
    resolution, eps, numeric, fd_error = best
    scale = float(max(np.max(np.abs(numeric), initial=0.0), np.max(np.abs(analytic), initial=0.0)))
    floor = max(FLOOR_FRACTION * scale, np.finfo(np.float64).tiny)
    errors = relative_errors(analytic, numeric, floor)
    error = float(np.max(errors, initial=0.0))
    tolerance = max(MIN_TOLERANCE, TOLERANCE_FACTOR * resolution)
    # An entry is wrong when back-propagation misses the finite difference by more than the
    # finite difference's own uncertainty there (x TOLERANCE_FACTOR) and by more than MIN_TOLERANCE.
    allowed = TOLERANCE_FACTOR * fd_error + MIN_TOLERANCE * np.maximum(np.maximum(np.abs(analytic),
                                                                                np.abs(numeric)), floor)
    miss = np.abs(analytic - numeric)
    wrong = bool(np.any(~(miss <= allowed)))
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(allowed > 0, miss / allowed, np.where(miss > 0, np.inf, 0.0))
    worst_share = float(np.nanmax(shares, initial=0.0)) if shares.size else 0.0
    # A miss far beyond the finite difference's uncertainty is a failure at any resolution; a
    # pass is only certified where the finite difference resolves the tensor's gradients.
    status: CheckStatus
    if scale == 0.0:  # exactly zero on both sides: nothing flows here, and both agree on it
        status, tolerance = "pass", MIN_TOLERANCE
    elif wrong:
        status = "fail"
    elif tolerance > MAX_TOLERANCE:
        status = "not checkable"
    else:
        status = "pass"
    return TensorCheck(name, int(indices.size), error, tolerance, eps, scale, status, worst_share)


def gradient_check(
    network: Network,
    loss: Loss,
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_samples: int | None = None,
    rng: np.random.Generator | None = None,
    training: bool = True,
    names: list[str] | None = None,
) -> dict[str, TensorCheck]:
    """A verdict per parameter name ('dense1.W', …): back-propagated against central-difference
    gradients, float64 throughout, on a copy of ``network``.

    ``n_samples`` checks that many random entries per parameter (all when None or larger);
    ``rng`` picks them (a fixed default keeps results reproducible). ``training`` selects
    the forward mode: True checks BatchNorm's batch statistics and a fixed dropout mask.
    ``names`` restricts the check to those parameters (all by default).
    See the module docstring for how each tensor's step and tolerance are chosen.
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

    out: dict[str, TensorCheck] = {}
    slices = net.slices()
    unknown = sorted(set(names or ()) - set(slices))
    if unknown:
        raise ValueError(f"no parameter named {', '.join(unknown)}; the model has {', '.join(slices)}")
    for name, sl in slices.items():
        if names is not None and name not in names:
            continue
        size = sl.stop - sl.start
        if n_samples is None or n_samples >= size:
            idx = np.arange(sl.start, sl.stop)
        else:
            idx = sl.start + np.sort(rng.choice(size, size=int(n_samples), replace=False))
        out[name] = check_tensor(name, objective, net.params, idx, analytic_all[idx])
    return out
