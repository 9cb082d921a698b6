"""How much of the gradient residual blocks pass through their skip paths, in plain words.

Not a problem finding (``diagnose`` lists problems): a fact about the run that explains why a
deep residual network's first layers still get a gradient. The share is defined in
``engine/residual.py``: ‖g_skip‖ / (‖g_skip‖ + ‖g_branch‖) at each block's input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.events import EpochMetrics


def skip_path_summary(history: Sequence[EpochMetrics]) -> str | None:
    """One sentence on the last epoch's skip shares, or None for a run without residual blocks."""
    if not history:
        return None
    shares = {k: v for k, v in history[-1].skip_shares.items() if math.isfinite(v)}
    if not shares:
        return None
    low = min(shares, key=shares.__getitem__)
    high = max(shares, key=shares.__getitem__)
    span = (f"{_pct(shares[low])} ({low}) to {_pct(shares[high])} ({high})" if low != high
            else f"{_pct(shares[low])} ({low})")
    epoch = history[-1].epoch
    return (f"Skip paths: in epoch {epoch}, {span} of the gradient reaching each residual block's input "
            "came through its skip path, the rest through the block's layers (‖g_skip‖ / (‖g_skip‖ + "
            "‖g_branch‖)). An identity skip passes the gradient on unchanged, so it does not fade "
            "block after block the way it fades layer after layer in a plain stack.")


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"
