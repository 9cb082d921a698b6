"""Bounded records of arbitrarily long runs: keep everything up to a cap, then every other one.

A 30-minute run of a small network passes half a million epochs; keeping each one would cost
gigabytes. Past ``cap`` entries, every other one is dropped and only every ``stride``-th new
one is kept, so what remains stays evenly spaced from the first entry to the latest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

EPOCH_CAP = 2_000  # EpochMetrics kept per run (about 2 kB each)


class ThinnedList(Generic[T]):
    """A list of records numbered 1, 2, 3, … that never holds more than ``cap`` of them."""

    def __init__(self, cap: int = EPOCH_CAP) -> None:
        if cap < 2:
            raise ValueError("cap must be at least 2")
        self.cap = cap
        self.stride = 1
        self._items: list[tuple[int, T]] = []

    def append(self, number: int, item: T) -> None:
        """Record ``item`` as entry ``number`` (1-based, increasing)."""
        if (number - 1) % self.stride == 0:
            self._items.append((number, item))
        if len(self._items) > self.cap:
            self.stride *= 2
            self._items = [(n, x) for n, x in self._items if (n - 1) % self.stride == 0]

    def __iter__(self) -> Iterator[T]:
        return (x for _, x in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [x for _, x in self._items[index]]
        return self._items[index][1]

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, ThinnedList | list) else NotImplemented

    def __bool__(self) -> bool:
        return bool(self._items)
