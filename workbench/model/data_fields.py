"""What each Data-panel field shows for the chosen source (Qt-free).

A field that the source does not use must never show a number that is not in use. Each field
is either edited (``"edit"``), shown as the value the data really uses (``"fixed"``, with the
text the user reads, e.g. "2 (from the table)"), or hidden (``"hidden"``) when it means nothing
for the source (noise of a table, steps of an image set).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FieldState = Literal["edit", "fixed", "hidden"]
FIELDS = ("samples", "noise", "classes", "steps", "images", "channels", "path", "target", "features")


@dataclass(frozen=True)
class FieldShow:
    state: FieldState
    text: str = ""


EDIT = FieldShow("edit")
HIDDEN = FieldShow("hidden")


def _origin(kind: str, source: str) -> str:
    """Where a fixed value comes from, as the user would say it."""
    return {"csv": "from the table", "csv_series": "from the series",
            "image_folder": "from the folders", "digits": "fixed by the digits set"}.get(
        kind, f"fixed by the {source.replace('_', ' ')} set")


def data_fields(source: str, entry: Any, dataset: Any | None) -> dict[str, FieldShow]:
    """The display of every field in ``FIELDS`` for ``source`` (its registry ``entry``), using the
    built ``dataset`` (or None when it could not be built) for the values the data fixes."""
    kind = getattr(entry, "kind", "2d")
    origin = _origin(kind, source)
    task = getattr(dataset, "task", None) or getattr(entry, "task", "auto")
    out: dict[str, FieldShow] = {}

    if kind in ("2d", "sequence", "shapes"):
        out["samples"] = EDIT
    elif dataset is not None:
        out["samples"] = FieldShow("fixed", f"{len(dataset.x_train) + len(dataset.x_val)} ({origin})")
    else:
        out["samples"] = FieldShow("fixed", f"all ({origin})")

    out["noise"] = EDIT if getattr(entry, "uses_noise", False) else HIDDEN

    if getattr(entry, "uses_n_classes", False):
        out["classes"] = EDIT
    elif task == "regression":
        out["classes"] = FieldShow("fixed", "none (predicts numbers)")
    elif dataset is not None and dataset.n_classes:
        out["classes"] = FieldShow("fixed", f"{dataset.n_classes} ({origin})")
    elif task == "binary":
        out["classes"] = FieldShow("fixed", f"2 ({origin})")
    else:
        out["classes"] = FieldShow("fixed", origin)

    out["steps"] = EDIT if kind in ("sequence", "csv_series") else HIDDEN
    if kind in ("shapes", "image_folder"):
        out["images"] = EDIT
    elif kind == "digits":
        out["images"] = FieldShow("fixed", f"8×8 px, grey ({origin})")
    else:
        out["images"] = HIDDEN
    out["channels"] = EDIT if kind == "image_folder" else HIDDEN
    out["path"] = EDIT if kind in ("csv", "csv_series", "image_folder") else HIDDEN
    out["target"] = EDIT if kind in ("csv", "csv_series") else HIDDEN
    out["features"] = EDIT if kind == "2d" else HIDDEN
    return out
