"""Plain-language diagnoses of a training history: why a network trains badly and what to try.

Pure functions over the trainer's events (no network, no NumPy state), so the CLI, the GUI panel
and the tests share them. Every threshold is a module constant documented in docs/diagnostics.md.
A problem is reported once per (kind, layer), at the first epoch where its condition had held
for long enough ("sustained"), so a single noisy epoch never raises an alarm.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.events import Divergence, EpochMetrics, StepMetrics

# How many consecutive epochs a condition must hold before it is reported.
SUSTAIN_EPOCHS = 3
# Vanishing: weight-gradient norm of the first layer / that of the last layer below this.
VANISHING_RATIO = 1e-3
# Exploding: the same ratio above this (gradients grow on the way back to the input) ...
EXPLODING_RATIO = 1e3
# ... or one layer's gradient norm grows at least this much over GROWTH_WINDOW epochs, every epoch up.
EXPLODING_GROWTH = 10.0
GROWTH_WINDOW = 3
# Dead ReLU units: fraction of a layer's units that output 0 for every sample of a batch.
DEAD_FRACTION = 0.5
# Saturated sigmoid/tanh outputs (sigmoid < 0.01 or > 0.99, |tanh| > 0.99): above SATURATED_FRACTION
# when it starts within the first SATURATED_EARLY_EPOCHS (the initialization or the input scale is at
# fault), above SATURATED_FRACTION_LATE at any time. A tanh net that fits well grows to about half
# its outputs saturated as it gets confident (measured 0.47-0.59 on the spiral), which is no problem.
SATURATED_FRACTION = 0.5
SATURATED_EARLY_EPOCHS = 3
SATURATED_FRACTION_LATE = 0.7
# Update-to-weight ratio ||ΔW|| / ||W|| per step; about 1e-3 is healthy (Karpathy's rule of thumb).
UPDATE_RATIO_LOW = 1e-5
UPDATE_RATIO_HIGH = 1e-1
# Epochs whose learning rate a schedule has brought below this fraction of its peak are not
# flagged for too-small updates.
ANNEALED_LR_FRACTION = 0.2
# Loss diverging: training loss above DIVERGE_FACTOR × its best so far, the rise being at least
# DIVERGE_MIN_RISE × the first epoch's loss (ignores tiny wiggles near zero), for DIVERGE_EPOCHS epochs.
DIVERGE_FACTOR = 2.0
DIVERGE_MIN_RISE = 0.1
DIVERGE_EPOCHS = 2
# Plateau: best training loss improved by less than PLATEAU_IMPROVEMENT (relative) over the last
# PLATEAU_WINDOW epochs while the training metric is still poor.
PLATEAU_WINDOW = 10
PLATEAU_IMPROVEMENT = 1e-3
POOR_METRIC = {"accuracy": 0.9, "r2": 0.9}

KINDS = (
    "loss_diverging",
    "exploding_gradients",
    "vanishing_gradients",
    "dead_relu",
    "saturated",
    "update_ratio",
    "loss_plateau",
)


@dataclass(frozen=True)
class Diagnosis:
    """One problem found in a run.

    ``step`` and ``epoch`` locate where it started: the exact step for NaN/inf seen in step metrics,
    otherwise the epoch a sustained condition began and the global step count at the end of it.
    """

    kind: str  # one of KINDS
    severity: str  # 'warning' | 'error'
    layer: str | None
    step: int
    epoch: int
    message: str
    remedy: str

    def text(self) -> str:
        """One printable paragraph, as the CLI shows it."""
        return f"[{self.severity}] {self.message} Try: {self.remedy}"


REMEDIES = {
    "vanishing_gradients": (
        "use a ReLU-family activation (relu, leaky_relu, elu, gelu) instead of sigmoid/tanh, a "
        "variance-preserving initialization (he_* for ReLU, glorot_* for tanh) instead of a small std, "
        "fewer layers, batch normalization, or an adaptive optimizer such as Adam."
    ),
    "exploding_gradients": (
        "lower the learning rate, turn on gradient clipping by norm, use a smaller, variance-preserving "
        "initialization (he_* for ReLU, glorot_* for tanh), or add batch normalization."
    ),
    "dead_relu": (
        "lower the learning rate, use leaky_relu or elu, he_* initialization, or a small positive "
        "bias initialization (constant 0.01)."
    ),
    "saturated": (
        "standardize the inputs, use smaller initial weights (glorot_*), a lower learning rate, batch "
        "normalization, or a ReLU-family activation."
    ),
    "update_ratio_low": (
        "raise the learning rate (try ×10, or run the learning-rate range test); if only early layers "
        "are affected, look at the vanishing-gradient remedies."
    ),
    "update_ratio_high": "lower the learning rate (try ÷10) or turn on gradient clipping.",
    "loss_diverging": (
        "the learning rate is probably too high: divide it by 3 to 10 (the learning-rate range test "
        "suggests a value), use a decaying schedule, or turn on gradient clipping."
    ),
    "loss_plateau": (
        "the learning rate may be too low (try ×10 or run the learning-rate range test), or the model is "
        "stuck: check the gradient diagnostics, add units or layers, or switch to Adam. If the loss "
        "jumps up and down instead, the learning rate is too high."
    ),
}


def diagnose(
    history: Sequence[EpochMetrics],
    steps: Sequence[StepMetrics] | None = None,
    layer_order: Sequence[str] | None = None,
    divergence: Divergence | None = None,
) -> list[Diagnosis]:
    """Every problem found in ``history`` (and ``steps``, for exact NaN locations), earliest first.

    ``layer_order`` lists layers from input to output; by default the order of the first epoch's
    ``layer_grad_norms`` (the trainer writes them in network order). The trainer stops at the first
    NaN/inf without reporting that step, so pass its ``divergence`` to have it diagnosed too.
    """
    history = list(history)
    steps = list(steps or ())
    order = _layer_order(history, steps, layer_order)
    found: list[Diagnosis] = _diverged(divergence) if divergence is not None else []
    found += _non_finite(history, steps, order)
    if history:
        found += _loss_diverging(history)
        found += _gradient_ratio(history, order)
        found += _gradient_growth(history, order)
        found += _activations(history, order)
        found += _update_ratios(history, order)
        found += _plateau(history)
        found = _without_echoes(found, history, order)
    # Non-finite findings come first per kind; keep one per (kind, layer).
    unique: dict[tuple[str, str | None], Diagnosis] = {}
    for d in found:
        unique.setdefault((d.kind, d.layer), d)
    return sorted(unique.values(), key=lambda d: (d.step, KINDS.index(d.kind)))


# ---------------------------------------------------------------------------------------------- helpers


def _layer_order(
    history: list[EpochMetrics], steps: list[StepMetrics], given: Sequence[str] | None
) -> list[str]:
    names: list[str] = list(given or ())
    keys = [k for m in history[:1] for k in (*m.layer_grad_norms, *m.activations, *m.layer_update_ratios)]
    keys += [k for s in steps[:1] for k in s.layer_grad_norms]
    for key in keys:
        if key not in names:
            names.append(key)
    return names


def _finite(v: float) -> bool:
    try:
        return math.isfinite(v)  # Python and NumPy floats alike
    except TypeError:
        return False


def _streaks(flags: Sequence[bool], min_len: int) -> list[tuple[int, int]]:
    """(first, last) index pairs of runs of True at least ``min_len`` long."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start >= min_len:
                runs.append((start, i - 1))
            start = None
    return runs


def _span(history: list[EpochMetrics], runs: list[tuple[int, int]]) -> str:
    """'since epoch 4, still at the last epoch' or 'from epoch 4 to 9'."""
    first, last = runs[0][0], max(end for _, end in runs)
    if last == len(history) - 1:
        return f"since epoch {history[first].epoch}"
    return f"from epoch {history[first].epoch} to {history[last].epoch}"


def _at(history: list[EpochMetrics], i: int) -> dict[str, int]:
    return {"epoch": history[i].epoch, "step": history[i].step}


def _pct(x: float) -> str:
    return f"{100.0 * x:.0f}%"


# ---------------------------------------------------------------------------------------------- checks


def _non_finite(history: list[EpochMetrics], steps: list[StepMetrics], order: list[str]) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    loss_at = next(((s.epoch, s.step) for s in steps if not _finite(s.loss)), None)
    if loss_at is None:
        loss_at = next(((m.epoch, m.step) for m in history if not _finite(m.train_loss)), None)
    if loss_at is not None:
        epoch, step = loss_at
        out.append(
            Diagnosis(
                "loss_diverging",
                "error",
                None,
                step,
                epoch,
                f"The training loss became NaN or infinite at step {step} (epoch {epoch}).",
                REMEDIES["loss_diverging"],
            )
        )
    grad_at = None
    for s in steps:
        bad = [n for n in order if n in s.layer_grad_norms and not _finite(s.layer_grad_norms[n])]
        if bad or not _finite(s.grad_norm):
            grad_at = (s.epoch, s.step, bad)
            break
    if grad_at is None:
        for m in history:
            bad = [n for n in order if n in m.layer_grad_norms and not _finite(m.layer_grad_norms[n])]
            if bad:
                grad_at = (m.epoch, m.step, bad)
                break
    if grad_at is not None:
        epoch, step, bad = grad_at
        what = f"weight gradient of {', '.join(repr(b) for b in bad)}" if bad else "gradient norm"
        out.append(
            Diagnosis(
                "exploding_gradients",
                "error",
                bad[0] if bad else None,
                step,
                epoch,
                f"Exploding gradients: at step {step} (epoch {epoch}) the {what} became NaN or infinite.",
                REMEDIES["exploding_gradients"],
            )
        )
    return out


def _diverged(d: Divergence) -> list[Diagnosis]:
    # A NaN loss says the steps were too large; NaN gradients, weights or activations say the
    # signal blew up somewhere in the network (the trainer names the first layer it saw it in).
    kind = "loss_diverging" if d.quantity == "loss" else "exploding_gradients"
    return [Diagnosis(kind, "error", d.layer, d.step, d.epoch, d.message(), REMEDIES[kind])]


def _loss_diverging(history: list[EpochMetrics]) -> list[Diagnosis]:
    losses = [m.train_loss for m in history]
    if not losses or not _finite(losses[0]):
        return []
    flags, best = [False], losses[0]
    for v in losses[1:]:
        if not _finite(v):
            break  # reported by _non_finite
        flags.append(v > DIVERGE_FACTOR * best and v - best > DIVERGE_MIN_RISE * abs(losses[0]))
        best = min(best, v)
    runs = _streaks(flags, DIVERGE_EPOCHS)
    if not runs:
        return []
    i = runs[0][0]
    best_before = min(losses[:i])
    return [
        Diagnosis(
            "loss_diverging",
            "error",
            None,
            message=(
                f"The training loss is rising {_span(history, runs)}: {losses[i]:.3g} at epoch "
                f"{history[i].epoch}, {losses[i] / best_before:.1f}× its best of {best_before:.3g}."
            ),
            remedy=REMEDIES["loss_diverging"],
            **_at(history, i),
        )
    ]


def _without_echoes(found: list[Diagnosis], history: list[EpochMetrics], order: list[str]) -> list[Diagnosis]:
    """Drop "updates too small" for layers whose gradient vanished: one cause, one message."""
    if not any(d.kind == "vanishing_gradients" for d in found):
        return found
    layers = [n for n in order if n in history[0].layer_grad_norms]
    last = layers[-1]
    vanished = set()
    for layer in layers[:-1]:
        ratios = [
            m.layer_grad_norms.get(layer, math.nan) / m.layer_grad_norms[last]
            if m.layer_grad_norms.get(last, 0.0) > 0.0
            else math.nan
            for m in history
        ]
        if _streaks([r < VANISHING_RATIO for r in ratios], SUSTAIN_EPOCHS):
            vanished.add(layer)
    low = REMEDIES["update_ratio_low"]
    return [d for d in found if not (d.kind == "update_ratio" and d.remedy == low and d.layer in vanished)]


def _grad_series(history: list[EpochMetrics], layer: str) -> list[float]:
    return [m.layer_grad_norms.get(layer, math.nan) for m in history]


def _gradient_ratio(history: list[EpochMetrics], order: list[str]) -> list[Diagnosis]:
    layers = [n for n in order if n in history[0].layer_grad_norms]
    if len(layers) < 2:
        return []
    first, last = layers[0], layers[-1]

    def ratio(m: EpochMetrics, layer: str) -> float:
        a, b = m.layer_grad_norms.get(layer, math.nan), m.layer_grad_norms.get(last, math.nan)
        return a / b if _finite(a) and _finite(b) and b > 0.0 else math.nan

    ratios = [ratio(m, first) for m in history]
    out: list[Diagnosis] = []
    low = _streaks([r < VANISHING_RATIO for r in ratios], SUSTAIN_EPOCHS)
    if low:
        i = low[0][0]
        affected = [n for n in layers[:-1] if ratio(history[i], n) < VANISHING_RATIO]
        out.append(
            Diagnosis(
                "vanishing_gradients",
                "warning",
                first,
                message=(
                    f"Vanishing gradients {_span(history, low)}: the weight gradient of '{first}' is only "
                    f"{ratios[i]:.1e} × that of '{last}' (threshold {VANISHING_RATIO:g}), so the early "
                    f"layers barely learn. Layers below the threshold: {', '.join(affected)}."
                ),
                remedy=REMEDIES["vanishing_gradients"],
                **_at(history, i),
            )
        )
    high = _streaks([r > EXPLODING_RATIO for r in ratios], SUSTAIN_EPOCHS)
    if high:
        i = high[0][0]
        out.append(
            Diagnosis(
                "exploding_gradients",
                "warning",
                first,
                message=(
                    f"Exploding gradients {_span(history, high)}: the weight gradient of '{first}' is "
                    f"{ratios[i]:.1e} × that of '{last}' (threshold {EXPLODING_RATIO:g}): gradients grow "
                    "layer by layer on the way back to the input."
                ),
                remedy=REMEDIES["exploding_gradients"],
                **_at(history, i),
            )
        )
    return out


def _gradient_growth(history: list[EpochMetrics], order: list[str]) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    w = GROWTH_WINDOW
    for layer in order:
        g = _grad_series(history, layer)
        for e in range(w, len(g)):
            window = g[e - w : e + 1]
            if not all(_finite(v) for v in window) or window[0] <= 0.0:
                continue
            rising = all(b > a for a, b in itertools.pairwise(window))
            if rising and window[-1] >= EXPLODING_GROWTH * window[0]:
                out.append(
                    Diagnosis(
                        "exploding_gradients",
                        "warning",
                        layer,
                        message=(
                            f"Exploding gradients: the weight gradient of '{layer}' grew "
                            f"×{window[-1] / window[0]:.0f} in {w} epochs (epoch {history[e - w].epoch}: "
                            f"{window[0]:.2g}, epoch {history[e].epoch}: {window[-1]:.2g})."
                        ),
                        remedy=REMEDIES["exploding_gradients"],
                        **_at(history, e),
                    )
                )
                break
    return out


def _activations(history: list[EpochMetrics], order: list[str]) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    for layer in order:
        stats = [m.activations.get(layer) for m in history]
        dead = [s is not None and s.dead_fraction > DEAD_FRACTION for s in stats]
        runs = _streaks(dead, SUSTAIN_EPOCHS)
        if runs:
            i = runs[0][0]
            frac = stats[i].dead_fraction  # type: ignore[union-attr]
            out.append(
                Diagnosis(
                    "dead_relu",
                    "error" if frac >= 1.0 else "warning",
                    layer,
                    message=(
                        f"Dead ReLUs in '{layer}' {_span(history, runs)}: {_pct(frac)} of its units output "
                        f"0 for every sample (threshold {_pct(DEAD_FRACTION)}). A dead unit gets no gradient "
                        "and never recovers."
                    ),
                    remedy=REMEDIES["dead_relu"],
                    **_at(history, i),
                )
            )
        fractions = [math.nan if s is None else s.saturated_fraction for s in stats]
        early = _streaks([f > SATURATED_FRACTION for f in fractions], SUSTAIN_EPOCHS)
        early = [r for r in early if r[0] < SATURATED_EARLY_EPOCHS]
        # Later on, saturation is only a problem while the network still fits poorly: a
        # confident, well-fitting tanh network sits on the flat ends by design.
        poor = [_poor_fit(m) for m in history]
        late = _streaks(
            [f > SATURATED_FRACTION_LATE and p for f, p in zip(fractions, poor, strict=True)], SUSTAIN_EPOCHS
        )
        runs = sorted(early + late)
        if runs:
            i = runs[0][0]
            bound = SATURATED_FRACTION if runs[0] in early else SATURATED_FRACTION_LATE
            frac = stats[i].saturated_fraction  # type: ignore[union-attr]
            out.append(
                Diagnosis(
                    "saturated",
                    "warning",
                    layer,
                    message=(
                        f"Saturated units in '{layer}' {_span(history, runs)}: {_pct(frac)} of its outputs "
                        f"sit on the flat ends of the sigmoid/tanh (threshold {_pct(bound)}), "
                        "where the derivative is almost zero and gradients cannot pass."
                    ),
                    remedy=REMEDIES["saturated"],
                    **_at(history, i),
                )
            )
    return out


def _update_ratios(history: list[EpochMetrics], order: list[str]) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    # Small updates are the intent once a schedule has annealed the learning rate.
    peak, annealed = 0.0, []
    for m in history:
        peak = max(peak, m.lr) if _finite(m.lr) else peak
        annealed.append(_finite(m.lr) and m.lr < ANNEALED_LR_FRACTION * peak)
    for layer in order:
        r = [m.layer_update_ratios.get(layer, math.nan) for m in history]
        low = [_finite(v) and v < UPDATE_RATIO_LOW and not a for v, a in zip(r, annealed, strict=True)]
        for too, flags in (
            ("low", low),
            ("high", [_finite(v) and v > UPDATE_RATIO_HIGH for v in r]),
        ):
            runs = _streaks(flags, SUSTAIN_EPOCHS)
            if not runs:
                continue
            i = runs[0][0]
            size = "small" if too == "low" else "large"
            bound = UPDATE_RATIO_LOW if too == "low" else UPDATE_RATIO_HIGH
            out.append(
                Diagnosis(
                    "update_ratio",
                    "warning",
                    layer,
                    message=(
                        f"Updates too {size} in '{layer}' {_span(history, runs)}: each step changes its "
                        f"weights by {r[i]:.1e} of their size (healthy is about 1e-3, threshold {bound:g})."
                    ),
                    remedy=REMEDIES[f"update_ratio_{too}"],
                    **_at(history, i),
                )
            )
    return out


def _poor_fit(m: EpochMetrics) -> bool:
    bound = POOR_METRIC.get(m.metric_name)
    return bound is not None and _finite(m.train_metric) and m.train_metric < bound


def _plateau(history: list[EpochMetrics]) -> list[Diagnosis]:
    losses = [m.train_loss for m in history]
    if not all(_finite(v) for v in losses):
        return []
    w = PLATEAU_WINDOW
    best = list(itertools.accumulate(losses, min))  # best loss up to each epoch: linear, not quadratic
    for e in range(w, len(history)):
        recent = losses[e - w + 1 : e + 1]
        best_before = best[e - w]
        if best_before <= 0.0:
            continue
        improvement = (best_before - min(recent)) / best_before
        m = history[e]
        poor = POOR_METRIC.get(m.metric_name)
        stalled = improvement < PLATEAU_IMPROVEMENT and poor is not None and _finite(m.train_metric)
        if stalled and m.train_metric < poor:
            shown = _pct(m.train_metric) if m.metric_name == "accuracy" else f"{m.train_metric:.2f}"
            return [
                Diagnosis(
                    "loss_plateau",
                    "warning",
                    None,
                    message=(
                        f"The loss has stalled: from epoch {history[e - w].epoch} to {m.epoch} the "
                        f"training loss improved by less than {100 * PLATEAU_IMPROVEMENT:g}% (it is "
                        f"{losses[e]:.3g}) while the training {m.metric_name} is only {shown}."
                    ),
                    remedy=REMEDIES["loss_plateau"],
                    epoch=m.epoch,
                    step=m.step,
                )
            ]
    return []
