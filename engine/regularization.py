"""L1/L2 weight penalties and gradient clipping, in place on the flat buffers.

Conventions (stated so a user can reproduce them in PyTorch):
- L2 is ``(l2 / 2) * sum(w**2)``, so its gradient is ``l2 * w`` — the same as torch's
  ``weight_decay=l2`` on SGD — and L1 is ``l1 * sum(|w|)`` with gradient ``l1 * sign(w)``
  (``sign(0) = 0``, as ``torch.sign``). Both apply only where ``weight_mask`` is True
  (weights, not biases or batch-norm parameters).
- ``clip_grad_norm`` is ``torch.nn.utils.clip_grad_norm_`` over all parameters with the
  2-norm: it returns the norm *before* clipping and multiplies by
  ``max_norm / (norm + 1e-6)`` when that factor is below 1.
- ``clip_grad_value`` is ``torch.nn.utils.clip_grad_value_``.
"""

from __future__ import annotations

import math

import numpy as np


def l1_l2_penalty(params: np.ndarray, weight_mask: np.ndarray, l1: float, l2: float) -> float:
    """``(l2/2) * Σ w² + l1 * Σ |w|`` over the masked weights, as a Python float."""
    if l1 == 0.0 and l2 == 0.0:
        return 0.0
    weights = params[weight_mask]
    penalty = 0.0
    if l2 != 0.0:
        penalty += 0.5 * float(l2) * float(np.dot(weights, weights))
    if l1 != 0.0:
        penalty += float(l1) * float(np.abs(weights).sum())
    return penalty


def add_l1_l2_grad(
    params: np.ndarray, grads: np.ndarray, weight_mask: np.ndarray, l1: float, l2: float
) -> None:
    """Add the penalty's gradient ``l2 * w + l1 * sign(w)`` to ``grads`` where the mask is True."""
    if l2 != 0.0:
        # Python float scalars keep float32 buffers float32; where= avoids a scatter.
        np.add(grads, params * float(l2), out=grads, where=weight_mask)
    if l1 != 0.0:
        signs = np.sign(params)
        signs *= float(l1)
        np.add(grads, signs, out=grads, where=weight_mask)


def clip_grad_norm(grads: np.ndarray, max_norm: float) -> float:
    """Rescale ``grads`` in place so its 2-norm is at most ``max_norm``; return the norm before."""
    norm = math.sqrt(float(np.dot(grads, grads)))
    coef = float(max_norm) / (norm + 1e-6)
    # torch clamps the factor at 1, so a gradient already inside the ball is untouched.
    if coef < 1.0:
        grads *= coef
    return norm


def clip_grad_value(grads: np.ndarray, clip_value: float) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]`` in place."""
    value = float(clip_value)
    np.clip(grads, -value, value, out=grads)
