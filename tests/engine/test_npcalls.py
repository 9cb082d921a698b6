"""The undispatched NumPy calls the fast path uses give exactly what NumPy's public ones give."""

from __future__ import annotations

import numpy as np

from engine import npcalls


def test_undispatched_calls_match_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((9, 17)).astype(np.float32)
    b = rng.standard_normal((17, 10)).astype(np.float32)
    out = np.empty((9, 10), np.float32)
    npcalls.dot(a, b, out)
    assert np.array_equal(out, np.dot(a, b))
    assert np.array_equal(npcalls.dot(a.T.copy().T, b), np.dot(a, b))
    v = rng.standard_normal(113)
    assert npcalls.vdot(v, v) == np.vdot(v, v)
    target = np.zeros((17, 9), np.float32)
    npcalls.copyto(target.T, a)
    assert np.array_equal(target.T, a)


def test_a_function_without_an_implementation_attribute_is_used_as_it_is() -> None:
    def plain(x: int) -> int:
        return x + 1

    assert npcalls._undispatched(plain) is plain
    assert npcalls._undispatched(np.dot) is not np.dot  # NumPy's dispatcher is skipped
