"""Backpropagation step by step: one sample (or a small minibatch) through the engine's network.

``step_through(network, loss, x, y, ...)`` runs the ENGINE's own forward and backward on a
copy of the network (layer by layer, so every layer's cached ``z`` and ``a`` are its own arrays,
not the fast path's buffers) and records an ordered list of :class:`Step`: the forward values
node by node, the loss, then ``∂L/∂node`` edge by edge with the chain-rule product in numbers,
the parameter gradients as ``∂L/∂z`` times the layer's input, the minibatch average (when there
is more than one sample), and one real optimizer update applied to the copy.

Nothing here re-implements the math: values are the layers' cached ``z`` / ``a``, ``f′(z)`` is
the activation's own ``backward`` applied to ones, ``∂L/∂z`` is that same ``backward`` applied to
``∂L/∂a``, the parameter gradients are what ``Layer.backward`` wrote into the flat gradient
buffer, and the update is ``Optimizer.step`` on the copy (the state of the caller's optimizer is
loaded first, so the momentum buffer or Adam's moments are the run's own).

Large networks show a slice: at most ``MAX_LAYERS_SHOWN`` Dense layers from ``first_layer`` and at
most ``MAX_UNITS_SHOWN`` units from ``first_unit``; every array is kept whole (the tests compare
them), the slice only limits what the step texts and the view draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from engine.layers import Dense
from engine.losses import Loss
from engine.network import Network
from engine.optimizers import OPTIMIZERS, Optimizer, get_optimizer

MAX_LAYERS_SHOWN = 4
MAX_UNITS_SHOWN = 8
MAX_BATCH = 32  # a minibatch walk-through: each sample's gradient is computed once more

Phase = Literal["forward", "loss", "backward", "parameters", "average", "update"]


@dataclass(frozen=True)
class Step:
    """One step of the walk-through: which node it fills, along which edge, and the numbers.

    ``node`` names a node of the graph ('x', 'dense1.z', 'dense1.a', 'output.a', 'loss', or a
    parameter 'dense1.W'); ``edge`` is (from, to) for the highlighted edge (None for the input);
    ``value`` is what the node holds after the step (first sample's row for activations, the
    whole array for parameters); ``formula`` is the rule in symbols and ``numbers`` the same rule
    with the numbers of the chosen unit or weight filled in.
    """

    phase: Phase
    node: str
    edge: tuple[str, str] | None
    title: str
    formula: str
    numbers: str
    value: np.ndarray
    note: str = ""


@dataclass
class StepThrough:
    """The whole walk-through: the steps in order and the arrays the tests check.

    ``values[node]`` are forward values and ``grads[node]`` are ∂L/∂node for every sample
    (shape (batch, units)), or ∂L/∂parameter for the batch; ``per_sample`` holds each sample's
    own parameter gradients when the batch has more than one sample; ``update`` describes the
    optimizer step on ``weight`` (layer, row, column).
    """

    steps: list[Step]
    dense: list[str]  # Dense layers in order (names)
    shown: list[str]  # the Dense layers the slice shows
    units: dict[str, tuple[int, int]]  # node → (first unit, end) of the slice
    values: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    per_sample: dict[str, np.ndarray] = field(default_factory=dict)
    loss_value: float = 0.0
    derivatives: dict[str, np.ndarray] = field(default_factory=dict)  # layer → f′(z)
    update: dict[str, Any] = field(default_factory=dict)
    weight: tuple[str, int, int] = ("", 0, 0)
    batch: int = 1


def _fmt(v: float) -> str:
    v = float(v)
    if v == 0.0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.3e}"
    return f"{v:.4f}"


def _row(values: np.ndarray, lo: int, hi: int) -> str:
    shown = ", ".join(_fmt(v) for v in values[lo:hi])
    more = " …" if hi < values.shape[-1] or lo > 0 else ""
    return f"[{shown}{more}]"


def step_through(
    network: Network,
    loss: Loss,
    x: np.ndarray,
    y: np.ndarray,
    *,
    optimizer_name: str = "sgd",
    optimizer_options: dict[str, Any] | None = None,
    optimizer_state: dict[str, Any] | None = None,
    first_layer: int = 0,
    first_unit: int = 0,
    weight: tuple[str, int, int] | None = None,
) -> StepThrough:
    """Walk ``x`` (shape (batch, features), batch ≤ ``MAX_BATCH``) with targets ``y`` through a
    copy of ``network``; the caller's network is never touched.

    ``optimizer_state`` (an ``Optimizer.state_dict()``) makes the update continue the run's
    optimizer; ``weight`` picks the weight whose update is spelled out (default: the first
    shown weight of the last shown Dense layer).
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"step-through needs a (batch, features) array, got shape {x.shape}")
    if x.shape[0] > MAX_BATCH:
        raise ValueError(f"step-through shows at most {MAX_BATCH} samples, got {x.shape[0]}")
    net = network.copy()
    net.use_fast_path = False  # the layer path keeps every layer's own z and a
    x = x.astype(net.dtype)
    batch = x.shape[0]
    dense = [layer.name for layer in net.layers if isinstance(layer, Dense)]
    first_layer = max(0, min(first_layer, len(dense) - 1))
    shown = dense[first_layer : first_layer + MAX_LAYERS_SHOWN]
    result = StepThrough(steps=[], dense=dense, shown=shown, units={}, batch=batch)

    def window(n: int) -> tuple[int, int]:
        lo = max(0, min(first_unit, n - 1))
        return lo, min(n, lo + MAX_UNITS_SHOWN)

    _forward(net, loss, x, y, result, window)
    _backward(net, loss, y, result, window)
    if batch > 1:
        _average(net, loss, x, y, result)
    _update(net, result, optimizer_name, dict(optimizer_options or {}), optimizer_state, weight)
    return result


# --------------------------------------------------------------------------------- forward
def _forward(net: Network, loss: Loss, x: np.ndarray, y: np.ndarray, r: StepThrough, window: Any) -> None:
    steps = r.steps
    r.values["x"] = x.copy()
    r.units["x"] = window(x.shape[1])
    lo, hi = r.units["x"]
    steps.append(Step("forward", "x", None, "Input x", "x = the sample's features",
                      f"x = {_row(x[0], lo, hi)}", x[0].copy()))
    prev = "x"
    h = x
    for layer in net.layers:
        h = layer.forward(h, training=False)
        if isinstance(layer, Dense):
            name = layer.name
            z, a = np.array(layer.z), np.array(layer.a)
            r.values[f"{name}.z"], r.values[f"{name}.a"] = z, a
            r.units[f"{name}.z"] = r.units[f"{name}.a"] = window(layer.units)
            if name not in r.shown:
                prev = f"{name}.a"
                continue
            ulo, uhi = r.units[f"{name}.z"]
            xin = r.values[prev][0]
            W, b = layer.params["W"], layer.params["b"]
            j = ulo
            ilo, ihi = r.units[prev]
            terms = " + ".join(f"{_fmt(xin[i])}·{_fmt(W[i, j])}" for i in range(ilo, ihi))
            more = " + …" if ihi - ilo < W.shape[0] else ""
            steps.append(Step(
                "forward", f"{name}.z", (prev, f"{name}.z"), f"{name}: weighted sum",
                f"z = {prev if prev == 'x' else 'a_prev'}·W + b",
                f"z[{j}] = {terms}{more} + {_fmt(b[j])} = {_fmt(z[0, j])}\nz = {_row(z[0], ulo, uhi)}",
                z[0].copy()))
            act = layer.activation_name
            steps.append(Step(
                "forward", f"{name}.a", (f"{name}.z", f"{name}.a"), f"{name}: activation ({act})",
                f"a = {act}(z)",
                f"a[{j}] = {act}({_fmt(z[0, j])}) = {_fmt(a[0, j])}\na = {_row(a[0], ulo, uhi)}",
                a[0].copy()))
            prev = f"{name}.a"
        else:
            # Dropout is the identity and BatchNorm uses its running statistics in evaluation.
            node = f"{layer.name}.a"
            r.values[node] = np.array(h)
            r.units[node] = window(h.shape[-1])
            steps.append(Step("forward", node, (prev, node), f"{layer.name} ({layer.kind}, evaluation)",
                              f"a = {layer.kind}(a_prev)", f"a = {_row(np.asarray(h)[0], *r.units[node])}",
                              np.array(h)[0].copy()))
            prev = node
    out = np.ascontiguousarray(h)
    r.values["output"] = out.copy()
    r.units["output"] = window(out.shape[1])
    value, grad_out = loss(out.copy(), y)
    r.loss_value = float(value)
    r.grads["output"] = np.array(grad_out)
    shown_pred = loss.transform(out.copy())
    r.values["target"] = np.asarray(y, dtype=np.float64).reshape(out.shape[0], -1)
    target = r.values["target"][0]
    steps.append(Step(
        "loss", "loss", ("output", "loss"), f"Loss ({loss.name})",
        f"L = {loss.name}(output, target)" + ("" if r.batch == 1 else f", mean over {r.batch} samples"),
        f"output = {_row(out[0], *r.units['output'])}\n"
        f"prediction = {_row(shown_pred[0], *r.units['output'])}\n"
        f"target = {', '.join(_fmt(t) for t in target[:8])}\nL = {_fmt(value)}",
        np.array([value])))


# -------------------------------------------------------------------------------- backward
def _backward(net: Network, loss: Loss, y: np.ndarray, r: StepThrough, window: Any) -> None:
    steps = r.steps
    g = np.array(r.grads["output"])
    lo, hi = r.units["output"]
    last_node = f"{net.layers[-1].name}.a"
    r.grads[last_node] = g.copy()
    steps.append(Step("backward", last_node, ("loss", last_node), "∂L/∂output",
                      f"∂L/∂output from the loss ({loss.name}): backpropagation starts here",
                      f"∂L/∂output = {_row(g[0], lo, hi)}",
                      g[0].copy()))
    inputs = ["x"] + [f"{layer.name}.a" for layer in net.layers[:-1]]
    for index in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[index]
        below = inputs[index]
        if not isinstance(layer, Dense):
            g = layer.backward(g)
            r.grads[below] = np.array(g)
            for key, value in layer.grads.items():  # BatchNorm's gamma and beta
                r.grads[f"{layer.name}.{key}"] = np.array(value)
            steps.append(Step("backward", below, (f"{layer.name}.a", below), f"∂L/∂{below}",
                              f"through {layer.kind} (evaluation)",
                              f"∂L/∂{below} = {_row(g[0], *r.units[below])}",
                              np.array(g)[0].copy()))
            continue
        name = layer.name
        z, a = layer.z, layer.a
        deriv = layer.activation.backward(z, a, np.ones_like(z))  # f′(z), the engine's own
        gz = layer.activation.backward(z, a, g)  # ∂L/∂z = ∂L/∂a · f′(z)
        r.derivatives[name] = np.array(deriv)
        r.grads[f"{name}.z"] = np.array(gz)
        gx = layer.backward(g)  # writes dW, db into the flat gradient buffer
        W_grad, b_grad = np.array(layer.grads["W"]), np.array(layer.grads["b"])
        r.grads[f"{name}.W"], r.grads[f"{name}.b"] = W_grad, b_grad
        r.grads[below] = np.array(gx)
        if name not in r.shown:
            g = gx
            continue
        ulo, uhi = r.units[f"{name}.z"]
        j = ulo
        ga = g[0]
        fp, gz0 = deriv[0], gz[0]
        vanishing = ""
        if layer.activation_name in ("sigmoid", "tanh") and abs(fp[j]) < 1e-2:
            vanishing = (f"f′(z) ≈ {_fmt(fp[j])} at z = {_fmt(z[0, j])}: the {layer.activation_name} is "
                         "saturated, so the product collapses and almost no gradient flows back "
                         "(vanishing gradient)")
        steps.append(Step(
            "backward", f"{name}.z", (f"{name}.a", f"{name}.z"), f"{name}: ∂L/∂z (chain rule)",
            f"∂L/∂z = ∂L/∂a · f′(z), f′ = {layer.activation_name}′ at that z",
            f"∂L/∂z[{j}] = {_fmt(ga[j])} · {_fmt(fp[j])} = {_fmt(gz0[j])}   (z = {_fmt(z[0, j])})\n"
            f"f′(z) = {_row(fp, ulo, uhi)}\n∂L/∂z = {_row(gz0, ulo, uhi)}",
            gz0.copy(), vanishing))
        ilo, ihi = r.units[below]
        xin = r.values[below]
        i = ilo
        if r.batch == 1:
            per = f"∂L/∂W[{i},{j}] = {_fmt(xin[0, i])} · {_fmt(gz0[j])} = {_fmt(W_grad[i, j])}"
        else:
            per = (f"∂L/∂W[{i},{j}] = Σ over {r.batch} samples of input[{i}] · ∂L/∂z[{j}] = "
                   f"{_fmt(W_grad[i, j])} "
                   f"(first sample: {_fmt(xin[0, i])} · {_fmt(gz0[j])})")
        steps.append(Step(
            "parameters", f"{name}.W", (f"{name}.z", f"{name}.W"), f"{name}: ∂L/∂W and ∂L/∂b",
            "∂L/∂W = inputᵀ · ∂L/∂z,  ∂L/∂b = ∂L/∂z (summed over the batch)",
            f"{per}\n∂L/∂b[{j}] = {_fmt(b_grad[j])}\n∂L/∂b = {_row(b_grad, ulo, uhi)}",
            W_grad.copy()))
        gx0 = np.asarray(gx)[0]
        W = layer.params["W"]
        terms = " + ".join(f"{_fmt(gz0[k])}·{_fmt(W[i, k])}" for k in range(ulo, uhi))
        more = " + …" if uhi - ulo < W.shape[1] else ""
        steps.append(Step(
            "backward", below, (f"{name}.z", below), f"∂L/∂{below}",
            f"∂L/∂{below} = ∂L/∂z · Wᵀ",
            f"∂L/∂{below}[{i}] = {terms}{more} = {_fmt(gx0[i])}\n∂L/∂{below} = {_row(gx0, ilo, ihi)}",
            gx0.copy()))
        g = gx


def _average(net: Network, loss: Loss, x: np.ndarray, y: np.ndarray, r: StepThrough) -> None:
    """Each sample's own gradient (the engine's forward and backward on that sample, its loss
    scaled by 1/batch as in the batch mean), and their sum: the gradient the optimizer sees."""
    full = net.grads.copy()
    ys = np.asarray(y)
    rows = []
    for k in range(r.batch):
        out = net.forward(x[k : k + 1], training=False)
        _, g = loss(out, ys[k : k + 1])
        net.backward(np.asarray(g) / r.batch)
        rows.append(net.grads.copy())
    net.grads[...] = full  # the batch gradient stays in the buffer for the update
    per = np.stack(rows)
    name = r.shown[-1] if r.shown else r.dense[-1]
    sl = net.slices()[f"{name}.W"]
    for key, s in net.slices().items():
        r.per_sample[key] = per[:, s] * r.batch  # each sample's own mean-loss gradient
    w_per = r.per_sample[f"{name}.W"]
    shown = ", ".join(_fmt(v) for v in w_per[:6, 0])
    r.steps.append(Step(
        "average", f"{name}.W", (f"{name}.W", f"{name}.W"), f"Minibatch: {r.batch} samples average",
        "∂L/∂W = (1/B) Σₖ ∂Lₖ/∂W: each sample's gradient, averaged",
        f"∂Lₖ/∂W[0,0] for k = 1…{r.batch}: {shown}{' …' if r.batch > 6 else ''}\n"
        f"mean = {_fmt(w_per[:, 0].mean())} = the batch's ∂L/∂W[0,0] {_fmt(full[sl][0])}",
        w_per[:, 0].copy()))


# --------------------------------------------------------------------------------- update
def _update(net: Network, r: StepThrough, name: str, options: dict[str, Any],
            state: dict[str, Any] | None, weight: tuple[str, int, int] | None) -> None:
    if OPTIMIZERS.get(name).needs_closure:
        r.steps.append(Step("update", "update", None, "Update", f"{name} takes line-search steps",
                            "L-BFGS's step needs the full batch: the walk-through shows "
                            "plain gradients only.",
                            np.zeros(1)))
        return
    opt: Optimizer = get_optimizer(name, net.params, **options)
    if state is not None and state.get("name") == name:
        opt.load_state_dict(state)
        opt.lr = float(options.get("lr", opt.lr))
    layer_name = r.shown[-1] if r.shown else r.dense[-1]
    if weight is None:
        lo_i = r.units[_input_of(net, layer_name)][0]
        weight = (layer_name, lo_i, r.units[f"{layer_name}.z"][0])
    wl, wi, wj = weight
    sl = net.slices()[f"{wl}.W"]
    cols = net.layer(wl).params["W"].shape[1]
    flat = sl.start + wi * cols + wj
    before = opt.state_dict()
    w_old = float(net.params[flat])
    g = float(net.grads[flat])
    opt.step(net.grads.copy())
    after = opt.state_dict()
    w_new = float(net.params[flat])
    lr = opt.lr
    hp = opt.hyperparameters()
    t = opt.step_count
    state_after = {k: float(np.asarray(v)[flat]) for k, v in after["state"].items()}
    state_before = {k: float(np.asarray(v)[flat]) for k, v in before["state"].items()}
    direction, lines = _direction(name, hp, g, w_old, state_after, t)
    r.weight = (wl, wi, wj)
    r.update = {"optimizer": name, "lr": lr, "w_old": w_old, "w_new": w_new, "grad": g,
                "direction": direction, "state_before": state_before, "state_after": state_after,
                "step": t, "params_after": net.params.copy()}
    lines.append(f"W_new = W − lr · direction = {_fmt(w_old)} − {_fmt(lr)} · {_fmt(direction)} "
                 f"= {_fmt(w_new)}")
    r.steps.append(Step("update", f"{wl}.W", (f"{wl}.W", f"{wl}.W"),
                        f"Update of {wl}.W[{wi},{wj}] ({name}, step {t})",
                        "W_new = W − lr · direction" + ("" if state is not None else
                                                        "  (a fresh optimizer: its first step)"),
                        "\n".join(lines),
                        np.array([w_old, w_new])))


def _input_of(net: Network, name: str) -> str:
    prev = "x"
    for layer in net.layers:
        if layer.name == name:
            return prev
        prev = f"{layer.name}.a"
    raise KeyError(name)


def _direction(name: str, hp: dict[str, Any], g: float, w: float, s: dict[str, float],
               t: int) -> tuple[float, list[str]]:
    """The optimizer's direction for one weight, from its state after the step, with the
    lines that spell it out. (The state is the optimizer's own; this only writes it down.)"""
    wd = float(hp.get("weight_decay", 0.0))
    lines = [f"g = ∂L/∂W = {_fmt(g)}"]
    if wd and name != "adamw":
        g = g + wd * w
        lines.append(f"with weight decay: g + {wd:g}·W = {_fmt(g)}")
    if name == "sgd":
        if hp["momentum"]:
            buf = s["momentum_buffer"]
            lines.append(f"momentum buffer = {hp['momentum']:g} · buffer + g = {_fmt(buf)}")
            d = g + hp["momentum"] * buf if hp["nesterov"] else buf
            if hp["nesterov"]:
                lines.append(f"Nesterov: direction = g + {hp['momentum']:g}·buffer = {_fmt(d)}")
            return d, lines
        return g, lines
    if name in ("adam", "adamw"):
        m, v = s["exp_avg"], s.get("max_exp_avg_sq", s["exp_avg_sq"])
        b1, b2, eps = hp["beta1"], hp["beta2"], hp["eps"]
        bc1, bc2 = 1.0 - b1**t, 1.0 - b2**t
        mh, vh = m / bc1, v / bc2
        d = mh / (np.sqrt(vh) + eps)
        lines += [f"m = {b1:g}·m + {1 - b1:g}·g = {_fmt(m)};  "
                  f"v = {b2:g}·v + {1 - b2:g}·g² = {_fmt(s['exp_avg_sq'])}",
                  f"bias correction at step {t}: m̂ = m/(1−{b1:g}^{t}) = {_fmt(mh)},  "
                  f"v̂ = v/(1−{b2:g}^{t}) = {_fmt(vh)}",
                  f"direction = m̂ / (√v̂ + ε) = {_fmt(d)}"]
        if name == "adamw" and wd:
            lines.append(f"AdamW also shrinks W by lr·{wd:g}·W first (decoupled decay)")
        return float(d), lines
    if name == "rmsprop":
        v = s["square_avg"]
        denom_v = v - s["grad_avg"] ** 2 if hp["centered"] else v
        step = g / (np.sqrt(denom_v) + hp["eps"])
        lines += [f"v = {hp['alpha']:g}·v + {1 - hp['alpha']:g}·g² = {_fmt(v)}",
                  f"g / (√v + ε) = {_fmt(step)}"]
        if hp["momentum"]:
            buf = s["momentum_buffer"]
            lines.append(f"momentum buffer = {hp['momentum']:g}·buffer + that = {_fmt(buf)}")
            return buf, lines
        return float(step), lines
    if name == "adagrad":
        acc = s["sum"]
        clr = 1.0 / (1.0 + (t - 1) * hp["lr_decay"])
        d = clr * g / (np.sqrt(acc) + hp["eps"])
        lines += [f"sum of g² = {_fmt(acc)}", f"direction = g / (√sum + ε) = {_fmt(d)}"]
        return float(d), lines
    return g, lines  # pragma: no cover - every registered first-order optimizer is above
