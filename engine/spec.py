"""The plain, versioned description of an experiment.

These frozen pydantic models are the single source of truth: the loader validates files
with them, the JSON Schema in ``resources/`` is generated from them, the engine builds
networks from them and the GUI edits copies of them. Names of activations, losses,
optimizers, … are validated against the engine's registries by ``engine.validation``
(kept apart so this module imports no NumPy code).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT = "gradient-workbench/experiment"
VERSION = 2

# Sizes beyond these are rejected before anything is allocated.
MAX_UNITS = 4096
MAX_LAYERS = 64
MAX_SAMPLES = 200_000
MAX_EPOCHS = 100_000
MAX_BATCH = 100_000
# Parameters of a whole network, input and output layers included: a file or a wide CSV must
# never make the app allocate gigabytes (20 M float64 weights, their gradients and optimizer
# state are already about 0.6 GB).
MAX_PARAMETERS = 20_000_000

Scalar = float | int | bool
Options = dict[str, Scalar | list[float]]

FEATURES = ("x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2")


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DataSpec(Spec):
    """Where the data comes from and how it is split."""

    source: str = Field("spiral_multi", description="Dataset name: a synthetic set, 'digits' or 'csv'.")
    n_samples: int = Field(500, ge=10, le=MAX_SAMPLES, description="Samples of a synthetic set.")
    noise: float = Field(0.0, ge=0.0, le=0.5, description="Label/position noise, 0 to 0.5.")
    n_classes: int = Field(3, ge=2, le=10, description="Classes of multi-class synthetic sets.")
    features: tuple[Literal[FEATURES], ...] = Field(  # type: ignore[valid-type]
        ("x1", "x2"), min_length=1, max_length=len(FEATURES), description="Inputs derived from 2-D points."
    )
    train_fraction: float = Field(0.8, gt=0.0, lt=1.0)
    path: str | None = Field(None, description="CSV file, relative to the experiment file.")
    target: str | None = Field(None, description="CSV target column name (default: last).")
    task: Literal["auto", "classification", "regression"] = "auto"
    standardize: bool = True


class DenseSpec(Spec):
    type: Literal["dense"] = "dense"
    units: int = Field(8, ge=1, le=MAX_UNITS)
    activation: str = "relu"
    activation_options: Options = Field(default_factory=dict)
    weight_init: str = "he_uniform"
    weight_init_options: Options = Field(default_factory=dict)
    bias_init: str = "zeros"
    bias_init_options: Options = Field(default_factory=dict)


class DropoutSpec(Spec):
    type: Literal["dropout"] = "dropout"
    rate: float = Field(0.2, ge=0.0, lt=1.0)


class BatchNormSpec(Spec):
    type: Literal["batchnorm"] = "batchnorm"
    momentum: float = Field(0.1, gt=0.0, le=1.0)
    eps: float = Field(1e-5, gt=0.0, le=1.0)


LayerSpec = Annotated[DenseSpec | DropoutSpec | BatchNormSpec, Field(discriminator="type")]


class ModelSpec(Spec):
    """Hidden layers in order; the output layer's size follows from the data and the loss."""

    layers: tuple[LayerSpec, ...] = Field(
        (DenseSpec(units=16, activation="tanh"), DenseSpec(units=16, activation="tanh")),
        max_length=MAX_LAYERS,
    )
    output_activation: str = "identity"
    output_init: str = "glorot_uniform"


class NamedSpec(Spec):
    """A registry choice with its options: ``{"name": "adam", "beta1": 0.9}``."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    name: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class LossSpec(NamedSpec):
    name: str = "softmax_cross_entropy"


class OptimizerSpec(NamedSpec):
    name: str = "adam"
    lr: float = Field(0.01, gt=0.0, le=100.0)


class ScheduleSpec(NamedSpec):
    name: str = "constant"


class RegularizationSpec(Spec):
    l1: float = Field(0.0, ge=0.0, le=100.0)
    l2: float = Field(0.0, ge=0.0, le=100.0)


class ClippingSpec(Spec):
    mode: Literal["none", "norm", "value"] = "none"
    max: float = Field(1.0, gt=0.0, le=1e6, description="Max global norm, or max |g| per entry.")


class TrainingSpec(Spec):
    epochs: int = Field(100, ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(32, ge=1, le=MAX_BATCH)
    early_stopping_patience: int | None = Field(None, ge=1, description="Epochs without val-loss gain.")
    dtype: Literal["float32", "float64"] = "float32"
    blas_threads: int = Field(1, ge=1, le=64)


class VariantSpec(Spec):
    """A named set of overrides of the base, by dotted path: ``{"optimizer.lr": 0.1}``."""

    name: str = Field(min_length=1, max_length=80)
    overrides: dict[str, Any] = Field(default_factory=dict)


class RacerSpec(Spec):
    """One optimizer in a race: a name from the optimizer registry, its lr and options."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    name: str = "sgd"
    lr: float = Field(0.01, gt=0.0, le=100.0)
    label: str = Field("", max_length=80)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RaceSpec(Spec):
    """An optimizer race on a 2-D surface (Analyze ▸ Optimizer Race); optional, omitted when unset."""

    surface: str = Field("rosenbrock", description="A surface name, or 'formula' for the formula below.")
    formula: str = Field("", max_length=200, description="f(x, y) when surface is 'formula'.")
    start: tuple[float, float] = Field((-1.5, 2.0), description="Start point (x, y) of every racer.")
    steps: int = Field(500, ge=1, le=20_000)
    tolerance: float = Field(0.05, gt=0.0, le=100.0,
                             description="Distance to a minimum that counts as reached.")
    noise: float = Field(0.5, ge=0.0, le=100.0, description="Gradient noise of the noisy bowl.")
    racers: tuple[RacerSpec, ...] = Field((RacerSpec(),), min_length=1, max_length=12)


# Optional sections written to a file only when set (an unset one would add "key": null to
# every file, and old files would no longer be in canonical form).
OMIT_WHEN_NONE: tuple[str, ...] = ("race",)


class ExperimentSpec(Spec):
    format: Literal["gradient-workbench/experiment"] = FORMAT
    version: Literal[2] = VERSION
    name: str = Field("Untitled experiment", max_length=200)
    description: str = Field("", max_length=20_000)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    data: DataSpec = Field(default_factory=DataSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    loss: LossSpec = Field(default_factory=LossSpec)
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    regularization: RegularizationSpec = Field(default_factory=RegularizationSpec)
    clipping: ClippingSpec = Field(default_factory=ClippingSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    variants: tuple[VariantSpec, ...] = Field((), max_length=64)
    race: RaceSpec | None = Field(None, description="An optimizer race (optional).")

    def with_overrides(self, overrides: dict[str, Any]) -> ExperimentSpec:
        """A copy with dotted-path overrides applied and validated again."""
        data = self.model_dump(mode="json")
        for dotted, value in overrides.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node[int(key)] if isinstance(node, list) else node[key]
            if isinstance(node, list):
                node[int(leaf)] = value
            else:
                node[leaf] = value
        data["variants"] = []
        return ExperimentSpec.model_validate(data)

    def variant(self, name: str) -> ExperimentSpec:
        for v in self.variants:
            if v.name == name:
                return self.with_overrides(v.overrides).model_copy(update={"name": f"{self.name} [{name}]"})
        raise KeyError(name)


def count_parameters(model: ModelSpec, n_inputs: int, n_outputs: int) -> int:
    """Trainable parameters of the network ``model`` builds for this many inputs and outputs.

    Pure arithmetic, so a size can be refused before any array is allocated.
    """
    total, width = 0, n_inputs
    for layer in model.layers:
        if isinstance(layer, DenseSpec):
            total += width * layer.units + layer.units
            width = layer.units
        elif isinstance(layer, BatchNormSpec):
            total += 2 * width
    return total + width * n_outputs + n_outputs
