"""The training loop that the CLI and the GUI both drive.

``Trainer.run()`` is a generator: it yields a ``StepMetrics`` after every optimizer step,
an ``EpochMetrics`` after every epoch and one ``RunFinished`` at the end. Pause, stop and
"apply this setting now" are thread-safe requests read between steps, so a GUI worker
thread can drive the generator while the GUI thread steers it.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data import DataError, Dataset, make_dataset
from engine.events import ActivationSummary, Divergence, EpochMetrics, RunFinished, StepMetrics
from engine.layer_norms import EpochGradients, LayerStats
from engine.live import LIVE_SETTINGS
from engine.losses import LOSSES, Loss
from engine.metrics import accuracy, r2
from engine.network import Network
from engine.npcalls import copyto, vdot
from engine.optimizers import OPTIMIZERS, Optimizer
from engine.regularization import add_l1_l2_grad, clip_grad_norm, clip_grad_value, l1_l2_penalty
from engine.schedules import SCHEDULES, Constant
from engine.shapes import ShapeError, wants_images
from engine.spec import MAX_PARAMETERS, ExperimentSpec, count_parameters
from engine.thinning import ThinnedList

Event = StepMetrics | EpochMetrics | RunFinished


@dataclass
class _Settings:
    """What can change between two steps of a running training."""

    lr: float
    l1: float
    l2: float
    clip_mode: str
    clip_max: float


# Per-layer weight norms and update ratios are measured on every STATS_EVERY-th step of an
# epoch, its first and its last (no view draws them per step; the epoch's mean update ratio
# is the mean over those steps, its weight norms the last step's). Gradient norms, which the
# live plots draw, are measured on every step.
STATS_EVERY = 25
# Training sets up to this size are gathered into the epoch's order once per epoch.
_GATHER_ONCE_BYTES = 32 * 2**20


class Trainer:
    """Trains the network an ``ExperimentSpec`` describes; the same code path for CLI and GUI."""

    def __init__(
        self,
        spec: ExperimentSpec,
        base_dir: Path | None = None,
        dataset: Dataset | None = None,
        confined: bool = False,
    ) -> None:
        self.spec = spec
        self.dtype = np.dtype(spec.training.dtype)
        seeds = np.random.SeedSequence(spec.seed).spawn(3)
        self._data_seed, self._init_seed, self._train_seed = seeds
        self.dataset = dataset or make_dataset(
            spec.data, np.random.default_rng(self._data_seed), base_dir, confined,
            images=wants_images(spec.model),
        )
        self.loss: Loss = LOSSES.get(spec.loss.name)(**spec.loss.options)
        self._x_train = self.dataset.x_train.astype(self.dtype)
        self._x_val = self.dataset.x_val.astype(self.dtype)
        self._y_train = targets_for_loss(self.dataset, self.dataset.y_train, self.loss, self.dtype)
        self._y_val = targets_for_loss(self.dataset, self.dataset.y_val, self.loss, self.dtype)
        n_targets = self._y_train.shape[1] if self._y_train.ndim == 2 else 1
        self.n_outputs = self.loss.n_outputs(self.dataset.n_classes, n_targets)
        n_inputs = int(np.prod(self.dataset.input_shape))
        try:  # layers that do not fit the data's shape are refused here, naming the layer
            n_parameters = count_parameters(spec.model, self.dataset.input_shape, self.n_outputs)
        except ShapeError as exc:
            raise DataError(str(exc), [str(exc)]) from None
        if n_parameters > MAX_PARAMETERS:  # checked from the data's real width, before allocating
            raise DataError(
                f"with {n_inputs:,} inputs from {self.dataset.name} and {self.n_outputs:,} outputs the "
                f"network would hold {n_parameters:,} parameters; at most {MAX_PARAMETERS:,} are allowed",
                [f"the network would hold {n_parameters:,} parameters (limit {MAX_PARAMETERS:,})"],
            )
        self._lock = threading.Lock()
        # NumPy's error state for training steps and the epoch's end: overflow is detected
        # explicitly (see _run_epoch). One context for the run, entered by one step at a time.
        self._quiet = contextvars.Context()
        self._quiet.run(np.seterr, over="ignore", invalid="ignore", divide="ignore")
        self._pending: dict[str, float | str] = {}
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self.reset()

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        """Fresh weights and optimizer state from the seed: the same seed gives the same run."""
        spec = self.spec
        self.network = Network.from_spec(
            spec.model,
            self.dataset.input_shape,
            self.n_outputs,
            np.random.default_rng(self._init_seed),
            dtype=self.dtype,
        )
        self.optimizer: Optimizer = OPTIMIZERS.get(spec.optimizer.name)(
            self.network.params, lr=spec.optimizer.lr, **spec.optimizer.options
        )
        self.schedule = SCHEDULES.get(spec.schedule.name)(**_schedule_options(spec))
        self.settings = _Settings(
            lr=spec.optimizer.lr,
            l1=spec.regularization.l1,
            l2=spec.regularization.l2,
            clip_mode=spec.clipping.mode,
            clip_max=spec.clipping.max,
        )
        self._rng = np.random.default_rng(self._train_seed)
        self._stats = LayerStats(self.network)
        self._prev_params = np.empty_like(self.network.params)
        # The outputs of an epoch's training steps, row by row in the epoch's order.
        self._train_out = np.empty((len(self._x_train), *self.network.output_shape), self.dtype)
        # Small training sets: the epoch's shuffled copy and its batches (see _batches).
        self._epoch_batches: tuple[np.ndarray, np.ndarray, list] | None = None
        # Weight norms and update ratios of the last sampled step (see STATS_EVERY).
        self._last_weight_norms: dict[str, float] = {}
        self._last_ratios: dict[str, float] = {}
        self.epoch = 0
        self.step = 0
        self.seconds = 0.0
        self._start: float | None = None
        # Every epoch of a normal run; evenly thinned past EPOCH_CAP so long runs stay bounded.
        self.history: ThinnedList[EpochMetrics] = ThinnedList()
        self.status = "idle"
        self.divergence: Divergence | None = None
        self._best_val = math.inf
        self._since_best = 0

    def initial_network(self) -> Network:
        """A fresh copy of the weights this run started from (the seed's initialisation)."""
        return Network.from_spec(
            self.spec.model,
            self.dataset.input_shape,
            self.n_outputs,
            np.random.default_rng(self._init_seed),
            dtype=self.dtype,
        )

    # ------------------------------------------------------ thread-safe steering
    def request_stop(self) -> None:
        self._stop.set()
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def set_hyperparameters(self, **changes: float | str) -> None:
        """Queue changes (lr, l1, l2, clip_mode, clip_max) applied before the next step."""
        unknown = set(changes) - LIVE_SETTINGS
        if unknown:
            live = sorted(LIVE_SETTINGS)
            raise ValueError(f"cannot change {sorted(unknown)} during training; these can: {live}")
        if "clip_mode" in changes and changes["clip_mode"] not in ("none", "norm", "value"):
            raise ValueError(f"clip_mode must be 'none', 'norm' or 'value', not {changes['clip_mode']!r}")
        for key in ("lr", "l1", "l2", "clip_max"):
            if key in changes:
                value = float(changes[key])
                if not math.isfinite(value) or value < 0 or (key in ("lr", "clip_max") and value == 0):
                    raise ValueError(f"{key} must be a finite number above 0, not {changes[key]!r}")
        with self._lock:
            self._pending.update(changes)

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for key, value in pending.items():
            setattr(self.settings, key, value if key == "clip_mode" else float(value))

    # ------------------------------------------------------------------ running
    def predict(self, x: np.ndarray) -> np.ndarray:
        """What a user reads as the prediction: probabilities or regression outputs."""
        return self.loss.transform(self.network.forward(np.asarray(x, dtype=self.dtype), training=False))

    def evaluate(self, split: str = "val") -> tuple[float, float]:
        """(loss, metric) over a whole split, in eval mode, penalties included in the loss."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._evaluate(split)

    def _evaluate(self, split: str) -> tuple[float, float]:
        """``evaluate`` under the caller's NumPy error state (the epoch's end runs in a quiet one)."""
        ds = self.dataset
        if split == "val":
            x, y, labels = self._x_val, self._y_val, ds.y_val
        else:
            x, y, labels = self._x_train, self._y_train, ds.y_train
        if len(x) == 0:
            return math.nan, math.nan
        out = self.network.forward(x, training=False)
        value, _ = self.loss(out, y)
        value += self._penalty()
        return float(value), self._metric(out, labels)

    @property
    def metric_name(self) -> str:
        return "r2" if self.dataset.task == "regression" else "accuracy"

    def _metric(self, out: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy on classification data whatever the loss; R² on regression data."""
        task = self.dataset.task
        if task == "regression":
            return float(r2(out, labels))
        if task == "binary" and out.shape[-1] == 1:
            # A regression loss on 0/1 targets outputs probabilities-like values, not logits.
            return float(accuracy(out, labels, "binary", from_logits=self.loss.task == "binary"))
        return float(accuracy(out, labels.reshape(-1).astype(np.int64), "multiclass"))

    def _penalty(self) -> float:
        s = self.settings
        if s.l1 == 0.0 and s.l2 == 0.0:
            return 0.0
        return float(l1_l2_penalty(self.network.params, self.network.weight_mask, s.l1, s.l2))

    def run(self, epochs: int | None = None) -> Iterator[Event]:
        """Train ``epochs`` more epochs (default: the spec's), yielding events."""
        epochs = self.spec.training.epochs if epochs is None else epochs
        self._stop.clear()
        self.status = "running"
        start = time.perf_counter() - self.seconds
        self._start = start
        limits = _blas_limits(self.spec.training.blas_threads)
        with limits:
            for _ in range(epochs):
                finished = yield from self._run_epoch(start)
                if finished is not None:
                    yield finished
                    return
            yield self._finished("finished")

    def _finished(self, status: str) -> RunFinished:
        # The clock is read here, when the run ends, so every way of ending records its duration.
        if self._start is not None:
            self.seconds = time.perf_counter() - self._start
        self.status = status
        return RunFinished(status, self.epoch, self.step, self.seconds, self.divergence)

    def _batches(self) -> tuple[Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]], np.ndarray]:
        """This epoch's (x, y, out) minibatches in a fresh random order, and that order.

        ``out`` is the batch's slice of the buffer the training outputs are kept in, for the
        epoch's train metric. LBFGS: one batch of the whole split in its own order."""
        x, y, outs = self._x_train, self._y_train, self._train_out
        n = len(x)
        if self.optimizer.needs_closure:
            return iter([(x, y, outs)]), np.arange(n)
        size = self.spec.training.batch_size
        # One permutation per epoch (what minibatches() draws), cut into batches.
        order = self._rng.permutation(n)  # the draw minibatches() makes
        spans = range(0, n, size)
        if x.nbytes + y.nbytes > _GATHER_ONCE_BYTES:
            return ((x[idx], y[idx], outs[i : i + size])
                    for i, idx in zip(spans, (order[i : i + size] for i in spans), strict=True)), order
        # Small sets: gather the epoch's order once into buffers kept for the run, so every
        # batch is the same slice of them each epoch (built once: slicing 3 arrays per batch
        # was a tenth of a tiny net's epoch), the same rows in the same order as gathering
        # batch by batch.
        if self._epoch_batches is None:
            xs, ys = np.empty_like(x), np.empty_like(y)
            self._epoch_batches = (xs, ys, [(xs[i : i + size], ys[i : i + size], outs[i : i + size])
                                            for i in spans])
        xs, ys, batches = self._epoch_batches
        # mode="clip" never clips a permutation; it spares the copy through a temporary that
        # take makes with out= in its default mode (3× the time on a 10 MB set).
        np.take(x, order, axis=0, out=xs, mode="clip")
        np.take(y, order, axis=0, out=ys, mode="clip")
        return iter(batches), order

    def _run_epoch(self, start: float) -> Iterator[Event]:
        opt = self.optimizer
        epoch = self.epoch + 1
        n = len(self._x_train)
        size = self.spec.training.batch_size
        last = 0 if opt.needs_closure else math.ceil(n / size) - 1
        steps_per_epoch = last + 1
        stats = self._stats
        ratio_sum: dict[str, float] = {}
        n_sampled = 0
        stop, resume = self._stop, self._resume
        stopping, running = stop.is_set, resume.is_set
        weight_norms, ratios = self._last_weight_norms, self._last_ratios
        quiet = self._quiet
        # Local names for what every step uses (a tiny net's step is a few tens of µs).
        step_fn, schedule_lr, settings = self._step, self.schedule.lr, self.settings
        event, epoch0 = StepMetrics.from_sums, self.epoch
        # Small nets keep the epoch's gradients whole, a row per step (one copy each), and
        # their per-layer squared sums are computed for many steps at once when read.
        n_params = self.network.n_parameters
        keep_rows = not opt.needs_closure and EpochGradients.fits(steps_per_epoch, n_params,
                                                                  self.dtype.itemsize)
        source = EpochGradients(steps_per_epoch, n_params, stats.starts, self.dtype) if keep_rows else None
        rows = list(source.block) if source is not None else [None] * steps_per_epoch
        hot = self._hot_step(epoch, source is not None)
        params, prev_params, measure = self.network.params, self._prev_params, self._measure_update(epoch)
        constant_lr = type(self.schedule) is Constant
        lr = opt.lr
        layout = stats.layout
        # Each step's squared sums per parameter and its loss. The per-layer norms are made
        # from them when read (the event's dicts, the window's history in one pass per batch
        # of steps) and for the epoch's mean at its end: a step only appends.
        grad_rows: list[list[float]] = []
        losses: list[float] = []
        add_grads, add_loss = grad_rows.append, losses.append
        batches, order = self._batches()
        for i, (xb, yb, ob) in enumerate(batches):
            if stopping():
                return self._finished("stopped")
            if not running():
                self.status = "paused"
                while not resume.wait(0.05):
                    pass
                if stop.is_set():
                    return self._finished("stopped")
                self.status = "running"
            if self._pending:
                self._apply_pending()
            new_lr = settings.lr if constant_lr else schedule_lr(settings.lr, epoch0 + i / steps_per_epoch)
            if new_lr != lr:
                opt.lr = new_lr
                lr = opt.lr
            self.step += 1

            # Overflow is expected when a run diverges; it is detected explicitly below, so
            # NumPy's warnings are silenced for the step, and never across a yield: NumPy keeps
            # its error state in a context variable, and the step runs in a context of its own
            # (one Context.run per step costs a tenth of entering and leaving np.errstate).
            if i % STATS_EVERY and i != last:
                result = quiet.run(hot, xb, yb, ob, rows[i])
                if type(result) is RunFinished:
                    return result
                grad_sums, grad_norm, loss_value = result
            else:
                if opt.needs_closure:
                    result = quiet.run(step_fn, epoch, xb, yb, ob, True, rows[i])
                    if type(result) is RunFinished:
                        return result
                    grad_sums, grad_norm, loss_value, weight_sums, update_sums = result
                else:  # the same step, between a copy of the weights and the update's measures
                    copyto(prev_params, params)
                    result = quiet.run(hot, xb, yb, ob, rows[i])
                    if type(result) is RunFinished:
                        return result
                    grad_sums, grad_norm, loss_value = result
                    measured = quiet.run(measure)
                    if type(measured) is RunFinished:
                        return measured
                    weight_sums, update_sums = measured
                weight_norms = layout.weight_norms(weight_sums)
                update_norms = layout.weight_norms(update_sums)
                ratios = {k: update_norms[k] / w if w > 0 else 0.0 for k, w in weight_norms.items()}
                _accumulate(ratio_sum, ratios)
                n_sampled += 1
            add_loss(loss_value)
            if source is None:
                add_grads(grad_sums)
            yield event(epoch, self.step, loss_value, lr, grad_norm, layout, grad_sums, source, i,
                        weight_norms, ratios)
        n_steps = len(losses)
        self._last_weight_norms, self._last_ratios = weight_norms, ratios

        self.epoch = epoch
        if source is not None and n_steps:
            grad_sum = layout.weight_norm_sums_of(quiet.run(source.sums_upto, n_steps - 1, True)[:n_steps])
        else:
            grad_sum = layout.weight_norm_sums(grad_rows)
        train = None if opt.needs_closure or not n_steps else (_row_weighted_mean(losses, size, n), order)
        metrics = quiet.run(self._epoch_metrics, start, grad_sum, n_steps, ratio_sum, n_sampled,
                            weight_norms, train)
        self.history.append(metrics.epoch, metrics)
        yield metrics
        if not math.isfinite(metrics.train_loss):
            self.divergence = Divergence(epoch, self.step, "loss", None)
            return self._finished("diverged")
        return self._early_stop(metrics.val_loss)

    def _hot_step(self, epoch: int, keep_rows: bool) -> Callable[..., RunFinished | tuple]:
        """``_step(epoch, xb, yb, ob, False, row)`` for minibatch optimizers, as a closure over
        everything it uses: the step most steps take, with the fewest Python look-ups.

        ``keep_rows``: the gradient is copied into the step's ``row`` of the epoch's gradients
        (small nets, see EpochGradients) and the global norm is one ``vdot``; otherwise the
        step measures each parameter's squared sum and the norm is the root of their sum."""
        net, opt, loss_fn, settings = self.network, self.optimizer, self.loss, self.settings
        forward, backward, opt_step, grads = net.forward, net.backward, opt.step, net.grads
        squared_sums, sqrt, isfinite = self._stats.squared_sums, math.sqrt, math.isfinite

        def step(xb: np.ndarray, yb: np.ndarray, ob: np.ndarray, row: np.ndarray | None
                 ) -> RunFinished | tuple:
            out = forward(xb, True)
            copyto(ob, out)
            loss_value, grad_out = loss_fn(out, yb)
            backward(grad_out, False)
            loss_value = float(loss_value)
            if settings.l1 or settings.l2:
                loss_value += self._regularize()
            if keep_rows:
                copyto(row, grads)
                grad_sums = None
                grad_norm = sqrt(float(vdot(grads, grads)))
            else:
                grad_sums = squared_sums(grads)
                grad_norm = sqrt(sum(grad_sums))
            if not (isfinite(loss_value) and isfinite(grad_norm)):
                return self._diverged(epoch, loss_value, grad_sums)
            if settings.clip_mode != "none":
                self._clip(grad_norm)
            opt_step(grads)
            return grad_sums, grad_norm, loss_value

        return step

    def _measure_update(self, epoch: int) -> Callable[[], RunFinished | tuple[list[float], list[float]]]:
        """After a sampled minibatch step whose weights were copied to ``_prev_params`` before
        it: the squared sums of the weights and of the update, or how the weights diverged."""
        params, prev, squared_sums = self.network.params, self._prev_params, self._stats.squared_sums

        def measure() -> RunFinished | tuple[list[float], list[float]]:
            np.subtract(params, prev, out=prev)
            update_sums = squared_sums(prev)
            weight_sums = squared_sums(params)
            if not math.isfinite(sum(weight_sums)):
                self.divergence = Divergence(epoch, self.step, "weights", self._first_bad_layer(weight_sums))
                return self._finished("diverged")
            return weight_sums, update_sums

        return measure

    def _step(
        self, epoch: int, xb: np.ndarray, yb: np.ndarray, ob: np.ndarray, sample: bool,
        row: np.ndarray | None = None,
    ) -> RunFinished | tuple:
        """One optimizer step; the squared norms it measured, or how it diverged.

        The weights' and the update's norms only on sampled steps (None otherwise). A
        minibatch step keeps its outputs in ``ob`` (for the epoch's train metric)."""
        net, opt, stats = self.network, self.optimizer, self._stats
        if opt.needs_closure:
            loss_value = self._full_batch_step(xb, yb)
            grad_sums = stats.squared_sums(net.grads)
            grad_norm = math.sqrt(sum(grad_sums))
            if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
                return self._diverged(epoch, loss_value, grad_sums)
        else:
            ob[...] = out = net.forward(xb, training=True)
            loss_value, grad_out = self.loss(out, yb)
            net.backward(grad_out, input_grad=False)
            loss_value = float(loss_value) + self._regularize()
            if row is not None:  # as _hot_step does with keep_rows
                copyto(row, net.grads)
                grad_sums = None
                grad_norm = math.sqrt(float(vdot(net.grads, net.grads)))
            else:
                grad_sums = stats.squared_sums(net.grads)
                grad_norm = math.sqrt(sum(grad_sums))
            if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
                return self._diverged(epoch, loss_value, grad_sums)
            if self.settings.clip_mode != "none":
                self._clip(grad_norm)
            if sample:
                np.copyto(self._prev_params, net.params)
            opt.step(net.grads)
            if not sample:
                return grad_sums, grad_norm, loss_value, None, None

        np.subtract(net.params, self._prev_params, out=self._prev_params)
        update_sums = stats.squared_sums(self._prev_params)
        weight_sums = stats.squared_sums(net.params)
        if not math.isfinite(sum(weight_sums)):
            self.divergence = Divergence(epoch, self.step, "weights", self._first_bad_layer(weight_sums))
            return self._finished("diverged")
        return grad_sums, grad_norm, loss_value, weight_sums, update_sums

    def _full_batch_step(self, x: np.ndarray, y: np.ndarray) -> float:
        net = self.network

        def closure() -> tuple[float, np.ndarray]:
            out = net.forward(x, training=True)
            value, grad_out = self.loss(out, y)
            net.backward(grad_out, input_grad=False)
            return float(value) + self._regularize(), net.grads

        loss_value, _ = closure()
        np.copyto(self._prev_params, net.params)
        # A long optimizer step (L-BFGS: up to max_iter iterations) checks for a stop between
        # its iterations, so Ctrl-C or closing the app never waits for the whole step.
        self.optimizer.step(net.grads, closure, should_stop=self._stop.is_set)
        return loss_value

    def _regularize(self) -> float:
        s = self.settings
        if s.l1 == 0.0 and s.l2 == 0.0:
            return 0.0
        net = self.network
        add_l1_l2_grad(net.params, net.grads, net.weight_mask, s.l1, s.l2)
        return float(l1_l2_penalty(net.params, net.weight_mask, s.l1, s.l2))

    def _clip(self, grad_norm: float) -> None:
        s = self.settings
        if s.clip_mode == "norm":
            clip_grad_norm(self.network.grads, s.clip_max)
        elif s.clip_mode == "value":
            clip_grad_value(self.network.grads, s.clip_max)

    def _diverged(self, epoch: int, loss_value: float, grad_sums: list[float] | None) -> RunFinished:
        if grad_sums is None:
            grad_sums = self._stats.squared_sums(self.network.grads)
        layer = self._first_bad_activation()
        if layer is not None:
            quantity = "activations"
        elif not math.isfinite(loss_value):
            quantity = "loss"
        else:
            quantity, layer = "gradient", self._first_bad_layer(grad_sums)
        self.divergence = Divergence(epoch, self.step, quantity, layer)
        return self._finished("diverged")

    def _first_bad_activation(self) -> str | None:
        for layer in self.network.flat_layers:  # residual blocks: their inner layers
            out = getattr(layer, "a", None)
            if isinstance(out, np.ndarray) and not np.isfinite(out).all():
                return layer.name
        return None

    def _first_bad_layer(self, sums: list[float]) -> str | None:
        norms = self._stats.layout.weight_norms(sums)
        biases = self._stats.layout.bias_norms(sums)
        for layer in self._stats.layers:
            if not (math.isfinite(norms[layer]) and math.isfinite(biases[layer])):
                return layer
        return None

    def _epoch_metrics(
        self,
        start: float,
        grad_sum: dict[str, float],
        n_steps: int,
        ratio_sum: dict[str, float],
        n_sampled: int,
        weight_norms: dict[str, float],
        train: tuple[float, np.ndarray] | None,
    ) -> EpochMetrics:
        # The validation split is measured after the epoch, in eval mode, in full. The train
        # loss and metric are those of the epoch's own steps (``train``: the row-weighted mean
        # loss and the epoch's order of rows, whose outputs _train_out holds), as Keras and
        # Lightning report them: a second pass over the training split cost a third of the
        # epoch. L-BFGS (one full-batch step per epoch) measures the split after its step.
        # Runs in the epoch's quiet NumPy error state (see _run_epoch).
        val_loss, val_metric = self._evaluate("val")
        if train is None:
            train_loss, train_metric = self._evaluate("train")
        else:
            train_loss, order = train
            train_metric = self._metric(self._train_out, self.dataset.y_train[order])
            if len(self._x_val) == 0:  # the activation statistics below need an eval forward
                self.network.forward(self._x_train, training=False)
        activations = {
            name: ActivationSummary(s.mean, s.std, s.dead_fraction, s.saturated_fraction)
            for name, s in self.network.activation_stats().items()
        }
        return EpochMetrics(
            epoch=self.epoch,
            step=self.step,
            train_loss=train_loss,
            val_loss=val_loss,
            train_metric=train_metric,
            val_metric=val_metric,
            metric_name=self.metric_name,
            lr=self.optimizer.lr,
            seconds=time.perf_counter() - start,
            layer_grad_norms={k: v / max(n_steps, 1) for k, v in grad_sum.items()},
            layer_weight_norms=weight_norms,
            layer_update_ratios={k: v / max(n_sampled, 1) for k, v in ratio_sum.items()},
            activations=activations,
            skip_shares=self.network.skip_shares(),  # residual blocks only; {} without
        )

    def _early_stop(self, val_loss: float) -> RunFinished | None:
        patience = self.spec.training.early_stopping_patience
        if patience is None or not math.isfinite(val_loss):
            return None
        if val_loss < self._best_val:
            self._best_val, self._since_best = val_loss, 0
            return None
        self._since_best += 1
        return self._finished("early_stopped") if self._since_best >= patience else None


def _row_weighted_mean(losses: list[float], size: int, n: int) -> float:
    """The mean over ``n`` rows of minibatch losses (each a mean over its batch): every batch
    has ``size`` rows but the last, which has the rest."""
    last_rows = n - size * (len(losses) - 1)
    return (sum(losses[:-1]) * size + losses[-1] * last_rows) / n


def _accumulate(total: dict[str, float], values: dict[str, float]) -> None:
    for k, v in values.items():
        total[k] = total.get(k, 0.0) + v


def targets_for_loss(dataset: Dataset, y: np.ndarray, loss: Loss, dtype: np.dtype) -> np.ndarray:
    """The dataset's targets in the form the loss needs.

    Softmax cross-entropy on a binary set trains two outputs on integer labels; a regression
    loss on a multi-class set trains one-hot targets. Binary cross-entropy needs one 0/1 target.
    """
    if loss.task == "multiclass":
        if dataset.task == "regression":
            raise ValueError(f"{loss.name} needs class labels, but '{dataset.name}' is a regression set")
        return y.reshape(-1).astype(np.int64)
    if loss.task == "binary" and dataset.task != "binary":
        raise ValueError(
            f"{loss.name} needs a two-class set, but '{dataset.name}' is {dataset.task}; "
            "use softmax_cross_entropy for several classes or a regression loss"
        )
    if dataset.task == "multiclass":
        return np.eye(dataset.n_classes, dtype=dtype)[y.reshape(-1)]
    return y.astype(dtype)


def _schedule_options(spec: ExperimentSpec) -> dict:
    options = dict(spec.schedule.options)
    if spec.schedule.name == "cosine":
        options.setdefault("t_max", spec.training.epochs)
    return options


def _blas_limits(threads: int) -> contextlib.AbstractContextManager:
    """One BLAS thread by default: on 2 cores a second one slows an MLP step and starves the GUI."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")
