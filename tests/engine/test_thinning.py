"""Long runs keep bounded, evenly spaced records."""

import itertools

import pytest

from engine.thinning import ThinnedList


def test_keeps_everything_up_to_the_cap() -> None:
    kept = ThinnedList(cap=10)
    for n in range(1, 11):
        kept.append(n, n * 10)
    assert list(kept) == [n * 10 for n in range(1, 11)] and kept.stride == 1
    assert kept[-1] == 100 and kept[:2] == [10, 20] and kept == [n * 10 for n in range(1, 11)]


def test_past_the_cap_entries_stay_evenly_spaced_from_the_first() -> None:
    kept = ThinnedList(cap=100)
    for n in range(1, 100_001):
        kept.append(n, n)
    numbers = list(kept)
    assert len(numbers) <= 100 and numbers[0] == 1
    gaps = {b - a for a, b in itertools.pairwise(numbers)}
    assert gaps == {kept.stride}
    assert 100_000 - numbers[-1] < kept.stride  # the latest entries are always represented


def test_a_cap_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        ThinnedList(cap=1)
