"""The runs list and sweeps, without Qt: what a run record holds, how runs differ, how the app's
sweeps are built (as ``workbench.model.sweep`` configurations, trained like the CLI's). The Runs
view draws these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.activations import ACTIVATIONS
from engine.analysis import sweep_specs, variant_specs
from engine.initializers import INITIALIZERS
from engine.optimizers import OPTIMIZERS
from engine.spec import ExperimentSpec, named_layer_specs
from workbench.model.history import History
from workbench.model.sweep.plan import Config

# tab10: distinct, colour-blind-tolerant, and the same order matplotlib users know.
RUN_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
FINAL_STATES = ("finished", "stopped", "diverged", "early_stopped")
SKIP_IN_DIFF = ("name", "description", "variants", "format", "version")


# ----------------------------------------------------------------------------- sweep choices
@dataclass(frozen=True)
class SweepParam:
    title: str
    path: str
    kind: type
    defaults: str
    tip: str


def _all(names: list[str], skip: tuple[str, ...] = ()) -> str:
    return ", ".join(n for n in names if n not in skip)


SWEEP_PARAMS: dict[str, SweepParam] = {
    "lr": SweepParam("Learning rate", "optimizer.lr", float, "1, 0.03, 1e-4",
                     "Too high: the loss jumps or explodes. Too low: it crawls. The seed's classic table."),
    "activation": SweepParam("Activation (all hidden layers)", "model.layers.*.activation", str,
                             _all(ACTIVATIONS.names()),
                             "Saturating activations (sigmoid, tanh) slow deep nets; ReLU-family ones "
                             "keep gradients alive."),
    "optimizer": SweepParam("Optimizer", "optimizer", str, "sgd, momentum, adam, rmsprop, adagrad",
                            "Each with the experiment's learning rate; 'momentum' is SGD with momentum 0.9."),
    "batch_size": SweepParam("Batch size", "training.batch_size", int, "8, 32, 128",
                             "Small batches: noisy, frequent steps; large batches: smooth, expensive ones."),
    "init": SweepParam("Initialization (all hidden layers)", "model.layers.*.weight_init", str,
                       _all(INITIALIZERS.names(), skip=("constant",)),
                       "Zeros never learns (every unit stays identical); Glorot suits tanh, He suits ReLU."),
}


@dataclass(frozen=True)
class SweepChoice:
    param: str  # a key of SWEEP_PARAMS
    values: tuple[Any, ...]
    epochs: int
    seeds: int = 1  # each value with this many seeds: the experiment's, then the next ones
    workers: int = 0  # worker processes on this machine; 0: one per core
    scheduler: str = ""  # a Dask scheduler's address: run there instead of on this machine
    out: str = ""  # a folder for the run folders and sweep.csv; "": the runs stay in the app only


def parse_values(param: str, text: str) -> list[Any]:
    """The comma-separated values of a sweep, checked; ValueError with a readable message."""
    p = SWEEP_PARAMS[param]
    parts = [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]
    if not parts:
        raise ValueError("Enter at least one value, separated by commas.")
    values: list[Any] = []
    for part in parts:
        if p.kind is float:
            try:
                v = float(part)
            except ValueError:
                raise ValueError(f"“{part}” is not a number (e.g. 0.01 or 1e-3).") from None
            if not 0.0 < v <= 100.0:
                raise ValueError(f"A learning rate must be above 0 and at most 100, not {part}.")
            values.append(v)
        elif p.kind is int:
            try:
                v = int(part)
            except ValueError:
                raise ValueError(f"“{part}” is not a whole number.") from None
            if v < 1:
                raise ValueError(f"A batch size must be at least 1, not {part}.")
            values.append(v)
        else:
            registry = {"activation": ACTIVATIONS, "init": INITIALIZERS, "optimizer": OPTIMIZERS}[param]
            if not (param == "optimizer" and part == "momentum"):
                registry.get(part)  # UnknownNameError (a ValueError) with a did-you-mean
            values.append(part)
    return values


def _optimizer_section(spec: ExperimentSpec, name: str) -> dict[str, Any]:
    # Options belong to the old optimizer (Adam's betas mean nothing to SGD): start from defaults.
    if name == "momentum":
        return {"name": "sgd", "lr": spec.optimizer.lr, "momentum": 0.9}
    return {"name": name, "lr": spec.optimizer.lr}


def build_sweep(spec: ExperimentSpec, param: str, values: list[Any]) -> list[tuple[str, ExperimentSpec]]:
    """(label, spec) per value through ``sweep_specs``; options of a swapped choice are dropped."""
    p = SWEEP_PARAMS[param]
    base = spec.model_copy(update={"variants": ()})
    if param == "optimizer":
        runs = sweep_specs(base, p.path, [_optimizer_section(spec, v) for v in values])
        return [(f"optimizer={v}", s.model_copy(update={"name": f"{spec.name} [optimizer={v}]"}))
                for v, (_, s) in zip(values, runs, strict=True)]
    if param in ("activation", "init"):
        # leaky_relu's negative_slope would be an error for tanh: options go with the old choice.
        key = "activation_options" if param == "activation" else "weight_init_options"
        named = named_layer_specs(spec.model.layers)  # residual blocks' inner layers included
        dense = [at.replace("[", ".").replace("]", "") for at, _name, layer in named if layer.type == "dense"]
        base = base.with_overrides({f"{at}.{key}": {} for at in dense}) if dense else base
        base = base.model_copy(update={"name": spec.name})
    return sweep_specs(base, p.path, values)


def sweep_configs(spec: ExperimentSpec, choice: SweepChoice) -> list[Config]:
    """The runs of a sweep chosen in the app, as the CLI's ``Config`` (values keyed by path)."""
    path = SWEEP_PARAMS[choice.param].path
    configs: list[Config] = []
    for value, (label, run) in zip(choice.values, build_sweep(spec, choice.param, list(choice.values)),
                                   strict=True):
        name = run.name
        run = run.with_overrides({"training.epochs": choice.epochs})
        for k in range(choice.seeds):
            seed = (spec.seed + k) % 2**32
            text = label if choice.seeds == 1 else f"{label} seed={seed}"
            seeded = run.with_overrides({"seed": seed}) if seed != run.seed else run
            seeded = seeded.model_copy(update={"name": name if choice.seeds == 1 else f"{name} seed={seed}"})
            configs.append(Config(len(configs), text, {path: value}, seed, seeded))
    return configs


def variant_configs(spec: ExperimentSpec) -> list[Config]:
    """The base and each variant of an experiment file, as sweep configurations."""
    return [Config(i, label, {}, run.seed, run) for i, (label, run) in enumerate(variant_specs(spec))]


# ----------------------------------------------------------------------------- records
@dataclass
class RunRecord:
    name: str
    diff: str
    spec: ExperimentSpec
    colour: tuple[int, int, int]
    # pending | queued | running | cancelled | error, or a RunFinished status
    status: str = "pending"
    history: History | None = None
    source: str = "session"  # session | sweep | variant | opened (read from a sweep folder)
    message: str = ""
    experiment: str = ""  # the experiment the run belongs to: runs are compared within one only
    extra: dict[str, Any] = field(default_factory=dict)

    def last(self, name: str) -> float:
        return self.history.last(name) if self.history is not None else float("nan")

    @property
    def has_curves(self) -> bool:
        return self.history is not None and self.history.n_epochs > 0


def from_other_experiment(record: RunRecord, experiment: str) -> bool:
    """A run of another experiment than ``experiment``: listed for reference, never compared.
    An opened run folder or sweep is compared whatever its experiment: the user chose it."""
    return record.experiment != experiment and record.source != "opened"


def experiment_label(session: Any) -> str:
    """What a person calls the open experiment: its file name, or its name when unsaved."""
    return session.path.name if session.path is not None else session.spec.name


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        out = {}
        for i, v in enumerate(node):
            out.update(_flatten(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: node}


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def spec_diff(base: ExperimentSpec, spec: ExperimentSpec, limit: int = 90) -> str:
    """What differs from ``base``, short: ``lr=0.1, activation=relu`` (layer settings merged)."""
    a = {k: v for k, v in base.model_dump(mode="json").items() if k not in SKIP_IN_DIFF}
    b = {k: v for k, v in spec.model_dump(mode="json").items() if k not in SKIP_IN_DIFF}
    if len(a["model"]["layers"]) != len(b["model"]["layers"]):
        # Layers inside residual blocks count as layers: "20 hidden layers in 9 residual blocks"
        # says the same depth as the plain 20, where "10 hidden layers" read as half as deep.
        n = sum(layer.type != "residual" for _at, _name, layer in named_layer_specs(spec.model.layers))
        blocks = sum(layer.get("type") == "residual" for layer in b["model"]["layers"])
        inside = f" in {blocks} residual block{'s' * (blocks != 1)}" if blocks else ""
        parts = [f"{n} hidden layer{'s' * (n != 1)}{inside}"]
        a["model"].pop("layers")
        b["model"].pop("layers")
    else:
        parts = []
    fa, fb = _flatten(a), _flatten(b)
    seen: set[str] = set()
    for key in sorted(set(fa) | set(fb), key=lambda k: (list(fb).index(k) if k in fb else 10**6, k)):
        if fa.get(key, None) == fb.get(key, None):
            continue
        short = key.rsplit(".", 1)[-1]
        if key.startswith("model.layers."):
            index = key.split(".")[2]
            # "activation=relu" only when every layer with that setting changed to the same value.
            peers = [k for k in fb if k.startswith("model.layers.") and k.rsplit(".", 1)[-1] == short]
            same = all(fb[k] == fb[key] and fa.get(k) != fb[k] for k in peers)
            short = short if same else f"layer{int(index) + 1}.{short}"
        elif short == "name":
            short = key.split(".")[0]  # optimizer / loss / schedule
        # An option the variant drops (he init has no std) reads "no std", not "std=—".
        text = f"{short}={_show(fb[key])}" if key in fb else f"no {short}"
        if text not in seen:
            seen.add(text)
            parts.append(text)
    out = ", ".join(parts) or "same as base"
    return out if len(out) <= limit else out[: limit - 1] + "…"


# Step rows kept per remembered run: enough for a smooth comparison curve, small in memory.
KEPT_STEPS = 2_000
# Runs of the main session kept in the list (sweeps and variants are kept whole); each costs
# about 1 MB with its curves. Older ones can be kept for good as run folders (File ▸ Export).
KEPT_SESSION_RUNS = 20


def copy_history(history: History) -> History:
    return history.thinned(KEPT_STEPS)
