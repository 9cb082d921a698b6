"""Optimizers with ``torch.optim`` semantics, updating one flat parameter buffer in place.

Every optimizer owns a reference to ``Network.params`` (a 1-D float32/float64 array) and
updates it in place from the flat gradient buffer passed to :meth:`Optimizer.step`. The
update rules follow PyTorch's definitions term by term (same order of operations, same
state, same first-step conventions), so a configuration tried here behaves the same once
scaled up in PyTorch:

- ``sgd``: ``torch.optim.SGD`` (the first momentum step sets ``buf = g``, as torch does);
- ``adam``: ``torch.optim.Adam`` (bias corrections; ``amsgrad`` keeps the running max of the
  raw second moment ``v``; ``weight_decay`` adds ``wd * p`` to the gradient, L2-style);
- ``adamw``: ``torch.optim.AdamW`` (decoupled decay ``p *= 1 - lr * wd`` before the Adam step);
- ``rmsprop``: ``torch.optim.RMSprop`` (``alpha``, ``eps`` added after the square root,
  heavy-ball ``momentum``, ``centered``);
- ``adagrad``: ``torch.optim.Adagrad`` (``lr_decay``, ``eps``, ``initial_accumulator_value``);
- ``lbfgs``: ``torch.optim.LBFGS`` with one difference in defaults: ``line_search_fn`` is
  ``'strong_wolfe'`` here (torch defaults to no line search, which diverges easily on the
  small full-batch problems this workbench runs). Pass ``line_search_fn='none'`` for torch's
  fixed-step behaviour.

Speed: the update is a fixed sequence of in-place ufuncs with ``out=`` into preallocated
scratch buffers, and every scalar is a Python float, so float32 parameters stay float32
(NumPy 2 would promote ``float32_array * np.float64`` to float64).

Hyperparameters are instance attributes named as in ``defaults``; only ``lr`` is meant to
change during a run (it takes effect at the next step).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from engine.registry import Registry

Closure = Callable[[], tuple[float, np.ndarray]]
Hyper = float | int | bool | str

OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")


def _coerce(owner: str, key: str, value: Any, default: Hyper) -> Hyper:
    """Convert an option to the type of its default (files and the GUI may send 20.0 for 20)."""
    if isinstance(default, bool):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ValueError(f"{owner}: {key} must be true or false, got {value!r}")
    if isinstance(default, str):
        if value is None:
            return "none"
        if isinstance(value, str):
            return value
        raise ValueError(f"{owner}: {key} must be a string, got {value!r}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {key} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {key} must be finite, got {value!r}")
    if isinstance(default, int):
        if number != int(number):
            raise ValueError(f"{owner}: {key} must be a whole number, got {value!r}")
        return int(number)
    return number


class Optimizer:
    """Base class: hyperparameter handling, lr, state save/restore.

    Subclasses list their options in ``defaults`` (the GUI and the spec validator read it),
    keep persistent per-parameter arrays in ``self.state`` (saved by :meth:`state_dict`) and
    implement :meth:`_update`.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Hyper]] = {}
    needs_closure: ClassVar[bool] = False
    state_keys: ClassVar[frozenset[str]] = frozenset()  # names load_state_dict accepts
    # Inclusive (low, high) ranges of numeric options, checked here and by the file validator,
    # so a file cannot ask for a step that never ends.
    bounds: ClassVar[dict[str, tuple[float, float]]] = {}

    def __init__(self, params: np.ndarray, **hyper: Any) -> None:
        if not isinstance(params, np.ndarray) or params.ndim != 1:
            raise ValueError("params must be the network's flat 1-D parameter buffer")
        if params.dtype not in (np.float32, np.float64):
            raise ValueError(f"params must be float32 or float64, got {params.dtype}")
        if not params.flags.c_contiguous or not params.flags.writeable:
            raise ValueError("params must be a writeable contiguous buffer (updated in place)")
        unknown = sorted(set(hyper) - set(self.defaults))
        if unknown:
            raise TypeError(
                f"{self.name} has no option {', '.join(map(repr, unknown))} "
                f"(options: {', '.join(self.defaults)})"
            )
        self.params = params
        for key, default in self.defaults.items():
            setattr(self, key, _coerce(self.name, key, hyper.get(key, default), default))
        for key, (low, high) in self.bounds.items():
            value = getattr(self, key)
            _require(low <= value <= high, f"{self.name}: {key} must be between {low:g} and {high:g}, "
                                           f"got {value!r}")
        self._validate()
        self.step_count = 0
        # Persistent per-parameter arrays (momentum buffers, moments): saved in state_dict.
        self.state: dict[str, np.ndarray] = {}
        # Scratch buffer reused by every step so a step allocates nothing.
        self._tmp = np.empty_like(params)
        self._gbuf: np.ndarray | None = None
        self._init_state()

    # -- learning rate -------------------------------------------------------------------
    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        # Python float: a NumPy float64 lr would silently promote float32 updates.
        value = float(value)
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(f"{self.name}: invalid learning rate {value!r}")
        self._lr = value

    # -- hooks -----------------------------------------------------------------------------
    def _validate(self) -> None:
        """Raise ValueError for out-of-range hyperparameters (torch's checks)."""

    def _init_state(self) -> None:
        """Allocate persistent state arrays."""

    def _update(self, grads: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- public API -------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Hyper]:
        """Current values of every option in ``defaults``."""
        return {key: getattr(self, key) for key in self.defaults}

    def step(
        self,
        grads: np.ndarray | None,
        closure: Closure | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> float | None:
        """Apply one update to ``params`` in place from the flat gradient ``grads``.

        ``grads`` is read, never modified. Returns None (LBFGS returns the loss before the step).
        ``should_stop`` matters only to optimizers whose one step iterates (L-BFGS).
        """
        if grads is None or grads.shape != self.params.shape:
            raise ValueError(
                f"{self.name}: grads must match params of shape {self.params.shape}, "
                f"got {None if grads is None else grads.shape}"
            )
        self.step_count += 1
        self._update(grads)
        return None

    def _with_weight_decay(self, grads: np.ndarray, weight_decay: float) -> np.ndarray:
        """``grads + wd * params`` in a scratch buffer (torch's L2-style weight_decay)."""
        if weight_decay == 0.0:
            return grads
        if self._gbuf is None:
            self._gbuf = np.empty_like(self.params)
        np.multiply(self.params, weight_decay, out=self._gbuf)
        self._gbuf += grads
        return self._gbuf

    def state_dict(self) -> dict[str, Any]:
        """A copy of everything needed to resume: name, hyperparameters, step count, buffers."""
        return {
            "name": self.name,
            "hyperparameters": self.hyperparameters(),
            "step": self.step_count,
            "state": self._export_state(),
        }

    def _export_state(self) -> dict[str, np.ndarray]:
        """Copies of the persistent arrays, in torch's representation."""
        return {key: np.array(value, copy=True) for key, value in self.state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; ValueError if it belongs to another optimizer or size."""
        if state.get("name") != self.name:
            raise ValueError(f"state of optimizer {state.get('name')!r} cannot load into {self.name!r}")
        arrays = {}
        for key, value in state.get("state", {}).items():
            if key not in self.state_keys:
                raise ValueError(f"{self.name} has no state {key!r}")
            value = np.asarray(value)
            if value.shape != self.params.shape:
                raise ValueError(
                    f"{self.name} state {key!r} has shape {value.shape}, expected {self.params.shape}"
                )
            arrays[key] = value
        hyper = state.get("hyperparameters", {})
        for key, default in self.defaults.items():
            if key in hyper:
                setattr(self, key, _coerce(self.name, key, hyper[key], default))
        self._validate()
        self.step_count = int(state.get("step", 0))
        self.state = {key: value.astype(self.params.dtype, copy=True) for key, value in arrays.items()}
        self._after_load()

    def _after_load(self) -> None:
        """Re-link attributes to ``self.state`` after a load."""

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({options})"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """``torch.optim.SGD``: ``g += wd*p``; ``buf = m*buf + (1-dampening)*g`` (``buf = g`` on the
    first momentum step); ``g = g + m*buf`` if nesterov else ``buf``; ``p -= lr*g``."""

    name = "sgd"
    state_keys = frozenset({"momentum_buffer"})
    defaults: ClassVar[dict[str, Hyper]] = {
        "lr": 0.01,
        "momentum": 0.0,
        "dampening": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
    }

    def _validate(self) -> None:
        _require(self.momentum >= 0.0, f"sgd: invalid momentum {self.momentum}")
        _require(self.weight_decay >= 0.0, f"sgd: invalid weight_decay {self.weight_decay}")
        _require(
            not self.nesterov or (self.momentum > 0.0 and self.dampening == 0.0),
            "sgd: nesterov momentum requires momentum > 0 and zero dampening",
        )

    def _update(self, grads: np.ndarray) -> None:
        g = grads if self.weight_decay == 0.0 else self._with_weight_decay(grads, self.weight_decay)
        tmp = self._tmp
        update = g
        if self.momentum != 0.0:
            buf = self.state.get("momentum_buffer")
            if buf is None:
                # torch starts the buffer at the first gradient, undamped.
                buf = self.state["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                if self.dampening != 0.0:
                    np.multiply(g, 1.0 - self.dampening, out=tmp)
                    buf += tmp
                else:
                    buf += g
            if self.nesterov:
                np.multiply(buf, self.momentum, out=tmp)
                tmp += g
                update = tmp
            else:
                update = buf
        np.multiply(update, -self._lr, tmp)
        np.add(self.params, tmp, self.params)


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """``torch.optim.Adam``: ``m = lerp(m, g, 1-b1)``, ``v = b2*v + (1-b2)*g²``,
    ``p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)`` (``v`` → ``max(v)`` with amsgrad)."""

    name = "adam"
    state_keys = frozenset({"exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
    defaults: ClassVar[dict[str, Hyper]] = {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
    }
    decoupled: ClassVar[bool] = False

    def _validate(self) -> None:
        _require(0.0 <= self.beta1 < 1.0, f"{self.name}: invalid beta1 {self.beta1}")
        _require(0.0 <= self.beta2 < 1.0, f"{self.name}: invalid beta2 {self.beta2}")
        _require(self.eps >= 0.0, f"{self.name}: invalid eps {self.eps}")
        _require(self.weight_decay >= 0.0, f"{self.name}: invalid weight_decay {self.weight_decay}")

    # The moments are stored rescaled, m_s = m / (1 - beta1) and v_s = v / (1 - beta2), so
    # their updates are m_s = beta1*m_s + g and v_s = beta2*v_s + g², and every constant folds
    # into one factor: 10 passes over the buffer instead of torch's 13 (Adam is a quarter of a
    # big MLP step). Same algebra as torch; state_dict() exports torch's m and v.
    _SCALED: ClassVar[dict[str, str]] = {
        "exp_avg": "beta1",
        "exp_avg_sq": "beta2",
        "max_exp_avg_sq": "beta2",
    }

    def _init_state(self) -> None:
        self.state["exp_avg"] = np.zeros_like(self.params)
        self.state["exp_avg_sq"] = np.zeros_like(self.params)
        if self.amsgrad:
            self.state["max_exp_avg_sq"] = np.zeros_like(self.params)

    def _export_state(self) -> dict[str, np.ndarray]:
        return {
            key: value * (1.0 - getattr(self, self._SCALED[key])) for key, value in self.state.items()
        }

    def _after_load(self) -> None:
        for key, value in self.state.items():
            value /= 1.0 - getattr(self, self._SCALED[key])
        for key in ("exp_avg", "exp_avg_sq"):
            self.state.setdefault(key, np.zeros_like(self.params))

    def _update(self, grads: np.ndarray) -> None:
        lr, beta1, beta2 = self.lr, self.beta1, self.beta2
        params, tmp = self.params, self._tmp
        if self.decoupled:
            if self.weight_decay != 0.0:
                params *= 1.0 - lr * self.weight_decay
            g = grads
        else:
            g = self._with_weight_decay(grads, self.weight_decay)
        m_s, v_s = self.state["exp_avg"], self.state["exp_avg_sq"]
        m_s *= beta1
        m_s += g
        np.multiply(g, g, out=tmp)
        v_s *= beta2
        v_s += tmp
        second = v_s
        if self.amsgrad:
            vmax = self.state.get("max_exp_avg_sq")
            if vmax is None:
                vmax = self.state["max_exp_avg_sq"] = np.zeros_like(params)
            np.maximum(vmax, v_s, out=vmax)  # the max of v, as the scale is constant
            second = vmax
        if lr == 0.0:
            return  # torch adds a zero update; the moments above still advance
        # torch: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). With m = (1-b1) m_s and
        # v = (1-b2) v_s that is p += m_s / ((sqrt(v_s) + eps') * c) for the Python floats below
        # (Python floats: no float64 promotion of float32 buffers).
        t = self.step_count
        bias_correction1 = 1.0 - beta1**t
        bias_correction2_sqrt = math.sqrt(1.0 - beta2**t)
        sqrt_one_minus_beta2 = math.sqrt(1.0 - beta2)
        eps_scaled = self.eps * bias_correction2_sqrt / sqrt_one_minus_beta2
        c = -bias_correction1 * sqrt_one_minus_beta2 / (lr * (1.0 - beta1) * bias_correction2_sqrt)
        np.sqrt(second, out=tmp)
        tmp += eps_scaled
        tmp *= c
        np.divide(m_s, tmp, out=tmp)
        params += tmp


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """``torch.optim.AdamW``: decoupled decay ``p *= 1 - lr*wd``, then the Adam step on ``g``."""

    name = "adamw"
    defaults: ClassVar[dict[str, Hyper]] = {**Adam.defaults, "weight_decay": 1e-2}
    decoupled = True


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: ``s = a*s + (1-a)*g²``; centered: ``ḡ = lerp(ḡ, g, 1-a)``,
    ``avg = sqrt(s - ḡ²) + eps`` else ``sqrt(s) + eps``; momentum: ``buf = m*buf + g/avg``,
    ``p -= lr*buf``; else ``p -= lr*g/avg``."""

    name = "rmsprop"
    state_keys = frozenset({"square_avg", "momentum_buffer", "grad_avg"})
    defaults: ClassVar[dict[str, Hyper]] = {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "momentum": 0.0,
        "centered": False,
        "weight_decay": 0.0,
    }

    def _validate(self) -> None:
        _require(self.alpha >= 0.0, f"rmsprop: invalid alpha {self.alpha}")
        _require(self.eps >= 0.0, f"rmsprop: invalid eps {self.eps}")
        _require(self.momentum >= 0.0, f"rmsprop: invalid momentum {self.momentum}")
        _require(self.weight_decay >= 0.0, f"rmsprop: invalid weight_decay {self.weight_decay}")

    def _init_state(self) -> None:
        self.state["square_avg"] = np.zeros_like(self.params)
        if self.momentum > 0.0:
            self.state["momentum_buffer"] = np.zeros_like(self.params)
        if self.centered:
            self.state["grad_avg"] = np.zeros_like(self.params)

    def _ensure(self, key: str) -> np.ndarray:
        buf = self.state.get(key)
        if buf is None:
            buf = self.state[key] = np.zeros_like(self.params)
        return buf

    def _update(self, grads: np.ndarray) -> None:
        alpha, tmp = self.alpha, self._tmp
        g = self._with_weight_decay(grads, self.weight_decay)
        square_avg = self._ensure("square_avg")
        square_avg *= alpha
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - alpha
        square_avg += tmp
        if self.centered:
            grad_avg = self._ensure("grad_avg")
            np.subtract(g, grad_avg, out=tmp)
            tmp *= 1.0 - alpha
            grad_avg += tmp
            np.multiply(grad_avg, grad_avg, out=tmp)
            np.subtract(square_avg, tmp, out=tmp)
            # s >= ḡ² holds exactly; rounding can dip a hair below 0, where torch would NaN.
            np.maximum(tmp, 0.0, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(square_avg, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        if self.momentum > 0.0:
            buf = self._ensure("momentum_buffer")
            buf *= self.momentum
            buf += tmp
            np.multiply(buf, -self.lr, out=tmp)
        else:
            tmp *= -self.lr
        self.params += tmp


@OPTIMIZERS.register("adagrad")
class Adagrad(Optimizer):
    """``torch.optim.Adagrad``: ``clr = lr / (1 + (t-1)*lr_decay)``, ``s += g²``,
    ``p -= clr * g / (sqrt(s) + eps)``; ``s`` starts at ``initial_accumulator_value``."""

    name = "adagrad"
    state_keys = frozenset({"sum"})
    defaults: ClassVar[dict[str, Hyper]] = {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "eps": 1e-10,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
    }

    def _validate(self) -> None:
        _require(self.lr_decay >= 0.0, f"adagrad: invalid lr_decay {self.lr_decay}")
        _require(self.eps >= 0.0, f"adagrad: invalid eps {self.eps}")
        _require(self.weight_decay >= 0.0, f"adagrad: invalid weight_decay {self.weight_decay}")
        _require(
            self.initial_accumulator_value >= 0.0,
            f"adagrad: invalid initial_accumulator_value {self.initial_accumulator_value}",
        )

    def _init_state(self) -> None:
        self.state["sum"] = np.full_like(self.params, self.initial_accumulator_value)

    def _after_load(self) -> None:
        self.state.setdefault("sum", np.full_like(self.params, self.initial_accumulator_value))

    def _update(self, grads: np.ndarray) -> None:
        tmp = self._tmp
        g = self._with_weight_decay(grads, self.weight_decay)
        clr = self.lr / (1.0 + (self.step_count - 1) * self.lr_decay)
        state_sum = self.state["sum"]
        np.multiply(g, g, out=tmp)
        state_sum += tmp
        np.sqrt(state_sum, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= -clr
        self.params += tmp


# -- L-BFGS ---------------------------------------------------------------------------------


def _cubic_interpolate(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """Minimiser of the cubic through two points with values and slopes, clamped to bounds
    (torch's ``_cubic_interpolate``, from minFunc's polyinterp)."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    try:
        d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
        d2_square = d1 * d1 - g1 * g2
        if d2_square >= 0.0:
            d2 = math.sqrt(d2_square)
            if x1 <= x2:
                min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
            else:
                min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
            if math.isfinite(min_pos):
                return min(max(min_pos, lo), hi)
    except (ZeroDivisionError, OverflowError):
        # torch's tensors would yield inf/nan here; bisecting the bounds is the sane fallback.
        pass
    return (lo + hi) / 2.0


def _strong_wolfe(
    obj_func: Callable[[float, np.ndarray], tuple[float, np.ndarray]],
    t: float,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """Line search for a step ``t`` along ``d`` satisfying the strong Wolfe conditions.

    Follows torch's ``_strong_wolfe`` (minFunc's lswolfe): bracket, then zoom with cubic
    interpolation. Returns (loss, grads, t, function evaluations).
    """
    d_norm = float(np.abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(t, d)
    ls_func_evals = 1
    gtd_new = float(g_new @ d)

    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[np.ndarray] = []
    bracket_gtd: list[float] = []
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # Extrapolate: cubic step within [t + 0.01 (t - t_prev), 10 t].
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10.0
        previous = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new, gtd_new
        f_new, g_new = obj_func(t, d)
        ls_func_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1

    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # Zoom: shrink the bracket until a point satisfies the conditions.
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # Too close to a bracket end twice running (or outside it): move 10 % inside.
        b_max, b_min = max(bracket), min(bracket)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < eps:
            if insuf_progress or t >= b_max or t <= b_min:
                t = b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(t, d)
        ls_func_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


@OPTIMIZERS.register("lbfgs")
class LBFGS(Optimizer):
    """``torch.optim.LBFGS`` over the flat buffer (full batch; needs a closure).

    ``closure()`` must return ``(loss, flat_grads)`` for the full batch at the *current*
    ``params``; the returned array is copied, so it may be the network's own grads buffer.
    One :meth:`step` runs up to ``max_iter`` L-BFGS iterations (``max_eval`` closure calls,
    default ``max_iter * 5 // 4`` as torch). ``line_search_fn`` defaults to
    ``'strong_wolfe'`` (torch: None); ``'none'`` takes fixed steps of ``lr``.
    The ``grads`` argument of :meth:`step` is ignored: the closure is authoritative.
    """

    name = "lbfgs"
    needs_closure = True
    defaults: ClassVar[dict[str, Hyper]] = {
        "lr": 1.0,
        "max_iter": 20,
        "max_eval": 25,
        "tolerance_grad": 1e-7,
        "tolerance_change": 1e-9,
        "history_size": 100,
        "line_search_fn": "strong_wolfe",
    }
    line_search_choices: ClassVar[tuple[str, ...]] = ("strong_wolfe", "none")
    # torch accepts any values; one step must end in bounded time here (negative tolerances
    # would never stop early, and a huge max_iter would run for hours inside one step).
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "max_iter": (1, 1000),
        "max_eval": (1, 1250),
        "history_size": (1, 1000),
        "tolerance_grad": (0.0, 1e6),
        "tolerance_change": (0.0, 1e6),
    }

    def __init__(self, params: np.ndarray, **hyper: Any) -> None:
        if "max_eval" not in hyper and "max_iter" in hyper:
            hyper["max_eval"] = _coerce("lbfgs", "max_iter", hyper["max_iter"], 20) * 5 // 4
        super().__init__(params, **hyper)

    def _validate(self) -> None:
        _require(self.max_iter >= 1, f"lbfgs: invalid max_iter {self.max_iter}")
        _require(self.max_eval >= 1, f"lbfgs: invalid max_eval {self.max_eval}")
        _require(self.history_size >= 1, f"lbfgs: invalid history_size {self.history_size}")
        _require(
            self.line_search_fn in self.line_search_choices,
            f"lbfgs: line_search_fn must be one of {self.line_search_choices}, got {self.line_search_fn!r}",
        )

    def _init_state(self) -> None:
        self.func_evals = 0
        self.n_iter = 0
        self._d: np.ndarray | None = None
        self._t: float | None = None
        self._old_dirs: list[np.ndarray] = []
        self._old_stps: list[np.ndarray] = []
        self._ro: list[float] = []
        self._h_diag = 1.0
        self._prev_flat_grad: np.ndarray | None = None
        self._prev_loss: float | None = None

    def _evaluate(self, closure: Closure) -> tuple[float, np.ndarray]:
        loss, grads = closure()
        grads = np.asarray(grads)
        if grads.shape != self.params.shape:
            raise ValueError(
                f"lbfgs: closure returned grads of shape {grads.shape}, expected {self.params.shape}"
            )
        return float(loss), grads.astype(self.params.dtype, copy=True)

    def step(
        self,
        grads: np.ndarray | None = None,
        closure: Closure | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> float:
        """Run up to ``max_iter`` iterations; returns the loss before the step (as torch).

        ``should_stop`` is asked between iterations; when it answers True the step ends there,
        leaving the parameters at the last completed iteration (a deliberate addition to torch).
        """
        if closure is None:
            raise ValueError("lbfgs needs a closure returning (loss, flat grads) for the full batch")
        self.step_count += 1
        params = self.params
        lr, max_iter, max_eval = self.lr, self.max_iter, self.max_eval
        tolerance_grad, tolerance_change = self.tolerance_grad, self.tolerance_change

        orig_loss, flat_grad = self._evaluate(closure)
        loss = orig_loss
        current_evals = 1
        self.func_evals += 1
        if float(np.abs(flat_grad).max()) <= tolerance_grad:
            return orig_loss

        d, t = self._d, self._t
        old_dirs, old_stps, ro = self._old_dirs, self._old_stps, self._ro
        h_diag = self._h_diag
        prev_flat_grad, prev_loss = self._prev_flat_grad, self._prev_loss

        x_init = np.empty_like(params)

        def obj_func(step: float, direction: np.ndarray) -> tuple[float, np.ndarray]:
            # Evaluate at x + step*d, then put x back: the line search only probes.
            np.add(x_init, step * direction, out=params)
            try:
                return self._evaluate(closure)
            finally:
                params[...] = x_init

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            self.n_iter += 1

            # Descent direction: steepest descent first, then the two-loop recursion.
            if self.n_iter == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == self.history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                num_old = len(old_dirs)
                al = [0.0] * num_old
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * h_diag
                for i in range(num_old):
                    be_i = float(old_dirs[i] @ r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # Step length: a cautious first step, then lr.
            t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr if self.n_iter == 1 else lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if self.line_search_fn == "strong_wolfe":
                x_init[...] = params
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, t, d, loss, flat_grad, gtd, tolerance_change=tolerance_change
                )
                params += t * d
                opt_cond = float(np.abs(flat_grad).max()) <= tolerance_grad
            else:
                params += t * d
                opt_cond = False
                if n_iter != max_iter:
                    loss, flat_grad = self._evaluate(closure)
                    opt_cond = float(np.abs(flat_grad).max()) <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            self.func_evals += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(np.abs(d).max()) * abs(t) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break
            if should_stop is not None and should_stop():
                break

        self._d, self._t = d, t
        self._old_dirs, self._old_stps, self._ro = old_dirs, old_stps, ro
        self._h_diag = h_diag
        self._prev_flat_grad, self._prev_loss = prev_flat_grad, prev_loss
        return orig_loss

    def state_dict(self) -> dict[str, Any]:
        n = self.params.shape[0]
        empty = np.zeros((0, n), dtype=self.params.dtype)
        state: dict[str, Any] = {
            "old_dirs": np.stack(self._old_dirs) if self._old_dirs else empty,
            "old_stps": np.stack(self._old_stps) if self._old_stps else empty.copy(),
            "ro": np.asarray(self._ro, dtype=np.float64),
        }
        if self._d is not None:
            state["d"] = self._d.copy()
        if self._prev_flat_grad is not None:
            state["prev_flat_grad"] = self._prev_flat_grad.copy()
        return {
            "name": self.name,
            "hyperparameters": self.hyperparameters(),
            "step": self.step_count,
            "func_evals": self.func_evals,
            "n_iter": self.n_iter,
            "t": self._t,
            "h_diag": self._h_diag,
            "prev_loss": self._prev_loss,
            "state": state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"state of optimizer {state.get('name')!r} cannot load into {self.name!r}")
        arrays = state.get("state", {})
        n = self.params.shape[0]
        for key in ("old_dirs", "old_stps"):
            if key in arrays and np.asarray(arrays[key]).shape[1:] != (n,):
                raise ValueError(f"lbfgs state {key!r} does not match {n} parameters")
        for key in ("d", "prev_flat_grad"):
            if key in arrays and np.asarray(arrays[key]).shape != (n,):
                raise ValueError(f"lbfgs state {key!r} does not match {n} parameters")
        hyper = state.get("hyperparameters", {})
        for key, default in self.defaults.items():
            if key in hyper:
                setattr(self, key, _coerce(self.name, key, hyper[key], default))
        self._validate()
        dtype = self.params.dtype
        self.step_count = int(state.get("step", 0))
        self.func_evals = int(state.get("func_evals", 0))
        self.n_iter = int(state.get("n_iter", 0))
        self._t = None if state.get("t") is None else float(state["t"])
        self._h_diag = float(state.get("h_diag", 1.0))
        self._prev_loss = None if state.get("prev_loss") is None else float(state["prev_loss"])
        self._old_dirs = [row.astype(dtype, copy=True) for row in np.asarray(arrays.get("old_dirs", []))]
        self._old_stps = [row.astype(dtype, copy=True) for row in np.asarray(arrays.get("old_stps", []))]
        self._ro = [float(x) for x in np.asarray(arrays.get("ro", []))]
        self._d = np.array(arrays["d"], dtype=dtype) if "d" in arrays else None
        self._prev_flat_grad = (
            np.array(arrays["prev_flat_grad"], dtype=dtype) if "prev_flat_grad" in arrays else None
        )


def get_optimizer(name: str, params: np.ndarray, **options: Any) -> Optimizer:
    """Build a registered optimizer over ``params`` (UnknownNameError for a bad name)."""
    return OPTIMIZERS.get(name)(params, **options)
