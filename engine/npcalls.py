"""NumPy functions called without their ``__array_function__`` dispatch step.

``np.dot``, ``np.vdot`` and ``np.copyto`` first run a small Python function that lists the
arguments which could override them (NEP 18), then the C implementation. On the engine's
own ndarrays nothing overrides them, and on a tiny network's step (~20 µs, eight products)
that Python frame costs a few tenths of a microsecond per call. These are the same C
functions (``_implementation``, kept by NumPy for exactly this), so the results are the same
bits; without that attribute the public functions are used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _undispatched(function: Callable[..., Any]) -> Callable[..., Any]:
    return getattr(function, "_implementation", function)


dot = _undispatched(np.dot)
vdot = _undispatched(np.vdot)
copyto = _undispatched(np.copyto)
