import numpy as np
import pytest

from engine.metrics import accuracy, mae, mse, r2


def test_binary_accuracy_thresholds_logits_at_zero_and_probabilities_at_half():
    logits = np.array([[2.0], [-1.0], [0.3], [-0.2]])
    y = np.array([[1.0], [0.0], [0.0], [0.0]])
    assert accuracy(logits, y, "binary") == 0.75
    probs = np.array([[0.9], [0.4], [0.6], [0.45]])
    assert accuracy(probs, y, "binary", from_logits=False) == 0.75
    assert accuracy(logits, y.ravel(), "binary") == 0.75


def test_multiclass_accuracy_uses_argmax():
    out = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0], [1.0, 0.9, 0.0]])
    assert accuracy(out, np.array([1, 0, 2, 1]), "multiclass") == 0.75
    assert isinstance(accuracy(out, np.array([1, 0, 2, 1]), "multiclass"), float)


def test_accuracy_rejects_regression_and_mismatched_sizes():
    with pytest.raises(ValueError, match="task"):
        accuracy(np.zeros((2, 1)), np.zeros((2, 1)), "regression")
    with pytest.raises(ValueError):
        accuracy(np.zeros((3, 2)), np.zeros(2, int), "multiclass")


def test_regression_metrics():
    pred = np.array([[1.0, 2.0], [3.0, 5.0], [5.0, 6.0]])
    y = np.array([[1.0, 1.0], [3.0, 4.0], [6.0, 7.0]])
    assert mse(pred, y) == pytest.approx((0 + 1 + 0 + 1 + 1 + 1) / 6)
    assert mae(pred, y) == pytest.approx(4 / 6)
    # column-wise R², averaged (scikit-learn's 'uniform_average')
    r = []
    for j in range(2):
        ss_res = ((y[:, j] - pred[:, j]) ** 2).sum()
        ss_tot = ((y[:, j] - y[:, j].mean()) ** 2).sum()
        r.append(1 - ss_res / ss_tot)
    assert r2(pred, y) == pytest.approx(np.mean(r))
    assert r2(y, y) == 1.0
    assert r2(np.full(3, 2.0), np.array([1.0, 2.0, 3.0])) == pytest.approx(0.0)


def test_r2_with_constant_targets():
    assert r2(np.array([2.0, 2.0]), np.array([2.0, 2.0])) == 1.0
    assert r2(np.array([1.0, 2.0]), np.array([2.0, 2.0])) == 0.0
