"""Gradient saliency (Simonyan et al. 2013): how strongly each input moves the network's score.

The score is a raw output (a logit for cross-entropy losses), not a probability: the softmax
would squash the gradient of confident predictions to nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Central-difference step for the Jacobian of ``featurize``, relative to the plane's extent.
FD_STEP = 1e-5


@dataclass(frozen=True)
class SaliencyMap:
    xs: np.ndarray  # (res,) first raw coordinate
    ys: np.ndarray  # (res,) second raw coordinate
    values: np.ndarray  # (res, res): values[i, j] = |∂score/∂p| at the point (xs[i], ys[j])
    classes: np.ndarray  # (res, res) int: the output whose score was differentiated


def chosen_outputs(flat: np.ndarray, loss: Any, target_class: int | None) -> np.ndarray:
    """The output whose score is explained, per row of ``flat`` (batch, outputs): ``target_class``,
    else the predicted class of a multi-class loss, else the (first) output."""
    n_out = flat.shape[1]
    if target_class is not None:
        if not 0 <= target_class < n_out:
            raise ValueError(f"target_class must be in [0, {n_out}), got {target_class}")
        return np.full(len(flat), target_class, dtype=np.int64)
    if n_out > 1 and getattr(loss, "task", "") == "multiclass":
        return np.argmax(flat, axis=1)  # the predicted class
    return np.zeros(len(flat), dtype=np.int64)  # binary / regression: the (first) output


def _score_gradient(
    network: Any, loss: Any, x: np.ndarray, target_class: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(∂score/∂x, chosen output index per sample), computed on a copy of the network."""
    net = network.copy()  # backward overwrites grads and the cached activations
    x = np.asarray(x)
    x = x.astype(net.params.dtype, copy=False)
    out = net.forward(x, training=False)
    flat = out.reshape(len(out), -1)
    chosen = chosen_outputs(flat, loss, target_class)
    seed = np.zeros_like(flat)
    seed[np.arange(len(flat)), chosen] = 1.0
    # Eval mode keeps samples independent (BatchNorm uses running stats), so one backward pass
    # of the one-hot seed gives every sample's own input gradient.
    grad_x = net.backward(seed.reshape(out.shape))
    return np.asarray(grad_x), chosen


def saliency(network: Any, loss: Any, x: np.ndarray, target_class: int | None = None) -> np.ndarray:
    """|∂score/∂x| for every sample, same shape as ``x``.

    score = the logit of ``target_class``, by default each sample's predicted class; for a
    single-output network (binary, regression) the output itself (``target_class`` then picks
    a regression target). Reshape a digit's row to ``dataset.image_shape`` to view it.
    """
    grad_x, _ = _score_gradient(network, loss, x, target_class)
    return np.abs(grad_x)


def saliency_map_2d(
    network: Any,
    loss: Any,
    featurize: Callable[[np.ndarray], np.ndarray],
    bounds: tuple[float, float] | tuple[tuple[float, float], tuple[float, float]] = (-6.0, 6.0),
    resolution: int = 60,
    target_class: int | None = None,
) -> SaliencyMap:
    """|∂score/∂p| over a grid of raw 2-D points p, for 2-D datasets.

    The network sees ``featurize(p)`` (derived features such as x1², sin x1, then
    standardisation), so the chain rule needs featurize's Jacobian: it is taken numerically,
    by central differences per point (4 extra ``featurize`` calls over the whole grid, step
    ``FD_STEP`` × the plane's extent), which is exact to ~1e-8 relative for these smooth
    features and needs no knowledge of how the dataset was built.
    """
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    b = np.asarray(bounds, dtype=np.float64)
    (x0, x1), (y0, y1) = (b, b) if b.ndim == 1 else (b[0], b[1])
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    points = np.column_stack([gx.ravel(), gy.ravel()])
    grad_f, chosen = _score_gradient(network, loss, featurize(points), target_class)
    grad_f = grad_f.astype(np.float64).reshape(len(points), -1)
    grad_p = np.empty((len(points), 2))
    for k, extent in enumerate((x1 - x0, y1 - y0)):
        h = FD_STEP * max(abs(extent), 1.0)
        shift = np.zeros(2)
        shift[k] = h
        plus = np.asarray(featurize(points + shift), np.float64)
        minus = np.asarray(featurize(points - shift), np.float64)
        jac_k = (plus - minus) / (2.0 * h)
        grad_p[:, k] = np.einsum("nf,nf->n", grad_f, jac_k.reshape(len(points), -1))
    values = np.linalg.norm(grad_p, axis=1).reshape(resolution, resolution)
    return SaliencyMap(xs, ys, values, chosen.reshape(resolution, resolution))
