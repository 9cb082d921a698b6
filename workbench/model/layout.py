"""The saved window layout: versioned, and checked before it is applied.

A layout saved by another version of the app, or on a screen of another size, or one that
names pages this version does not have, is discarded whole: a half-applied layout is how
docks used to end up on top of each other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

LAYOUT_VERSION = 2
MIN_EDITORS, MAX_EDITORS = 360, 720  # px: the editor column's width


@dataclass(frozen=True)
class Layout:
    window: tuple[int, int] = (1280, 720)
    editors_width: int = 380
    editors_visible: bool = True
    toolbar_visible: bool = True
    pages: tuple[str, ...] = ()  # open analysis pages, in tab order (the Training page is implied)
    current: str = "training"
    screen: tuple[int, int] = (0, 0)
    about_expanded: bool = False  # the whole experiment description shown, not its first lines
    version: int = field(default=LAYOUT_VERSION)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def parse_layout(text: Any, screen: tuple[int, int], known_pages: set[str]) -> Layout | None:
    """The saved layout in ``text`` if it is valid here, else None (and it should be dropped)."""
    if not isinstance(text, str) or len(text) > 10_000:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("version") != LAYOUT_VERSION:
        return None
    try:
        layout = Layout(
            window=_pair(raw["window"]),
            editors_width=int(raw["editors_width"]),
            editors_visible=_bool(raw["editors_visible"]),
            toolbar_visible=_bool(raw["toolbar_visible"]),
            pages=tuple(str(p) for p in raw["pages"]),
            current=str(raw["current"]),
            screen=_pair(raw["screen"]),
            about_expanded=_bool(raw.get("about_expanded", False)),  # absent in older saves
        )
    except (KeyError, TypeError, ValueError):
        return None
    if layout.screen != tuple(screen):
        return None
    if not MIN_EDITORS <= layout.editors_width <= MAX_EDITORS:
        return None
    if not all(p in known_pages for p in layout.pages) or len(set(layout.pages)) != len(layout.pages):
        return None
    if layout.current != "training" and layout.current not in layout.pages:
        return None
    if not (200 <= layout.window[0] <= 20_000 and 200 <= layout.window[1] <= 20_000):
        return None
    return layout


def _pair(value: Any) -> tuple[int, int]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("not a pair")
    return int(value[0]), int(value[1])


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a bool")
    return value
