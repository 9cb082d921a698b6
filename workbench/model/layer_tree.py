"""The network editor's rows over a nested list of layers (residual blocks hold layers).

Qt-free edits on the JSON form of ``model.layers`` (a list of dicts, a residual block's inner
layers under its ``"layers"`` key). A row is addressed by its path: ``(2,)`` is the third
top-level layer, ``(2, 0)`` the first layer inside the block at index 2. Every function returns
a new list, or raises ``TreeEditError`` with a sentence for the user; the caller turns the new
list into one undoable edit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

Path = tuple[int, ...]


class TreeEditError(ValueError):
    """An edit that would make no sense (e.g. an empty residual block)."""


@dataclass(frozen=True)
class Row:
    path: Path
    layer: dict[str, Any]

    @property
    def depth(self) -> int:
        return len(self.path) - 1

    @property
    def label(self) -> str:
        """'3', or '3.1' for the first layer inside the block of row 3 (1-based, as people count)."""
        return ".".join(str(i + 1) for i in self.path)

    @property
    def is_block(self) -> bool:
        return self.layer.get("type") == "residual"


def rows(layers: list[dict[str, Any]], prefix: Path = ()) -> list[Row]:
    """Every layer in display order: a block's row, then its inner layers' rows."""
    out: list[Row] = []
    for i, layer in enumerate(layers):
        path = (*prefix, i)
        out.append(Row(path, layer))
        if layer.get("type") == "residual":
            out.extend(rows(layer.get("layers", []), path))
    return out


def _siblings(layers: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """The list that holds the layer at ``path``."""
    node = layers
    for i in path[:-1]:
        node = node[i]["layers"]
    return node


def get(layers: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    return _siblings(layers, path)[path[-1]]


def insert(layers: list[dict[str, Any]], path: Path, new: dict[str, Any]) -> list[dict[str, Any]]:
    """``new`` inserted at ``path`` (before the layer there, in the same block)."""
    out = copy.deepcopy(layers)
    _siblings(out, path).insert(path[-1], copy.deepcopy(new))
    return out


def append_to_block(layers: list[dict[str, Any]], block: Path, new: dict[str, Any]) -> tuple[list, Path]:
    """``new`` appended as the last layer of the block at ``block``; (layers, the new row's path)."""
    out = copy.deepcopy(layers)
    target = get(out, block)
    if target.get("type") != "residual":
        raise TreeEditError("select a residual block (or a layer inside one) to add a layer to it")
    target["layers"].append(copy.deepcopy(new))
    return out, (*block, len(target["layers"]) - 1)


def remove(layers: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    out = copy.deepcopy(layers)
    siblings = _siblings(out, path)
    if len(path) > 1 and len(siblings) == 1:
        raise TreeEditError(f"residual block {'.'.join(str(i + 1) for i in path[:-1])} needs at least one "
                            "layer: remove the block itself instead")
    del siblings[path[-1]]
    return out


def move(layers: list[dict[str, Any]], path: Path, delta: int) -> tuple[list[dict[str, Any]], Path]:
    """Swap with the neighbour in the same block; (layers, the moved row's new path)."""
    out = copy.deepcopy(layers)
    siblings = _siblings(out, path)
    to = path[-1] + delta
    if not 0 <= to < len(siblings):
        return out, path
    siblings[path[-1]], siblings[to] = siblings[to], siblings[path[-1]]
    return out, (*path[:-1], to)


def replace(layers: list[dict[str, Any]], path: Path, new: dict[str, Any]) -> list[dict[str, Any]]:
    out = copy.deepcopy(layers)
    _siblings(out, path)[path[-1]] = copy.deepcopy(new)
    return out


def set_field(layers: list[dict[str, Any]], path: Path, key: str, value: Any) -> list[dict[str, Any]]:
    out = copy.deepcopy(layers)
    get(out, path)[key] = value
    return out


def width_before(layers: list[dict[str, Any]], path: Path, default: int) -> int:
    """Units of the last Dense layer that feeds ``path`` (what a new block should keep), else
    ``default``: a block of this width needs no projection."""
    width = default
    node = layers
    for depth, index in enumerate(path):
        for layer in node[:index]:
            width = _out_width(layer, width)
        if depth < len(path) - 1:
            node = node[index]["layers"]
    return width


def _out_width(layer: dict[str, Any], width: int) -> int:
    if layer.get("type") == "dense":
        return int(layer.get("units", width))
    if layer.get("type") == "residual":
        for inner in layer.get("layers", []):
            width = _out_width(inner, width)
    return width
