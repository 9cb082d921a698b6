"""Evaluation metrics, returned as Python floats."""

from __future__ import annotations

import numpy as np

_add_reduce = np.add.reduce


def accuracy(out: np.ndarray, y: np.ndarray, task: str, *, from_logits: bool = True) -> float:
    """Fraction of correct predictions.

    binary: ``out`` has one column; a sample is predicted positive when its logit is > 0
    (``from_logits=True``, the network's raw output) or its probability is > 0.5
    (``from_logits=False``, e.g. after ``loss.transform``). ``y`` holds 0/1.
    multiclass: the predicted class is the arg-max of the last axis (the same for logits
    and probabilities); ``y`` holds integer labels.
    """
    out = np.asarray(out)
    y = np.asarray(y)
    if out.shape[0] == 0:
        return float("nan")
    if task == "binary":
        pred = out.reshape(-1) > (0.0 if from_logits else 0.5)
        truth = y.reshape(-1) > 0.5
        if pred.shape != truth.shape:
            raise ValueError(f"{truth.size} targets for {pred.size} binary outputs")
        return float(np.mean(pred == truth))
    if task == "multiclass":
        pred = out.reshape(-1, out.shape[-1]).argmax(axis=1)
        truth = y.reshape(-1)
        if pred.shape != truth.shape:
            raise ValueError(f"{truth.size} labels for {pred.size} rows of outputs")
        return float(np.mean(pred == truth))
    raise ValueError(f"accuracy needs task 'binary' or 'multiclass', got {task!r}")


def _pair(pred: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    if p.shape != t.shape:
        if p.size != t.size:
            raise ValueError(f"predictions {p.shape} and targets {t.shape} differ in size")
        t = t.reshape(p.shape)
    return p, t


def mse(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error over every element."""
    p, t = _pair(pred, y)
    return float(np.mean((p - t) ** 2))


def mae(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute error over every element."""
    p, t = _pair(pred, y)
    return float(np.mean(np.abs(p - t)))


def r2(pred: np.ndarray, y: np.ndarray) -> float:
    """Coefficient of determination, averaged over output columns (scikit-learn's default).

    A column with constant targets scores 1.0 if predicted exactly, else 0.0.
    """
    p, t = _pair(pred, y)
    if p.ndim == 1:
        p, t = p[:, None], t[:, None]
    p = p.reshape(p.shape[0], -1)
    t = t.reshape(t.shape[0], -1)
    # In place and with plain sums: the trainer measures R² twice an epoch, and a small
    # network's epoch is a few milliseconds.
    d = t - p
    d *= d
    ss_res = _add_reduce(d, 0).tolist()  # what ndarray.sum(axis=0) calls, without its wrapper
    c = t - _add_reduce(t, 0) / t.shape[0]
    c *= c
    ss_tot = _add_reduce(c, 0).tolist()
    scores = [1.0 - r / s if s > 0 else (1.0 if r == 0 else 0.0) for r, s in zip(ss_res, ss_tot, strict=True)]
    return sum(scores) / len(scores)
