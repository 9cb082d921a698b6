"""Attributions beyond the plain gradient: SmoothGrad and Integrated Gradients.

- **SmoothGrad** (Smilkov et al. 2017): the gradient of the score averaged over copies of the
  input with Gaussian noise added, σ = ``noise`` × the sample's value range. The plain gradient
  of a ReLU network jumps from pixel to pixel; the average keeps what the copies agree on.
- **Integrated Gradients** (Sundararajan et al. 2017): (x − x′) ⊙ ∫₀¹ ∂F/∂x(x′ + α(x − x′)) dα
  for a baseline x′, the integral by the midpoint rule over ``steps`` points. Its attributions
  add up to F(x) − F(x′) (completeness); what they miss is reported as the completeness error,
  Σ attributions − (F(x) − F(x′)). The midpoint rule's error falls like 1/steps² on a smooth
  model; on a ReLU network it falls more slowly where a path crosses kinks.

The score F is a raw output (a logit for cross-entropy losses), as for ``saliency``; the class
differentiated is fixed per sample at the clean input (its prediction, or ``target_class``),
not re-chosen for each noisy or interpolated copy. Everything runs on a copy of the network in
eval mode, so the caller's network, gradients and random state are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from engine.analysis.saliency import chosen_outputs

AttributionMethod = Literal["gradient", "smoothgrad", "integrated_gradients"]
METHODS: dict[str, str] = {
    "gradient": "Gradient",
    "smoothgrad": "SmoothGrad",
    "integrated_gradients": "Integrated Gradients",
}
# Rows per forward/backward: the noisy or interpolated copies of a batch are evaluated in
# chunks so a large image batch times many steps never allocates more than this many rows.
CHUNK_ROWS = 4096
MAX_STEPS = 10_000
MAX_SAMPLES = 10_000


@dataclass(frozen=True)
class Attribution:
    """One method's attributions for a batch.

    ``values`` has the input's shape (signed: positive raises the score). ``target`` is the
    output differentiated per sample. For Integrated Gradients, ``score_change`` is
    F(x) − F(baseline) per sample and ``completeness_error`` Σ values − score_change; both are
    None for the other methods.
    """

    method: AttributionMethod
    values: np.ndarray
    target: np.ndarray
    score_change: np.ndarray | None = None
    completeness_error: np.ndarray | None = None

    @property
    def relative_error(self) -> np.ndarray | None:
        """|completeness error| / |F(x) − F(baseline)| per sample (inf when F did not change)."""
        if self.completeness_error is None or self.score_change is None:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(self.completeness_error) / np.abs(self.score_change)


class _Scorer:
    """F and ∂F/∂x of fixed outputs on one private copy of the network, in chunks."""

    def __init__(self, network: Any) -> None:
        self.net = network.copy()
        self.dtype = self.net.params.dtype

    def __call__(self, x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = np.empty(len(x), dtype=np.float64)
        grads = np.empty(x.shape, dtype=self.dtype)
        for start in range(0, len(x), CHUNK_ROWS):
            part = slice(start, start + CHUNK_ROWS)
            xb = np.ascontiguousarray(x[part], dtype=self.dtype)
            out = self.net.forward(xb, training=False)
            flat = out.reshape(len(out), -1)
            rows = np.arange(len(flat))
            scores[part] = flat[rows, target[part]]
            seed = np.zeros_like(flat)
            seed[rows, target[part]] = 1.0
            # Eval mode keeps samples independent, so one backward gives every row its own gradient.
            grads[part] = self.net.backward(seed.reshape(out.shape))
        return scores, grads


def _prepare(
    network: Any, loss: Any, x: np.ndarray, target_class: int | None
) -> tuple[_Scorer, np.ndarray, np.ndarray]:
    scorer = _Scorer(network)
    x = np.asarray(x).astype(scorer.dtype, copy=False)
    out = scorer.net.forward(np.ascontiguousarray(x), training=False)
    target = chosen_outputs(out.reshape(len(out), -1), loss, target_class)
    return scorer, x, target


def gradient(network: Any, loss: Any, x: np.ndarray, target_class: int | None = None) -> Attribution:
    """The plain gradient ∂score/∂x (signed; ``saliency`` is its magnitude)."""
    scorer, x, target = _prepare(network, loss, x, target_class)
    _, grads = scorer(x, target)
    return Attribution("gradient", grads, target)


def smoothgrad(
    network: Any,
    loss: Any,
    x: np.ndarray,
    rng: np.random.Generator,
    n_samples: int = 25,
    noise: float = 0.15,
    target_class: int | None = None,
) -> Attribution:
    """The gradient averaged over ``n_samples`` noisy copies of each sample.

    The noise's standard deviation is ``noise`` × (max − min) of each sample's own values, so
    it means the same on standardised features and on raw pixels. ``rng`` draws the noise.
    """
    if not 1 <= n_samples <= MAX_SAMPLES:
        raise ValueError(f"n_samples must be in [1, {MAX_SAMPLES}], got {n_samples}")
    if not noise >= 0.0:
        raise ValueError(f"noise must be ≥ 0, got {noise}")
    scorer, x, target = _prepare(network, loss, x, target_class)
    n = len(x)
    flat = x.reshape(n, -1).astype(np.float64)
    spread = (flat.max(axis=1) - flat.min(axis=1)) if flat.shape[1] else np.zeros(n)
    sigma = noise * np.where(spread > 0, spread, 1.0)
    total = np.zeros(x.shape, dtype=np.float64)
    # One noisy copy of every sample per draw keeps the batch at n rows (CHUNK_ROWS still applies).
    for _ in range(n_samples):
        eps = rng.standard_normal(x.shape) * sigma.reshape((n,) + (1,) * (x.ndim - 1))
        _, grads = scorer(x + eps.astype(scorer.dtype), target)
        total += grads
    return Attribution("smoothgrad", (total / n_samples).astype(scorer.dtype), target)


def integrated_gradients(
    network: Any,
    loss: Any,
    x: np.ndarray,
    baseline: np.ndarray | float = 0.0,
    steps: int = 50,
    target_class: int | None = None,
) -> Attribution:
    """Integrated Gradients from ``baseline`` (a scalar, one sample, or one per sample) to ``x``.

    ``steps`` midpoints α = (k + ½)/steps along the straight path; the returned attribution's
    ``completeness_error`` says how far the sum is from F(x) − F(baseline).
    """
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be in [1, {MAX_STEPS}], got {steps}")
    scorer, x, target = _prepare(network, loss, x, target_class)
    n = len(x)
    base = np.broadcast_to(np.asarray(baseline, dtype=scorer.dtype), x.shape)
    delta = (x - base).astype(np.float64)
    alphas = (np.arange(steps) + 0.5) / steps
    total = np.zeros(x.shape, dtype=np.float64)
    # Chunk over steps so a batch of images times many steps stays within CHUNK_ROWS rows.
    per_chunk = max(1, CHUNK_ROWS // max(n, 1))
    for start in range(0, steps, per_chunk):
        a = alphas[start : start + per_chunk]
        path = base[None] + a.reshape((-1,) + (1,) * x.ndim) * delta[None]  # (k, n, ...)
        _, grads = scorer(path.reshape((-1, *x.shape[1:])), np.tile(target, len(a)))
        total += grads.reshape((len(a), *x.shape)).astype(np.float64).sum(axis=0)
    values = delta * total / steps
    f_x, _ = scorer(x, target)
    f_base, _ = scorer(np.ascontiguousarray(base), target)
    change = f_x - f_base
    error = values.reshape(n, -1).sum(axis=1) - change
    return Attribution("integrated_gradients", values, target, change, error)


def attribute(
    method: AttributionMethod,
    network: Any,
    loss: Any,
    x: np.ndarray,
    rng: np.random.Generator,
    target_class: int | None = None,
    *,
    n_samples: int = 25,
    noise: float = 0.15,
    baseline: np.ndarray | float = 0.0,
    steps: int = 50,
) -> Attribution:
    """One entry point for the views: ``method`` by name, its options by keyword."""
    if method == "gradient":
        return gradient(network, loss, x, target_class)
    if method == "smoothgrad":
        return smoothgrad(network, loss, x, rng, n_samples, noise, target_class)
    if method == "integrated_gradients":
        return integrated_gradients(network, loss, x, baseline, steps, target_class)
    raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
