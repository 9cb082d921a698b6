"""Classic 2-D test surfaces for the optimizer race, with analytic gradients.

Each surface has ``value(x, y)`` and ``gradient(x, y, rng)`` on floats or arrays, the region a
contour plot shows, a suggested start, and its minima (the race counts the steps to come within
a tolerance of the nearest one). ``noisy_bowl`` adds Gaussian noise of standard deviation
``noise`` to its gradient from the injected ``rng``: the stochastic case, as a minibatch
gradient is a noisy estimate of the full one. ``formula_surface`` wraps a user's formula
(``engine.analysis.formula``: exact gradients by forward-mode differentiation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.analysis.formula import parse_formula
from engine.registry import Registry

Array = np.ndarray | float
Grad = Callable[[Array, Array], tuple[Array, Array]]


@dataclass(frozen=True)
class Surface:
    name: str
    title: str
    value: Callable[[Array, Array], Array]
    grad: Grad
    region: tuple[float, float, float, float]  # x min, x max, y min, y max
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    about: str
    noise: float = 0.0  # standard deviation of the gradient noise (noisy bowl)
    log_levels: bool = False  # contour levels spaced in log(value - min): steep valleys

    def gradient(self, x: Array, y: Array, rng: np.random.Generator | None = None) -> tuple[float, float]:
        gx, gy = self.grad(x, y)
        if self.noise > 0.0:
            if rng is None:
                raise ValueError(f"{self.name}: a noisy surface needs an rng")
            gx, gy = gx + self.noise * rng.standard_normal(), gy + self.noise * rng.standard_normal()
        return float(gx), float(gy)

    def distance_to_minimum(self, x: float, y: float) -> float:
        if not self.minima:
            return float("inf")
        return float(min(np.hypot(x - mx, y - my) for mx, my in self.minima))


SURFACES: Registry[Callable[[float], Surface]] = Registry("surface")

ILL_CONDITIONED_SCALE = 50.0  # the quadratic's curvature ratio (condition number)


def _rosenbrock(_noise: float) -> Surface:
    return Surface(
        "rosenbrock", "Rosenbrock (1 − x)² + 100 (y − x²)²",
        lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
        lambda x, y: (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)),
        (-2.0, 2.0, -1.0, 3.0), (-1.5, 2.0), ((1.0, 1.0),),
        "A curved, flat-bottomed valley: finding it is easy, following it to (1, 1) is slow.",
        log_levels=True)


def _beale(_noise: float) -> Surface:
    def value(x: Array, y: Array) -> Array:
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y**3) ** 2

    def grad(x: Array, y: Array) -> tuple[Array, Array]:
        a, b, c = 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y**3
        gx = 2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y**3 - 1)
        gy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y
        return gx, gy

    return Surface("beale", "Beale", value, grad, (-4.5, 4.5, -4.5, 4.5), (1.0, 1.5), ((3.0, 0.5),),
                   "Flat plateaus and steep walls; the minimum (3, 0.5) sits in a narrow bend.",
                   log_levels=True)


def _himmelblau(_noise: float) -> Surface:
    return Surface(
        "himmelblau", "Himmelblau (x² + y − 11)² + (x + y² − 7)²",
        lambda x, y: (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2,
        lambda x, y: (4 * x * (x * x + y - 11) + 2 * (x + y * y - 7),
                      2 * (x * x + y - 11) + 4 * y * (x + y * y - 7)),
        (-5.0, 5.0, -5.0, 5.0), (0.0, 0.0),
        ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848127)),
        "Four equal minima: where an optimizer ends depends on where it starts and how it moves.",
        log_levels=True)


def _saddle(_noise: float) -> Surface:
    return Surface(
        "saddle", "Saddle x² − y²",
        lambda x, y: x * x - y * y,
        lambda x, y: (2 * x, -2 * y),
        (-2.0, 2.0, -2.0, 2.0), (1.5, 1e-3), (),
        "No minimum: (0, 0) is a saddle. Started just off the ridge y = 0, plain gradient descent "
        "lingers near the saddle (the gradient across the ridge is tiny); Adam's normalized steps leave it.")


def _ill_conditioned(_noise: float) -> Surface:
    k = ILL_CONDITIONED_SCALE
    return Surface(
        "ill_conditioned", f"Ill-conditioned quadratic ½(x² + {k:g} y²)",
        lambda x, y: 0.5 * (x * x + k * y * y),
        lambda x, y: (x, k * y),
        (-5.0, 5.0, -1.5, 1.5), (-4.0, 1.0), ((0.0, 0.0),),
        f"A ravine {k:g}× steeper across than along: a learning rate safe across it crawls along it; "
        "momentum speeds the crawl and overshoots.")


def _noisy_bowl(noise: float) -> Surface:
    return Surface(
        "noisy_bowl", "Noisy bowl ½(x² + y²) with noisy gradients",
        lambda x, y: 0.5 * (x * x + y * y),
        lambda x, y: (x, y),
        (-3.0, 3.0, -3.0, 3.0), (-2.5, 2.0), ((0.0, 0.0),),
        "The gradient carries Gaussian noise (as a minibatch's does): a constant learning rate "
        "jitters around the minimum instead of settling.", noise=noise)


for _name, _make in (("rosenbrock", _rosenbrock), ("beale", _beale), ("himmelblau", _himmelblau),
                     ("saddle", _saddle), ("ill_conditioned", _ill_conditioned),
                     ("noisy_bowl", _noisy_bowl)):
    SURFACES.register(_name)(_make)


def make_surface(name: str, formula: str = "", noise: float = 0.5) -> Surface:
    """A registered surface by name, or ``'formula'`` with the user's ``formula`` text."""
    if name == "formula":
        return formula_surface(formula)
    return SURFACES.get(name)(noise)


def formula_surface(text: str, region: tuple[float, float, float, float] = (-3.0, 3.0, -3.0, 3.0)) -> Surface:
    f = parse_formula(text)

    def value(x: Array, y: Array) -> Array:
        return f.value(x, y)

    def grad(x: Array, y: Array) -> tuple[Array, Array]:
        return f.gradient(x, y)

    return Surface("formula", f"f(x, y) = {f.text}", value, grad, region, (-2.0, 2.0), (),
                   "Your own surface (exact gradients by forward-mode differentiation).")
