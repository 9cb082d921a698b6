"""Losses: batch-mean value and its gradient with respect to the network's raw outputs.

Reductions follow PyTorch's default ``reduction='mean'``: MSE, MAE, Huber and binary
cross-entropy average over every element, softmax cross-entropy over samples. The
cross-entropy losses take logits and are stable for any finite logit.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from engine.activations import sigmoid as _sigmoid
from engine.npcalls import vdot
from engine.registry import Registry, apply_options

LOSSES: Registry[type[Loss]] = Registry("loss")


class Loss:
    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, float]] = {}
    task: ClassVar[str] = "regression"  # 'regression' | 'binary' | 'multiclass'

    def __init__(self, **options: Any) -> None:
        apply_options(self, self.name, self.defaults, options)

    def __call__(self, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        """(batch-mean loss as a Python float, d loss / d out with out's shape and dtype)."""
        raise NotImplementedError

    def transform(self, out: np.ndarray) -> np.ndarray:
        """What a user reads as the prediction: identity, sigmoid probabilities or softmax."""
        return out

    def n_outputs(self, n_classes: int, n_targets: int) -> int:
        """Output units the network needs for this loss."""
        return n_targets

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.defaults)
        return f"{type(self).__name__}({opts})"


def _diff(out: np.ndarray, target: np.ndarray) -> np.ndarray:
    target = np.asarray(target)
    if target.shape != out.shape:
        if target.size != out.size:
            raise ValueError(f"target of shape {target.shape} does not match outputs {out.shape}")
        target = target.reshape(out.shape)
    # Cast so a float64 target never promotes float32 outputs and gradients.
    return out - target.astype(out.dtype, copy=False)


@LOSSES.register("mse")
class MSE(Loss):
    name = "mse"

    def __call__(self, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        if type(target) is np.ndarray and target.shape == out.shape and target.dtype == out.dtype:
            d = out - target  # the training loop's case, without _diff's conversions
        else:
            d = _diff(out, target)
        n = d.size
        value = float(vdot(d, d)) / n
        d *= 2.0 / n
        return value, d


@LOSSES.register("mae")
class MAE(Loss):
    name = "mae"

    def __call__(self, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        d = _diff(out, target)
        value = float(np.abs(d).sum()) / d.size
        # Subgradient 0 at d == 0, as torch's sign().
        g = np.sign(d)
        g *= 1.0 / d.size
        return value, g


@LOSSES.register("huber")
class Huber(Loss):
    """0.5·d² for |d| < delta, delta·(|d| - delta/2) beyond, as ``torch.nn.HuberLoss``."""

    name = "huber"
    defaults = {"delta": 1.0}
    delta: float

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.delta > 0.0:
            raise ValueError(f"huber delta must be > 0, got {self.delta}")

    def __call__(self, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        d = _diff(out, target)
        delta = self.delta
        c = np.clip(d, -delta, delta)
        # c·(d - c/2) equals both branches: 0.5·d² inside, delta·(|d| - delta/2) outside.
        value = float(np.vdot(c, d - 0.5 * c)) / d.size
        c *= 1.0 / d.size
        return value, c


@LOSSES.register("binary_cross_entropy")
class BinaryCrossEntropy(Loss):
    """Sigmoid + binary cross-entropy from logits (``BCEWithLogitsLoss``); targets (N, 1) in {0, 1}."""

    name = "binary_cross_entropy"
    task = "binary"

    def __call__(self, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        y = np.asarray(target)
        if y.shape != out.shape:
            if y.size != out.size:
                raise ValueError(f"target of shape {y.shape} does not match outputs {out.shape}")
            y = y.reshape(out.shape)
        y = y.astype(out.dtype, copy=False)
        n = out.size
        # max(z, 0) - z·y + log(1 + exp(-|z|)); the exponent is clamped to stay clear of underflow.
        t = np.abs(out)
        np.negative(t, out=t)
        np.maximum(t, -80.0 if out.dtype.itemsize <= 4 else -700.0, out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)
        t += np.maximum(out, 0)
        t -= out * y
        value = float(t.sum()) / n
        g = _sigmoid(out)
        g -= y
        g *= 1.0 / n
        return value, g

    def transform(self, out: np.ndarray) -> np.ndarray:
        return _sigmoid(out)

    def n_outputs(self, n_classes: int, n_targets: int) -> int:
        return 1


def _softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax on the last axis; shifting by the max keeps exp() from overflowing."""
    e = z - z.max(axis=-1, keepdims=True)
    # Clamp far-negative logits: exp() of them would underflow to 0 anyway.
    np.maximum(e, -80.0 if e.dtype.itemsize <= 4 else -700.0, out=e)
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


@LOSSES.register("softmax_cross_entropy")
class SoftmaxCrossEntropy(Loss):
    """Softmax + cross-entropy from logits (``torch.nn.CrossEntropyLoss``); targets are int labels (N,)."""

    name = "softmax_cross_entropy"
    task = "multiclass"

    def __call__(self, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        k = out.shape[-1]
        z = out.reshape(-1, k)
        labels = np.asarray(target).reshape(-1)
        if labels.shape[0] != z.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for {z.shape[0]} rows of outputs")
        if labels.dtype.kind not in "iu":
            if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
                labels = labels.astype(np.int64)
            else:
                raise ValueError(f"softmax_cross_entropy needs integer class labels, got {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"class labels must be in [0, {k}), got {labels.min()}..{labels.max()}")
        n = z.shape[0]
        flat_idx = np.arange(0, n * k, k) + labels  # (row, label) entries in the flat array
        # Row maxima through a transposed copy: several times faster than max(axis=1) on
        # the short rows of a classifier's output (this loss is a large share of a small step).
        e = z - np.ascontiguousarray(z.T).max(axis=0)[:, None]
        flat = e.reshape(-1)
        picked = float(flat[flat_idx].sum())
        # Clamp only for exp(): far-negative logits contribute nothing to the sum anyway.
        np.maximum(e, -80.0 if z.dtype.itemsize <= 4 else -700.0, out=e)
        np.exp(e, out=e)
        total = e.dot(np.ones(k, dtype=e.dtype))
        # mean over samples of log(sum exp) - z_label, both relative to the row maximum
        value = (float(np.log(total).sum()) - picked) / n
        e /= total[:, None]
        flat[flat_idx] -= 1.0
        e *= 1.0 / n
        return value, e.reshape(out.shape)

    def transform(self, out: np.ndarray) -> np.ndarray:
        return _softmax(out)

    def n_outputs(self, n_classes: int, n_targets: int) -> int:
        return n_classes


def get_loss(name: str, **options: Any) -> Loss:
    return LOSSES.get(name)(**options)
