"""The plain, versioned description of an experiment.

These frozen pydantic models are the single source of truth: the loader validates files
with them, the JSON Schema in ``resources/`` is generated from them, the engine builds
networks from them and the GUI edits copies of them. Names of activations, losses,
optimizers, … are validated against the engine's registries by ``engine.validation``
(kept apart so this module imports no NumPy code).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

FORMAT = "gradient-workbench/experiment"
VERSION = 2

# Sizes beyond these are rejected before anything is allocated.
MAX_UNITS = 4096
MAX_LAYERS = 64  # hidden layers of a model, the inner layers of residual blocks included
MAX_RESIDUAL_DEPTH = 3  # residual blocks inside residual blocks, at most this deep
MAX_SAMPLES = 200_000
MAX_EPOCHS = 100_000
MAX_BATCH = 100_000
# Parameters of a whole network, input and output layers included: a file or a wide CSV must
# never make the app allocate gigabytes (20 M float64 weights, their gradients and optimizer
# state are already about 0.6 GB).
MAX_PARAMETERS = 20_000_000
MIN_IMAGE_SIZE = 8
MAX_IMAGE_SIZE = 64
MAX_FILTERS = 512
MAX_KERNEL = 15
MAX_STRIDE = 8
MAX_PADDING = 16
MAX_SEQUENCE_LENGTH = 1000

Scalar = float | int | bool
Options = dict[str, Scalar | list[float]]

FEATURES = ("x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2")


# Automatic layer names are prefix + count (conv1, res1, dense1), as engine.network names them.
NAME_PREFIX = {"conv2d": "conv", "maxpool2d": "maxpool", "avgpool2d": "avgpool", "residual": "res"}


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TableSpec(Spec):
    """How a CSV table is read and encoded (``data.table``); absent, a CSV is read as before:
    every column but the target a number, nothing excluded, nothing imputed."""

    skip_rows: int = Field(0, ge=0, le=1000, description="Lines to skip before the header or data.")
    header: Literal["auto", "present", "absent"] = Field(
        "auto", description="auto: a first row with a text cell over numbers below it is a header; a "
                            "count header ('150,4,setosa,...') is recognised and skipped.")
    separator: Literal["auto", ",", ";", "\t", "|"] = "auto"
    decimal: Literal[".", ","] = Field(".", description="Decimal mark of numbers ('3,5' with ',').")
    ignore: tuple[str, ...] = Field((), max_length=10_000, description="Columns left out.")
    categorical: tuple[str, ...] = Field(
        (), max_length=10_000, description="Columns one-hot encoded (text columns are without being listed).")
    numeric: tuple[str, ...] = Field(
        (), max_length=10_000, description="Columns used as numbers although they look like identifiers.")
    max_categories: int = Field(20, ge=2, le=1000, description="Most categories a column may one-hot into.")
    missing: Literal["error", "drop_rows", "mean", "median", "most_frequent"] = Field(
        "error", description="Empty or NA cells: refuse, drop their rows, or impute from the training split "
                             "(categories always take their most frequent value).")
    missing_indicator: bool = Field(False, description="Add a 0/1 'is missing' input per column with gaps.")
    exclude_detected: bool = Field(
        True, description="Leave out identifier-like, constant and mostly-empty columns (a warning says so).")
    stratify: bool = Field(True, description="Keep class proportions in the split (classification).")


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
    # Image and sequence options are left out of a file while at their defaults: files without
    # image or sequence data read and write exactly as before they existed.
    image_size: int = Field(
        16, ge=MIN_IMAGE_SIZE, le=MAX_IMAGE_SIZE,
        description="Height and width of generated 'shapes' images and of imported image folders.",
        exclude_if=lambda v: v == 16,
    )
    channels: Literal[1, 3] = Field(1, description="Image folders: 1 reads grey, 3 reads RGB.",
                                    exclude_if=lambda v: v == 1)
    sequence_length: int = Field(
        50, ge=2, le=MAX_SEQUENCE_LENGTH, description="Time steps of a sequence source (or CSV window).",
        exclude_if=lambda v: v == 50,
    )
    sequence_id: str | None = Field(
        None, description="Sequence CSV: the column naming each row's sequence (else a sliding window).",
        exclude_if=lambda v: v is None,
    )
    # Files without table options are written as before, byte for byte.
    table: TableSpec | None = Field(None, description="CSV reading options (see TableSpec).",
                                    exclude_if=lambda v: v is None)


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


class Conv2dSpec(Spec):
    """A 2-D convolution over (channels, height, width) inputs; see engine/conv.py."""

    type: Literal["conv2d"] = "conv2d"
    filters: int = Field(8, ge=1, le=MAX_FILTERS)
    kernel_size: int = Field(3, ge=1, le=MAX_KERNEL)
    stride: int = Field(1, ge=1, le=MAX_STRIDE)
    padding: Literal["valid", "same"] | Annotated[int, Field(ge=0, le=MAX_PADDING)] = Field(
        "valid", description="'valid' (none), 'same' (output size = input size / stride) or pixels per side."
    )
    activation: str = "relu"
    activation_options: Options = Field(default_factory=dict)
    weight_init: str = "he_uniform"
    weight_init_options: Options = Field(default_factory=dict)
    bias_init: str = "zeros"
    bias_init_options: Options = Field(default_factory=dict)


class MaxPool2dSpec(Spec):
    type: Literal["maxpool2d"] = "maxpool2d"
    pool_size: int = Field(2, ge=1, le=MAX_KERNEL)
    stride: int | None = Field(None, ge=1, le=MAX_STRIDE, description="Default: the pool size.")


class AvgPool2dSpec(Spec):
    type: Literal["avgpool2d"] = "avgpool2d"
    pool_size: int = Field(2, ge=1, le=MAX_KERNEL)
    stride: int | None = Field(None, ge=1, le=MAX_STRIDE, description="Default: the pool size.")


class GlobalAvgPoolSpec(Spec):
    type: Literal["global_avgpool"] = "global_avgpool"


class FlattenSpec(Spec):
    type: Literal["flatten"] = "flatten"


class ResidualSpec(Spec):
    """x + f(x) over the inner layers f (a bias-free linear projection of x when f changes the
    width). Blocks may hold blocks, at most ``MAX_RESIDUAL_DEPTH`` deep."""

    type: Literal["residual"] = "residual"
    layers: tuple[LayerSpec, ...] = Field(
        (DenseSpec(units=16, activation="relu"), DenseSpec(units=16, activation="identity")),
        min_length=1,
        max_length=MAX_LAYERS,
        description="The residual branch f: at least one layer.",
    )


class _RecurrentFields(Spec):
    """Recurrent layers (engine/recurrent.py): batch-first (batch, time, features) inputs."""

    units: int = Field(16, ge=1, le=MAX_UNITS, description="Hidden size H.")
    return_sequences: bool = Field(False, description="Output every step's state, else the last one.")
    truncate: int = Field(0, ge=0, le=100_000, description="Truncated BPTT: detach every k steps; 0 = full.")


class RNNSpec(_RecurrentFields):
    type: Literal["rnn"] = "rnn"


class LSTMSpec(_RecurrentFields):
    type: Literal["lstm"] = "lstm"


class GRUSpec(_RecurrentFields):
    type: Literal["gru"] = "gru"


RECURRENT_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

LayerSpec = Annotated[
    DenseSpec | DropoutSpec | BatchNormSpec
    | Conv2dSpec | MaxPool2dSpec | AvgPool2dSpec | GlobalAvgPoolSpec | FlattenSpec
    | ResidualSpec
    | RNNSpec | LSTMSpec | GRUSpec,
    Field(discriminator="type"),
]
ResidualSpec.model_rebuild()


class ModelSpec(Spec):
    """Hidden layers in order; the output layer's size follows from the data and the loss."""

    layers: tuple[LayerSpec, ...] = Field(
        (DenseSpec(units=16, activation="tanh"), DenseSpec(units=16, activation="tanh")),
        max_length=MAX_LAYERS,
    )
    output_activation: str = "identity"
    output_init: str = "glorot_uniform"

    @model_validator(mode="after")
    def _bounded_nesting(self) -> ModelSpec:
        count, depth = _layer_count(self.layers)
        if depth > MAX_RESIDUAL_DEPTH:
            raise ValueError(f"residual blocks are nested {depth} deep; "
                             f"at most {MAX_RESIDUAL_DEPTH} are allowed")
        if count > MAX_LAYERS:
            raise ValueError(f"the model has {count} layers counting those inside residual blocks; "
                             f"at most {MAX_LAYERS} are allowed")
        return self


def named_layer_specs(layers: tuple[Any, ...], path: str = "model.layers", prefix: str = "") -> list[
    tuple[str, str, Any]
]:
    """(JSON path, engine layer name, spec) of every layer, residual blocks and their inner layers
    included, named as ``Network.from_spec`` names them: dense1, res1, res1.dense1, res1.res1.dense1."""
    out: list[tuple[str, str, Any]] = []
    counts: dict[str, int] = {}
    for i, layer in enumerate(layers):
        stem = NAME_PREFIX.get(layer.type, layer.type)
        counts[stem] = counts.get(stem, 0) + 1
        name, at = f"{prefix}{stem}{counts[stem]}", f"{path}[{i}]"
        out.append((at, name, layer))
        if isinstance(layer, ResidualSpec):
            out.extend(named_layer_specs(layer.layers, f"{at}.layers", f"{name}."))
    return out


def _layer_count(layers: tuple[Any, ...], depth: int = 0) -> tuple[int, int]:
    """(layers counted through every residual block, deepest block nesting)."""
    count, deepest = 0, depth
    for layer in layers:
        count += 1
        if isinstance(layer, ResidualSpec):
            inner, d = _layer_count(layer.layers, depth + 1)
            count += inner
            deepest = max(deepest, d)
    return count, deepest


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


def count_parameters(model: ModelSpec, n_inputs: int | tuple[int, ...], n_outputs: int) -> int:
    """Trainable parameters of the network ``model`` builds for these inputs and outputs.

    ``n_inputs`` is a feature count or an input shape ((channels, height, width) for images,
    (time, features) for sequences: layers act on the last axis).
    Pure arithmetic (``engine.shapes``), so a size can be refused before any array is
    allocated; a layer that does not fit its input raises ``ShapeError`` naming it.
    """
    from engine.shapes import layer_shapes

    shape = (n_inputs,) if isinstance(n_inputs, int) else tuple(n_inputs)
    return sum(row.parameters for row in layer_shapes(model, shape, n_outputs))
