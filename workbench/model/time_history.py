"""The gradient through time of a run: ‖∂L/∂h_t‖ per time step, per training step, per
recurrent layer, from the ``TimeGradients`` records the training task sends.

Bounded like ``History``: past ``max_rows`` training steps every other row is dropped and only
steps that are multiples of the doubled stride are kept from then on, so a long run costs at most
``max_rows × time steps`` floats per layer.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from engine.recurrent import TimeGradients

MAX_ROWS = 2_000


class TimeGradientHistory:
    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.clear()

    def clear(self) -> None:
        self.stride = 1
        self._steps: list[int] = []
        self._rows: dict[str, list[np.ndarray]] = {}
        self.revision = 0

    @property
    def layers(self) -> list[str]:
        return list(self._rows)

    @property
    def n_rows(self) -> int:
        return len(self._steps)

    def extend(self, events: Iterable[object]) -> bool:
        """Keep the TimeGradients among ``events``; True if any was kept."""
        added = False
        for event in events:
            if type(event) is not TimeGradients or event.step % self.stride:
                continue
            if self._steps and event.step <= self._steps[-1]:
                self.clear()  # a new run (steps start over)
            self._steps.append(event.step)
            for name, norms in event.norms.items():
                rows = self._rows.setdefault(name, [])
                if len(rows) < len(self._steps) - 1:  # a layer first seen late: NaN rows before
                    rows.extend([np.full(len(norms), np.nan)] * (len(self._steps) - 1 - len(rows)))
                rows.append(norms)
            added = True
            if len(self._steps) > self.max_rows:
                self._halve()
        if added:
            self.revision += 1
        return added

    def _halve(self) -> None:
        self.stride *= 2
        keep = [i for i, s in enumerate(self._steps) if s % self.stride == 0]
        self._steps = [self._steps[i] for i in keep]
        self._rows = {k: [v[i] for i in keep if i < len(v)] for k, v in self._rows.items()}

    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=float)

    def matrix(self, layer: str) -> np.ndarray:
        """(training steps, time steps) norms of ``layer``; empty when nothing was recorded."""
        rows = self._rows.get(layer, [])
        return np.vstack(rows) if rows else np.empty((0, 0))

    def latest(self, layer: str) -> np.ndarray | None:
        rows = self._rows.get(layer)
        return rows[-1] if rows else None

    def first_to_last(self, layer: str) -> float:
        """‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ of the latest record (NaN when none or the last is zero)."""
        last = self.latest(layer)
        if last is None or not last[-1] > 0:
            return float("nan")
        return float(last[0] / last[-1])
