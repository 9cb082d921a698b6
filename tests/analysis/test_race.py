"""The optimizer race: surfaces' gradients, the classic behaviours, and the safe formula parser."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.formula import MAX_DEPTH, FormulaError, parse_formula
from engine.analysis.race import Racer, run_race
from engine.analysis.surfaces import SURFACES, make_surface
from engine.optimizers import get_optimizer
from engine.registry import UnknownNameError

# Adam (lr 0.01, torch's other defaults) from (−1.5, 2) comes within 0.05 of Rosenbrock's
# minimum (1, 1) after 2,508 steps; the documented bound (README, Optimizer race) is 3,000.
ROSENBROCK_ADAM_STEPS = 3000


@pytest.mark.parametrize("name", SURFACES.names())
def test_analytic_gradients_match_finite_differences(name: str) -> None:
    s = make_surface(name, noise=0.0)
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = s.region
    for x, y in zip(rng.uniform(x0, x1, 10), rng.uniform(y0, y1, 10), strict=True):
        h = 1e-6
        gx, gy = s.gradient(x, y)
        fx = (s.value(x + h, y) - s.value(x - h, y)) / (2 * h)
        fy = (s.value(x, y + h) - s.value(x, y - h)) / (2 * h)
        assert gx == pytest.approx(fx, rel=1e-5, abs=1e-5)
        assert gy == pytest.approx(fy, rel=1e-5, abs=1e-5)
    for mx, my in s.minima:
        assert np.hypot(*s.gradient(mx, my)) < 1e-4


def test_racers_use_the_engines_optimizers_step_for_step() -> None:
    s = make_surface("beale")
    racer = Racer("adam", 0.05, {"beta1": 0.8})
    path = run_race(s, [racer], (1.0, 1.5), 40, 0.05, np.random.default_rng(0))[0]
    params = np.array([1.0, 1.5])
    opt = get_optimizer("adam", params, lr=0.05, beta1=0.8)
    for k in range(1, 41):
        opt.step(np.array(s.gradient(*params)))
        np.testing.assert_array_equal(path.points[k], params)


def test_momentum_overshoots_the_ill_conditioned_minimum_where_sgd_does_not() -> None:
    s = make_surface("ill_conditioned")
    sgd, momentum = run_race(s, [Racer("sgd", 0.015, {}), Racer("sgd", 0.015, {"momentum": 0.9})],
                             (-4.0, 1.0), 300, 0.05, np.random.default_rng(0))
    # Plain SGD creeps up the shallow axis and never crosses x = 0, nor y = 0 across the ravine.
    assert sgd.points[:, 0].max() < 0.0 and sgd.points[:, 1].min() >= 0.0
    # The heavy ball carries past the minimum along the floor (x > 0) before it settles.
    assert momentum.points[:, 0].max() > 0.5
    assert momentum.reached_at is not None and momentum.reached_at < (sgd.reached_at or 10**9)


def test_adam_leaves_the_saddle_sooner_than_sgd_at_the_same_lr() -> None:
    s = make_surface("saddle")
    sgd, adam = run_race(s, [Racer("sgd", 0.01, {}), Racer("adam", 0.01, {})], (1.5, 1e-3), 1000, 0.05,
                         np.random.default_rng(0))

    def escape(path) -> int:
        far = np.abs(path.points[:, 1]) > 1.0
        assert far.any()
        return int(np.argmax(far))

    assert escape(adam) < escape(sgd) / 2


def test_adam_reaches_rosenbrocks_minimum_within_the_documented_steps() -> None:
    s = make_surface("rosenbrock")
    adam = run_race(s, [Racer("adam", 0.01, {})], (-1.5, 2.0), ROSENBROCK_ADAM_STEPS, 0.05,
                    np.random.default_rng(0))[0]
    assert adam.reached_at is not None and adam.reached_at <= ROSENBROCK_ADAM_STEPS
    assert np.hypot(adam.final[0] - 1, adam.final[1] - 1) < 0.05


def test_a_learning_rate_too_high_diverges_and_the_race_says_when() -> None:
    s = make_surface("ill_conditioned")
    fast, ok = run_race(s, [Racer("sgd", 0.05, {}), Racer("sgd", 0.03, {})], (-4.0, 1.0), 500, 0.05,
                        np.random.default_rng(0))
    assert fast.diverged_at is not None and fast.points.shape[0] == fast.diverged_at + 1
    assert ok.diverged_at is None and ok.reached_at is not None


def test_the_noisy_bowl_is_seeded_per_racer() -> None:
    s = make_surface("noisy_bowl", noise=0.5)
    a = run_race(s, [Racer("sgd", 0.05, {}), Racer("adam", 0.05, {})], (-2.5, 2.0), 100, 0.05,
                 np.random.default_rng(5))
    b = run_race(s, [Racer("sgd", 0.05, {}), Racer("adam", 0.05, {})], (-2.5, 2.0), 100, 0.05,
                 np.random.default_rng(5))
    np.testing.assert_array_equal(a[1].points, b[1].points)
    clean = run_race(make_surface("noisy_bowl", noise=0.0), [Racer("sgd", 0.05, {})], (-2.5, 2.0), 100, 0.05,
                     np.random.default_rng(5))[0]
    assert not np.array_equal(a[0].points, clean.points)
    with pytest.raises(ValueError, match="needs an rng"):
        s.gradient(0.0, 0.0)


def test_lbfgs_races_with_a_closure_and_unknown_optimizers_are_named() -> None:
    s = make_surface("rosenbrock")
    path = run_race(s, [Racer("lbfgs", 1.0, {})], (-1.5, 2.0), 5, 0.05, np.random.default_rng(0))[0]
    assert path.reached_at is not None
    with pytest.raises(UnknownNameError, match="adma"):
        run_race(s, [Racer("adma", 0.1, {})], (0.0, 0.0), 5, 0.05, np.random.default_rng(0))


# ----------------------------------------------------------------------------- the formula
def test_formula_values_and_exact_gradients() -> None:
    f = parse_formula("x**2 + 3*sin(y) - exp(x*y)/2 + sqrt(x*x + 1) + abs(y)**1.5 + 2**x")
    x, y = 0.7, -1.3
    value = x**2 + 3 * np.sin(y) - np.exp(x * y) / 2 + np.sqrt(x * x + 1) + abs(y) ** 1.5 + 2**x
    assert float(f.value(x, y)) == pytest.approx(value, rel=1e-14)
    gx, gy = f.gradient(x, y)
    h = 1e-6
    assert float(gx) == pytest.approx((f.value(x + h, y) - f.value(x - h, y)) / (2 * h), rel=1e-7)
    assert float(gy) == pytest.approx((f.value(x, y + h) - f.value(x, y - h)) / (2 * h), rel=1e-7)
    grid = f.value(*np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4)))
    assert grid.shape == (4, 5)
    # A formula surface races like any other.
    s = make_surface("formula", "(x - 1)**2 + 2*(y + 0.5)**2")
    path = run_race(s, [Racer("adam", 0.1, {})], (-2.0, 2.0), 400, 0.05, np.random.default_rng(0))[0]
    assert np.hypot(path.final[0] - 1, path.final[1] + 0.5) < 0.05


@pytest.mark.parametrize("text,message", [
    ("__import__('os').system('echo hi')", "unknown function"),
    ("x.__class__", "attribute access"),
    ("(lambda: 1)()", "unknown function"),
    ("lambda x: x", "a lambda"),
    ("[x for x in (1, 2)]", "comprehension"),
    ("sum(i for i in range(10**9))", "unknown function"),
    ("x[0]", "indexing"),
    ("open('/etc/passwd')", "unknown function"),
    ("y if x else 1", "if/else"),
    ("x < y", "comparison"),
    ("'text'", "only numbers"),
    ("globals", "unknown name"),
    ("sin(x, y)", "exactly one argument"),
    ("sin(x=1)", "exactly one argument"),
    ("x ** 100", "exponents must be at most"),
    ("x ** -1000", "exponents must be at most"),
    ("9" * 30, "numbers must be at most"),
    ("x // 2", "FloorDiv"),
    ("x % 2", "Mod"),
    ("x @ y", "MatMult"),
    ("~x", "Invert"),
    ("(x := 3)", "assignment"),
    ("f'{x}'", "f-string"),
    ("x; y", "not an expression"),
    ("import os", "not an expression"),
    ("", "empty"),
    ("x" + "+x" * 150, "characters long"),
    ("sin(" * 40 + "x" + ")" * 40, "nested more than|characters long"),
    ("-" * 100 + "x", "nested more than"),
])
def test_the_formula_parser_refuses_anything_but_arithmetic(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message):
        parse_formula(text)


def test_depth_and_size_limits_are_what_they_say() -> None:
    parse_formula("(" * 90 + "x" + ")" * 90)  # parentheses add no depth
    parse_formula("-" * (MAX_DEPTH - 1) + "x")
    parse_formula("+".join(["x"] * MAX_DEPTH))  # a long sum is ordinary arithmetic
    with pytest.raises(FormulaError, match="nested"):
        parse_formula("-" * (MAX_DEPTH + 1) + "x")
    # Out of the domain is NaN, never an exception or a warning.
    with np.errstate(all="raise"):
        assert np.isnan(parse_formula("log(x)").value(-1.0, 0.0))
