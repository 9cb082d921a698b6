"""L1/L2 penalty and gradient, gradient clipping: values a user can check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.regularization import add_l1_l2_grad, clip_grad_norm, clip_grad_value, l1_l2_penalty

# Two weights, a bias, one more weight (the bias must never be penalised).
PARAMS = [1.0, -2.0, 5.0, 0.0]
MASK = np.array([True, True, False, True])


def test_l2_penalty_is_half_lambda_sum_of_squares() -> None:
    p = np.array(PARAMS)
    assert l1_l2_penalty(p, MASK, 0.0, 0.1) == pytest.approx(0.5 * 0.1 * (1 + 4 + 0))


def test_l1_penalty_is_lambda_sum_of_abs() -> None:
    p = np.array(PARAMS)
    assert l1_l2_penalty(p, MASK, 0.2, 0.0) == pytest.approx(0.2 * (1 + 2 + 0))


def test_combined_penalty_and_zero() -> None:
    p = np.array(PARAMS)
    assert l1_l2_penalty(p, MASK, 0.2, 0.1) == pytest.approx(0.25 + 0.6)
    assert l1_l2_penalty(p, MASK, 0.0, 0.0) == 0.0
    assert type(l1_l2_penalty(p.astype(np.float32), MASK, 0.2, 0.1)) is float


def test_gradient_values_only_on_masked_weights() -> None:
    p = np.array(PARAMS)
    g = np.array([0.5, 0.5, 0.5, 0.5])
    add_l1_l2_grad(p, g, MASK, 0.2, 0.1)
    # weight 1: 0.5 + 0.1*1 + 0.2; weight -2: 0.5 - 0.2 - 0.2; bias untouched; weight 0: sign 0.
    np.testing.assert_allclose(g, [0.8, 0.1, 0.5, 0.5])


def test_gradient_is_the_derivative_of_the_penalty() -> None:
    rng = np.random.default_rng(0)
    p = rng.standard_normal(6)
    mask = np.array([True, False, True, True, False, True])
    g = np.zeros(6)
    add_l1_l2_grad(p, g, mask, 0.3, 0.7)
    h = 1e-6
    for i in range(6):
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        numeric = (l1_l2_penalty(up, mask, 0.3, 0.7) - l1_l2_penalty(down, mask, 0.3, 0.7)) / (2 * h)
        assert g[i] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_gradient_keeps_float32_and_zero_is_a_no_op() -> None:
    p = np.array(PARAMS, dtype=np.float32)
    g = np.ones(4, dtype=np.float32)
    add_l1_l2_grad(p, g, MASK, 0.0, 0.0)
    np.testing.assert_array_equal(g, 1.0)
    add_l1_l2_grad(p, g, MASK, 0.1, 0.1)
    assert g.dtype == np.float32


def test_clip_grad_norm_scales_like_torch() -> None:
    g = np.array([3.0, 4.0])  # norm 5
    norm = clip_grad_norm(g, 1.0)
    assert norm == pytest.approx(5.0)  # the norm before clipping
    np.testing.assert_allclose(g, np.array([3.0, 4.0]) * (1.0 / (5.0 + 1e-6)))
    assert math.hypot(*g) == pytest.approx(1.0, abs=1e-6)


def test_clip_grad_norm_leaves_small_gradients_alone() -> None:
    g = np.array([0.3, 0.4])
    assert clip_grad_norm(g, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g, [0.3, 0.4])


def test_clip_grad_norm_float32() -> None:
    g = np.full(100, 10.0, dtype=np.float32)
    norm = clip_grad_norm(g, 2.0)
    assert norm == pytest.approx(100.0)
    assert g.dtype == np.float32
    assert float(np.linalg.norm(g)) == pytest.approx(2.0, rel=1e-5)


def test_clip_grad_value() -> None:
    g = np.array([-3.0, -0.5, 0.0, 0.7, 9.0], dtype=np.float32)
    clip_grad_value(g, 1.0)
    np.testing.assert_array_equal(g, np.array([-1.0, -0.5, 0.0, 0.7, 1.0], dtype=np.float32))
    assert g.dtype == np.float32
