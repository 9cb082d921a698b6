"""Experiment variations for run comparison: one hyperparameter over a list of values."""

from __future__ import annotations

from typing import Any

from engine.spec import ExperimentSpec


def _expand(spec: ExperimentSpec, path: str) -> list[str]:
    """Dotted paths to override; ``*`` in a path means every list element that has the key.

    ``model.layers.*.activation`` sweeps the activation of all hidden layers at once (dropout
    and batch-norm layers, which have none, are skipped).
    """
    if "*" not in path:
        return [path]
    head, _, tail = path.partition(".*.")
    if not tail:
        raise ValueError(f"'*' must stand for a list index between two keys (model.layers.*.units): {path}")
    node: Any = spec.model_dump(mode="json")
    for key in head.split("."):
        node = node[int(key)] if isinstance(node, list) else node[key]
    if not isinstance(node, list):
        raise ValueError(f"{head!r} is not a list, so {path!r} cannot use '*'")
    first = tail.split(".")[0]
    paths = _paths_with(node, head, tail, first)
    if not paths:
        raise ValueError(f"no element of {head!r} has {first!r}")
    return paths


def _paths_with(items: list[Any], head: str, tail: str, first: str) -> list[str]:
    """``head.i.tail`` for every item holding ``first``; a residual block's inner layers too
    (``model.layers.2.layers.0.activation``), so "all hidden layers" means all of them."""
    paths = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if first in item:
            paths.append(f"{head}.{i}.{tail}")
        elif item.get("type") == "residual" and isinstance(item.get("layers"), list):
            paths += _paths_with(item["layers"], f"{head}.{i}.layers", tail, first)
    return paths


def _label(path: str, value: Any) -> str:
    key = path.replace(".*.", ".").rsplit(".", 1)[-1]
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{key}={shown}"


def sweep_specs(spec: ExperimentSpec, path: str, values: list[Any]) -> list[tuple[str, ExperimentSpec]]:
    """One validated spec per value, labelled like ``lr=0.03``, named ``<base> [lr=0.03]``.

    Raises pydantic's ValidationError for a value the spec rejects (e.g. a negative lr).
    """
    paths = _expand(spec, path)
    out = []
    for value in values:
        label = _label(path, value)
        variant = spec.with_overrides({p: value for p in paths})
        out.append((label, variant.model_copy(update={"name": f"{spec.name} [{label}]"})))
    return out


def variant_specs(spec: ExperimentSpec) -> list[tuple[str, ExperimentSpec]]:
    """The base and each of the file's variants, in file order: an experiment file as a comparison."""
    return [("base", spec.model_copy(update={"variants": ()}))] + [
        (v.name, spec.variant(v.name)) for v in spec.variants
    ]
