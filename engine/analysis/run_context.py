"""What a diagnosis needs to know about a run besides its history: the settings in use (so a
remedy never suggests what is already there) and the chance-level loss (so a loss that does no
better than guessing is recognised).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.spec import named_layer_specs

RECTIFIERS = frozenset({"relu"})  # units that output exactly 0 below the kink: they can die
LEAKY = frozenset({"leaky_relu", "elu"})  # a small slope below the kink: stuck, not dead
RELU_FAMILY = RECTIFIERS | LEAKY | {"gelu", "silu", "softplus"}
SQUASHING = frozenset({"sigmoid", "tanh"})


@dataclass(frozen=True)
class RunContext:
    """The run's settings, as plain values. Every field has a neutral default: a history without
    a context is diagnosed as before, only with generic remedies."""

    activations: dict[str, str] = field(default_factory=dict)  # hidden Dense layer -> activation name
    weight_inits: dict[str, str] = field(default_factory=dict)
    bias_inits: dict[str, tuple[str, float]] = field(default_factory=dict)  # name, constant value
    optimizer: str = ""
    schedule: str = "constant"
    clipping: str = "none"
    batchnorm: bool = False
    residual: bool = False  # the model has residual blocks
    standardized: bool = False  # the data's inputs are standardized
    chance_loss: float = math.nan  # loss of the best constant prediction on the training split
    data_warnings: tuple = ()  # engine.data.table_checks.DataWarning found when the data was read

    def activation(self, layer: str) -> str:
        return self.activations.get(layer, "")

    @classmethod
    def from_trainer(cls, trainer: Any) -> RunContext:
        spec = trainer.spec
        activations: dict[str, str] = {}
        inits: dict[str, str] = {}
        biases: dict[str, tuple[str, float]] = {}
        for _path, name, layer in named_layer_specs(spec.model.layers):
            if layer.type != "dense":
                continue
            activations[name] = layer.activation
            inits[name] = layer.weight_init
            biases[name] = (layer.bias_init, float(layer.bias_init_options.get("value", 0.0)))
        return cls(
            activations=activations,
            weight_inits=inits,
            bias_inits=biases,
            optimizer=spec.optimizer.name,
            schedule=spec.schedule.name,
            clipping=spec.clipping.mode,
            batchnorm=any(s.type == "batchnorm" for _at, _name, s in named_layer_specs(spec.model.layers)),
            residual=any(s.type == "residual" for s in spec.model.layers),
            standardized=bool(spec.data.standardize),
            chance_loss=chance_loss(trainer),
            data_warnings=tuple(getattr(trainer.dataset, "warnings", ())),
        )


def chance_loss(trainer: Any) -> float:
    """The training loss of the best prediction that ignores the input: the class frequencies for
    the cross-entropies (their entropy), the mean target for regression losses. NaN if unknown."""
    from engine.trainer import targets_for_loss

    ds, loss = trainer.dataset, trainer.loss
    try:
        y = targets_for_loss(ds, ds.y_train, loss, np.dtype(np.float64))
    except ValueError:
        return math.nan
    with np.errstate(divide="ignore"):
        if loss.task == "multiclass":
            prior = np.bincount(y, minlength=trainer.n_outputs) / len(y)
            out = np.broadcast_to(np.log(np.maximum(prior, 1e-12)), (len(y), trainer.n_outputs))
        elif loss.task == "binary":
            p = float(np.clip(np.mean(y), 1e-12, 1 - 1e-12))
            out = np.full((len(y), 1), math.log(p / (1 - p)))
        else:
            out = np.broadcast_to(np.mean(y, axis=0), y.shape)
        return float(loss(np.ascontiguousarray(out), y)[0])
