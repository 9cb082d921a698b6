"""Racers typed as text (``"sgd lr=0.01 momentum=0.9; adam lr=0.05"``) and back. Qt-free.

The Optimizer Race view's racers field: an optimizer name from the engine's registry, then
``key=value`` options (``lr`` and the optimizer's own; ``true``/``false`` for switches),
racers separated by ``;``.
"""

from __future__ import annotations

import math
from typing import Any

from engine.optimizers import OPTIMIZERS
from engine.spec import RacerSpec

MAX_RACERS = 12


def parse_racers(text: str) -> list[RacerSpec]:
    """``"sgd lr=0.01 momentum=0.9; adam lr=0.05"`` → racer specs; ValueError names the problem."""
    racers = []
    for part in [p.strip() for p in text.split(";") if p.strip()]:
        name, *pairs = part.split()
        options: dict[str, Any] = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep:
                raise ValueError(f"{pair!r}: options are written key=value (e.g. lr=0.01)")
            low = raw.lower()
            options[key] = True if low == "true" else False if low == "false" else _number(raw, key)
        if name not in OPTIMIZERS:
            OPTIMIZERS.get(name)  # UnknownNameError (a ValueError) with a did-you-mean
        defaults = OPTIMIZERS.get(name).defaults
        unknown = [k for k in options if k not in defaults and k != "label"]
        if unknown:
            raise ValueError(f"{name} has no option {unknown[0]!r} (options: {', '.join(defaults)})")
        lr = options.pop("lr", defaults["lr"])
        racers.append(RacerSpec(name=name, lr=lr, **options))
    if not racers:
        raise ValueError("no racers: type at least one optimizer, e.g. adam lr=0.05")
    if len(racers) > MAX_RACERS:
        raise ValueError(f"at most {MAX_RACERS} racers")
    return racers


def _number(raw: str, key: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{key} must be finite")
    return value


def format_racers(racers: tuple[RacerSpec, ...] | list[RacerSpec]) -> str:
    parts = []
    for r in racers:
        opts = " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else f'{v:g}'}"
                        for k, v in r.options.items())
        parts.append(f"{r.name} lr={r.lr:g}" + (f" {opts}" if opts else ""))
    return "; ".join(parts)
