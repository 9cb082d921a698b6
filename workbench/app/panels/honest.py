"""Fields that never show one value and use another.

A typed value is checked against the file format's own rules (the spec's validation) when the
person presses Enter or leaves the field. A value that does not parse or is out of range is
never applied and never silently replaced: the field keeps the text, turns red, and the panel's
message names the limit and the value still in use. Valid input clears the mark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLineEdit

INVALID_STYLE = "QLineEdit { border: 2px solid #c0392b; background: #fdecea; }"


def mark(edit: QLineEdit, problem: str) -> None:
    """Red border and the problem as tooltip; an empty problem clears both."""
    edit.setStyleSheet(INVALID_STYLE if problem else "")
    edit.setProperty("invalid", bool(problem))
    edit.setToolTip(problem or edit.property("tip") or "")


def is_marked(edit: QLineEdit) -> bool:
    return bool(edit.property("invalid"))


def honest_field(tip: str, parse: Callable[[str], Any], apply: Callable[[Any], str],
                 in_use: Callable[[], str], report: Callable[[str], None]) -> QLineEdit:
    """A line edit that applies ``parse(text)`` through ``apply`` (which returns a problem or "")."""
    edit = QLineEdit()
    edit.setProperty("tip", tip)
    edit.setToolTip(tip)

    def commit() -> None:
        text = edit.text().strip()
        if text == in_use():
            mark(edit, "")
            return
        try:
            value = parse(text)
        except ValueError as exc:
            problem = str(exc)
        else:
            problem = apply(value)
        if problem:
            problem = f"{problem} Not applied: still using {in_use()}."
            mark(edit, problem)
            report(problem)
        else:
            mark(edit, "")

    edit.editingFinished.connect(commit)
    return edit


def parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"“{text}” is not a number (e.g. 0.01 or 1e-3).") from None


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"“{text}” is not a whole number.") from None
