"""Which edits of an experiment a running training takes live, and how a marker names them."""

from __future__ import annotations

from typing import Any

from engine.live import LIVE_PATHS
from engine.spec import ExperimentSpec

# Edits that change nothing the trainer uses.
COSMETIC = ("name", "description", "variants", "race")
NEVER_RESET = ("training.epochs",)  # more or fewer epochs continue the same run


def _get(tree: dict, path: str) -> Any:
    for key in path.split("."):
        tree = tree[key]
    return tree


def _drop(tree: dict, path: str) -> None:
    *parents, last = path.split(".")
    for key in parents:
        tree = tree[key]
    tree.pop(last, None)


def live_changes(old: ExperimentSpec, new: ExperimentSpec) -> dict[str, Any] | None:
    """The ``Trainer.set_hyperparameters`` changes that turn ``old`` into ``new``, or None when
    something else (architecture, data, optimizer, …) differs and the weights must reset."""
    a, b = old.model_dump(), new.model_dump()
    changes = {setting: _get(b, path) for path, setting in LIVE_PATHS.items()
               if _get(a, path) != _get(b, path)}
    for path in (*COSMETIC, *NEVER_RESET, *LIVE_PATHS):
        _drop(a, path)
        _drop(b, path)
    return changes if a == b else None


LABELS = {"lr": "lr", "l1": "L1", "l2": "L2"}


def describe_changes(old: ExperimentSpec, new: ExperimentSpec) -> str:
    """A marker's label: what a live edit changed, in the words of the editors."""
    a, b = old.model_dump(), new.model_dump()
    parts = []
    for path, setting in LIVE_PATHS.items():
        before, after = _get(a, path), _get(b, path)
        if before == after or setting.startswith("clip"):
            continue
        parts.append(f"{LABELS[setting]} {before:g} → {after:g}")
    if (old.clipping.mode, old.clipping.max) != (new.clipping.mode, new.clipping.max):
        parts.append("no clipping" if new.clipping.mode == "none" else
                     f"clip by {new.clipping.mode} at {new.clipping.max:g}")
    return ", ".join(parts)
