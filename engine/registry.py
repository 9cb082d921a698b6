"""Named choices: one registry per concept maps a stable name to an implementation.

Files and the GUI store names, never indices; an unknown name gets a did-you-mean hint.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name that no registry entry has; the message suggests the nearest one."""

    def __init__(self, kind: str, name: object, choices: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.choices = choices
        self.suggestion = suggest(str(name), choices)
        hint = f"; did you mean '{self.suggestion}'?" if self.suggestion else ""
        super().__init__(
            f"{name!r} is not {_article(kind)} {kind}{hint} (choose from: {', '.join(choices)})"
        )


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def suggest(name: str, choices: list[str]) -> str | None:
    """The closest valid name to a typo, or None when nothing is close."""
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


class Registry(Generic[T]):
    """An ordered mapping of stable names to implementations of one concept."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return decorate

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)


def apply_options(obj: object, name: str, defaults: dict[str, float], options: dict[str, object]) -> None:
    """Set each of ``defaults``' options on ``obj`` as a float; an unknown option is a TypeError."""
    unknown = set(options) - set(defaults)
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise TypeError(f"{name} got unknown option(s) {', '.join(sorted(unknown))} (allowed: {allowed})")
    for key, default in defaults.items():
        setattr(obj, key, float(options.get(key, default)))  # type: ignore[arg-type]
