"""Bring experiment files written by older versions of the format up to the current one.

Each migration is a plain function ``migrate_vN_to_vN+1(data: dict) -> dict`` over the parsed
JSON, registered in ``MIGRATIONS`` under the version it upgrades *from*. Loading applies them
in order until the file reaches ``engine.spec.VERSION``; the result is then validated like any
current file, so a migration only has to move and rename keys.

Version history
---------------
- **v0** (pre-release drafts): the learning rate was a top-level ``"lr"`` and ``"optimizer"``
  was a bare name (``"optimizer": "adam"``); hidden layers were ``"layers"`` at the top level
  instead of ``"model": {"layers": [...]}``.
- **v1**: Dense, Dropout and BatchNorm layers over flat feature vectors.
- **v2**: the current format (``engine/spec.py``). New optional sections and layer types
  (image and sequence layers, table import options, optimizer races); a v1 file means the same
  thing in v2, so the migration only restamps the version. A v1 reader cannot read a v2 file
  that uses them, hence the bump.

To change the format: bump ``engine.spec.VERSION``, write ``migrate_v2_to_v3`` here, register
it, and add a test that an old file loads to the spec it should mean.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from engine.spec import VERSION
from workbench.experiment.errors import ExperimentError, Problem

Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: dict[int, Migration] = {}


def migration(from_version: int) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        if from_version in MIGRATIONS:
            raise ValueError(f"two migrations from version {from_version}")
        MIGRATIONS[from_version] = fn
        return fn

    return register


@migration(0)
def migrate_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v0 kept ``lr`` and a bare optimizer name at the top level and ``layers`` unnested."""
    out = {k: v for k, v in data.items() if k not in ("lr", "optimizer", "layers")}
    optimizer = data.get("optimizer", "adam")
    optimizer = {"name": optimizer} if isinstance(optimizer, str) else dict(optimizer)
    if "lr" in data:
        optimizer["lr"] = data["lr"]
    out["optimizer"] = optimizer
    if "layers" in data:
        model = dict(out.get("model", {}))
        model["layers"] = data["layers"]
        out["model"] = model
    out["version"] = 1
    return out


@migration(1)
def migrate_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v2 only adds optional things: every v1 file is a valid v2 file with the same meaning."""
    out = dict(data)
    out["version"] = 2
    return out


def migrate(data: dict[str, Any], migrations: dict[int, Migration] | None = None) -> dict[str, Any]:
    """Upgrade parsed JSON to the current version; the input is left untouched.

    A newer version than this app knows, or a version with no migration path, is an
    ``ExperimentError`` rather than a guess.
    """
    migrations = MIGRATIONS if migrations is None else migrations
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ExperimentError([Problem("version", f"must be a whole number (this app writes {VERSION}), "
                                                   f"not {version!r}")])
    if version > VERSION:
        raise ExperimentError([Problem("version", f"this file is format version {version}, but this app "
                                                   f"reads versions up to {VERSION}; "
                                                   "update Gradient Workbench to open it")])
    if version < 0:
        raise ExperimentError([Problem("version", f"{version} is not a format version")])
    data = copy.deepcopy(data)
    while version < VERSION:
        step = migrations.get(version)
        if step is None:
            raise ExperimentError([Problem("version", f"no migration from version {version}")])
        data = step(data)
        if data.get("version") != version + 1:
            raise RuntimeError(f"migration from version {version} did not set version {version + 1}")
        version += 1
    return data
