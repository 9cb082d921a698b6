"""The optimizer race: the engine's own optimizers on a 2-D surface, from one start point.

Each racer is an optimizer from ``engine.optimizers.OPTIMIZERS`` (the same torch-identical
implementations the network trains with) over a 2-parameter float64 flat buffer ``[x, y]``;
each step hands it the surface's analytic gradient at the current point (L-BFGS gets a closure
with the value and gradient). A racer stops early when it leaves the surface: a non-finite value
or a coordinate beyond ``ESCAPE`` (diverged). ``reached_at`` is the first step within
``tolerance`` of a minimum of the surface (None when it never gets there or the surface has none).

Racers on the noisy bowl draw their gradient noise from their own child of the injected
``rng`` (spawned in racer order), so adding a racer does not change the others' paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.analysis.surfaces import Surface
from engine.optimizers import OPTIMIZERS, get_optimizer

ESCAPE = 1e6  # a coordinate this large: the racer left the surface
MAX_STEPS = 20_000


@dataclass(frozen=True)
class Racer:
    optimizer: str
    lr: float
    options: dict[str, Any]
    label: str = ""

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        extra = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in self.options.items())
        return f"{self.optimizer} lr {self.lr:g}" + (f" ({extra})" if extra else "")


@dataclass
class RacePath:
    racer: Racer
    points: np.ndarray  # (steps + 1, 2): the start, then the point after each step
    losses: np.ndarray  # (steps + 1,)
    reached_at: int | None
    diverged_at: int | None

    @property
    def final(self) -> tuple[float, float]:
        return float(self.points[-1, 0]), float(self.points[-1, 1])


class RaceCancelled(Exception):
    """``cancelled()`` answered True: the race stopped before its end."""


def run_race(surface: Surface, racers: list[Racer], start: tuple[float, float], steps: int,
             tolerance: float, rng: np.random.Generator,
             progress: Callable[[float], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> list[RacePath]:
    """Every racer for ``steps`` steps from ``start``; the paths in racer order.

    ``progress`` gets the finished share (0–1) now and then; when ``cancelled()`` is True the
    race stops with ``RaceCancelled``.
    """
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"a race runs 1 to {MAX_STEPS} steps, got {steps}")
    children = rng.spawn(len(racers)) if racers else []
    paths = []
    for i, (racer, child) in enumerate(zip(racers, children, strict=True)):
        def tick(k: int, i: int = i) -> None:
            if cancelled is not None and cancelled():
                raise RaceCancelled
            if progress is not None:
                progress((i + k / steps) / len(racers))

        paths.append(_run_one(surface, racer, start, steps, tolerance, child, tick))
    return paths


def _run_one(surface: Surface, racer: Racer, start: tuple[float, float], steps: int,
             tolerance: float, rng: np.random.Generator,
             tick: Callable[[int], None] = lambda _k: None) -> RacePath:
    if racer.optimizer not in OPTIMIZERS:
        OPTIMIZERS.get(racer.optimizer)  # raises UnknownNameError with a did-you-mean
    params = np.array(start, dtype=np.float64)
    opt = get_optimizer(racer.optimizer, params, lr=racer.lr, **racer.options)
    points = np.full((steps + 1, 2), np.nan)
    losses = np.full(steps + 1, np.nan)
    points[0] = params
    losses[0] = float(surface.value(params[0], params[1]))
    reached = 0 if surface.distance_to_minimum(*params) <= tolerance else None
    diverged = None
    grads = np.zeros(2)

    def closure() -> tuple[float, np.ndarray]:
        gx, gy = surface.gradient(params[0], params[1], rng)
        return float(surface.value(params[0], params[1])), np.array([gx, gy])

    for k in range(1, steps + 1):
        if k % 500 == 0:
            tick(k)
        with np.errstate(all="ignore"):
            if opt.needs_closure:
                opt.step(None, closure=closure)
            else:
                grads[:] = surface.gradient(params[0], params[1], rng)
                if not np.all(np.isfinite(grads)):
                    diverged = k
                    break
                opt.step(grads)
            value = float(surface.value(params[0], params[1]))
        if not (np.all(np.isfinite(params)) and np.isfinite(value)) or np.abs(params).max() > ESCAPE:
            diverged = k
            points[k] = np.clip(np.nan_to_num(params, nan=ESCAPE), -ESCAPE, ESCAPE)
            losses[k] = value if np.isfinite(value) else np.nan
            break
        points[k] = params
        losses[k] = value
        if reached is None and surface.distance_to_minimum(*params) <= tolerance:
            reached = k
    end = steps + 1 if diverged is None else diverged + 1
    return RacePath(racer, points[:end], losses[:end], reached, diverged)
