"""Optimizers: three steps against hand-written reference formulas, torch.optim conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.optimizers import OPTIMIZERS, get_optimizer
from engine.registry import UnknownNameError

P0 = [0.5, -1.5, 2.0]
# Gradients chosen so the second moment *falls* after step 1 (amsgrad then differs from Adam).
GRADS = [[3.0, -0.2, 0.7], [0.1, 0.4, -0.3], [-0.2, 0.05, 0.6]]


def run(name: str, steps: int = 3, dtype=np.float64, **options) -> np.ndarray:
    params = np.array(P0, dtype=dtype)
    opt = get_optimizer(name, params, **options)
    for g in GRADS[:steps]:
        opt.step(np.array(g, dtype=dtype))
    return params


def reference(update, state_init: dict[str, float], steps: int = 3) -> np.ndarray:
    """Apply a per-element scalar update rule ``update(p, g, t, state) -> p`` in Python floats."""
    out = []
    for i, p in enumerate(P0):
        state = dict(state_init)
        for t in range(1, steps + 1):
            p = update(p, GRADS[t - 1][i], t, state)
        out.append(p)
    return np.array(out)


# --------------------------------------------------------------------------------- SGD


def test_sgd_momentum_by_hand_literal_numbers() -> None:
    # p=1, g=1 each step, lr=0.1, momentum=0.9: buf = 1, 1.9, 2.71 -> p = 0.9, 0.71, 0.439.
    params = np.array([1.0])
    opt = get_optimizer("sgd", params, lr=0.1, momentum=0.9)
    seen = []
    for _ in range(3):
        opt.step(np.array([1.0]))
        seen.append(params[0])
    assert seen == pytest.approx([0.9, 0.71, 0.439], abs=1e-12)


def test_plain_sgd() -> None:
    def rule(p, g, t, s):
        return p - 0.1 * g

    np.testing.assert_allclose(run("sgd", lr=0.1), reference(rule, {}), rtol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_sgd_momentum_nesterov_weight_decay(nesterov: bool, weight_decay: float) -> None:
    lr, mom = 0.1, 0.8

    def rule(p, g, t, s):
        g = g + weight_decay * p
        # torch: the first momentum step sets buf = g (no dampening applied).
        s["buf"] = g if t == 1 else mom * s["buf"] + g
        step = g + mom * s["buf"] if nesterov else s["buf"]
        return p - lr * step

    got = run("sgd", lr=lr, momentum=mom, nesterov=nesterov, weight_decay=weight_decay)
    np.testing.assert_allclose(got, reference(rule, {}), rtol=1e-12)


def test_sgd_dampening() -> None:
    lr, mom, damp = 0.1, 0.9, 0.3

    def rule(p, g, t, s):
        s["buf"] = g if t == 1 else mom * s["buf"] + (1 - damp) * g
        return p - lr * s["buf"]

    np.testing.assert_allclose(
        run("sgd", lr=lr, momentum=mom, dampening=damp), reference(rule, {}), rtol=1e-12
    )


# -------------------------------------------------------------------------------- Adam


def adam_rule(lr, b1, b2, eps, wd=0.0, amsgrad=False, decoupled=False):
    def rule(p, g, t, s):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        s["vmax"] = max(s["vmax"], s["v"])
        m_hat = s["m"] / (1 - b1**t)
        v_hat = (s["vmax"] if amsgrad else s["v"]) / (1 - b2**t)
        return p - lr * m_hat / (math.sqrt(v_hat) + eps)

    return rule


def test_adam_first_step_moves_every_weight_by_lr() -> None:
    # With eps=0 the first bias-corrected step is exactly lr * sign(g).
    params = np.array(P0)
    get_optimizer("adam", params, lr=0.01, eps=0.0).step(np.array(GRADS[0]))
    np.testing.assert_allclose(params, np.array(P0) - 0.01 * np.sign(GRADS[0]), rtol=1e-12)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_three_steps(amsgrad: bool, weight_decay: float) -> None:
    # Large eps and a small beta2 make eps placement and amsgrad's running max visible.
    hyper = dict(lr=0.05, beta1=0.8, beta2=0.5, eps=0.1, weight_decay=weight_decay)
    got = run("adam", amsgrad=amsgrad, **hyper)
    want = reference(adam_rule(0.05, 0.8, 0.5, 0.1, weight_decay, amsgrad), {"m": 0.0, "v": 0.0, "vmax": 0.0})
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_amsgrad_changes_the_trajectory_when_v_falls() -> None:
    hyper = dict(lr=0.05, beta1=0.8, beta2=0.5, eps=1e-8)
    assert not np.allclose(run("adam", **hyper), run("adam", amsgrad=True, **hyper))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_decoupled_decay(amsgrad: bool) -> None:
    got = run("adamw", lr=0.05, beta1=0.8, beta2=0.5, eps=0.1, weight_decay=0.2, amsgrad=amsgrad)
    rule = adam_rule(0.05, 0.8, 0.5, 0.1, 0.2, amsgrad, decoupled=True)
    np.testing.assert_allclose(got, reference(rule, {"m": 0.0, "v": 0.0, "vmax": 0.0}), rtol=1e-12)


def test_adamw_default_weight_decay_is_torchs() -> None:
    assert OPTIMIZERS.get("adamw").defaults["weight_decay"] == 0.01
    assert OPTIMIZERS.get("adam").defaults["weight_decay"] == 0.0


# ------------------------------------------------------------------------------ RMSprop


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_rmsprop_three_steps(centered: bool, momentum: float) -> None:
    lr, alpha, eps, wd = 0.01, 0.9, 0.05, 0.1

    def rule(p, g, t, s):
        g = g + wd * p
        s["sq"] = alpha * s["sq"] + (1 - alpha) * g * g
        if centered:
            s["ga"] = alpha * s["ga"] + (1 - alpha) * g
            avg = math.sqrt(s["sq"] - s["ga"] ** 2) + eps
        else:
            avg = math.sqrt(s["sq"]) + eps
        if momentum > 0:
            s["buf"] = momentum * s["buf"] + g / avg
            return p - lr * s["buf"]
        return p - lr * g / avg

    got = run("rmsprop", lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered, weight_decay=wd)
    np.testing.assert_allclose(got, reference(rule, {"sq": 0.0, "ga": 0.0, "buf": 0.0}), rtol=1e-12)


# ------------------------------------------------------------------------------ Adagrad


@pytest.mark.parametrize(("lr_decay", "init"), [(0.0, 0.0), (0.5, 0.3)])
def test_adagrad_three_steps(lr_decay: float, init: float) -> None:
    lr, eps, wd = 0.1, 1e-3, 0.02

    def rule(p, g, t, s):
        g = g + wd * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s["sum"] += g * g
        return p - clr * g / (math.sqrt(s["sum"]) + eps)

    got = run("adagrad", lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=wd, initial_accumulator_value=init)
    np.testing.assert_allclose(got, reference(rule, {"sum": init}), rtol=1e-12)


# --------------------------------------------------------------------- shared behaviour

CONFIGS = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01, "amsgrad": True}),
    ("adamw", {"lr": 0.01, "amsgrad": True}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
]


def _grads(n: int, dtype, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for _ in range(4)]


@pytest.mark.parametrize(("name", "options"), CONFIGS)
def test_float32_stays_float32_and_matches_float64(name: str, options: dict) -> None:
    p32 = np.random.default_rng(1).standard_normal(50).astype(np.float32)
    p64 = p32.astype(np.float64)
    view = p32[10:20]  # a layer's weights are views into the flat buffer
    o32, o64 = get_optimizer(name, p32, **options), get_optimizer(name, p64, **options)
    o32.lr = np.float64(o32.lr)  # a NumPy scalar lr must not promote the update to float64
    for g32, g64 in zip(_grads(50, np.float32, 2), _grads(50, np.float64, 2), strict=True):
        o32.step(g32)
        o64.step(g64)
    assert p32.dtype == np.float32
    assert all(buf.dtype == np.float32 for buf in o32.state.values())
    assert type(o32.lr) is float
    np.testing.assert_array_equal(view, p32[10:20])
    np.testing.assert_allclose(p32, p64, rtol=1e-4, atol=1e-5)
    assert not np.allclose(p32, np.random.default_rng(1).standard_normal(50).astype(np.float32))


@pytest.mark.parametrize(("name", "options"), CONFIGS)
def test_lr_change_takes_effect_at_next_step(name: str, options: dict) -> None:
    params = np.array(P0)
    opt = get_optimizer(name, params, **options)
    opt.step(np.array(GRADS[0]))
    opt.lr = 0.0
    frozen = params.copy()
    opt.step(np.array(GRADS[1]))
    np.testing.assert_array_equal(params, frozen)  # lr 0: no move (decoupled decay included)
    opt.lr = 0.5
    opt.step(np.array(GRADS[2]))
    assert not np.array_equal(params, frozen)


def test_sgd_lr_change_by_hand() -> None:
    params = np.array([1.0])
    opt = get_optimizer("sgd", params, lr=0.1)
    opt.step(np.array([1.0]))
    opt.lr = 0.5
    opt.step(np.array([1.0]))
    assert params[0] == pytest.approx(0.4)


@pytest.mark.parametrize(("name", "options"), CONFIGS)
def test_step_does_not_modify_grads(name: str, options: dict) -> None:
    params = np.array(P0)
    opt = get_optimizer(name, params, **options)
    g = np.array(GRADS[0])
    opt.step(g)
    np.testing.assert_array_equal(g, GRADS[0])


@pytest.mark.parametrize(("name", "options"), CONFIGS)
def test_state_dict_round_trip_resumes_exactly(name: str, options: dict) -> None:
    a = np.array(P0)
    opt_a = get_optimizer(name, a, **options)
    for g in GRADS[:2]:
        opt_a.step(np.array(g))
    saved = opt_a.state_dict()
    b = a.copy()
    opt_b = get_optimizer(name, b, lr=0.123)
    opt_b.load_state_dict(saved)
    assert opt_b.hyperparameters() == opt_a.hyperparameters()
    opt_a.step(np.array(GRADS[2]))
    opt_b.step(np.array(GRADS[2]))
    np.testing.assert_array_equal(a, b)
    # The saved dict is a copy: later steps do not change it.
    assert saved["step"] == 2


def test_state_dict_uses_torch_names_and_values() -> None:
    # After one Adam step from zero moments: exp_avg = (1-b1) g, exp_avg_sq = (1-b2) g².
    g = np.array(GRADS[0])
    adam = get_optimizer("adam", np.array(P0), beta1=0.8, beta2=0.5, amsgrad=True)
    adam.step(g)
    state = adam.state_dict()["state"]
    np.testing.assert_allclose(state["exp_avg"], 0.2 * g, rtol=1e-12)
    np.testing.assert_allclose(state["exp_avg_sq"], 0.5 * g * g, rtol=1e-12)
    np.testing.assert_allclose(state["max_exp_avg_sq"], 0.5 * g * g, rtol=1e-12)
    sgd = get_optimizer("sgd", np.array(P0), momentum=0.9)
    sgd.step(g)
    np.testing.assert_array_equal(sgd.state_dict()["state"]["momentum_buffer"], g)
    assert set(get_optimizer("rmsprop", np.zeros(3)).state_dict()["state"]) == {"square_avg"}
    assert set(get_optimizer("adagrad", np.zeros(3)).state_dict()["state"]) == {"sum"}


def test_load_state_dict_rejects_other_optimizer_and_size() -> None:
    adam = get_optimizer("adam", np.zeros(3))
    with pytest.raises(ValueError, match="sgd"):
        adam.load_state_dict(get_optimizer("sgd", np.zeros(3)).state_dict())
    with pytest.raises(ValueError, match="shape"):
        adam.load_state_dict(get_optimizer("adam", np.zeros(4)).state_dict())
    with pytest.raises(ValueError, match="momentum_buffer"):
        adam.load_state_dict({"name": "adam", "state": {"momentum_buffer": np.zeros(3)}})


def test_registry_names_and_defaults() -> None:
    assert OPTIMIZERS.names() == ["sgd", "adam", "adamw", "rmsprop", "adagrad", "lbfgs"]
    for name, cls in OPTIMIZERS.items():
        assert "lr" in cls.defaults
        assert cls.needs_closure == (name == "lbfgs")
        opt = cls(np.zeros(2))
        assert opt.hyperparameters() == cls.defaults
    adam = OPTIMIZERS.get("adam").defaults
    assert (adam["lr"], adam["beta1"], adam["beta2"], adam["eps"]) == (1e-3, 0.9, 0.999, 1e-8)
    assert OPTIMIZERS.get("rmsprop").defaults["alpha"] == 0.99
    assert OPTIMIZERS.get("adagrad").defaults["eps"] == 1e-10
    with pytest.raises(UnknownNameError, match="adam"):
        get_optimizer("adma", np.zeros(2))


def test_bad_options_are_rejected() -> None:
    p = np.zeros(3)
    with pytest.raises(TypeError, match="betas"):
        get_optimizer("adam", p, betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="nesterov"):
        get_optimizer("sgd", p, nesterov=True)
    with pytest.raises(ValueError, match="beta1"):
        get_optimizer("adam", p, beta1=1.0)
    with pytest.raises(ValueError, match="learning rate"):
        get_optimizer("sgd", p, lr=-1.0)
    with pytest.raises(ValueError, match="true or false"):
        get_optimizer("adam", p, amsgrad="yes")
    with pytest.raises(ValueError, match="whole number"):
        get_optimizer("lbfgs", p, max_iter=2.5)
    with pytest.raises(ValueError, match="flat"):
        get_optimizer("sgd", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="shape"):
        get_optimizer("sgd", p).step(np.zeros(4))


def test_integral_floats_from_files_become_ints() -> None:
    opt = get_optimizer("lbfgs", np.zeros(2), max_iter=8.0, history_size=5.0)
    assert (opt.max_iter, opt.max_eval, opt.history_size) == (8, 10, 5)
    assert type(opt.max_iter) is int


# -------------------------------------------------------------------------------- LBFGS


def rosenbrock(p: np.ndarray, out: np.ndarray) -> tuple[float, np.ndarray]:
    x, y = float(p[0]), float(p[1])
    out[0] = -2 * (1 - x) - 400 * x * (y - x * x)
    out[1] = 200 * (y - x * x)
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2, out


def test_lbfgs_minimises_rosenbrock() -> None:
    params = np.array([-1.5, 2.0])
    shared = np.empty(2)  # the closure reuses one buffer, as Network.grads does
    opt = get_optimizer("lbfgs", params)
    losses = [opt.step(None, lambda: rosenbrock(params, shared)) for _ in range(10)]
    assert losses[0] == pytest.approx(12.5)
    np.testing.assert_allclose(params, [1.0, 1.0], atol=1e-4)
    assert rosenbrock(params, shared)[0] < 1e-8
    assert opt.func_evals <= 10 * opt.max_eval


def test_lbfgs_float32_convex_quadratic_small_history() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((12, 12))
    h = (a @ a.T / 12 + np.eye(12)).astype(np.float32)  # well-conditioned SPD
    b = rng.standard_normal(12).astype(np.float32)
    x_star = np.linalg.solve(h.astype(np.float64), b.astype(np.float64))
    params = np.zeros(12, dtype=np.float32)

    def closure() -> tuple[float, np.ndarray]:
        grad = h @ params - b
        return float(0.5 * params @ h @ params - b @ params), grad

    opt = get_optimizer("lbfgs", params, history_size=4, tolerance_grad=1e-5)
    for _ in range(5):
        opt.step(None, closure)
    assert params.dtype == np.float32
    np.testing.assert_allclose(params, x_star, atol=1e-3)


def test_lbfgs_first_fixed_step_by_hand() -> None:
    # No line search, one iteration: d = -g, t = min(1, 1/sum|g|) * lr, p += t d.
    params = np.array(P0)
    g = np.array(GRADS[0])
    opt = get_optimizer("lbfgs", params, lr=0.5, max_iter=1, line_search_fn="none")
    loss = opt.step(None, lambda: (7.0, g))
    assert loss == 7.0
    t = min(1.0, 1.0 / (3.0 + 0.2 + 0.7)) * 0.5
    np.testing.assert_allclose(params, np.array(P0) - t * g, rtol=1e-12)


def test_lbfgs_needs_a_closure_and_stops_at_optimum() -> None:
    params = np.array([1.0, 2.0])
    opt = get_optimizer("lbfgs", params)
    with pytest.raises(ValueError, match="closure"):
        opt.step(np.zeros(2))
    opt.step(None, lambda: (0.0, np.zeros(2)))  # gradient below tolerance_grad: no move
    np.testing.assert_array_equal(params, [1.0, 2.0])
    assert OPTIMIZERS.get("lbfgs").defaults["line_search_fn"] == "strong_wolfe"


def test_lbfgs_state_dict_round_trip() -> None:
    shared = np.empty(2)
    a = np.array([-1.2, 1.0])
    opt_a = get_optimizer("lbfgs", a, max_iter=3)
    opt_a.step(None, lambda: rosenbrock(a, shared))
    b = a.copy()
    opt_b = get_optimizer("lbfgs", b)
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.max_iter == 3
    opt_a.step(None, lambda: rosenbrock(a, shared))
    opt_b.step(None, lambda: rosenbrock(b, shared))
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- optional: against PyTorch

TORCH_CONFIGS = [
    *CONFIGS,
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.2}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}),
]


@pytest.mark.parametrize(("name", "options"), TORCH_CONFIGS)
def test_matches_torch_if_installed(name: str, options: dict) -> None:
    torch = pytest.importorskip("torch")
    classes = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
    kwargs = dict(options)
    if "beta1" in kwargs or "beta2" in kwargs or name in ("adam", "adamw"):
        kwargs["betas"] = (kwargs.pop("beta1", 0.9), kwargs.pop("beta2", 0.999))
    ours = np.array(P0)
    theirs = torch.tensor(P0, dtype=torch.float64, requires_grad=True)
    opt = get_optimizer(name, ours, **options)
    topt = getattr(torch.optim, classes[name])([theirs], **kwargs)
    for g in GRADS:
        opt.step(np.array(g))
        theirs.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10)
