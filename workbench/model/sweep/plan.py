"""What a sweep runs: ``--set PATH=VALUES`` axes, checked against the experiment's schema before
anything runs, expanded to a grid or sampled at random, times seeds."""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.spec import ExperimentSpec, VariantSpec
from workbench.experiment import Problem, check_variants

MAX_CONFIGS = 10_000  # runs in one sweep; each is a folder on disk
MAX_VALUES = 1_000  # values of one --set


@dataclass(frozen=True)
class LogRange:
    """``low..high``: sampled log-uniformly (integers when both ends are written as integers)."""

    low: float
    high: float
    integer: bool

    def sample(self, rng: np.random.Generator) -> float | int:
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        if self.integer:
            return int(min(max(round(value), self.low), self.high))
        return float(value)


@dataclass(frozen=True)
class Axis:
    """One swept setting: a dotted path (``*`` for every element of a list) and its values."""

    path: str
    values: tuple[Any, ...] = ()
    span: LogRange | None = None

    @property
    def key(self) -> str:
        return self.path.replace(".*.", ".").rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Config:
    """One run of a sweep: its swept values (by path as given), its seed and its spec."""

    index: int
    label: str
    values: dict[str, Any]
    seed: int
    spec: ExperimentSpec


class SweepError(ValueError):
    """A sweep that cannot run; ``problems`` are ``Problem(where, message)`` lines."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


# ----------------------------------------------------------------------------------- parsing
_RANGE = re.compile(r"^\s*([^.\s][^\s]*?)\s*\.\.\s*([^\s]+)\s*$")


def parse_value(text: str) -> Any:
    """A JSON number, true/false/null, or else the text itself (``relu``, ``adam``)."""
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) or value is None else text


def parse_set(text: str) -> Axis:
    """``PATH=V1,V2,...`` or ``PATH=LOW..HIGH``; SweepError with a message naming the problem."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    where = f"--set {text}"
    if not sep or not path:
        raise SweepError([Problem(where, "expected PATH=VALUES, e.g. optimizer.lr=0.001,0.01,0.1")])
    match = _RANGE.match(rest)
    if match and "," not in rest:
        low, high = parse_value(match.group(1)), parse_value(match.group(2))
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if not numbers or not (0 < low < high) or not all(math.isfinite(v) for v in (low, high)):
            raise SweepError([Problem(where, "a range is LOW..HIGH with 0 < LOW < HIGH (sampled "
                                             "log-uniformly), e.g. 1e-4..1e-1")])
        integer = isinstance(low, int) and isinstance(high, int)
        return Axis(path, (), LogRange(float(low), float(high), integer))
    parts = [p for p in rest.split(",") if p.strip()]
    if not parts:
        raise SweepError([Problem(where, "no values after '='")])
    if len(parts) > MAX_VALUES:
        raise SweepError([Problem(where, f"{len(parts):,} values; at most {MAX_VALUES:,}")])
    return Axis(path, tuple(parse_value(p) for p in parts))


# ------------------------------------------------------------------------------- validation
def expand_path(spec: ExperimentSpec, path: str) -> list[str]:
    """Concrete dotted paths: ``model.layers.*.activation`` is every layer that has an activation."""
    if "*" not in path:
        return [path]
    head, _, tail = path.partition(".*.")
    if not tail or "*" in tail:
        raise ValueError("'*' stands for one list index between two keys (model.layers.*.units)")
    node: Any = spec.model_dump(mode="json")
    for key in head.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise ValueError(f"{head!r} names no setting")
    if not isinstance(node, list):
        raise ValueError(f"{head!r} is not a list, so '*' cannot stand for its index")
    first = tail.split(".")[0]
    paths = [f"{head}.{i}.{tail}" for i, item in enumerate(node) if isinstance(item, dict) and first in item]
    if not paths:
        raise ValueError(f"no element of {head!r} has {first!r}")
    return paths


def overrides_for(spec: ExperimentSpec, values: dict[str, Any]) -> dict[str, Any]:
    return {concrete: value for path, value in values.items() for concrete in expand_path(spec, path)}


def check_axes(spec: ExperimentSpec, axes: list[Axis], random: bool) -> list[Problem]:
    """Every path must name a setting and every value (or both ends of a range) be valid there:
    the checks of an experiment file's variants, so the messages are the same."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for axis in axes:
        where = f"--set {axis.path}"
        if axis.path in seen:
            problems.append(Problem(where, "is given twice; list all its values in one --set"))
            continue
        seen.add(axis.path)
        if axis.path.split(".")[0] in ("name", "description", "variants", "format", "version"):
            problems.append(Problem(where, f"{axis.path.split('.')[0]!r} is not a setting a sweep can vary"))
            continue
        if axis.span is not None and not random:
            problems.append(Problem(where, "a range LOW..HIGH is sampled: add --random N (or list values)"))
            continue
        try:
            paths = expand_path(spec, axis.path)
        except ValueError as exc:
            problems.append(Problem(where, str(exc)))
            continue
        candidates = list(axis.values) if axis.span is None else [
            int(v) if axis.span.integer else v for v in (axis.span.low, axis.span.high)]
        for value in candidates:
            variant = VariantSpec(name="sweep", overrides={p: value for p in paths})
            found = check_variants(spec.model_copy(update={"variants": (variant,)}))
            for p in found:
                message = p.message
                if p.path.startswith("variants[0].overrides"):
                    message = f"{value!r}: {message}" if len(candidates) > 1 or axis.span else message
                if Problem(where, message) not in problems:  # one line for the layers '*' names
                    problems.append(Problem(where, message))
            if found:
                break  # one bad value says enough about this --set
    return problems


# ---------------------------------------------------------------------------------- configs
def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _keys(axes: list[Axis]) -> dict[str, str]:
    """Short names for labels: the last part of each path, the whole path where two clash."""
    short = [a.key for a in axes]
    return {a.path: (a.key if short.count(a.key) == 1 else a.path) for a in axes}


def build_configs(spec: ExperimentSpec, axes: list[Axis], *, seeds: int = 1, random: int | None = None,
                  rng: np.random.Generator | None = None) -> list[Config]:
    """The grid of all value combinations (or ``random`` samples drawn from ``rng``), each run
    with ``seeds`` seeds: the file's seed, then the next ones. Raises SweepError before anything
    runs when a path or value is wrong or the sweep is too large."""
    problems = check_axes(spec, axes, random is not None)
    if problems:
        raise SweepError(problems)
    if random is None:
        combos = [dict(zip([a.path for a in axes], c, strict=True))
                  for c in itertools.product(*(a.values for a in axes))]
    else:
        rng = rng if rng is not None else np.random.default_rng(spec.seed)
        combos = [{a.path: (a.span.sample(rng) if a.span else a.values[int(rng.integers(len(a.values)))])
                   for a in axes} for _ in range(random)]
    total = len(combos) * seeds
    if total > MAX_CONFIGS:
        raise SweepError([Problem("--set", f"{total:,} runs; a sweep holds at most {MAX_CONFIGS:,}")])
    base = spec.model_copy(update={"variants": ()})
    keys = _keys(axes)
    configs: list[Config] = []
    for combo in combos:
        for k in range(seeds):
            seed = (spec.seed + k) % 2**32
            parts = [f"{keys[p]}={_show(v)}" for p, v in combo.items()]
            if seeds > 1:
                parts.append(f"seed={seed}")
            label = " ".join(parts) or f"seed={seed}"
            try:
                run = base.with_overrides({**overrides_for(base, combo), "seed": seed})
            except ValueError as exc:  # a combination the spec rejects (checked one by one above)
                raise SweepError([Problem(label, str(exc).splitlines()[0])]) from None
            run = run.model_copy(update={"name": f"{spec.name} [{label}]"[:200]})
            configs.append(Config(len(configs), label, dict(combo), seed, run))
    return configs
