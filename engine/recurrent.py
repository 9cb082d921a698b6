"""Recurrent layers: ``rnn`` (tanh), ``lstm`` and ``gru``, batch-first, as PyTorch's.

Inputs are ``(batch, time, features)``. The parameters carry PyTorch's names, shapes and gate
order, so a state dict moves between ``torch.nn.RNN/LSTM/GRU(batch_first=True)`` and these
layers unchanged:

- ``weight_ih`` (gates·H, features), ``weight_hh`` (gates·H, H), ``bias_ih``, ``bias_hh`` (gates·H);
- gate rows: RNN one block; LSTM i, f, g, o; GRU r, z, n;
- RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
- LSTM: i, f, o = σ(·), g = tanh(·); c' = f·c + i·g; h' = o·tanh(c')
- GRU:  r, z = σ(·); n = tanh(W_in x + b_in + r·(W_hn h + b_hn)); h' = (1 − z)·n + z·h
- the initial states are zero; every parameter starts U(−1/√H, 1/√H), as torch's reset_parameters.

``return_sequences`` returns every step's hidden state ``(batch, time, H)``, else the last one
``(batch, H)``. ``truncate = k > 0`` is truncated backpropagation through time: the hidden (and
cell) state is detached every k steps counted from the start (before steps k, 2k, …), exactly
what ``h = h.detach()`` every k steps does in a torch loop; 0 backpropagates through all steps.

**Padding and masks.** A padded step is a row of NaN in the input: ``valid[b, t]`` is True where
every feature of ``x[b, t]`` is finite. At a padded step the state is carried over unchanged, so
the last-step output is the state after the sequence's last valid step; in sequence mode the
output there is 0 and passes no gradient. Data readers pad variable-length sequences with NaN at
the end (``engine/data/sequences.py``) and give padded sequence targets NaN, which the
``masked_mse`` loss skips: the loss is then over valid steps only.

**Gradient through time.** ``backward`` records ``time_grad_norms[t] = ‖∂L/∂h_t‖`` (over the
batch and the hidden units; the total gradient reaching h_t from the loss and from later steps)
as a new float64 array each call: one norm per step, read by the gradient-through-time view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.layers import LAYERS, Layer
from engine.losses import LOSSES, Loss

# NumPy asks the kernel for transparent huge pages for allocations from 4 MiB on.
ARENA_MIN_BYTES = (1 << 22) + (1 << 16)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 0.5·(1 + tanh(z/2)) is σ(z) without overflow for any z.
    out = np.multiply(z, 0.5)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


class Recurrent(Layer):
    """Shared code: parameters, masks and bookkeeping. Subclasses implement the cell."""

    gates: ClassVar[int] = 1
    defaults = {"units": 16, "return_sequences": False, "truncate": 0}
    weight_keys = frozenset({"weight_ih", "weight_hh"})
    gate_names: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, units: int = 16, return_sequences: bool = False, truncate: int = 0, name: str = ""
    ) -> None:
        super().__init__(name)
        if int(units) < 1:
            raise ValueError(f"{self.kind} needs at least 1 hidden unit, got {units}")
        if int(truncate) < 0:
            raise ValueError(f"truncate must be 0 (full BPTT) or a number of steps, got {truncate}")
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.truncate = int(truncate)
        self.time_grad_norms: np.ndarray | None = None  # ‖∂L/∂h_t‖ per step, from the last backward
        self.hidden: np.ndarray | None = None  # (time, batch, H) states of the last forward
        self.gate_values: np.ndarray | None = None  # (time, batch, gates·H) activated gates (LSTM, GRU)
        self.valid: np.ndarray | None = None  # (batch, time) bool, None when nothing is padded
        self.a: np.ndarray | None = None  # the last output (the trainer checks it is finite)
        self._x: np.ndarray | None = None
        self._workspace: dict[str, np.ndarray] = {}
        self._arena: np.ndarray | None = None
        self._arena_used = 0
        self._order_rows: np.ndarray | None = None
        self._view_cache: dict[str, tuple[tuple[int, ...], list[tuple[np.ndarray, ...]]]] = {}

    def config(self) -> dict[str, Any]:
        return {"units": self.units, "return_sequences": self.return_sequences, "truncate": self.truncate}

    def build(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self.input_shape = tuple(int(d) for d in input_shape)
        if len(self.input_shape) != 2:
            raise ValueError(
                f"{self.name or self.kind}: needs sequences of shape (time, features), got an input of "
                f"shape {self.input_shape}; use a sequence data source"
            )
        steps = self.input_shape[0]
        self.output_shape = (steps, self.units) if self.return_sequences else (self.units,)
        return self.output_shape

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        gh, f = self.gates * self.units, self.input_shape[-1]
        return {"weight_ih": (gh, f), "weight_hh": (gh, self.units), "bias_ih": (gh,), "bias_hh": (gh,)}

    def initialize(self, rng: np.random.Generator) -> None:
        bound = 1.0 / np.sqrt(self.units)
        for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            p = self.params[key]
            p[...] = rng.uniform(-bound, bound, p.shape)

    # -- helpers ------------------------------------------------------------------------
    def _prepare(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Time-major input (T, B, F) with padding zeroed, and the (T, B, 1) mask (None if all valid)."""
        xt = np.ascontiguousarray(x.transpose(1, 0, 2))
        finite = np.isfinite(xt)
        if finite.all():
            self.valid = None
            return xt, None
        valid = finite.all(axis=2)
        xt = np.where(finite, xt, 0.0).astype(x.dtype, copy=False)
        self.valid = valid.T.copy()
        return xt, valid[:, :, None].astype(x.dtype)

    def _feature_major_mask(self, x: np.ndarray, xf: np.ndarray) -> np.ndarray | None:
        """The (T, 1, B) mask of ``x`` (B, T, F), None if nothing is padded, zeroing the padding
        in ``xf``, the layer's own (T, F, B) copy of x."""
        finite = np.isfinite(x)
        if finite.all():
            self.valid = None
            return None
        self.valid = finite.all(axis=2)
        xf[~finite.transpose(1, 2, 0)] = 0.0
        return self.valid.T[:, None, :].astype(x.dtype)

    def _work(self, key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A scratch array kept between calls (its contents are whatever was last written),
        carved from one arena: reusing arrays spares the page faults of fresh large arrays on
        every step, and an arena of at least 4 MiB is one NumPy asks the kernel to back with
        huge pages (fewer TLB misses over a pass's ~10 MB of arrays: 3-6 % of an LSTM step)."""
        buf = self._workspace.get(key)
        if buf is not None and buf.shape == shape and buf.dtype == dtype:
            return buf
        dtype = np.dtype(dtype)
        size = int(np.prod(shape)) * dtype.itemsize
        arena = self._arena
        start = -(-self._arena_used // 64) * 64
        if arena is None or start + size > arena.size:
            # Start over in a bigger arena; arrays handed out before stay valid (they keep the
            # old arena alive) and are carved again from the new one at their next request.
            grown = 2 * arena.size if arena is not None else 0
            arena = self._arena = np.empty(max(ARENA_MIN_BYTES, grown, 2 * size) + 64, np.uint8)
            self._workspace = {}
            start = (-arena.ctypes.data) % 64
        buf = arena[start : start + size].view(dtype).reshape(shape)
        self._arena_used = start + size
        self._workspace[key] = buf
        return buf

    def _cached_views(self, key: str, arrays: tuple[np.ndarray, ...],
                      make: Callable[[], list[tuple[np.ndarray, ...]]]) -> list[tuple[np.ndarray, ...]]:
        """Per-step views of workspace arrays, made once while those arrays stay the same:
        slicing a dozen views every step costs about as much as one of its small products."""
        ident = tuple(id(a) for a in arrays)
        cached = self._view_cache.get(key)
        if cached is None or cached[0] != ident:
            cached = self._view_cache[key] = (ident, make())
        return cached[1]

    def _input_product(self, xt: np.ndarray) -> np.ndarray:
        t, b, f = xt.shape
        return (xt.reshape(t * b, f) @ self.params["weight_ih"].T).reshape(t, b, -1)

    def _output(self, hs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        if self.return_sequences:
            out = hs if mask is None else hs * mask
            out = np.ascontiguousarray(out.transpose(1, 0, 2))
        else:
            out = hs[-1].copy()
        self.a = out
        return out

    def _detached(self, t: int) -> bool:
        """No gradient flows from step t into step t − 1 (truncated BPTT)."""
        return self.truncate > 0 and t % self.truncate == 0

    def _finish_backward(self, dxg: np.ndarray, input_grad: bool) -> np.ndarray | None:
        """Input-side gradients from the per-step pre-activation gradients dxg (T, B, G·H)."""
        xt = self._x
        t, b, f = xt.shape
        flat = dxg.reshape(t * b, -1)
        np.dot(flat.T, xt.reshape(t * b, f), out=self.grads["weight_ih"])
        self.grads["bias_ih"][...] = flat.sum(axis=0)
        if not input_grad:
            return None
        dx = (flat @ self.params["weight_ih"]).reshape(t, b, f)
        return np.ascontiguousarray(dx.transpose(1, 0, 2))

    def _recurrent_weight_grad(self, dpre: np.ndarray, hs: np.ndarray) -> None:
        """dW_hh = Σ_t dpre_tᵀ h_{t-1} as one product over all steps (h_{-1} = 0)."""
        t_len, batch, units = hs.shape
        g = dpre[1:].reshape((t_len - 1) * batch, -1)
        np.dot(g.T, hs[:-1].reshape((t_len - 1) * batch, units), out=self.grads["weight_hh"])

    def _output_grad(self, grad_y: np.ndarray, t_len: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(per-step output gradients (T, B, H) or None, last-step gradient (B, H) or None)."""
        if self.return_sequences:
            dy = np.ascontiguousarray(grad_y.reshape(-1, t_len, self.units).transpose(1, 0, 2))
            return dy, None
        return None, grad_y.reshape(-1, self.units)


@LAYERS.register("rnn")
class RNN(Recurrent):
    """Elman RNN with tanh, as ``torch.nn.RNN(nonlinearity='tanh', batch_first=True)``."""

    kind = "rnn"
    gates = 1

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        xt, mask = self._prepare(x)
        self._x, self._mask = xt, mask
        w_hh_t = np.ascontiguousarray(self.params["weight_hh"].T)
        pre = self._input_product(xt)
        pre += self.params["bias_ih"] + self.params["bias_hh"]
        t_len, batch, _ = pre.shape
        hs = np.empty((t_len, batch, self.units), dtype=x.dtype)
        h = np.zeros((batch, self.units), dtype=x.dtype)
        for t in range(t_len):
            z = pre[t]
            z += h @ w_hh_t
            h_new = np.tanh(z)
            if mask is not None:
                h_new = h + mask[t] * (h_new - h)
            hs[t] = h = h_new
        self.hidden = hs
        return self._output(hs, mask)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        hs, mask, w_hh = self.hidden, self._mask, self.params["weight_hh"]
        t_len, batch, units = hs.shape
        dy, dlast = self._output_grad(grad_y, t_len)
        deriv = 1.0 - hs * hs  # tanh' at every step, in one pass
        if mask is not None:
            # A padded step copied h_{t-1}: no gradient into its pre-activation.
            deriv *= mask
        dxg = np.empty_like(hs)
        dh = np.zeros((batch, units), dtype=hs.dtype)
        norms = np.empty(t_len)
        for t in range(t_len - 1, -1, -1):
            if dy is not None:
                dh += dy[t] if mask is None else dy[t] * mask[t]
            elif t == t_len - 1:
                dh += dlast
            norms[t] = np.sqrt(np.vdot(dh, dh))
            da = np.multiply(dh, deriv[t], out=dxg[t])
            if t == 0 or self._detached(t):
                dh = np.zeros_like(dh)
            elif mask is None:
                dh = da @ w_hh
            else:
                dh = da @ w_hh + dh * (1.0 - mask[t])  # the copied state's gradient passes through
        self.time_grad_norms = norms
        self._recurrent_weight_grad(dxg, hs)
        self.grads["bias_hh"][...] = dxg.reshape(t_len * batch, -1).sum(axis=0)
        return self._finish_backward(dxg, input_grad)


@LAYERS.register("lstm")
class LSTM(Recurrent):
    """Long short-term memory, as ``torch.nn.LSTM(batch_first=True)``; gates i, f, g, o.

    The parameters keep torch's order and layout; a pass works in its own, chosen for NumPy's
    per-call cost (each step is a dozen small calls, so a contiguous operand and one call less
    count):
    - feature-major arrays, ``(time, features, batch)``, so every gate of a step is one
      contiguous block;
    - gates in the order g, i, f, o, so the three sigmoid gates are one block in forward and
      the three gates driven by the cell gradient one block in backward;
    - each step's pre-activations are one product of the stacked [W_ih | W_hh | b_ih + b_hh]
      with the column [x_t; h_{t-1}; 1], and h_t is written straight into the next step's
      column; the sigmoid rows are negated so that exp gives exp(−z) directly (NumPy's exp is
      about twice as fast as its tanh here), and a step divides by 1 + exp(−z) where it would
      multiply by σ(z), saving a pass; the sigmoid gates are finished in one pass over all
      steps before backward, or when ``gate_values`` is read;
    - arrays live in a per-shape workspace reused across calls: fresh multi-megabyte arrays
      every step cost page faults that were a third of the backward pass.
    """

    kind = "lstm"
    gates = 4
    gate_names = ("input", "forget", "cell", "output")

    def _order(self) -> np.ndarray:
        """Torch's row (of i, f, g, o) for each internal gate row (g, i, f, o)."""
        if self._order_rows is None:
            H = self.units
            self._order_rows = np.r_[2 * H : 3 * H, 0:H, H : 2 * H, 3 * H : 4 * H]
        return self._order_rows

    @property
    def gate_values(self) -> np.ndarray | None:
        """(time, batch, 4·H) activated gates of the last forward, in torch's order i, f, g, o."""
        if self._gates is None:
            return None
        return self._activated_gates()[:, np.argsort(self._order())].transpose(0, 2, 1)

    @gate_values.setter
    def gate_values(self, value: np.ndarray | None) -> None:
        self._gates, self._sigmoid_pending = value, False

    def _activated_gates(self) -> np.ndarray:
        """The gates array with σ(z) in the sigmoid rows; forward leaves 1 + exp(−z) there."""
        if self._sigmoid_pending:
            s = self._gates[:, self.units :]
            np.reciprocal(s, out=s)
            self._sigmoid_pending = False
        return self._gates

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        batch, t_len, f = x.shape
        H, dt, order = self.units, x.dtype, self._order()
        # z[t][:, b] = [x_t; h_{t-1}; 1] of sample b; step t writes h_t into z[t + 1].
        z = self._work("z", (t_len + 1, f + H + 1, batch), dt)
        z[:t_len, :f] = x.transpose(1, 2, 0)
        z[t_len, :f] = 0.0
        z[0, f : f + H] = 0.0
        z[:, f + H] = 1.0
        mask = self._mask = self._feature_major_mask(x, z[:t_len, :f])
        w = self._work("w", (4 * H, f + H + 1), dt)
        w[:, :f] = self.params["weight_ih"][order]
        w[:, f : f + H] = self.params["weight_hh"][order]
        w[:, f + H] = (self.params["bias_ih"] + self.params["bias_hh"])[order]
        w[H:] *= -1.0  # the sigmoid rows give −z, so exp gives exp(−z)
        gates = self._work("gates", (t_len, 4 * H, batch), dt)
        cs = self._work("cells", (t_len, H, batch), dt)
        tcs = self._work("tanh_cells", (t_len, H, batch), dt)
        igs = self._work("ig", (t_len, H, batch), dt)  # i·g and f·c_{t-1}, kept for backward
        fcs = self._work("fc", (t_len, H, batch), dt)
        c = self._work("c0", (H, batch), dt)
        c[...] = 0.0
        steps = self._cached_views("forward", (z, gates, cs, tcs, igs, fcs), lambda: [(
            z[t], gates[t], gates[t, :H], gates[t, H:], gates[t, H : 2 * H], gates[t, 2 * H : 3 * H],
            gates[t, 3 * H :], fcs[t], igs[t], cs[t], tcs[t], z[t + 1, f : f + H]) for t in range(t_len)])
        dot, tanh, exp, divide, add = np.dot, np.tanh, np.exp, np.divide, np.add
        with np.errstate(over="ignore"):  # exp(−z) = inf for z ≪ 0 still gives σ(z) = 0
            for t, (z_t, g, g_g, d, d_i, d_f, d_o, fc, ig, c_new, tc, h_new) in enumerate(steps):
                dot(w, z_t, out=g)
                tanh(g_g, out=g_g)
                exp(d, out=d)
                d += 1.0  # σ(z) = 1 / d: dividing by d below saves a pass
                divide(c, d_f, out=fc)
                divide(g_g, d_i, out=ig)
                add(fc, ig, out=c_new)
                tanh(c_new, out=tc)
                divide(tc, d_o, out=h_new)
                if mask is not None:
                    m, h = mask[t], z[t, f : f + H]
                    c_new[...] = c + m * (c_new - c)
                    h_new[...] = h + m * (h_new - h)
                c = c_new
        self._sigmoid_pending = True
        self._z, self._gates, self._cells, self._tanh_cells = z, gates, cs, tcs
        self._igs, self._fcs = igs, fcs
        self.hidden = z[1:, f : f + H].transpose(0, 2, 1)
        return self._output(self.hidden, None if mask is None else mask.transpose(0, 2, 1))

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        z, gates, cs, tcs, mask = self._z, self._activated_gates(), self._cells, self._tanh_cells, self._mask
        t_len, H, batch = cs.shape
        f, dt, order = z.shape[1] - H - 1, cs.dtype, self._order()
        dy, dlast = self._output_grad(grad_y, t_len)
        # Everything that does not depend on the incoming gradient, for all steps at once (a
        # few passes over big arrays instead of many small calls per step), built from the
        # products forward kept (i·g, f·c_{t-1}, h = o·tanh c) to save passes: the factors that turn dc_t
        # into the g, i, f pre-activation gradients, and dh_t into o's and into dc_t.
        g_, i_, f_, o_ = (gates[:, k * H : (k + 1) * H] for k in range(4))
        igs, hs = self._igs, z[1:, f : f + H]
        from_dc = self._work("from_dc", (t_len, 3, H, batch), dt)
        np.multiply(igs, g_, out=from_dc[:, 0])
        np.subtract(i_, from_dc[:, 0], out=from_dc[:, 0])  # dg = dc·i·(1 − g²)
        np.multiply(igs, i_, out=from_dc[:, 1])
        np.subtract(igs, from_dc[:, 1], out=from_dc[:, 1])  # di = dc·g·i(1 − i)
        np.multiply(self._fcs, f_, out=from_dc[:, 2])
        np.subtract(self._fcs, from_dc[:, 2], out=from_dc[:, 2])  # df = dc·c_{t-1}·f(1 − f)
        # from_dh[t] = (do factor, dc factor): one product with dh_t gives the output gate's
        # gradient (written in place in dgates) and dh_t's share of dc_t (in the spare block).
        from_dh = self._work("from_dh", (t_len, 2, H, batch), dt)
        np.multiply(hs, o_, out=from_dh[:, 0])
        np.subtract(hs, from_dh[:, 0], out=from_dh[:, 0])  # do = dh·tanh(c)·o(1 − o)
        np.multiply(hs, tcs, out=from_dh[:, 1])
        np.subtract(o_, from_dh[:, 1], out=from_dh[:, 1])  # dc += dh·o·(1 − tanh² c)
        w_hh_t = self._work("w_hh_t", (H, 4 * H), dt)
        w_hh_t[...] = self.params["weight_hh"][order].T
        # Rows g, i, f, o, then a spare block for dh_t's share of dc_t.
        dgates = self._work("dgates", (t_len, 5 * H, batch), dt)
        dhs = self._work("dhs", (t_len, H, batch), dt)  # ∂L/∂h_t from the loss and later steps
        if dy is not None:
            dhs[...] = dy.transpose(0, 2, 1)
            if mask is not None:
                dhs *= mask
        else:
            dhs[...] = 0.0
            dhs[-1] = dlast.T
        dc_t = self._work("dc_t", (H, batch), dt)
        dc = dc_buf = self._work("dc", (H, batch), dt)
        dc[...] = 0.0
        product = self._work("product", (H, batch), dt)
        steps = self._cached_views("backward", (dhs, dgates, from_dh, from_dc, gates), lambda: [(
            dhs[t], dgates[t, 3 * H :].reshape(2, H, batch), from_dh[t], dgates[t, 4 * H :], from_dc[t],
            dgates[t, : 3 * H].reshape(3, H, batch), dhs[t - 1] if t else None, dgates[t, : 4 * H],
            f_[t]) for t in range(t_len)])
        dot, multiply, add = np.dot, np.multiply, np.add
        for t in range(t_len - 1, -1, -1):
            dh, da_o, from_dh_t, dc_from_h, from_dc_t, da_gif, prev, da, f_t = steps[t]
            if mask is not None:
                m = mask[t]
                dh_kept, dc_kept = dh * (1.0 - m), dc * (1.0 - m)
                dh, dc = dh * m, dc * m
            multiply(dh, from_dh_t, out=da_o)  # the output gate's gradient and dh_t's part of dc_t
            add(dc_from_h, dc, out=dc_t)
            multiply(dc_t, from_dc_t, out=da_gif)
            if t == 0:
                break
            if self._detached(t):
                dc = dc_buf
                dc[...] = 0.0
                continue
            if dy is None:
                dot(w_hh_t, da, out=prev)
            else:
                prev += dot(w_hh_t, da, out=product)
            dc = multiply(dc_t, f_t, out=dc_buf)
            if mask is not None:
                prev += dh_kept
                dc += dc_kept
        norms = np.einsum("thb,thb->t", dhs, dhs, dtype=np.float64)
        self.time_grad_norms = np.sqrt(norms, out=norms)
        # Every weight and bias gradient is one product, Σ_t ∂L/∂gates_t · [x_t; h_{t-1}; 1]ᵀ,
        # once the steps are laid side by side.
        dg_wide = self._work("dg_wide", (4 * H, t_len, batch), dt)
        dg_wide[...] = dgates[:, : 4 * H].transpose(1, 0, 2)
        z_wide = self._work("z_wide", (f + H + 1, t_len, batch), dt)
        z_wide[...] = z[:t_len].transpose(1, 0, 2)
        dw = self._work("dw", (4 * H, f + H + 1), dt)
        np.dot(dg_wide.reshape(4 * H, -1), z_wide.reshape(f + H + 1, -1).T, out=dw)
        self.grads["weight_ih"][order] = dw[:, :f]
        self.grads["weight_hh"][order] = dw[:, f : f + H]
        self.grads["bias_ih"][order] = dw[:, f + H]
        self.grads["bias_hh"][order] = dw[:, f + H]
        if not input_grad:
            return None
        dx = np.matmul(self.params["weight_ih"][order].T, dgates[:, : 4 * H])  # (time, features, batch)
        return np.ascontiguousarray(dx.transpose(2, 0, 1))


@LAYERS.register("gru")
class GRU(Recurrent):
    """Gated recurrent unit, as ``torch.nn.GRU(batch_first=True)``; gates r, z, n, with the
    reset gate applied after the hidden product (ONNX's linear_before_reset=1)."""

    kind = "gru"
    gates = 3
    gate_names = ("reset", "update", "new")

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        xt, mask = self._prepare(x)
        self._x, self._mask = xt, mask
        w_hh_t, b_hh, H = np.ascontiguousarray(self.params["weight_hh"].T), self.params["bias_hh"], self.units
        pre = self._input_product(xt)
        pre += self.params["bias_ih"]
        t_len, batch, _ = pre.shape
        hs = np.empty((t_len, batch, H), dtype=x.dtype)
        gates = np.empty_like(pre)
        ghn = np.empty((t_len, batch, H), dtype=x.dtype)  # W_hn h + b_hn, needed by backward
        h = np.zeros((batch, H), dtype=x.dtype)
        for t in range(t_len):
            gh = h @ w_hh_t
            gh += b_hh
            g = gates[t]
            z_rz = pre[t, :, : 2 * H] + gh[:, : 2 * H]
            g[:, : 2 * H] = _sigmoid(z_rz)
            ghn[t] = gh[:, 2 * H :]
            n_pre = pre[t, :, 2 * H :] + g[:, :H] * ghn[t]
            np.tanh(n_pre, out=g[:, 2 * H :])
            z, n = g[:, H : 2 * H], g[:, 2 * H :]
            h_new = n + z * (h - n)
            if mask is not None:
                h_new = h + mask[t] * (h_new - h)
            hs[t] = h = h_new
        self.hidden, self.gate_values, self._ghn = hs, gates, ghn
        return self._output(hs, mask)

    def backward(self, grad_y: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        hs, gates, ghn = self.hidden, self.gate_values, self._ghn
        mask, w_hh, H = self._mask, self.params["weight_hh"], self.units
        t_len, batch, _ = hs.shape
        dy, dlast = self._output_grad(grad_y, t_len)
        dxg = np.empty_like(gates)
        dgh = np.empty_like(gates)
        dh = np.zeros((batch, H), dtype=hs.dtype)
        norms = np.empty(t_len)
        zero = np.zeros((batch, H), dtype=hs.dtype)
        for t in range(t_len - 1, -1, -1):
            if dy is not None:
                dh += dy[t] if mask is None else dy[t] * mask[t]
            elif t == t_len - 1:
                dh += dlast
            norms[t] = np.sqrt(np.vdot(dh, dh))
            g = gates[t]
            r, z, n = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
            h_prev = hs[t - 1] if t > 0 else zero
            dh_t = dh if mask is None else dh * mask[t]
            dn = dh_t * (1.0 - z) * (1.0 - n * n)
            dz = dh_t * (h_prev - n) * z * (1.0 - z)
            dr = dn * ghn[t] * r * (1.0 - r)
            dx_t, dgh_t = dxg[t], dgh[t]
            dx_t[:, :H] = dr
            dx_t[:, H : 2 * H] = dz
            dx_t[:, 2 * H :] = dn
            dgh_t[:, : 2 * H] = dx_t[:, : 2 * H]
            dgh_t[:, 2 * H :] = dn * r
            if t == 0 or self._detached(t):
                dh = np.zeros_like(dh)
                continue
            dh_new = dgh_t @ w_hh
            dh_new += dh_t * z
            if mask is not None:
                dh_new += dh * (1.0 - mask[t])
            dh = dh_new
        self.time_grad_norms = norms
        self._recurrent_weight_grad(dgh, hs)
        self.grads["bias_hh"][...] = dgh.reshape(t_len * batch, -1).sum(axis=0)
        return self._finish_backward(dxg, input_grad)


RECURRENT_KINDS = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class TimeGradients:
    """‖∂L/∂h_t‖ per time step of each recurrent layer after one training step (the event the
    training task sends beside that step's StepMetrics for the gradient-through-time view)."""

    step: int
    norms: dict[str, np.ndarray]  # layer name -> (time,) float64


def time_gradient_probe(network: Any) -> Callable[[int], TimeGradients] | None:
    """A function making the TimeGradients of the network's last backward, or None when the
    network has no recurrent layer. Each backward allocates new norm arrays, so the record
    holds them without copying."""
    layers = recurrent_layers(network)
    if not layers:
        return None

    def probe(step: int) -> TimeGradients:
        return TimeGradients(step, {layer.name: layer.time_grad_norms for layer in layers
                                    if layer.time_grad_norms is not None})

    return probe


def recurrent_layers(network: Any) -> list[Recurrent]:
    """The network's recurrent layers, in order."""
    return [layer for layer in getattr(network, "layers", ()) if isinstance(layer, Recurrent)]


def time_gradients(network: Any) -> dict[str, np.ndarray]:
    """Layer name → ‖∂L/∂h_t‖ per time step from the network's last backward (empty if none)."""
    return {
        layer.name: layer.time_grad_norms
        for layer in recurrent_layers(network)
        if layer.time_grad_norms is not None
    }


@LOSSES.register("masked_mse")
class MaskedMSE(Loss):
    """MSE over the finite targets only: NaN targets mark padded steps of a sequence (see the
    module docstring). With no NaN target it equals ``mse``."""

    name = "masked_mse"

    def __call__(self, out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        target = np.asarray(target).reshape(out.shape)
        valid = np.isfinite(target)
        count = max(int(valid.sum()), 1)
        d = np.where(valid, out - np.where(valid, target, 0.0), 0.0).astype(out.dtype, copy=False)
        value = float(np.vdot(d, d)) / count
        d *= 2.0 / count
        return value, d
