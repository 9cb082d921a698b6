"""Learning-rate range test (Smith 2017, "Cyclical Learning Rates"; fastai's ``lr_find``).

Train a copy of the model for a few steps while the learning rate grows exponentially from
``start`` to ``end``; the loss first barely moves, then falls fastest, then explodes.

The loop is fastai's: one minibatch step per learning rate, the minibatch loss smoothed by a
bias-corrected moving average (0.98), stop once it exceeds 4x its best. Every rule that reads that
curve reads minibatch noise too: when a hundred steps cannot learn more than the loss's
batch-to-batch spread, the "steepest descent" is wherever the noise happened to dip.

So our suggestion reads a second curve and only speaks when the drop is significant:

* **A fixed evaluation batch.** Before every step the loss is also measured on the same
  ``EVAL_SAMPLES`` training samples (evenly spaced through the training split, so no random draw),
  in evaluation mode. Its changes come from the weights alone, not from which minibatch came next.
* **Its own noise.** The batch is split into ``EVAL_CHUNKS`` chunks. The standard error of the loss
  is the spread of the chunk means at the start / sqrt(chunks): how much the loss would read
  differently on another batch of the same size. A drop smaller than ``SIGNIFICANCE`` of those
  standard errors is indistinguishable from choosing other samples.
* **The suggestion.** The evaluation curve is smoothed by a centred running mean over
  ±``SMOOTH_DECADES`` of a decade (centred, so it does not lag towards larger rates). Its minimum is
  searched up to the first significant rise above its best so far (the explosion). If its drop from
  the start to that minimum is significant, the suggestion is where it falls fastest against
  log(lr) (a central difference over ±``SLOPE_DECADES``), between the start and that minimum.
* **Otherwise "inconclusive"**, with the reason: the loss did not fall by more than its noise, it
  exploded first, or it was already falling fastest at the lowest rate tried.

fastai's three rules and pytorch-lr-finder's rule are computed on the smoothed minibatch curve, as
their libraries do, and returned side by side (``LRRangeResult.rules``) for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from engine.analysis.landscape import Cancelled
from engine.data import minibatches
from engine.optimizers import OPTIMIZERS

# The first points of an exponentially-smoothed curve are dominated by the bias correction;
# ``suggest_lr`` skips this fraction of the recorded points (at least one).
SKIP_START = 0.2
# Half-width, in decades of learning rate, of the window the suggestion's slope is measured over.
SLOPE_DECADES = 0.25
# Half-width of the centred running mean on the evaluation curve.
SMOOTH_DECADES = 0.1
EVAL_SAMPLES = 256
EVAL_CHUNKS = 8
# A drop counts when it exceeds this many standard errors of the evaluation loss.
SIGNIFICANCE = 3.0

Verdict = Literal["suggested", "inconclusive"]


@dataclass(frozen=True)
class RuleSuggestion:
    """One published rule's reading of the smoothed minibatch curve."""

    name: str  # 'valley', 'steep', 'minimum/10', 'argmin gradient'
    reference: str  # where the rule comes from
    lr: float | None


@dataclass(frozen=True)
class LRRangeResult:
    lrs: np.ndarray  # learning rate of each step taken (float64)
    losses: np.ndarray  # raw minibatch loss of each step, before that step's update
    smoothed: np.ndarray  # bias-corrected exponential moving average of ``losses``
    suggested_lr: float | None  # our significant-drop suggestion; None when inconclusive
    diverged: bool  # stopped early because the smoothed loss exceeded diverge_factor x its best
    eval_losses: np.ndarray = field(default_factory=lambda: np.empty(0))  # fixed-batch loss per step
    eval_smoothed: np.ndarray = field(default_factory=lambda: np.empty(0))  # centred running mean of it
    noise: float = math.nan  # standard error of the fixed-batch loss at the start
    drop: float = math.nan  # start minus minimum of ``eval_smoothed``
    verdict: Verdict = "inconclusive"
    reason: str = ""  # why inconclusive; how the suggestion was found otherwise
    rules: tuple[RuleSuggestion, ...] = ()

    def summary(self) -> str:
        """One line a person reads: the suggestion or "inconclusive" and why."""
        if self.verdict == "suggested" and self.suggested_lr is not None:
            return f"suggested learning rate {self.suggested_lr:.2g} ({self.reason})"
        return f"inconclusive: {self.reason}"


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
    # Evenly spaced, not drawn: the minibatch order must not depend on the evaluation batch.
    # At most one sample per index step, so rounding never repeats an index.
    eval_idx = np.linspace(0, len(x) - 1, min(EVAL_SAMPLES, len(x))).round().astype(np.intp)
    x_eval, y_eval = x[eval_idx], y[eval_idx]
    chunks = np.array_split(np.arange(len(eval_idx)), min(EVAL_CHUNKS, len(eval_idx)))

    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    eval_losses: list[float] = []
    start_chunks: list[float] = []
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
            eval_out = net.forward(x_eval, training=False)
            eval_losses.append(float(loss(eval_out, y_eval)[0]))
            if i == 0:  # the noise is measured once, on the untouched weights
                start_chunks = [float(loss(eval_out[pos], y_eval[pos])[0]) for pos in chunks]
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
    return judge(lr_arr, np.array(losses), sm_arr, np.array(eval_losses), np.array(start_chunks), diverged)


def range_test_for(
    trainer: Any,
    *,
    network: Any = None,
    steps: int = 100,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[LRRangeResult, str]:
    """The range test an experiment's own settings call for, as the CLI and the app run it.

    Uses the experiment's optimizer (SGD in place of a full-batch one such as L-BFGS, which takes
    no minibatch steps), batch size and seed, on ``network`` or else a copy of the weights the
    run started from. Returns the result and the optimizer name used.
    """
    from engine.trainer import targets_for_loss

    spec = trainer.spec
    name, options = spec.optimizer.name, dict(spec.optimizer.options)
    if OPTIMIZERS.get(name).needs_closure:
        name, options = "sgd", {}
    net = trainer.initial_network() if network is None else network
    ds = trainer.dataset
    dtype = net.params.dtype
    x = np.asarray(ds.x_train, dtype=dtype)
    y = targets_for_loss(ds, ds.y_train, trainer.loss, dtype)
    result = lr_range_test(net, trainer.loss, x, y, rng=np.random.default_rng(spec.seed), optimizer_name=name,
                           optimizer_options=options, batch_size=spec.training.batch_size, steps=steps,
                           progress=progress, cancelled=cancelled)
    return result, name


def judge(
    lrs: np.ndarray,
    losses: np.ndarray,
    smoothed: np.ndarray,
    eval_losses: np.ndarray,
    start_chunks: np.ndarray,
    diverged: bool,
) -> LRRangeResult:
    """Our verdict and the published rules, from the recorded curves (see the module docstring).

    ``eval_losses`` is the fixed evaluation batch's loss before each step; ``start_chunks`` the
    loss of each of its chunks before the first step.
    """
    n_chunks = len(start_chunks)
    eval_smoothed = centred_mean(lrs, eval_losses, SMOOTH_DECADES)
    noise = float(np.std(start_chunks, ddof=1) / math.sqrt(n_chunks)) if n_chunks > 1 else math.nan
    rules = published_rules(lrs, smoothed)
    finite = np.isfinite(eval_smoothed)
    n_ok = int(np.argmin(finite)) if not finite.all() else len(finite)  # points before the first NaN
    kw = {"eval_losses": eval_losses, "eval_smoothed": eval_smoothed, "noise": noise, "rules": rules}
    steps = len(lrs)

    def inconclusive(reason: str, drop: float = math.nan) -> LRRangeResult:
        return LRRangeResult(lrs, losses, smoothed, None, diverged, drop=drop, verdict="inconclusive",
                             reason=reason, **kw)

    if n_ok < 5:
        return inconclusive(f"only {n_ok} usable steps: the loss exploded at once; lower the start rate")
    curve = eval_smoothed[:n_ok]
    # Past the first significant rise above the best so far the curve is exploding, and any dip
    # in the chaos after it is luck: the minimum is searched before that rise.
    rising = np.flatnonzero(curve > np.minimum.accumulate(curve) + SIGNIFICANCE * noise)
    if rising.size:
        curve = curve[: int(rising[0])]
    low = int(np.argmin(curve))
    drop = float(curve[0] - curve[low])
    if not (drop > SIGNIFICANCE * noise):
        what = "exploded before it fell" if diverged else "fell"
        return inconclusive(
            f"the loss {what} by {max(drop, 0.0):.2g}, less than {SIGNIFICANCE:g}x its noise ({noise:.2g}) "
            f"in {steps} steps: use more steps or a larger batch", drop)
    lr = steepest_descent(lrs[: low + 1], curve[: low + 1], skip=0)
    if lr is None:
        return inconclusive("the loss fell too few steps to measure a slope: use more steps", drop)
    if lr <= lrs[0] * 10 ** SLOPE_DECADES:
        return inconclusive(f"the loss was already falling fastest at the lowest rate tried ({lrs[0]:.2g}): "
                            "start lower", drop)
    reason = (f"steepest fall of the fixed-batch loss, which dropped by {drop:.2g} "
              f"= {drop / noise:.0f}x its noise {noise:.2g}")
    return LRRangeResult(lrs, losses, smoothed, lr, diverged, drop=drop, verdict="suggested", reason=reason,
                         **kw)


def centred_mean(lrs: np.ndarray, values: np.ndarray, decades: float) -> np.ndarray:
    """Running mean of ``values`` over ±``decades`` of log10(lr) around each point (NaN stays NaN)."""
    values = np.asarray(values, np.float64)
    out = np.full(values.shape, np.nan)
    if len(values) < 2:
        return values.copy()
    per_step = (math.log10(lrs[-1]) - math.log10(lrs[0])) / (len(lrs) - 1)
    h = max(0, round(decades / per_step)) if per_step > 0 else 0
    for i in range(len(values)):
        window = values[max(0, i - h): i + h + 1]
        if np.isfinite(values[i]) and np.isfinite(window).all():
            out[i] = float(window.mean())
        elif np.isfinite(values[i]):
            out[i] = float(window[np.isfinite(window)].mean())
    return out


def steepest_descent(lrs: np.ndarray, curve: np.ndarray, skip: int) -> float | None:
    """The rate where ``curve`` falls fastest against log(lr), a central difference over
    ±``SLOPE_DECADES``, ignoring the first ``skip`` points; None with fewer than 3 points."""
    x, y = np.log(np.asarray(lrs, np.float64)[skip:]), np.asarray(curve, np.float64)[skip:]
    if len(x) < 3:
        return None
    per_step = (x[-1] - x[0]) / (len(x) - 1)
    h = max(1, round(SLOPE_DECADES * math.log(10.0) / per_step)) if per_step > 0 else 1
    idx = np.arange(len(x))
    lo, hi = np.maximum(idx - h, 0), np.minimum(idx + h, len(x) - 1)
    slope = (y[hi] - y[lo]) / (x[hi] - x[lo])
    if not np.any(slope < 0):
        return None
    return float(lrs[skip + int(np.argmin(slope))])


def suggest_lr(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The rate where a smoothed minibatch curve falls fastest before its minimum, or None.

    The earlier rule of this test, kept for curves without an evaluation batch: it skips the
    warm-up (the first ``SKIP_START`` of the points), and does not judge significance.
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
    return steepest_descent(lrs[:stop], smoothed[:stop], skip)


FASTAI = "fastai v2, lr_find suggestion functions"
PYTORCH_LR_FINDER = "pytorch-lr-finder (davidtvs), LRFinder.plot suggestion"


def published_rules(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[RuleSuggestion, ...]:
    """fastai's valley, steep and minimum/10 and pytorch-lr-finder's rule, as those libraries
    apply them: fastai drops the first tenth of the points and everything from the first NaN,
    pytorch-lr-finder trims 10 points at the start and 5 at the end. No significance test."""
    lrs = np.asarray(lrs, np.float64)
    smoothed = np.asarray(smoothed, np.float64)
    nan = np.flatnonzero(~np.isfinite(smoothed))
    stop = int(nan[0]) if nan.size else len(smoothed)
    skip = len(lrs) // 10
    f_lrs, f_loss = lrs[skip:stop], smoothed[skip:stop]
    valley = steep = minimum = None
    if len(f_loss) >= 2:
        valley = _fastai_valley(f_lrs, f_loss)
        grads = np.diff(f_loss) / np.diff(np.log(f_lrs))
        steep = float(f_lrs[int(np.argmin(grads))])
        minimum = float(f_lrs[int(np.argmin(f_loss))] / 10.0)
    t_lrs, t_loss = lrs[10:len(lrs) - 5], smoothed[10:len(smoothed) - 5]
    torch_lr = None
    if len(t_loss) >= 2 and np.isfinite(t_loss).all():
        torch_lr = float(t_lrs[int(np.argmin(np.gradient(t_loss)))])
    return (
        RuleSuggestion("valley", FASTAI, valley),
        RuleSuggestion("steep", FASTAI, steep),
        RuleSuggestion("minimum/10", FASTAI, minimum),
        RuleSuggestion("argmin gradient", PYTORCH_LR_FINDER, torch_lr),
    )


def _fastai_valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai's ``valley``: the longest strictly decreasing run of the curve (a longest decreasing
    subsequence), then the point 1/3 + 1/6 of the way along it."""
    n = len(losses)
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])
