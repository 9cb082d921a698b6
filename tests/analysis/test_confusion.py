"""Confusion matrix and confident mistakes: counted by hand against the trainer's accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.confusion import classify
from engine.losses import LOSSES
from engine.network import Network
from engine.spec import DataSpec, DenseSpec, ExperimentSpec, ModelSpec, TrainingSpec
from engine.trainer import Trainer

from .problems import make_net


def test_counts_match_a_hand_count_and_the_accuracy(spiral, ce) -> None:
    net = make_net(spiral, seed=3)
    result = classify(net, ce, spiral.x_val, spiral.y_val, ("a", "b", "c"))
    out = net.forward(spiral.x_val)
    pred = np.argmax(out, axis=1)
    expected = np.zeros((3, 3), dtype=int)
    for t, p in zip(spiral.y_val, pred, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(result.counts, expected)
    assert result.accuracy == pytest.approx(np.mean(pred == spiral.y_val))
    norm = result.row_normalized()
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(norm), np.diag(expected) / expected.sum(axis=1))
    # Softmax probability of the predicted class.
    z = out - out.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(result.confidence, p[np.arange(len(p)), pred], rtol=1e-5)


def test_mistakes_are_the_wrong_ones_most_confident_first(spiral, ce) -> None:
    result = classify(make_net(spiral, seed=4), ce, spiral.x_val, spiral.y_val, ("0", "1", "2"))
    wrong = np.flatnonzero(result.predicted != result.labels)
    assert len(wrong) > 3  # an untrained net: plenty of mistakes
    top = result.mistakes(limit=5)
    assert len(top) == 5 and set(top) <= set(wrong)
    conf = result.confidence[top]
    assert np.all(np.diff(conf) <= 0)
    assert conf[0] == result.confidence[wrong].max()
    cell = result.mistakes(limit=100, true_class=0, predicted_class=1)
    assert np.all(result.labels[cell] == 0) and np.all(result.predicted[cell] == 1)
    assert len(cell) == result.counts[0, 1]
    assert len(result.mistakes(limit=0)) == 0


def test_empty_rows_normalise_to_zero(ce) -> None:
    net = Network.from_spec(ModelSpec(layers=()), (2,), 3, np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).normal(size=(6, 2))
    result = classify(net, ce, x, np.array([0, 0, 1, 1, 0, 1]), ("a", "b", "c"))
    assert result.counts[2].sum() == 0
    np.testing.assert_array_equal(result.row_normalized()[2], 0.0)
    with pytest.raises(ValueError, match="class indices"):
        classify(net, ce, x, np.array([0, 0, 1, 1, 0, 3]), ("a", "b", "c"))


def test_binary_single_output_agrees_with_the_trainer() -> None:
    spec = ExperimentSpec(
        data=DataSpec(source="moons", n_samples=200, noise=0.2),
        model=ModelSpec(layers=(DenseSpec(units=8, activation="tanh"),)),
        loss={"name": "binary_cross_entropy"},
        training=TrainingSpec(epochs=3),
    )
    trainer = Trainer(spec)
    for _ in trainer.run():
        pass
    ds = trainer.dataset
    result = classify(trainer.network, trainer.loss, ds.x_val, ds.y_val, ds.class_names)
    _, acc = trainer.evaluate("val")
    assert result.accuracy == pytest.approx(acc)
    assert result.counts.shape == (2, 2) and result.counts.sum() == len(ds.y_val)
    assert np.all((result.confidence >= 0.5) & (result.confidence <= 1.0))


def test_regression_loss_on_class_targets_uses_argmax() -> None:
    mse = LOSSES.get("mse")()
    net = Network.from_spec(ModelSpec(layers=()), (2,), 3, np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).normal(size=(10, 2))
    result = classify(net, mse, x, np.zeros(10, dtype=int), ("a", "b", "c"))
    np.testing.assert_array_equal(result.predicted, np.argmax(net.forward(x), axis=1))
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
