"""Vanishing and exploding gradients *through time*: the diagnosis for recurrent layers.

Input: ‖∂L/∂h_t‖ per time step of a recurrent layer over recent training steps (the records
``engine/recurrent.py`` leaves after each backward). The measure is the first-to-last ratio
‖∂L/∂h_1‖ / ‖∂L/∂h_T‖: how much of the loss's gradient at the last step still reaches the
first. Thresholds (docs/diagnostics.md):

- ``TIME_VANISHING_RATIO = 1e-3``: below it, early steps get a thousandth of the gradient or
  less: the layer cannot learn dependencies that span the sequence;
- ``TIME_EXPLODING_RATIO = 1e3`` and ‖∂L/∂h_1‖ at least ``TIME_EXPLODING_MIN_NORM``: above it,
  gradients grow on the way back in time.

The ratio is the median over the last ``TIME_WINDOW`` records, so one odd batch raises nothing.
Truncated BPTT cuts the gradient on purpose: a layer with ``truncate`` > 0 is judged over its
last chunk only (the steps its gradient is allowed to reach).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from engine.analysis.diagnostics import Diagnosis
from engine.analysis.remedies import _choices

if TYPE_CHECKING:
    from engine.trainer import Trainer

TIME_VANISHING_RATIO = 1e-3
TIME_EXPLODING_RATIO = 1e3
TIME_EXPLODING_MIN_NORM = 1.0
TIME_WINDOW = 20


def first_to_last_ratio(records: Sequence[np.ndarray], truncate: int = 0) -> float:
    """Median over the last TIME_WINDOW records of ‖∂L/∂h_first‖ / ‖∂L/∂h_T‖ (NaN if unknown)."""
    ratios = []
    for norms in list(records)[-TIME_WINDOW:]:
        norms = np.asarray(norms, dtype=float)
        if norms.size < 2:
            continue
        first = 0 if truncate <= 0 else max(0, (norms.size - 1) // truncate * truncate)
        if norms[-1] > 0 and math.isfinite(norms[-1]) and first < norms.size - 1:
            ratios.append(norms[first] / norms[-1])
    return float(np.median(ratios)) if ratios else math.nan


def diagnose_time(
    records: dict[str, Sequence[np.ndarray]],
    kinds: dict[str, str],
    step: int = 0,
    epoch: int = 0,
    clipping: str = "none",
    truncate: dict[str, int] | None = None,
) -> list[Diagnosis]:
    """Findings per recurrent layer. ``records``: layer -> recent per-step norm arrays;
    ``kinds``: layer -> 'rnn' | 'lstm' | 'gru'; ``clipping``: the run's clipping mode."""
    found = []
    for layer, recs in records.items():
        cut = (truncate or {}).get(layer, 0)
        ratio = first_to_last_ratio(recs, cut)
        if not math.isfinite(ratio):
            continue
        kind = kinds.get(layer, "rnn")
        last = np.asarray(list(recs)[-1], dtype=float)
        steps = last.size
        if ratio < TIME_VANISHING_RATIO:
            found.append(Diagnosis(
                "vanishing_through_time", "warning", layer, step, epoch,
                f"{layer}: the gradient vanishes through time: the first of {steps} steps gets "
                f"{ratio:.1e} of the last step's gradient (below {TIME_VANISHING_RATIO:g}), so the layer "
                "cannot learn what depends on early inputs.",
                _choices([
                    (kind in ("lstm", "gru"), "an LSTM or GRU layer instead of a plain RNN (their gates "
                                              "keep a path along which the gradient survives)"),
                    (False, "shorter sequences"),
                    (False, "fewer hidden units with tanh kept out of saturation (standardized inputs)"),
                ]),
            ))
        elif ratio > TIME_EXPLODING_RATIO and last[0] >= TIME_EXPLODING_MIN_NORM:
            found.append(Diagnosis(
                "exploding_through_time", "error", layer, step, epoch,
                f"{layer}: the gradient explodes through time: the first of {steps} steps gets "
                f"{ratio:.1e}× the last step's gradient (above {TIME_EXPLODING_RATIO:g}).",
                _choices([
                    (clipping == "norm", "gradient clipping by norm (clipping mode 'norm', max 1)"),
                    (cut > 0, "truncated backpropagation through time (truncate, e.g. 10 steps)"),
                    (kind in ("lstm", "gru"), "an LSTM or GRU layer"),
                ]),
            ))
    return found


def diagnose_trainer_time(trainer: Trainer) -> list[Diagnosis]:
    """``diagnose_time`` on the trainer's network's last backward (what the CLI can see)."""
    from engine.recurrent import recurrent_layers

    layers = [layer for layer in recurrent_layers(trainer.network) if layer.time_grad_norms is not None]
    return diagnose_time(
        {layer.name: [layer.time_grad_norms] for layer in layers},
        {layer.name: layer.kind for layer in layers},
        step=trainer.step,
        epoch=trainer.epoch,
        clipping=trainer.spec.clipping.mode,
        truncate={layer.name: layer.truncate for layer in layers},
    )
