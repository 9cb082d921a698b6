"""The settings a running Trainer accepts between two steps, and where each lives in a file.

One table, shared by the Trainer (which validates the names) and the app (which turns an edit
of the experiment file's ``optimizer.lr`` into a live ``lr`` change, and labels its marker).
"""

from __future__ import annotations

LIVE_PATHS: dict[str, str] = {
    "optimizer.lr": "lr",
    "regularization.l1": "l1",
    "regularization.l2": "l2",
    "clipping.mode": "clip_mode",
    "clipping.max": "clip_max",
}
LIVE_SETTINGS = frozenset(LIVE_PATHS.values())
