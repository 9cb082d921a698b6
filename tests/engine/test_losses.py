import math

import numpy as np
import pytest

from engine.gradcheck import numerical_gradient, relative_errors
from engine.losses import LOSSES, get_loss
from engine.registry import UnknownNameError


def _targets(name: str, rng: np.random.Generator, shape: tuple[int, int]):
    if name == "binary_cross_entropy":
        return rng.integers(0, 2, size=shape).astype(np.float64)
    if name == "softmax_cross_entropy":
        return rng.integers(0, shape[1], size=shape[0])
    return rng.normal(size=shape)


def test_registry_names_tasks_and_output_sizes():
    names = ["mse", "mae", "huber", "binary_cross_entropy", "softmax_cross_entropy", "masked_mse"]
    assert LOSSES.names() == names
    tasks = {name: cls.task for name, cls in LOSSES.items()}
    assert tasks == {
        "mse": "regression", "mae": "regression", "huber": "regression",
        "binary_cross_entropy": "binary", "softmax_cross_entropy": "multiclass", "masked_mse": "regression",
    }  # fmt: skip
    assert get_loss("mse").n_outputs(0, 3) == 3
    assert get_loss("binary_cross_entropy").n_outputs(2, 1) == 1
    assert get_loss("softmax_cross_entropy").n_outputs(5, 1) == 5
    assert LOSSES.get("huber").defaults == {"delta": 1.0}


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "binary_cross_entropy", "softmax_cross_entropy"])
def test_gradient_matches_central_differences(name):
    rng = np.random.default_rng(0)
    out = rng.normal(0.0, 2.0, size=(7, 3))
    if name == "binary_cross_entropy":
        out = out[:, :1]
    y = _targets(name, rng, out.shape)
    if name in ("mae", "huber"):
        # keep |out - y| away from the kinks at 0 and at delta
        d = out - y
        out = np.where(np.abs(d) < 0.05, out + 0.1, out)
        out = np.where(np.abs(np.abs(out - y) - 1.0) < 0.05, out + 0.1, out)
    loss = get_loss(name)
    value, grad = loss(out, y)
    numeric = numerical_gradient(lambda: loss(out, y)[0], out)
    assert isinstance(value, float)
    assert grad.shape == out.shape
    assert relative_errors(grad, numeric, floor=1e-3).max() < 1e-6


def test_values_follow_pytorch_mean_reductions():
    out = np.array([[0.0, 2.0], [1.0, -1.0]])
    y = np.array([[1.0, 0.0], [1.0, 2.0]])
    assert get_loss("mse")(out, y)[0] == pytest.approx((1 + 4 + 0 + 9) / 4)
    assert get_loss("mae")(out, y)[0] == pytest.approx((1 + 2 + 0 + 3) / 4)
    # Huber(delta=1): 0.5·1, 1·(2 - 0.5), 0, 1·(3 - 0.5)
    assert get_loss("huber")(out, y)[0] == pytest.approx((0.5 + 1.5 + 0 + 2.5) / 4)
    assert get_loss("huber", delta=2.0)(out, y)[0] == pytest.approx((0.5 + 2.0 + 0 + 4.0) / 4)

    logits = np.array([[0.5], [-2.0], [3.0]])
    t = np.array([[1.0], [0.0], [0.0]])
    p = 1 / (1 + np.exp(-logits))
    bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert get_loss("binary_cross_entropy")(logits, t)[0] == pytest.approx(bce, rel=1e-12)

    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    labels = np.array([0, 2])
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    ce = -(logp[0, 0] + logp[1, 2]) / 2
    assert get_loss("softmax_cross_entropy")(z, labels)[0] == pytest.approx(ce, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropies_are_stable_at_huge_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    labels = np.array([1, 2, 0])
    with np.errstate(all="raise"):
        value, grad = get_loss("softmax_cross_entropy")(z, labels)
        probs = get_loss("softmax_cross_entropy").transform(z)
    # row 0: label logit 2e4 below the max -> 2e4; row 1: uniform -> log 3; row 2: tied max -> log 2
    expected = (2e4 + math.log(3.0) + math.log(2.0)) / 3
    assert value == pytest.approx(expected, rel=1e-6)
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)

    logits = np.array([[1e4], [-1e4], [1e4], [-1e4]], dtype=dtype)
    t = np.array([[1.0], [0.0], [0.0], [1.0]], dtype=dtype)
    with np.errstate(all="raise"):
        value, grad = get_loss("binary_cross_entropy")(logits, t)
        p = get_loss("binary_cross_entropy").transform(logits)
    assert value == pytest.approx(2e4 / 4, rel=1e-6)
    np.testing.assert_allclose(grad.ravel(), [0.0, 0.0, 0.25, -0.25])
    np.testing.assert_array_equal(p.ravel(), [1.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "binary_cross_entropy", "softmax_cross_entropy"])
def test_float32_outputs_stay_float32_even_with_float64_targets(name):
    rng = np.random.default_rng(1)
    out = rng.normal(size=(5, 1 if name == "binary_cross_entropy" else 3)).astype(np.float32)
    y = _targets(name, rng, out.shape)
    _, grad = get_loss(name)(out, y)
    assert grad.dtype == np.float32
    assert get_loss(name).transform(out).dtype == np.float32


def test_loss_does_not_modify_its_inputs():
    rng = np.random.default_rng(2)
    for name in LOSSES.names():
        out = rng.normal(size=(4, 1 if name == "binary_cross_entropy" else 3))
        y = _targets(name, rng, out.shape)
        out0, y0 = out.copy(), y.copy()
        get_loss(name)(out, y)
        np.testing.assert_array_equal(out, out0)
        np.testing.assert_array_equal(y, y0)


def test_transforms():
    z = np.array([[0.0, math.log(3.0)]])
    np.testing.assert_allclose(get_loss("softmax_cross_entropy").transform(z), [[0.25, 0.75]])
    np.testing.assert_allclose(get_loss("binary_cross_entropy").transform(np.array([[0.0]])), [[0.5]])
    np.testing.assert_array_equal(get_loss("mse").transform(z), z)


def test_bad_targets_and_options_are_reported():
    ce = get_loss("softmax_cross_entropy")
    with pytest.raises(ValueError, match="labels"):
        ce(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="labels"):
        ce(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError):
        get_loss("mse")(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(TypeError, match="delta"):
        get_loss("mse", delta=1.0)
    with pytest.raises(ValueError):
        get_loss("huber", delta=0.0)
    with pytest.raises(UnknownNameError, match="did you mean 'mse'"):
        get_loss("mes")


def test_binary_targets_may_be_flat():
    z = np.array([[0.3], [-0.2]])
    a = get_loss("binary_cross_entropy")(z, np.array([[1.0], [0.0]]))
    b = get_loss("binary_cross_entropy")(z, np.array([1.0, 0.0]))
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
