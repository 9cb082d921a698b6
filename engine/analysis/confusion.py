"""What a classifier gets wrong: the confusion matrix and its most confident mistakes.

Predictions follow the trainer's accuracy (``Trainer._metric``): the arg-max of the outputs, or,
for one output, logit > 0 with a binary cross-entropy loss and value > 0.5 with a regression
loss on 0/1 targets. Confidence is the probability the model gives its predicted class
(softmax or sigmoid); for a regression loss trained on class targets, whose outputs are not
probabilities, it is the predicted output's value clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Classification:
    """Per-sample predictions of a split and their confusion matrix.

    ``counts[i, j]``: samples of true class i predicted as j (rows are the truth).
    """

    labels: np.ndarray  # (n,) int: true class
    predicted: np.ndarray  # (n,) int
    confidence: np.ndarray  # (n,) float64 in [0, 1]: the model's probability of ``predicted``
    probabilities: np.ndarray  # (n, k) float64: per-class probability (or clipped output)
    counts: np.ndarray  # (k, k) int64
    class_names: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def accuracy(self) -> float:
        n = int(self.counts.sum())
        return float(np.trace(self.counts)) / n if n else float("nan")

    def row_normalized(self) -> np.ndarray:
        """Each true class's row divided by its count (recall on the diagonal); 0 for empty rows."""
        totals = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.counts, totals, out=np.zeros(self.counts.shape), where=totals > 0)

    def mistakes(self, limit: int = 24, true_class: int | None = None,
                 predicted_class: int | None = None) -> np.ndarray:
        """Indices of wrong predictions, most confident first (ties: lower index first).

        ``true_class`` / ``predicted_class`` keep one cell of the matrix (a clicked cell)."""
        wrong = self.predicted != self.labels
        if true_class is not None:
            wrong &= self.labels == true_class
        if predicted_class is not None:
            wrong &= self.predicted == predicted_class
        idx = np.flatnonzero(wrong)
        order = np.lexsort((idx, -self.confidence[idx]))
        return idx[order][: max(limit, 0)]


def class_outputs(out: np.ndarray, loss: Any) -> np.ndarray:
    """Per-class probabilities (n, k ≥ 2) from raw outputs, as the loss reads them."""
    flat = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    probs = np.asarray(loss.transform(flat), dtype=np.float64).reshape(len(flat), -1)
    if probs.shape[1] == 1:
        p = np.clip(probs[:, 0], 0.0, 1.0)
        return np.column_stack([1.0 - p, p])
    if getattr(loss, "task", "") != "multiclass":
        return np.clip(probs, 0.0, 1.0)  # a regression loss on one-hot targets
    return probs


def classify(network: Any, loss: Any, x: np.ndarray, labels: np.ndarray,
             class_names: tuple[str, ...] | list[str], batch: int = 2048) -> Classification:
    """Predict ``x`` in eval mode (on a copy of ``network``, in batches) against integer ``labels``."""
    net = network.copy()
    labels = np.asarray(labels).reshape(len(labels), -1)[:, 0].astype(np.int64)
    k = len(class_names)
    if k < 2:
        raise ValueError("a confusion matrix needs a classifier with at least two classes")
    parts = []
    if labels.size and not (labels.min() >= 0 and labels.max() < k):
        raise ValueError(f"labels must be class indices in [0, {k}), got {labels.min()}…{labels.max()}")
    x = np.asarray(x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, len(x), batch):
            xb = np.ascontiguousarray(x[start : start + batch], dtype=net.params.dtype)
            out = net.forward(xb, training=False)
            single = out.reshape(len(out), -1).shape[1] == 1
            probs = class_outputs(out, loss)
            if single and getattr(loss, "task", "") == "binary":
                # As the accuracy: logit > 0 (a probability of exactly 0.5 is class 0 there too).
                pred = (out.reshape(-1) > 0).astype(np.int64)
            else:
                # The raw outputs' arg-max, as the accuracy (clipping would tie outputs above 1).
                pred = np.argmax(out.reshape(len(out), -1), axis=1) if not single else \
                    np.argmax(probs, axis=1)
            parts.append((probs, pred))
    if parts:
        probs = np.concatenate([p for p, _ in parts])
        predicted = np.concatenate([q for _, q in parts])
    else:
        probs, predicted = np.zeros((0, k)), np.zeros(0, dtype=np.int64)
    if probs.shape[1] != k:
        raise ValueError(f"the network has {probs.shape[1]} class outputs for {k} classes")
    confidence = np.nan_to_num(probs[np.arange(len(probs)), predicted], nan=0.0)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    return Classification(labels, predicted, confidence, probs, counts, tuple(class_names))
