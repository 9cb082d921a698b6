"""Plain-language diagnoses of a training history: why a network trains badly and what to try.

Pure functions over the trainer's events (no network, no NumPy state), so the CLI, the GUI panel
and the tests share them. Every threshold is a module constant documented in docs/diagnostics.md.
A problem is reported once per (kind, layer), from the epoch its condition began to hold for long
enough ("sustained"), so a single noisy epoch never raises an alarm. Alarms live in time: once the
condition has cleared for RECOVERY_EPOCHS epochs the finding says "happened at epoch N, recovered"
instead of "happening now". Remedies never suggest a setting the run already uses
(``RunContext``), and only the ``learning_rate`` finding gives learning-rate advice.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from engine.analysis.remedies import remedy
from engine.analysis.run_context import LEAKY, RECTIFIERS, RunContext
from engine.events import Divergence, EpochMetrics, StepMetrics

if TYPE_CHECKING:
    from engine.trainer import Trainer

# How many consecutive epochs a condition must hold before it is reported.
SUSTAIN_EPOCHS = 3
# How many consecutive epochs a condition must have cleared before its alarm is retired.
RECOVERY_EPOCHS = 5
# Vanishing: weight-gradient norm of the first layer / that of the last layer below this.
VANISHING_RATIO = 1e-3
# Uniform collapse: every layer's weight-gradient norm below VANISHING_COLLAPSE x its first-epoch
# value, or every one below VANISHING_ABSOLUTE while the loss has not left its first level
# (within UNMOVED_LOSS, relative). Healthy runs at chance-level loss measure 0.07-0.43.
VANISHING_COLLAPSE = 1e-3
VANISHING_ABSOLUTE = 1e-2
UNMOVED_LOSS = 0.02
# Exploding: the same ratio above this (gradients grow on the way back to the input) ...
EXPLODING_RATIO = 1e3
# ... or one layer's gradient norm grows at least this much over GROWTH_WINDOW epochs, every epoch up.
EXPLODING_GROWTH = 10.0
GROWTH_WINDOW = 3
# Neither counts unless the large gradient is at least this large in absolute terms: growth from
# 2e-4 to 4e-3 is a layer waking up, not an explosion.
EXPLODING_MIN_NORM = 1.0
# Dead ReLU units (relu only): fraction of a layer's units that output 0 for every sample of a batch.
# leaky_relu / elu units below their kink are "stuck in the negative regime" at the same fraction.
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
# No better than chance: over CHANCE_WINDOW epochs the mean training loss is at or above the
# chance-level loss, it jumps by at least CHANCE_SPREAD x chance, and it makes no progress (its best
# is not CHANCE_PROGRESS below the best before the window).
CHANCE_WINDOW = 5
CHANCE_SPREAD = 0.1
CHANCE_PROGRESS = 0.05
# Plateau: best training loss improved by less than PLATEAU_IMPROVEMENT (relative) over the last
# PLATEAU_WINDOW epochs while the window's median training metric is still poor, and validation loss
# is not rising (a model that overfits has converged, it is not stuck): val's best in the window
# more than VAL_RISE above its best before it counts as rising.
PLATEAU_WINDOW = 10
PLATEAU_IMPROVEMENT = 5e-3
POOR_METRIC = {"accuracy": 0.9, "r2": 0.9}
VAL_RISE = 0.01

KINDS = (
    "loss_diverging",
    "exploding_gradients",
    "vanishing_gradients",
    "dead_relu",
    "stuck_negative",
    "saturated",
    "update_ratio",
    "loss_plateau",
    "learning_rate",
    "vanishing_through_time",  # engine/analysis/time_gradients.py
    "exploding_through_time",
    "data",  # a finding about the data itself (engine.data.table_checks), before any training
)

State = Literal["now", "recovered"]
LrVote = Literal["raise", "lower"]


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
    state: State = "now"  # "recovered": cleared for RECOVERY_EPOCHS epochs
    last_epoch: int = 0  # last epoch the condition held (0: unknown)
    lr_vote: LrVote | None = None  # what this finding says about the learning rate (learning_rate speaks)

    def when(self) -> str:
        """'happening now' or 'happened at epoch N, recovered'."""
        if self.kind == "data":
            return "found in the data"
        if self.state == "recovered":
            span = f"epoch {self.epoch}"
            if self.last_epoch > self.epoch:
                span = f"epochs {self.epoch}-{self.last_epoch}"
            return f"happened at {span}, recovered"
        return "happening now"

    def text(self) -> str:
        """One printable paragraph, as the CLI and the panel's Copy show it."""
        tail = f" Try: {self.remedy}" if self.remedy else ""
        return f"[{self.severity}, {self.when()}] {self.message}{tail}"


def diagnose(
    history: Sequence[EpochMetrics],
    steps: Sequence[StepMetrics] | None = None,
    layer_order: Sequence[str] | None = None,
    divergence: Divergence | None = None,
    context: RunContext | None = None,
) -> list[Diagnosis]:
    """Every problem found in ``history`` (and ``steps``, for exact NaN locations), earliest first.

    ``layer_order`` lists layers from input to output; by default the order of the first epoch's
    ``layer_grad_norms`` (the trainer writes them in network order). The trainer stops at the first
    NaN/inf without reporting that step, so pass its ``divergence`` to have it diagnosed too.
    ``context`` (``RunContext.from_trainer``) tells which activation each layer uses, what is
    already in use and the chance-level loss; without it the activation-specific and chance-level
    checks are skipped and remedies are generic.
    """
    ctx = context or RunContext()
    history = list(history)
    steps = list(steps or ())
    order = _layer_order(history, steps, layer_order)
    found: list[Diagnosis] = _diverged(divergence, ctx) if divergence is not None else []
    found += _non_finite(history, steps, order, ctx)
    if history:
        found += _loss_diverging(history, ctx)
        found += _no_better_than_chance(history, ctx)
        found += _gradient_ratio(history, order, ctx)
        found += _uniform_vanishing(history, order, ctx)
        found += _gradient_growth(history, order, ctx)
        found += _activations(history, order, ctx)
        found += _update_ratios(history, order, ctx)
        found += _plateau(history, order, ctx)
        found = _without_echoes(found, history, order)
    # Non-finite findings come first per kind; keep one per (kind, layer).
    unique: dict[tuple[str, str | None], Diagnosis] = {}
    for d in found:
        unique.setdefault((d.kind, d.layer), d)
    result = sorted(unique.values(), key=lambda d: (d.step, KINDS.index(d.kind)))
    advice = _learning_rate(result, ctx)
    return data_findings(ctx) + result + advice


def data_findings(ctx: RunContext) -> list[Diagnosis]:
    """The data checks' warnings as findings: true before the first step, so epoch and step 0."""
    return [Diagnosis("data", "warning", None, 0, 0, w.message, w.remedy[:1].lower() + w.remedy[1:])
            for w in ctx.data_warnings]


def diagnose_trainer(trainer: Trainer, steps: Sequence[StepMetrics] | None = None) -> list[Diagnosis]:
    """``diagnose`` on a trainer's history, divergence and settings: what the CLI prints and the
    panel shows. ``steps``: the first step and any non-finite ones (for the exact NaN step)."""
    from engine.analysis.time_gradients import diagnose_trainer_time

    order = [name for name, *_ in trainer.network.summary()]
    return diagnose(trainer.history, steps, layer_order=order, divergence=trainer.divergence,
                    context=RunContext.from_trainer(trainer)) + diagnose_trainer_time(trainer)


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


@dataclass(frozen=True)
class _Episode:
    first: int  # history index where the reported stretch began
    last: int  # history index of its last epoch
    state: State


def _episode(history: list[EpochMetrics], runs: list[tuple[int, int]]) -> _Episode:
    """The stretch to report: the latest one. It is "recovered" once the condition has cleared
    for RECOVERY_EPOCHS epochs after it, else it is still "now"."""
    first, last = runs[-1]
    cleared = len(history) - 1 - last
    return _Episode(first, last, "recovered" if cleared >= RECOVERY_EPOCHS else "now")


def _span(history: list[EpochMetrics], ep: _Episode) -> str:
    """'since epoch 4', 'from epoch 4 to 9 (cleared since)' or 'at epochs 4-9 (recovered)'."""
    first, last = history[ep.first].epoch, history[ep.last].epoch
    if ep.last == len(history) - 1:
        return f"since epoch {first}"
    if ep.state == "now":
        return f"from epoch {first} to {last} (cleared since, not yet for {RECOVERY_EPOCHS} epochs)"
    return f"at epochs {first}-{last}" if last > first else f"at epoch {first}"


def _finding(kind: str, severity: str, layer: str | None, history: list[EpochMetrics], ep: _Episode,
             message: str, remedy_text: str, lr_vote: LrVote | None = None) -> Diagnosis:
    return Diagnosis(kind, severity, layer, history[ep.first].step, history[ep.first].epoch, message,
                     remedy_text, ep.state, history[ep.last].epoch, lr_vote)


def _pct(x: float) -> str:
    return f"{100.0 * x:.0f}%"


# ---------------------------------------------------------------------------------------------- checks


def _non_finite(history: list[EpochMetrics], steps: list[StepMetrics], order: list[str],
                ctx: RunContext) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    loss_at = next(((s.epoch, s.step) for s in steps if not _finite(s.loss)), None)
    if loss_at is None:
        loss_at = next(((m.epoch, m.step) for m in history if not _finite(m.train_loss)), None)
    if loss_at is not None:
        epoch, step = loss_at
        out.append(
            Diagnosis(
                "loss_diverging", "error", None, step, epoch,
                f"The training loss became NaN or infinite at step {step} (epoch {epoch}).",
                remedy("loss_diverging", ctx), last_epoch=epoch, lr_vote="lower",
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
                "exploding_gradients", "error", bad[0] if bad else None, step, epoch,
                f"Exploding gradients: at step {step} (epoch {epoch}) the {what} became NaN or infinite.",
                remedy("exploding_gradients", ctx), last_epoch=epoch, lr_vote="lower",
            )
        )
    return out


def _diverged(d: Divergence, ctx: RunContext) -> list[Diagnosis]:
    # A NaN loss says the steps were too large; NaN gradients, weights or activations say the
    # signal blew up somewhere in the network (the trainer names the first layer it saw it in).
    kind = "loss_diverging" if d.quantity == "loss" else "exploding_gradients"
    where = f" in layer '{d.layer}'" if d.layer else ""
    # Divergence.message() carries its own advice; here the remedy and the learning-rate finding give it.
    message = (f"Training diverged at step {d.step} (epoch {d.epoch}): the {d.quantity}{where} became NaN "
               "or infinite.")
    return [Diagnosis(kind, "error", d.layer, d.step, d.epoch, message, remedy(kind, ctx),
                      last_epoch=d.epoch, lr_vote="lower")]


def _loss_diverging(history: list[EpochMetrics], ctx: RunContext) -> list[Diagnosis]:
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
    ep = _episode(history, runs)
    i = ep.first
    best_before = min(losses[:i])
    return [
        _finding(
            "loss_diverging", "error" if ep.state == "now" else "warning", None, history, ep,
            f"The training loss rose {_span(history, ep)}: {losses[i]:.3g} at epoch {history[i].epoch}, "
            f"{losses[i] / best_before:.1f}× its best of {best_before:.3g}.",
            remedy("loss_diverging", ctx), "lower",
        )
    ]


def _no_better_than_chance(history: list[EpochMetrics], ctx: RunContext) -> list[Diagnosis]:
    chance = ctx.chance_loss
    losses = [m.train_loss for m in history]
    w = CHANCE_WINDOW
    if not _finite(chance) or chance <= 0 or len(losses) < w + 1 or not all(_finite(v) for v in losses):
        return []
    flags = [False] * len(losses)
    for e in range(w, len(losses)):
        window = losses[e - w + 1 : e + 1]
        best_before = min(losses[: e - w + 1])
        no_progress = min(window) > (1.0 - CHANCE_PROGRESS) * best_before
        jumping = max(window) - min(window) >= CHANCE_SPREAD * chance
        flags[e] = sum(window) / w >= chance and jumping and no_progress
    runs = _streaks(flags, 1)
    if not runs:
        return []
    ep = _episode(history, runs)
    start = max(0, ep.first - w + 1)
    window = losses[start : ep.first + 1]
    ep = _Episode(start, ep.last, ep.state)
    return [
        _finding(
            "loss_diverging", "error" if ep.state == "now" else "warning", None, history, ep,
            f"The training loss is no better than chance {_span(history, ep)}: it jumps between "
            f"{min(window):.3g} and {max(window):.3g}, on average at or above {chance:.3g}, the loss of "
            "predicting the class frequencies (or the mean target) without looking at the input.",
            remedy("loss_diverging", ctx), "lower",
        )
    ]


def _without_echoes(found: list[Diagnosis], history: list[EpochMetrics], order: list[str]) -> list[Diagnosis]:
    """Drop "updates too small" for layers whose gradient vanished: one cause, one message."""
    vanishing = [d for d in found if d.kind == "vanishing_gradients"]
    if not vanishing:
        return found
    vanished = set()
    for d in vanishing:
        vanished.update(d.message.split("Layers affected: ")[-1].rstrip(".").split(", "))
    echo = [d for d in found if d.kind == "update_ratio" and "small" in d.message and d.layer in vanished]
    return [d for d in found if d not in echo]


def _grad_series(history: list[EpochMetrics], layer: str) -> list[float]:
    return [m.layer_grad_norms.get(layer, math.nan) for m in history]


def _gradient_ratio(history: list[EpochMetrics], order: list[str], ctx: RunContext) -> list[Diagnosis]:
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
        ep = _episode(history, low)
        i = ep.first
        affected = [n for n in layers[:-1] if ratio(history[i], n) < VANISHING_RATIO]
        out.append(
            _finding(
                "vanishing_gradients", "warning", first, history, ep,
                f"Vanishing gradients {_span(history, ep)}: the weight gradient of '{first}' is only "
                f"{ratios[i]:.1e} × that of '{last}' (threshold {VANISHING_RATIO:g}), so the early "
                f"layers barely learn. Layers affected: {', '.join(affected)}.",
                remedy("vanishing_gradients", ctx),
            )
        )
    large = [m.layer_grad_norms.get(first, math.nan) >= EXPLODING_MIN_NORM for m in history]
    flags = [r > EXPLODING_RATIO and big for r, big in zip(ratios, large, strict=True)]
    high = _streaks(flags, SUSTAIN_EPOCHS)
    if high:
        ep = _episode(history, high)
        i = ep.first
        out.append(
            _finding(
                "exploding_gradients", "warning", first, history, ep,
                f"Exploding gradients {_span(history, ep)}: the weight gradient of '{first}' is "
                f"{ratios[i]:.1e} × that of '{last}' (threshold {EXPLODING_RATIO:g}): gradients grow "
                "layer by layer on the way back to the input.",
                remedy("exploding_gradients", ctx), "lower",
            )
        )
    return out


def _uniform_vanishing(history: list[EpochMetrics], order: list[str], ctx: RunContext) -> list[Diagnosis]:
    """Every layer's gradient tiny at once, which a first/last ratio cannot see: collapsed against
    the run's own first epoch, or tiny in absolute terms while the loss has not moved."""
    layers = [n for n in order if n in history[0].layer_grad_norms]
    if not layers:
        return []
    start = [history[0].layer_grad_norms.get(n, math.nan) for n in layers]
    loss0 = history[0].train_loss
    flags, zero = [], []
    for m in history:
        g = [m.layer_grad_norms.get(n, math.nan) for n in layers]
        if not all(_finite(v) for v in g):
            flags.append(False)
            zero.append(False)
            continue
        collapsed = all(_finite(s0) and s0 > 0 and v < VANISHING_COLLAPSE * s0
                        for v, s0 in zip(g, start, strict=True))
        unmoved = _finite(loss0) and abs(m.train_loss - loss0) <= UNMOVED_LOSS * abs(loss0)
        flags.append(collapsed or (unmoved and all(v < VANISHING_ABSOLUTE for v in g)))
        zero.append(all(v == 0.0 for v in g))
    runs = _streaks(flags, SUSTAIN_EPOCHS)
    if not runs:
        return []
    ep = _episode(history, runs)
    m = history[ep.first]
    g = [m.layer_grad_norms[n] for n in layers]
    if zero[ep.first]:
        what = ("every weight gradient is exactly 0: no signal reaches the weights (dead units or a "
                "constant output), so no learning rate can help")
    else:
        what = (f"every layer's weight gradient is tiny at once ({min(g):.1e} to {max(g):.1e}; healthy runs "
                f"measure above {VANISHING_ABSOLUTE:g}) while the loss stays near {m.train_loss:.3g}")
    return [
        _finding(
            "vanishing_gradients", "warning", None, history, ep,
            f"Vanishing gradients across the whole network {_span(history, ep)}: {what}. "
            f"Layers affected: {', '.join(layers)}.",
            remedy("vanishing_gradients", ctx),
        )
    ]


def _gradient_growth(history: list[EpochMetrics], order: list[str], ctx: RunContext) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    w = GROWTH_WINDOW
    for layer in order:
        g = _grad_series(history, layer)
        hits = []
        for e in range(w, len(g)):
            window = g[e - w : e + 1]
            if not all(_finite(v) for v in window) or window[0] <= 0.0:
                continue
            rising = all(b > a for a, b in itertools.pairwise(window))
            if rising and window[-1] >= EXPLODING_GROWTH * window[0] and window[-1] >= EXPLODING_MIN_NORM:
                hits.append(e)
        if not hits:
            continue
        flags = [i in hits for i in range(len(g))]
        ep = _episode(history, _streaks(flags, 1))
        e = ep.first  # reported where the growth was first seen, as the message describes it
        out.append(
            _finding(
                "exploding_gradients", "warning", layer, history, ep,
                f"Exploding gradients: the weight gradient of '{layer}' grew ×{g[e] / g[e - w]:.0f} in {w} "
                f"epochs (epoch {history[e - w].epoch}: {g[e - w]:.2g}, epoch {history[e].epoch}: "
                f"{g[e]:.2g}, above the floor of {EXPLODING_MIN_NORM:g}).",
                remedy("exploding_gradients", ctx), "lower",
            )
        )
    return out


def _activations(history: list[EpochMetrics], order: list[str], ctx: RunContext) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    for layer in order:
        stats = [m.activations.get(layer) for m in history]
        act = ctx.activation(layer)
        # Without a context every rectifier counts as relu, the old behaviour.
        dead_kind = "dead_relu" if (act in RECTIFIERS or not act) else ""
        dead_kind = "stuck_negative" if act in LEAKY else dead_kind
        dead = [s is not None and s.dead_fraction > DEAD_FRACTION for s in stats]
        runs = _streaks(dead, SUSTAIN_EPOCHS) if dead_kind else []
        if runs:
            ep = _episode(history, runs)
            frac = stats[ep.first].dead_fraction  # type: ignore[union-attr]
            if dead_kind == "dead_relu":
                never = " A dead unit gets no gradient; only a change in the layers before it can revive it."
                out.append(
                    _finding(
                        "dead_relu", "error" if frac >= 1.0 and ep.state == "now" else "warning", layer,
                        history, ep,
                        f"Dead ReLUs in '{layer}' {_span(history, ep)}: {_pct(frac)} of its units output 0 "
                        f"for every sample (threshold {_pct(DEAD_FRACTION)}).{never}",
                        remedy("dead_relu", ctx, layer),
                    )
                )
            else:
                out.append(
                    _finding(
                        "stuck_negative", "warning", layer, history, ep,
                        f"Units stuck in the negative regime in '{layer}' ({act}) {_span(history, ep)}: "
                        f"{_pct(frac)} of its units are below zero for every sample (threshold "
                        f"{_pct(DEAD_FRACTION)}). They still pass a small gradient, so they learn slowly but "
                        "can recover.",
                        remedy("stuck_negative", ctx, layer),
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
            ep = _episode(history, runs)
            bound = SATURATED_FRACTION if runs[-1] in early else SATURATED_FRACTION_LATE
            frac = stats[ep.first].saturated_fraction  # type: ignore[union-attr]
            out.append(
                _finding(
                    "saturated", "warning", layer, history, ep,
                    f"Saturated units in '{layer}' {_span(history, ep)}: {_pct(frac)} of its outputs sit on "
                    f"the flat ends of the sigmoid/tanh (threshold {_pct(bound)}), where the derivative is "
                    "almost zero and gradients cannot pass.",
                    remedy("saturated", ctx, layer),
                )
            )
    return out


def _update_ratios(history: list[EpochMetrics], order: list[str], ctx: RunContext) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    # Small updates are the intent once a schedule has annealed the learning rate.
    peak, annealed = 0.0, []
    for m in history:
        peak = max(peak, m.lr) if _finite(m.lr) else peak
        annealed.append(_finite(m.lr) and m.lr < ANNEALED_LR_FRACTION * peak)
    for layer in order:
        r = [m.layer_update_ratios.get(layer, math.nan) for m in history]
        g = _grad_series(history, layer)
        low = [_finite(v) and v < UPDATE_RATIO_LOW and not a for v, a in zip(r, annealed, strict=True)]
        for too, flags in (
            ("low", low),
            ("high", [_finite(v) and v > UPDATE_RATIO_HIGH for v in r]),
        ):
            runs = _streaks(flags, SUSTAIN_EPOCHS)
            if not runs:
                continue
            ep = _episode(history, runs)
            i = ep.first
            size = "small" if too == "low" else "large"
            bound = UPDATE_RATIO_LOW if too == "low" else UPDATE_RATIO_HIGH
            zero = too == "low" and g[i] == 0.0
            why = " because its gradient is exactly 0" if zero else ""
            vote: LrVote | None = None if zero else ("raise" if too == "low" else "lower")
            out.append(
                _finding(
                    "update_ratio", "warning", layer, history, ep,
                    f"Updates too {size} in '{layer}' {_span(history, ep)}: each step changes its weights by "
                    f"{r[i]:.1e} of their size{why} (healthy is about 1e-3, threshold {bound:g}).",
                    "see the vanishing-gradient and dead-unit findings." if zero else
                    "see the learning-rate finding.", vote,
                )
            )
    return out


def _poor_fit(m: EpochMetrics) -> bool:
    bound = POOR_METRIC.get(m.metric_name)
    return bound is not None and _finite(m.train_metric) and m.train_metric < bound


def _plateau(history: list[EpochMetrics], order: list[str], ctx: RunContext) -> list[Diagnosis]:
    losses = [m.train_loss for m in history]
    if not all(_finite(v) for v in losses):
        return []
    w = PLATEAU_WINDOW
    best = list(itertools.accumulate(losses, min))  # best loss up to each epoch: linear, not quadratic
    val = [m.val_loss if _finite(m.val_loss) else math.inf for m in history]
    # Best finite validation loss up to each epoch (inf before the first): linear, not quadratic;
    # this runs on the GUI thread several times a second while training.
    val_best = list(itertools.accumulate(val, min))
    flags = [False] * len(history)
    rising_val = [False] * len(history)
    for e in range(w, len(history)):
        recent = losses[e - w + 1 : e + 1]
        best_before = best[e - w]
        if best_before <= 0.0:
            continue
        improvement = (best_before - min(recent)) / best_before
        metrics = sorted(m.train_metric for m in history[e - w + 1 : e + 1])
        median = metrics[len(metrics) // 2]
        poor = POOR_METRIC.get(history[e].metric_name)
        before_min = val_best[e - w]
        recent_min = min(val[e - w + 1 : e + 1])
        rising_val[e] = bool(math.isfinite(before_min) and math.isfinite(recent_min)
                             and recent_min > (1 + VAL_RISE) * before_min)
        flags[e] = (improvement < PLATEAU_IMPROVEMENT and poor is not None and _finite(median)
                    and median < poor and not rising_val[e])
    runs = _streaks(flags, 1)
    if not runs:
        return []
    ep = _episode(history, runs)
    e = ep.first
    m = history[e]
    shown = _pct(m.train_metric) if m.metric_name == "accuracy" else f"{m.train_metric:.2f}"
    layers = [n for n in order if n in m.layer_grad_norms]
    zero = bool(layers) and all(m.layer_grad_norms[n] == 0.0 for n in layers)
    why = " Every weight gradient is exactly 0, so a larger learning rate cannot help." if zero else ""
    return [
        _finding(
            "loss_plateau", "warning", None, history, ep,
            f"The loss has stalled {_span(history, ep)}: over the {w} epochs up to epoch {m.epoch} the "
            f"training loss improved by less than {100 * PLATEAU_IMPROVEMENT:g}% (it is {losses[e]:.3g}) "
            f"while the training {m.metric_name} is only {shown}.{why}",
            remedy("loss_plateau", ctx), None if zero else "raise",
        )
    ]


LR_LOWER = "lower the learning rate (divide it by 3 to 10; gradient-workbench lr-find suggests a value)."
LR_RAISE = "raise the learning rate (multiply it by 3 to 10; gradient-workbench lr-find suggests a value)."


def _learning_rate(found: list[Diagnosis], ctx: RunContext) -> list[Diagnosis]:
    """The one finding that advises on the learning rate, from what the current findings say.

    Too-large steps are the more urgent: any current finding that says "lower" wins over those
    that say "raise", so the panel never shows "too high" and "try x10" together. "Raise" is not
    given while gradients vanish or units are dead: those findings name the cause.
    """
    now = [d for d in found if d.state == "now" and d.lr_vote is not None]
    lower = [d for d in now if d.lr_vote == "lower"]
    raise_ = [d for d in now if d.lr_vote == "raise"]
    if not lower and not raise_:
        return []
    blocked = [d for d in found if d.state == "now" and d.kind in ("vanishing_gradients", "dead_relu")]
    if not lower and blocked:
        return []  # no gradient reaches those weights: a larger rate is not the fix, the findings say what is
    votes = lower or raise_
    first = min(votes, key=lambda d: d.step)
    because = sorted({d.kind.replace("_", " ") for d in votes})
    if lower:
        message = f"The learning rate is too high for this run: {', '.join(because)}."
        if raise_:
            message += (" (Other findings would suggest a larger rate; steps that are too large come first.)")
    else:
        message = f"The learning rate is too low for this run: {', '.join(because)}."
    return [Diagnosis("learning_rate", "warning", None, first.step, first.epoch, message,
                      LR_LOWER if lower else LR_RAISE, "now", max(d.last_epoch for d in votes),
                      "lower" if lower else "raise")]
