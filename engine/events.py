"""What the trainer reports. Plain, immutable copies: safe to hand to another thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.layer_norms import step_sums

if TYPE_CHECKING:
    from engine.layer_norms import EpochGradients, NormLayout

_set_attribute = object.__setattr__  # what a frozen dataclass's own __init__ uses


@dataclass(frozen=True)
class StepMetrics:
    """One optimizer step. Per-layer dicts are keyed by layer name ('dense1', …, 'output')."""

    epoch: int  # 1-based epoch this step belongs to
    step: int  # 1-based global step count
    loss: float  # training loss of the minibatch, penalties included
    lr: float
    grad_norm: float  # global L2 norm of the gradient before clipping
    layer_grad_norms: dict[str, float]  # L2 norm of each layer's weight gradient
    layer_bias_grad_norms: dict[str, float]
    layer_weight_norms: dict[str, float]
    layer_update_ratios: dict[str, float]  # ||ΔW|| / ||W|| of this step
    # The Trainer refreshes layer_weight_norms and layer_update_ratios every few steps
    # (engine.trainer.STATS_EVERY); between those steps they repeat the last values.

    @classmethod
    def unchecked(
        cls,
        epoch: int,
        step: int,
        loss: float,
        lr: float,
        grad_norm: float,
        layer_grad_norms: dict[str, float],
        layer_bias_grad_norms: dict[str, float],
        layer_weight_norms: dict[str, float],
        layer_update_ratios: dict[str, float],
    ) -> StepMetrics:
        """The same object as ``StepMetrics(...)``, without the frozen dataclass's per-field
        ``object.__setattr__`` (the trainer makes one per step: a tenth of a tiny net's step)."""
        m = object.__new__(cls)
        # A whole new __dict__ in one go: a quarter cheaper than updating the empty one.
        _set_attribute(m, "__dict__", {
            "epoch": epoch,
            "step": step,
            "loss": loss,
            "lr": lr,
            "grad_norm": grad_norm,
            "layer_grad_norms": layer_grad_norms,
            "layer_bias_grad_norms": layer_bias_grad_norms,
            "layer_weight_norms": layer_weight_norms,
            "layer_update_ratios": layer_update_ratios,
        })
        return m

    @classmethod
    def from_sums(
        cls,
        epoch: int,
        step: int,
        loss: float,
        lr: float,
        grad_norm: float,
        layout: NormLayout,
        grad_sums: list[float] | None,
        source: EpochGradients | None,
        index: int,
        layer_weight_norms: dict[str, float],
        layer_update_ratios: dict[str, float],
    ) -> StepMetrics:
        """A step whose per-layer gradient norms are made when first read, from ``grad_sums``
        (the squared sum of each parameter slice, in ``layout``'s order) or else from row
        ``index`` of ``source`` (the epoch's gradients): the Trainer makes one event per step,
        and the window's history reads a batch of them in one vectorised pass
        (``engine.layer_norms.norm_table``). Equal to the event with the dicts filled in."""
        m = object.__new__(cls)
        _set_attribute(m, "__dict__", {
            "epoch": epoch,
            "step": step,
            "loss": loss,
            "lr": lr,
            "grad_norm": grad_norm,
            "layer_weight_norms": layer_weight_norms,
            "layer_update_ratios": layer_update_ratios,
            "_layout": layout,
            "_grad_sums": grad_sums,
            "_grad_src": source,
            "_i": index,
        })
        return m

    def __getattr__(self, name: str) -> dict[str, float]:
        # Only reached for attributes not yet in __dict__: the two lazy dicts of from_sums.
        if name in ("layer_grad_norms", "layer_bias_grad_norms"):
            d = self.__dict__
            if "_layout" in d:
                # Two threads may both get here: they compute the same values.
                d["layer_grad_norms"], d["layer_bias_grad_norms"] = d["_layout"].norms(step_sums(self))
                return d[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


@dataclass(frozen=True)
class ActivationSummary:
    mean: float
    std: float
    dead_fraction: float
    saturated_fraction: float


@dataclass(frozen=True)
class EpochMetrics:
    """End of an epoch. Validation: the weights after the epoch over the whole split, in eval
    mode. Train: the epoch's own steps (the mean of their minibatch losses weighted by their
    rows; the metric of the outputs those steps computed), except full-batch L-BFGS, whose one
    step is measured like validation."""

    epoch: int
    step: int
    train_loss: float
    val_loss: float
    train_metric: float  # accuracy for classification, R² for regression
    val_metric: float
    metric_name: str  # 'accuracy' | 'r2'
    lr: float
    seconds: float  # wall time since the run started
    layer_grad_norms: dict[str, float]  # mean over the epoch's steps
    layer_weight_norms: dict[str, float]
    layer_update_ratios: dict[str, float]
    # Over the validation split after the epoch (the training split when there is none).
    activations: dict[str, ActivationSummary] = field(default_factory=dict)
    # Per residual block (res1, …): mean over the epoch's steps of the share of d loss / d x
    # that came through the skip path (engine/residual.py defines it).
    skip_shares: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Divergence:
    """Where values first went non-finite."""

    epoch: int
    step: int
    quantity: str  # 'loss' | 'gradient' | 'weights' | 'activations'
    layer: str | None

    def message(self) -> str:
        where = f" in layer '{self.layer}'" if self.layer else ""
        return (
            f"Training diverged at step {self.step} (epoch {self.epoch}): the {self.quantity}{where} "
            "became NaN or infinite. Try a smaller learning rate, gradient clipping, or a smaller "
            "weight initialization."
        )


@dataclass(frozen=True)
class RunFinished:
    """The last event of every run."""

    status: str  # 'finished' | 'stopped' | 'diverged' | 'early_stopped'
    epoch: int
    step: int
    seconds: float
    divergence: Divergence | None = None
