"""A 2-D slice of the loss around the current weights (Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets").

``directions="random"``: two random directions in parameter space, filter-normalised so that
every neuron's slice of a direction has the same norm as that neuron's incoming weights: without
this, the scale invariance of ReLU nets makes sharp and flat minima impossible to compare.
Biases, BatchNorm's gamma/beta (everything that is not a weight matrix) get a zero direction, as
in the paper.

``directions="pca"`` (the paper's §7): random directions in high dimension are nearly
orthogonal to the optimizer's path, which then shows as a dot at the centre. The top two
principal components of the path's offsets from the current weights span the plane that holds
as much of the path as any plane through the current weights can, so the path shows its real
shape; the grid is sized to cover it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

# Floats of path offsets held at once (float64) while computing PCA directions: ~32 MB.
PCA_CHUNK_FLOATS = 4_000_000


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
    method: str = "random"  # "random" (filter-normalised) or "pca" (along the path)
    # "pca" only: the share of the path's variance along each direction (descending, in [0, 1],
    # summing to at most 1); None for random directions. See ``pca_centered`` for which variance.
    explained_variance: tuple[float, float] | None = None
    # "pca" only: True for the paper's PCA (offsets centred on their mean, variance about the path's
    # mean), False for the uncentred variant (squared distance from the current weights).
    pca_centered: bool | None = None

    def pca_label(self) -> str:
        """'centred PCA' or 'uncentred PCA' ('' for random directions): which the axes show."""
        if self.pca_centered is None:
            return ""
        return "centred PCA" if self.pca_centered else "uncentred PCA"


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


def _offset_chunks(path: Sequence[np.ndarray], center: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """(slice, offsets) pieces of the (len(path), n) matrix of ``p - center``, in float64.

    A path of a big network is tens of megabytes: a full float64 copy would double it.
    """
    n = center.size
    step = max(1, PCA_CHUNK_FLOATS // max(len(path), 1))
    for start in range(0, n, step):
        sl = slice(start, min(start + step, n))
        block = np.stack([np.asarray(p[sl], np.float64) for p in path])
        block -= center[sl]
        yield sl, block


def pca_directions(
    path: Sequence[np.ndarray],
    center: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    network: Any = None,
    centered: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[float, float], np.ndarray]:
    """The top two principal components of the path's offsets ``p - center`` (Li et al. 2018, §7).

    Returns ``((d1, d2), (var1, var2), coords)``: two orthonormal float64 directions, the
    share of the variance each captures, and each snapshot's ``(x, y)``: its offset from
    ``center`` projected on them (the slice always passes through the current weights).
    ``centered=True`` is the paper's (textbook) PCA: the offsets are centred on their mean, and
    the shares are of the path's variance about its mean. ``centered=False`` skips the centring:
    the components then give the plane through ``center`` closest to the whole path, and the
    shares are of ``Σ‖p - center‖²``; its percentages are larger and not comparable with the
    paper's. Signs put the path's first point at x ≤ 0, y ≤ 0, so the path reads from the left
    towards the current weights.

    A path along a single line has no second component: ``d2`` is then a random direction
    (filter-normalised on ``network`` when given) made orthogonal to ``d1``, with variance 0.
    """
    center = np.asarray(center, np.float64)
    if len(path) == 0:
        raise ValueError("PCA directions need a path of parameter snapshots")
    if any(np.shape(p) != center.shape for p in path):
        raise ValueError("every path snapshot must have the shape of the parameters")
    k = len(path)
    # Gram matrix of the offsets: k×k however many parameters there are.
    gram = np.zeros((k, k))
    for _, block in _offset_chunks(path, center):
        gram += block @ block.T
    if not float(np.trace(gram)) > 0.0:
        raise ValueError("PCA directions need a path that moves away from the current weights")
    # Centring the offsets is H M with H = I - 11ᵀ/k, so their Gram matrix is H G H; its
    # eigenvectors (for non-zero eigenvalues) are orthogonal to 1, so Mᵀv = (HM)ᵀv below.
    h = np.eye(k) - 1.0 / k if centered else np.eye(k)
    gram_c = h @ gram @ h
    total = float(np.trace(gram_c))
    if not total > 0.0:  # centred, a path of one repeated point has no variance
        h, gram_c, total = np.eye(k), gram, float(np.trace(gram))
    eigvals, eigvecs = np.linalg.eigh(gram_c)
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = np.maximum(eigvals[order], 0.0), eigvecs[:, order]
    n_comp = 2 if k >= 2 and eigvals[1] > 1e-12 * eigvals[0] else 1
    sigma = np.sqrt(eigvals[:n_comp])
    # u_c = Mᵀ v_c / σ_c: the parameter-space components, built chunk by chunk.
    comps = np.zeros((2, center.size))
    for sl, block in _offset_chunks(path, center):
        comps[:n_comp, sl] = (block.T @ eigvecs[:, :n_comp] / sigma).T
    coords = np.zeros((k, 2))
    coords[:, :n_comp] = gram @ eigvecs[:, :n_comp] / sigma  # M u_c = M Mᵀ v_c / σ_c
    if n_comp == 1:
        rng = rng if rng is not None else np.random.default_rng(0)
        if network is not None:
            d = filter_normalized_direction(network, rng).astype(np.float64)
        else:
            d = rng.standard_normal(center.size)
        d -= (d @ comps[0]) * comps[0]
        if not np.linalg.norm(d) > 0.0:  # a network without weight matrices
            d = rng.standard_normal(center.size)
            d -= (d @ comps[0]) * comps[0]
        comps[1] = d / np.linalg.norm(d)
    for c in range(2):
        if coords[0, c] > 0.0:
            comps[c] *= -1.0
            coords[:, c] *= -1.0
    ratios = [float(np.clip(eigvals[c] / total, 0.0, 1.0)) if c < n_comp else 0.0 for c in range(2)]
    var = (ratios[0], ratios[1])
    return (comps[0], comps[1]), var, coords


def path_grid(coords: np.ndarray, resolution: int, margin: float) -> np.ndarray:
    """Grid coordinates along one axis covering ``coords`` and 0 with ``margin`` × extent on each side.

    The step is chosen so that 0 (the current weights) is exactly a grid point.
    """
    lo = min(0.0, float(coords.min()))
    hi = max(0.0, float(coords.max()))
    extent = hi - lo
    lo -= margin * extent
    hi += margin * extent
    # One spare step: aligning a grid point on 0 shifts the grid by less than a step.
    h = (hi - lo) / (resolution - 2)
    below = int(np.ceil(-lo / h - 1e-9))
    return (np.arange(resolution) - below) * h


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
    directions: Literal["random", "pca"] = "random",
    margin: float = 0.25,
    pca_centered: bool = True,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LandscapeResult:
    """Loss on a 2-D grid around the current weights, evaluated in eval mode (no dropout).

    ``directions="random"``: two filter-normalised random directions, grid ``[-span, span]²``.
    ``directions="pca"``: the path's top two principal components (``pca_directions``), unit
    vectors, so the coordinates are distances in parameter space (centred PCA by default, as the
    paper; ``pca_centered=False`` for the uncentred variant); each axis covers the path and
    the current weights plus ``margin`` × the path's extent on both sides (``span`` is unused),
    with 0 exactly on the grid. Needs a path that moves and ``resolution >= 3``.

    Works on ``network.copy()``, so the caller's weights, gradients and cached activations are
    never touched, even if this runs on another thread. ``path`` holds flat parameter snapshots
    (``Network.params`` copies) to project on the plane. ``progress`` gets the finished fraction
    after every grid row; when ``cancelled()`` returns True the computation stops between rows
    and raises ``Cancelled`` (no partial result).
    """
    if directions not in ("random", "pca"):
        raise ValueError(f"directions must be 'random' or 'pca', got {directions!r}")
    if resolution < (3 if directions == "pca" else 2):
        raise ValueError(f"resolution must be at least {3 if directions == 'pca' else 2}, got {resolution}")
    if directions == "random" and not span > 0.0:
        raise ValueError(f"span must be positive, got {span!r}")
    if directions == "pca" and not margin >= 0.0:
        raise ValueError(f"margin must be non-negative, got {margin!r}")
    path = list(path or [])
    net = network.copy()
    center = net.params.copy()
    dtype = center.dtype
    explained: tuple[float, float] | None = None
    if directions == "pca":
        if not path:
            raise ValueError("PCA directions need the optimizer's path (parameter snapshots)")
        comps, explained, path_xy = pca_directions(path, center.astype(np.float64), rng=rng, network=net,
                                                   centered=pca_centered)
        dirs = (comps[0].astype(dtype), comps[1].astype(dtype))
        alphas = path_grid(path_xy[:, 0], resolution, margin)
        betas = path_grid(path_xy[:, 1], resolution, margin)
    else:
        dirs = (filter_normalized_direction(net, rng), filter_normalized_direction(net, rng))
        alphas = np.linspace(-span, span, resolution)
        betas = np.linspace(-span, span, resolution)
        path_xy = project_path(path, center.astype(np.float64), dirs)
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(dtype, copy=False)
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(dtype, copy=False)
    losses = np.empty((resolution, resolution))

    def loss_at(a: float, b: float) -> float:
        # Python floats keep the float32 buffer float32 (NumPy 2 promotion).
        np.add(center, a * dirs[0], out=net.params)
        net.params += b * dirs[1]
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
    centred = pca_centered if directions == "pca" else None
    return LandscapeResult(alphas, betas, losses, path_xy, dirs, center_loss, directions, explained, centred)
