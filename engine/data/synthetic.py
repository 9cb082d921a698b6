"""Synthetic 2-D sets, after TensorFlow Playground's ``src/dataset.ts``.

Every generator is ``fn(n_samples, noise, n_classes, rng) -> (points, targets)``: points
(N, 2) float64 inside [-6, 6]² (Playground's plotting square), targets int64 class labels
(N,) or float64 regression values (N, 1). ``noise`` runs 0–0.5 like Playground's 0–50 %
slider; as there, it moves points (spiral, moons, blobs, gaussian spread) or decides labels
from a jittered copy of each point (circle, xor, plane, multi_gaussian) so labels cross the
true boundary. Playground's -1/+1 labels become 0/1 here. Unlike Playground (which draws
``n/2`` per class and so returns ``n + 1`` points for odd ``n``) exactly ``n_samples`` come out.
"""

from __future__ import annotations

import numpy as np

from engine.data.dataset import register_source

LIMIT = 6.0  # half-width of the square every set lives in


def _counts(n: int, k: int) -> list[int]:
    """``n`` split into ``k`` near-equal class sizes."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _clip(points: np.ndarray) -> np.ndarray:
    # Gaussian tails would leave the plotted square now and then; keep every point visible.
    return np.clip(points, -LIMIT, LIMIT)


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


@register_source(
    "circle",
    task="binary",
    kind="2d",
    uses_noise=True,
    description="A disc of one class inside a ring of the other (Playground's 'Circle').",
)
def circle(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    radius = 5.0
    n_in, n_out = _counts(n_samples, 2)
    r = np.concatenate([rng.uniform(0.0, radius * 0.5, n_in), rng.uniform(radius * 0.7, radius, n_out)])
    angle = rng.uniform(0.0, 2.0 * np.pi, n_samples)
    points = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    jitter = rng.uniform(-radius, radius, (n_samples, 2)) * noise
    labels = (np.hypot(*(points + jitter).T) < radius * 0.5).astype(np.int64)
    return points, labels


@register_source(
    "xor",
    task="binary",
    kind="2d",
    uses_noise=True,
    description="Four quadrants, same class diagonally opposite (Playground's 'Exclusive or').",
)
def xor(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    points = rng.uniform(-5.0, 5.0, (n_samples, 2))
    # Playground's padding: a 0.6-wide empty cross keeps the noise-free classes apart.
    points += np.where(points > 0, 0.3, -0.3)
    jittered = points + rng.uniform(-5.0, 5.0, (n_samples, 2)) * noise
    labels = (jittered[:, 0] * jittered[:, 1] >= 0).astype(np.int64)
    return points, labels


@register_source(
    "gaussian",
    task="binary",
    kind="2d",
    uses_noise=True,
    description="Two Gaussian clouds; noise widens them until they overlap (Playground's 'Gaussian').",
)
def gaussian(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    variance = 0.5 + noise * 7.0  # Playground: noise 0..0.5 -> variance 0.5..4
    n_pos, n_neg = _counts(n_samples, 2)
    centres = np.repeat(np.array([[2.0, 2.0], [-2.0, -2.0]]), [n_pos, n_neg], axis=0)
    points = _clip(centres + rng.normal(0.0, np.sqrt(variance), (n_samples, 2)))
    return points, 1 - _labels([n_pos, n_neg])


def _spiral_arms(counts: list[int], noise: float, rng: np.random.Generator) -> np.ndarray:
    """Playground's spiral arms: radius 0..5 over 1.75 turns, arm k turned by 2πk/K."""
    arms = []
    for k, n in enumerate(counts):
        i = np.arange(n, dtype=np.float64)
        r = i / n * 5.0
        t = 1.75 * i / n * 2.0 * np.pi + 2.0 * np.pi * k / len(counts)
        arms.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    points = np.concatenate(arms)
    return points + rng.uniform(-1.0, 1.0, points.shape) * noise


@register_source(
    "spiral",
    task="binary",
    kind="2d",
    uses_noise=True,
    description="Two interleaved spiral arms (Playground's 'Spiral').",
)
def spiral(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    counts = _counts(n_samples, 2)
    # Playground's first arm (turned by 0) is the positive class.
    return _spiral_arms(counts, noise, rng), 1 - _labels(counts)


@register_source(
    "moons",
    task="binary",
    kind="2d",
    uses_noise=True,
    description="Two interleaving half circles (as scikit-learn's make_moons, scaled to the square).",
)
def moons(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    n_upper, n_lower = _counts(n_samples, 2)
    t_up = rng.uniform(0.0, np.pi, n_upper)
    t_low = rng.uniform(0.0, np.pi, n_lower)
    upper = np.column_stack([np.cos(t_up), np.sin(t_up)])
    lower = np.column_stack([1.0 - np.cos(t_low), 0.5 - np.sin(t_low)])
    # make_moons spans x in [-1, 2], y in [-0.5, 1]: centre it and scale by 2.5 (|x| <= 3.75).
    points = (np.concatenate([upper, lower]) - np.array([0.5, 0.25])) * 2.5
    points += rng.normal(0.0, 2.5 * noise, points.shape)
    return _clip(points), _labels([n_upper, n_lower])


@register_source(
    "spiral_multi",
    task="multiclass",
    kind="2d",
    uses_noise=True,
    uses_n_classes=True,
    description="n_classes interleaved spiral arms.",
)
def spiral_multi(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    counts = _counts(n_samples, n_classes)
    return _spiral_arms(counts, noise, rng), _labels(counts)


@register_source(
    "blobs",
    task="multiclass",
    kind="2d",
    uses_noise=True,
    uses_n_classes=True,
    description="n_classes Gaussian blobs on a circle; noise widens them.",
)
def blobs(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    counts = _counts(n_samples, n_classes)
    angle = np.pi / 2.0 + 2.0 * np.pi * np.arange(n_classes) / n_classes
    centres = 3.5 * np.column_stack([np.cos(angle), np.sin(angle)])
    std = 0.4 + 3.0 * noise
    points = np.repeat(centres, counts, axis=0) + rng.normal(0.0, std, (n_samples, 2))
    return _clip(points), _labels(counts)


@register_source(
    "plane",
    task="regression",
    kind="2d",
    uses_noise=True,
    description="Target rises linearly along the diagonal, -1 to 1 (Playground's 'Plane').",
)
def plane(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    points = rng.uniform(-LIMIT, LIMIT, (n_samples, 2))
    jittered = points + rng.uniform(-LIMIT, LIMIT, (n_samples, 2)) * noise
    target = (jittered[:, 0] + jittered[:, 1]) / 10.0  # Playground maps x+y in [-10, 10] to [-1, 1]
    return points, target[:, None]


# (centre x, centre y, sign) of Playground's six regression bumps.
_BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=np.float64
)


@register_source(
    "multi_gaussian",
    task="regression",
    kind="2d",
    uses_noise=True,
    description="Six positive and negative bumps (Playground's 'Multi Gaussian').",
)
def multi_gaussian(n_samples: int, noise: float, n_classes: int, rng: np.random.Generator):
    points = rng.uniform(-LIMIT, LIMIT, (n_samples, 2))
    jittered = points + rng.uniform(-LIMIT, LIMIT, (n_samples, 2)) * noise
    dist = np.hypot(jittered[:, None, 0] - _BUMPS[:, 0], jittered[:, None, 1] - _BUMPS[:, 1])
    values = _BUMPS[:, 2] * np.clip(1.0 - dist / 2.0, 0.0, 1.0)  # 1 at a centre, 0 from distance 2
    # The bump with the largest |value| wins; the first on ties, as Playground's strict '>'.
    pick = np.abs(values).argmax(axis=1)
    target = values[np.arange(n_samples), pick]
    return points, target[:, None]
