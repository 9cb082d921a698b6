"""Everything a run reported, in growable NumPy arrays the plots read without copying.

Arrays double in capacity when full, so appending a million steps costs amortised O(1) and
the plots get contiguous views (``history.steps('loss')``) to hand to ``setData``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import attrgetter

import numpy as np

from engine.events import EpochMetrics, StepMetrics
from engine.layer_norms import norm_table

# Rows kept at most; past it, every other row is dropped. The real cap is the smaller of this and
# what the memory budget allows for the run's number of columns (wide networks keep fewer rows).
MAX_STEP_ROWS = 100_000
MAX_EPOCH_ROWS = 100_000
# The current run's history may use this much (float64 columns, with their growth slack of up to
# 2×). The Runs list keeps thinned copies of at most 20 runs (2,000 step rows each), so a session's
# histories stay under about 25 MB whatever the network.
STEP_BUDGET_BYTES = 12_000_000
EPOCH_BUDGET_BYTES = 4_000_000
MIN_ROWS = 2_000


def rows_for(budget_bytes: int, n_columns: int) -> int:
    """How many rows of ``n_columns`` float64 columns fit ``budget_bytes``, growth slack included."""
    return max(MIN_ROWS, budget_bytes // (8 * 2 * max(n_columns, 1)))
MAX_MARKERS = 1_000  # live changes kept per run (a person makes a few)
STEP_FIELDS = ("step", "epoch", "loss", "lr", "grad_norm")
EPOCH_FIELDS = ("epoch", "step", "train_loss", "val_loss", "train_metric", "val_metric", "lr", "seconds")


class _Columns:
    """Named float64 columns that share a length and grow together."""

    def __init__(self, names: Iterable[str], capacity: int = 1024) -> None:
        self._data: dict[str, np.ndarray] = {n: np.empty(capacity) for n in names}
        self._capacity = capacity
        self.n = 0

    def names(self) -> list[str]:
        return list(self._data)

    def _grow(self, needed: int) -> None:
        if needed <= self._capacity:
            return
        cap = self._capacity
        while cap < needed:
            cap *= 2
        for name, arr in self._data.items():
            new = np.empty(cap)
            new[: self.n] = arr[: self.n]
            self._data[name] = new
        self._capacity = cap

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._data.values())

    def add_column(self, name: str) -> None:
        # A layer first seen late (never happens within one network, but be safe): NaN before.
        arr = np.full(self._capacity, np.nan)
        self._data[name] = arr

    def append_rows(self, rows: dict[str, Sequence[float] | np.ndarray], count: int) -> None:
        self._grow(self.n + count)
        for name, arr in self._data.items():
            values = rows.get(name)
            if values is None:
                arr[self.n : self.n + count] = np.nan
            else:
                seg = arr[self.n : self.n + count]
                seg[:] = values
                # ±inf (a diverging loss) breaks auto-range; NaN is drawn as a gap.
                seg[~np.isfinite(seg)] = np.nan
        self.n += count

    def get(self, name: str) -> np.ndarray:
        return self._data[name][: self.n]

    def clear(self) -> None:
        self.n = 0

    def take(self, rows: np.ndarray) -> _Columns:
        """A copy holding only the given filled rows."""
        thin = _Columns([], capacity=max(len(rows), 1))
        thin._data = {name: arr[rows] for name, arr in self._data.items()}
        thin.n = len(rows)
        return thin

    def every(self, stride: int) -> _Columns:
        """A copy holding every ``stride``-th filled row (and always the last one)."""
        return self.take(np.unique(np.r_[np.arange(0, self.n, stride), self.n - 1]) if self.n else
                         np.arange(0))

    def __deepcopy__(self, memo: dict) -> _Columns:
        # Only the filled rows: up to half of a grown column is spare capacity, and a kept copy
        # (e.g. a finished run remembered for comparison) never grows again.
        copy = _Columns([], capacity=max(self.n, 1))
        copy._data = {name: arr[: self.n].copy() for name, arr in self._data.items()}
        copy.n = self.n
        return copy


class History:
    """Step- and epoch-level metrics of the current run (a continued run keeps appending)."""

    def __init__(self) -> None:
        self.metric_name = "accuracy"
        self.layers: list[str] = []
        self._steps = _Columns(STEP_FIELDS)
        self._step_layers = _Columns([])
        self._epochs = _Columns(EPOCH_FIELDS)
        self._epoch_layers = _Columns([])
        self.max_steps = MAX_STEP_ROWS
        self.step_stride = 1  # only steps that are multiples of it are kept (see _halve_steps)
        self.max_epochs = MAX_EPOCH_ROWS
        self.epoch_stride = 1
        self.revision = 0  # bumped on every change: plots redraw only when it moved
        # Bumped when rows are removed (clear, load): views that cache work per row start over.
        self.generation = 0
        # Live changes made during the run: (step, what changed), e.g. (1200, "lr 0.01 → 0.1").
        self.markers: list[tuple[int, str]] = []

    # -- writing --------------------------------------------------------------------------
    def clear(self) -> None:
        self.layers = []
        self.step_stride = 1
        self.epoch_stride = 1
        self._steps = _Columns(STEP_FIELDS)
        self._step_layers = _Columns([])
        self._epochs = _Columns(EPOCH_FIELDS)
        self._epoch_layers = _Columns([])
        self.markers = []
        self.revision += 1
        self.generation += 1

    @property
    def step_cap(self) -> int:
        return min(self.max_steps, rows_for(STEP_BUDGET_BYTES, len(STEP_FIELDS) + len(self.layers)))

    @property
    def epoch_cap(self) -> int:
        return min(self.max_epochs, rows_for(EPOCH_BUDGET_BYTES, len(EPOCH_FIELDS) + len(self.layers)))

    def nbytes(self) -> int:
        """Memory held by the columns (what the budget bounds)."""
        return sum(c.nbytes() for c in (self._steps, self._step_layers, self._epochs, self._epoch_layers))

    def _ensure_layers(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.layers:
                self.layers.append(name)
                self._step_layers.add_column(name)
                self._epoch_layers.add_column(name)

    def extend(self, events: Iterable[object]) -> None:
        """Append every StepMetrics and EpochMetrics in ``events`` (others are ignored)."""
        # Runs on the GUI thread for every batch (hundreds of steps): loops stay in C (fromiter,
        # map, attrgetter) because every Python instruction here is one the trainer waits for.
        events = list(events)
        steps = [e for e in events if type(e) is StepMetrics]
        epochs = [e for e in events if type(e) is EpochMetrics]
        if self.step_stride > 1:
            steps = [e for e in steps if e.step % self.step_stride == 0]
        if steps:
            self._ensure_layers(steps[0].layer_grad_norms)
            self._steps.append_rows(_fields(steps, STEP_FIELDS), len(steps))
            self._step_layers.append_rows(self._layer_rows(steps), len(steps))
            while self._steps.n > self.step_cap:
                self._halve_steps()
        if self.epoch_stride > 1:
            epochs = [e for e in epochs if (e.epoch - 1) % self.epoch_stride == 0]
        if epochs:
            self.metric_name = epochs[-1].metric_name
            self._ensure_layers(epochs[0].layer_grad_norms)
            self._epochs.append_rows(_fields(epochs, EPOCH_FIELDS), len(epochs))
            self._epoch_layers.append_rows(self._layer_rows(epochs), len(epochs))
            while self._epochs.n > self.epoch_cap:
                self._halve_epochs()
        if steps or epochs:
            self.revision += 1

    def _halve_steps(self) -> None:
        """Keep every other step row from now on: memory stays bounded on runs of any length.

        Step rows are what the minibatch curves draw, and a curve of a hundred thousand points
        already has far more points than the screen has pixels. Epoch rows thin much later.
        """
        self.step_stride *= 2
        keep = np.flatnonzero(self._steps.get("step") % self.step_stride == 0)
        self._steps = self._steps.take(keep)
        self._step_layers = self._step_layers.take(keep)
        self.generation += 1

    def _halve_epochs(self) -> None:
        """As ``_halve_steps`` for epoch rows, once a run has passed ``max_epochs`` epochs."""
        self.epoch_stride *= 2
        keep = np.flatnonzero((self._epochs.get("epoch") - 1) % self.epoch_stride == 0)
        self._epochs = self._epochs.take(keep)
        self._epoch_layers = self._epoch_layers.take(keep)
        self.generation += 1

    def _layer_rows(self, items: list) -> dict[str, np.ndarray]:
        table = norm_table(items, self.layers)  # a Trainer's steps: one pass from their sums
        if table is not None:
            return {name: table[:, i] for i, name in enumerate(self.layers)}
        norms = [e.layer_grad_norms for e in items]
        n, k = len(norms), len(self.layers)
        if list(norms[0]) == self.layers and list(norms[-1]) == self.layers:
            # One network reports its layers in one order: a (rows × layers) table in one go.
            try:
                table = np.fromiter(chain.from_iterable(map(dict.values, norms)), float, count=n * k)
            except ValueError:  # a row with fewer layers: take the general path
                pass
            else:
                table = table.reshape(n, k)
                return {name: table[:, i] for i, name in enumerate(self.layers)}
        return {name: np.fromiter((d.get(name, np.nan) for d in norms), float, count=n)
                for name in self.layers}

    def add_marker(self, step: int, text: str) -> None:
        """Note a live change at ``step``; a few per run, so they are never thinned."""
        if len(self.markers) < MAX_MARKERS:
            self.markers.append((int(step), text))
            self.revision += 1

    def load_columns(self, epochs: dict[str, np.ndarray], metric_name: str = "accuracy") -> None:
        """Replace the history by epoch columns read from a run folder (no step data)."""
        self.clear()
        self.metric_name = metric_name
        n = len(next(iter(epochs.values()))) if epochs else 0
        self._epochs.append_rows({k: list(np.asarray(v, float)) for k, v in epochs.items()}, n)
        grads = {k.removeprefix("grad_norm/"): v for k, v in epochs.items() if k.startswith("grad_norm/")}
        self._ensure_layers(grads)
        self._epoch_layers.append_rows({k: list(np.asarray(v, float)) for k, v in grads.items()}, n)
        self.revision += 1

    def thinned(self, max_steps: int) -> History:
        """A copy to keep for comparison: every epoch row, at most about ``max_steps`` step rows.

        A remembered run never grows again, and a million-step run kept whole would cost
        tens of MB; evenly spaced steps draw the same comparison curve.
        """
        thin = copy.deepcopy(self)
        stride = max(1, -(-self.n_steps // max_steps))
        if stride > 1:
            thin._steps = self._steps.every(stride)
            thin._step_layers = self._step_layers.every(stride)
        return thin

    # -- reading --------------------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        return self._steps.n

    @property
    def n_epochs(self) -> int:
        return self._epochs.n

    def steps(self, name: str) -> np.ndarray:
        return self._steps.get(name)

    def epochs(self, name: str) -> np.ndarray:
        return self._epochs.get(name)

    def step_layer_grads(self, layer: str) -> np.ndarray:
        return self._step_layers.get(layer)

    def epoch_layer_grads(self, layer: str) -> np.ndarray:
        return self._epoch_layers.get(layer)

    def last(self, name: str, default: float = float("nan")) -> float:
        col = self._epochs.get(name)
        return float(col[-1]) if len(col) else default


def _fields(items: list, names: Iterable[str]) -> dict[str, np.ndarray]:
    n = len(items)
    return {f: np.fromiter(map(attrgetter(f), items), float, count=n) for f in names}
