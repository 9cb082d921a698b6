"""A 2-D slice of the loss around the current weights (Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets").

Two random directions in parameter space, filter-normalised so that every neuron's slice of a
direction has the same norm as that neuron's incoming weights: without this, the scale
invariance of ReLU nets makes sharp and flat minima impossible to compare. Biases, BatchNorm's
gamma/beta (everything that is not a weight matrix) get a zero direction, as in the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class Cancelled(Exception):
    """A long analysis stopped because its ``cancelled()`` callback returned True."""


@dataclass(frozen=True)
class LandscapeResult:
    alphas: np.ndarray  # (res,) coordinates along directions[0]
    betas: np.ndarray  # (res,) coordinates along directions[1]
    losses: np.ndarray  # (res, res) float64: losses[i, j] is the loss at (alphas[i], betas[j])
    path_xy: np.ndarray  # (len(path), 2) the optimizer's path projected on the plane; (0, 2) without one
    directions: tuple[np.ndarray, np.ndarray]  # flat, same layout as Network.params
    center_loss: float  # loss at the current weights (the grid's middle when resolution is odd)


def filter_normalized_direction(network: Any, rng: np.random.Generator) -> np.ndarray:
    """A random flat direction: per output neuron of each weight matrix, rescaled to its weights' norm.

    A Dense weight ``W`` has shape ``(in, out)``, so a neuron's incoming weights are a column
    ``W[:, j]``; for weights of any rank the last axis is the neuron axis. Non-weight
    parameters (``weight_mask`` False: biases, gamma, beta) get zeros.
    """
    params = network.params
    direction = np.zeros_like(params)
    for name, sl in network.slices().items():
        if not network.weight_mask[sl].all():
            continue
        w = network.parameters()[name]
        cols = w.reshape(-1, w.shape[-1]).astype(np.float64)
        d = rng.standard_normal(cols.shape)
        d_norm = np.linalg.norm(d, axis=0)
        w_norm = np.linalg.norm(cols, axis=0)
        d *= w_norm / np.where(d_norm > 0.0, d_norm, 1.0)
        direction[sl] = d.reshape(-1).astype(params.dtype)
    return direction


def project_path(
    path: Sequence[np.ndarray], center: np.ndarray, directions: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """(alpha, beta) of each point: least squares of ``p - center`` on the two directions.

    The directions are not orthogonal in general, so a plain dot product would mix them.
    """
    if not path:
        return np.zeros((0, 2))
    basis = np.stack([d.astype(np.float64) for d in directions], axis=1)  # (n, 2)
    offsets = np.stack([np.asarray(p, np.float64) - center for p in path], axis=1)  # (n, len(path))
    coeffs, *_ = np.linalg.lstsq(basis, offsets, rcond=None)
    return coeffs.T.copy()


def loss_landscape(
    network: Any,
    loss: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    rng: np.random.Generator,
    resolution: int = 41,
    span: float = 1.0,
    path: list[np.ndarray] | None = None,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LandscapeResult:
    """Loss over ``[-span, span]²`` around the current weights, evaluated in eval mode (no dropout).

    Works on ``network.copy()``, so the caller's weights, gradients and cached activations are
    never touched, even if this runs on another thread. ``path`` holds flat parameter snapshots
    (``Network.params`` copies) to project on the plane. ``progress`` gets the finished fraction
    after every grid row; when ``cancelled()`` returns True the computation stops between rows
    and raises ``Cancelled`` (no partial result).
    """
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    if not span > 0.0:
        raise ValueError(f"span must be positive, got {span!r}")
    net = network.copy()
    center = net.params.copy()
    dtype = center.dtype
    directions = (filter_normalized_direction(net, rng), filter_normalized_direction(net, rng))
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(dtype, copy=False)
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(dtype, copy=False)
    alphas = np.linspace(-span, span, resolution)
    betas = np.linspace(-span, span, resolution)
    losses = np.empty((resolution, resolution))

    def loss_at(a: float, b: float) -> float:
        # Python floats keep the float32 buffer float32 (NumPy 2 promotion).
        np.add(center, a * directions[0], out=net.params)
        net.params += b * directions[1]
        value, _ = loss(net.forward(x, training=False), y)
        return float(value)

    with np.errstate(all="ignore"):  # far from the centre the loss may overflow: that is the answer
        np.copyto(net.params, center)
        center_loss = float(loss(net.forward(x, training=False), y)[0])
        for i, a in enumerate(alphas):
            if cancelled is not None and cancelled():
                raise Cancelled("loss landscape cancelled")
            for j, b in enumerate(betas):
                losses[i, j] = loss_at(float(a), float(b))
            if progress is not None:
                progress((i + 1) / resolution)
    path_xy = project_path(list(path or []), center.astype(np.float64), directions)
    return LandscapeResult(alphas, betas, losses, path_xy, directions, center_loss)
