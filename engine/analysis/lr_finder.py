"""Learning-rate range test (Smith 2017, "Cyclical Learning Rates"; fastai's ``lr_find``).

Train a copy of the model for a few steps while the learning rate grows exponentially from
``start`` to ``end``; the loss first barely moves, then falls fastest, then explodes. A good
learning rate sits where the smoothed loss falls fastest, well before it explodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.analysis.landscape import Cancelled
from engine.data import minibatches
from engine.optimizers import OPTIMIZERS

# The first points of an exponentially-smoothed curve are dominated by the bias correction;
# the steepest-slope search skips this fraction of the recorded points (at least one).
SKIP_START = 0.2
# Half-width, in decades of learning rate, of the window the suggestion's slope is measured over.
SLOPE_DECADES = 0.25


@dataclass(frozen=True)
class LRRangeResult:
    lrs: np.ndarray  # learning rate of each step taken (float64)
    losses: np.ndarray  # raw minibatch loss of each step, before that step's update
    smoothed: np.ndarray  # bias-corrected exponential moving average of ``losses``
    suggested_lr: float | None  # steepest descent of ``smoothed``; None with fewer than 3 finite points
    diverged: bool  # stopped early because the smoothed loss exceeded diverge_factor × its best


def lr_range_test(
    network: Any,
    loss: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    rng: np.random.Generator,
    optimizer_name: str = "sgd",
    optimizer_options: dict[str, Any] | None = None,
    start: float = 1e-6,
    end: float = 10.0,
    steps: int = 100,
    batch_size: int = 32,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LRRangeResult:
    """Run the test on ``network.copy()``; the caller's network and its optimizer are untouched.

    ``x``/``y`` are network inputs and loss targets (the training split). ``loss`` is an
    ``engine.losses.Loss`` instance. Raises ``Cancelled`` when ``cancelled()`` turns true.
    """
    if not (0.0 < start < end):
        raise ValueError(f"need 0 < start < end, got start={start!r}, end={end!r}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    if not (0.0 <= smoothing < 1.0):
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing!r}")
    cls = OPTIMIZERS.get(optimizer_name)
    if cls.needs_closure:
        raise ValueError(f"the range test needs a minibatch optimizer; {optimizer_name!r} is full-batch")

    net = network.copy()
    dtype = net.params.dtype
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(dtype, copy=False)
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(dtype, copy=False)
    options = {k: v for k, v in (optimizer_options or {}).items() if k != "lr"}
    opt = cls(net.params, lr=float(start), **options)
    growth = (end / start) ** (1.0 / (steps - 1))

    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg, best, diverged = 0.0, math.inf, False
    batches = iter(())
    with np.errstate(all="ignore"):  # the test provokes overflow on purpose at the end
        for i in range(steps):
            if cancelled is not None and cancelled():
                raise Cancelled("learning-rate range test cancelled")
            idx = next(batches, None)
            if idx is None:
                batches = iter(minibatches(len(x), batch_size, rng))
                idx = next(batches)
            lr = float(start * growth**i)
            opt.lr = lr
            out = net.forward(x[idx], training=True)
            value, grad_out = loss(out, y[idx])
            value = float(value)
            lrs.append(lr)
            losses.append(value)
            if not math.isfinite(value):
                smoothed.append(math.nan)
                diverged = True
                break
            avg = smoothing * avg + (1.0 - smoothing) * value
            smooth = avg / (1.0 - smoothing ** (i + 1))
            smoothed.append(smooth)
            if i > 0 and smooth > diverge_factor * best:
                diverged = True
                break
            best = min(best, smooth)
            net.backward(grad_out)
            if not np.isfinite(net.grads).all():
                diverged = True
                break
            opt.step(net.grads)
            if progress is not None:
                progress((i + 1) / steps)
    if progress is not None:
        progress(1.0)
    lr_arr, sm_arr = np.array(lrs), np.array(smoothed)
    return LRRangeResult(lr_arr, np.array(losses), sm_arr, suggest_lr(lr_arr, sm_arr), diverged)


def suggest_lr(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The learning rate where the smoothed loss falls fastest against log(lr), or None.

    Only the stretch between the warm-up (the first ``SKIP_START`` of the points, where the
    moving average rests on a few minibatches) and the smoothed loss's minimum counts: past the
    minimum the curve is exploding. The slope is a central difference over ±``SLOPE_DECADES``
    of a decade, so a single noisy minibatch cannot fake a steep descent. None when the loss
    never fell below its level after the warm-up.
    """
    finite = np.isfinite(smoothed)
    lrs, smoothed = np.asarray(lrs, np.float64)[finite], np.asarray(smoothed, np.float64)[finite]
    if len(smoothed) < 3:
        return None
    skip = max(1, int(SKIP_START * len(smoothed)))
    if len(smoothed) - skip < 3:
        skip = 0
    stop = skip + int(np.argmin(smoothed[skip:])) + 1
    if stop - skip < 3:
        return None
    x, y = np.log(lrs[skip:stop]), smoothed[skip:stop]
    per_step = (x[-1] - x[0]) / (len(x) - 1)
    h = max(1, round(SLOPE_DECADES * math.log(10.0) / per_step)) if per_step > 0 else 1
    idx = np.arange(len(x))
    lo, hi = np.maximum(idx - h, 0), np.minimum(idx + h, len(x) - 1)
    slope = (y[hi] - y[lo]) / (x[hi] - x[lo])
    return float(lrs[skip + int(np.argmin(slope))])
