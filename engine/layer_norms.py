"""Per-layer L2 norms of a network's flat buffers (gradients, weights, an update).

The Trainer measures the squared sum of every parameter's slice once per step (one pass over
the flat buffer) and keeps that list; turning it into per-layer norms by name is left to
whoever reads them (``NormLayout.norms``). Only the window's history reads every step's, and
it does so for a whole batch of steps at once (``norm_table``).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.network import Network

_SMALL = 32_768  # parameters; below this, per-call overhead outweighs an extra pass over memory


class NormLayout:
    """Which entries of a list of per-parameter squared sums belong to which layer.

    Immutable once built, and shared by every step event of a run (events keep their squared
    sums and this layout, and make the per-layer dicts when first read)."""

    __slots__ = ("alternating", "bias_idx", "bias_pairs", "layers", "weight_idx", "weight_pairs")

    def __init__(self, network: Network) -> None:
        slices = network.slices()
        index = {n: i for i, n in enumerate(slices)}
        layers: list[str] = []
        weight_idx: list[int] = []
        bias_idx: list[int | None] = []
        for layer, (w, b) in network.layer_slices().items():
            layers.append(layer)
            weight_idx.append(_index_of(index, slices, w))
            bias_idx.append(None if b is None else _index_of(index, slices, b))
        self.layers = tuple(layers)
        self.weight_idx = tuple(weight_idx)
        self.bias_idx = tuple(bias_idx)
        # W, b, W, b, …: every layer has a bias right after its weights (slices replace look-ups).
        self.alternating = (weight_idx == list(range(0, 2 * len(layers), 2))
                            and bias_idx == list(range(1, 2 * len(layers), 2))
                            and len(slices) == 2 * len(layers))
        self.weight_pairs = tuple(zip(self.layers, self.weight_idx, strict=True))
        self.bias_pairs = tuple(zip(self.layers, self.bias_idx, strict=True))

    def norms(self, sums: Sequence[float]) -> tuple[dict[str, float], dict[str, float]]:
        """(weight norm, bias norm) per layer from one list of squared sums (0.0 without bias)."""
        if self.alternating:  # C-level loops over slices
            return (dict(zip(self.layers, map(math.sqrt, sums[0::2]), strict=True)),
                    dict(zip(self.layers, map(math.sqrt, sums[1::2]), strict=True)))
        sqrt = math.sqrt
        weights = {layer: sqrt(sums[i]) for layer, i in self.weight_pairs}
        biases = {layer: (sqrt(sums[i]) if i is not None else 0.0) for layer, i in self.bias_pairs}
        return weights, biases

    def weight_norms(self, sums: Sequence[float]) -> dict[str, float]:
        return {layer: math.sqrt(sums[i]) for layer, i in self.weight_pairs}

    def bias_norms(self, sums: Sequence[float]) -> dict[str, float]:
        return {layer: (math.sqrt(sums[i]) if i is not None else 0.0) for layer, i in self.bias_pairs}

    def weight_norm_sums(self, rows: Sequence[Sequence[float]]) -> dict[str, float]:
        """Per layer, the sum over ``rows`` (in order, from 0.0) of its weight norm: the same
        bits as adding each row's ``weight_norms`` to a running total."""
        if not rows:
            return {}
        columns = list(zip(*rows, strict=True))
        return {layer: sum(map(math.sqrt, columns[i])) for layer, i in self.weight_pairs}

    def weight_norm_sums_of(self, sums: np.ndarray) -> dict[str, float]:
        """``weight_norm_sums`` of a (rows × parameters) array, with the same bits."""
        norms = np.sqrt(sums[:, list(self.weight_idx)].astype(np.float64))
        return {layer: sum(column) for layer, column in zip(self.layers, norms.T.tolist(), strict=True)}


class LayerStats:
    """Squared sums of a flat buffer's parameter slices, in one pass, and their layout.

    Large nets: one ``dot`` per parameter, a single pass with no temporary (three buffers
    are measured every step on the training hot path). Small nets: one ``reduceat``.
    """

    def __init__(self, network: Network) -> None:
        slices = network.slices()
        self.slices = list(slices.values())
        self.starts = np.array([s.start for s in self.slices], dtype=np.intp)
        self.layout = NormLayout(network)
        self.layers = self.layout.layers
        self._square = np.empty_like(network.params)

    def squared_sums(self, flat: np.ndarray) -> list[float]:
        if flat.size <= _SMALL:
            # Small nets: per-call overhead dominates, so one reduction beats a dot per parameter.
            if not self.starts.size:
                return []
            return np.add.reduceat(np.multiply(flat, flat, out=self._square), self.starts).tolist()
        return [float(v.dot(v)) for v in (flat[s] for s in self.slices)]


# An epoch's gradients are kept whole (``EpochGradients``) up to this many bytes: a small net's
# epoch of a few hundred steps. Beyond it each step measures its squared sums itself.
EPOCH_GRADIENTS_BYTES = 1 << 20


class EpochGradients:
    """Every step's flat gradient over one epoch of a small network, one row per step.

    A step only copies its gradient into its row (one call); the squared sums per parameter
    slice are computed for many rows at once when first read (by an event's dicts, the
    window's history or the epoch's mean; a row is squared in place then). Rows are written
    once, in order, before their step's event is yielded; readers on other threads only touch
    rows already written.
    """

    def __init__(self, steps: int, n_parameters: int, starts: np.ndarray, dtype: np.dtype) -> None:
        self.block = np.empty((steps, n_parameters), dtype)  # fresh each epoch: events keep it
        self.starts = starts
        self._sums = np.empty((steps, starts.size), dtype)
        self._done = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # copies and pickles (of events) take the rows, not the lock
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @staticmethod
    def fits(steps: int, n_parameters: int, itemsize: int) -> bool:
        return 0 < n_parameters <= _SMALL and steps * n_parameters * itemsize <= EPOCH_GRADIENTS_BYTES

    def sums_upto(self, i: int, quiet: bool = False) -> np.ndarray:
        """The (steps × slices) squared sums, filled for rows 0..``i`` at least.

        ``quiet``: the caller already silenced NumPy's overflow warnings (a diverging run's
        rows overflow when squared)."""
        with self._lock:
            if self._done <= i:
                if quiet:
                    self._fill(i)
                else:
                    with np.errstate(over="ignore", invalid="ignore"):
                        self._fill(i)
        return self._sums

    def _fill(self, i: int) -> None:
        part = self.block[self._done : i + 1]
        np.square(part, out=part)  # the raw rows are not read again once summed
        np.add.reduceat(part, self.starts, axis=1, out=self._sums[self._done : i + 1])
        self._done = i + 1


def step_sums(event: object) -> list[float]:
    """The squared sums per parameter slice that a Trainer's step event carries."""
    d = event.__dict__
    source = d.get("_grad_src")
    if source is not None:
        return source.sums_upto(d["_i"])[d["_i"]].tolist()
    return d["_grad_sums"]


def norm_table(steps: Sequence[object], layers: Sequence[str]) -> np.ndarray | None:
    """The weight-gradient norms of ``steps`` (step events made by one run's Trainer) as a
    (steps × layers) float64 table, computed in one vectorised pass per epoch from what the
    events carry; None when the events do not all carry it in the order of ``layers``."""
    layout = getattr(steps[0], "_layout", None) if steps else None
    if layout is None or not layout.alternating or list(layout.layers) != list(layers):
        return None
    parts: list[np.ndarray] = []
    try:
        for source, group in itertools.groupby(steps, key=lambda s: s.__dict__.get("_grad_src")):
            items = list(group)
            if any(s.__dict__.get("_layout") is not layout for s in items):
                return None
            if source is None:
                parts.append(np.array([s.__dict__["_grad_sums"] for s in items], dtype=np.float64))
            else:
                index = [s.__dict__["_i"] for s in items]
                parts.append(source.sums_upto(max(index))[index].astype(np.float64))
    except KeyError:
        return None
    table = np.concatenate(parts).reshape(len(steps), -1)[:, 0::2]
    return np.sqrt(table)  # IEEE square root: the same bits as math.sqrt


def _index_of(index: dict[str, int], slices: dict[str, slice], target: slice) -> int:
    for name, s in slices.items():
        if s.start == target.start and s.stop == target.stop:
            return index[name]
    raise ValueError(f"layer slice {target} is not a parameter of the network")
