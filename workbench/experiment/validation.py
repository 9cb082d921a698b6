"""Turn a parsed experiment into an ``ExperimentSpec``, or into problems a person can fix.

Two layers of checks:

1. Structure, types and ranges: pydantic validates against ``engine.spec`` in strict mode
   (``"8"`` is not a number of units, ``true`` is not an epoch count), and its errors are
   rewritten as ``Problem(json_path, message)`` in plain words.
2. Meaning: names are looked up in the engine's registries (activations, initializers,
   losses, optimizers, schedules, datasets) with a did-you-mean for typos, options are
   checked against each implementation's ``defaults``, the loss must suit the data's task,
   and every variant's overrides must name real settings and give valid values.
"""

from __future__ import annotations

import json
import math
import re
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.registry import suggest
from engine.shapes import ShapeError, wants_images
from engine.spec import (
    MAX_PARAMETERS,
    Conv2dSpec,
    DenseSpec,
    ExperimentSpec,
    count_parameters,
    named_layer_specs,
)
from workbench.experiment.errors import ExperimentError, Problem, join_path
from workbench.experiment.sequence_checks import sequence_problems

# Networks beyond MAX_PARAMETERS are refused: 64 layers of 4096 units pass the per-field
# limits but would need gigabytes, and a file must never be able to make the app allocate that.
# A CSV's width is known only once it is read; the trainer checks the exact count then.

# Words the command line gives a meaning of its own (``--variant base``, ``--variant all``).
RESERVED_VARIANT_NAMES = ("base", "all")

_NAMED_SECTIONS = ("loss", "optimizer", "schedule")  # {"name": ..., **options}
_FIXED_KEYS = ("format", "version", "variants")  # never overridden by a variant

# Losses by the data tasks they can be trained on.
_TASK_WORDS = {"binary": "binary classification", "multiclass": "multi-class classification",
               "regression": "regression"}


# ----------------------------------------------------------------------------- entry points
def validate_data(data: Any) -> ExperimentSpec:
    """Validate parsed, current-version JSON; raise ``ExperimentError`` listing every problem."""
    if not isinstance(data, dict):
        raise ExperimentError([Problem("", f"an experiment is a JSON object, not {_kind(data)}")])
    spec, problems = _structural(data)
    if spec is None:
        raise ExperimentError(problems)
    problems = check_spec(spec)
    problems += check_variants(spec)
    if problems:
        raise ExperimentError(problems)
    return spec


def check_spec(spec: ExperimentSpec) -> list[Problem]:
    """Problems of meaning in an already well-formed spec (usable on specs built in memory)."""
    from engine.activations import ACTIVATIONS
    from engine.initializers import INITIALIZERS
    from engine.losses import LOSSES
    from engine.optimizers import OPTIMIZERS
    from engine.schedules import SCHEDULES

    problems: list[Problem] = []
    problems += _check_data(spec)
    for at, name, layer in named_layer_specs(spec.model.layers):
        if not isinstance(layer, DenseSpec | Conv2dSpec):
            continue
        found = _check_choice(f"{at}.activation", ACTIVATIONS, layer.activation,
                              f"{at}.activation_options", layer.activation_options)
        found += _check_choice(f"{at}.weight_init", INITIALIZERS, layer.weight_init,
                               f"{at}.weight_init_options", layer.weight_init_options)
        found += _check_choice(f"{at}.bias_init", INITIALIZERS, layer.bias_init,
                               f"{at}.bias_init_options", layer.bias_init_options)
        if "." in name:  # inside a residual block: say which block and which of its layers
            block, inner = name.rsplit(".", 1)
            found = [Problem(p.path, f"in residual block {block}, layer {inner} ({name}): {p.message}")
                     for p in found]
        problems += found
    problems += _check_choice("model.output_activation", ACTIVATIONS, spec.model.output_activation)
    problems += _check_choice("model.output_init", INITIALIZERS, spec.model.output_init)
    problems += _check_choice("loss.name", LOSSES, spec.loss.name, "loss", spec.loss.options)
    problems += _check_choice("optimizer.name", OPTIMIZERS, spec.optimizer.name, "optimizer",
                              spec.optimizer.options, skip=("lr",))
    problems += _check_choice("schedule.name", SCHEDULES, spec.schedule.name, "schedule",
                              spec.schedule.options)
    problems += _check_task(spec, LOSSES)
    misfits = sequence_problems(spec)
    if not misfits:  # a misfit recurrent layer is named there; counting parameters would fail on it
        problems += _check_size(spec)
    problems += misfits
    problems += _check_race(spec, OPTIMIZERS)
    return problems


def _check_race(spec: ExperimentSpec, optimizers: Any) -> list[Problem]:
    """The optional race: a known surface (or a formula the safe parser accepts) and racers
    that are registered optimizers with valid options."""
    race = spec.race
    if race is None:
        return []
    from engine.analysis.formula import FormulaError, parse_formula
    from engine.analysis.surfaces import SURFACES

    problems: list[Problem] = []
    if race.surface == "formula":
        try:
            parse_formula(race.formula)
        except FormulaError as exc:
            problems.append(Problem("race.formula", str(exc)))
    elif race.surface not in SURFACES:
        names = [*SURFACES.names(), "formula"]
        hint = _did_you_mean(race.surface, names)
        problems.append(Problem("race.surface", f"{race.surface!r} is not a surface{hint} "
                                                f"(choose from {', '.join(names)})"))
    for i, racer in enumerate(race.racers):
        problems += _check_choice(f"race.racers[{i}].name", optimizers, racer.name, f"race.racers[{i}]",
                                  racer.options, skip=("lr",))
    return problems


def check_variants(spec: ExperimentSpec) -> list[Problem]:
    """Each variant's overrides must name real settings and give a valid experiment."""
    problems: list[Problem] = []
    base = spec.model_dump(mode="json")
    base["variants"] = []
    base_problems = {(p.path, p.message) for p in check_spec(spec)}
    seen: set[str] = set()
    for i, variant in enumerate(spec.variants):
        at = f"variants[{i}]"
        if variant.name.strip().lower() in RESERVED_VARIANT_NAMES:
            problems.append(Problem(f"{at}.name", f"{variant.name!r} is reserved (--variant base runs the "
                                                  "base experiment, --variant all runs every one)"))
        elif variant.name in seen:
            problems.append(Problem(f"{at}.name", f"{variant.name!r} is used by an earlier variant too"))
        seen.add(variant.name)
        data = json.loads(json.dumps(base))
        bad_paths = False
        for dotted, value in variant.overrides.items():
            error = _apply_override(data, dotted, value)
            if error:
                problems.append(Problem(f"{at}.overrides.{dotted}", error))
                bad_paths = True
        if bad_paths:
            continue
        child, child_problems = _structural(data)
        if child is not None:
            child_problems = [p for p in check_spec(child) if (p.path, p.message) not in base_problems]
        problems += [_variant_problem(at, variant.overrides, p) for p in child_problems]
    return problems


# -------------------------------------------------------------------- structure (pydantic)
def _structural(data: dict[str, Any]) -> tuple[ExperimentSpec | None, list[Problem]]:
    try:
        # Strict JSON mode: no silent "8" -> 8 or true -> 1, while arrays still fill tuples.
        return ExperimentSpec.model_validate_json(json.dumps(data), strict=True), []
    except ValidationError as exc:
        return None, pydantic_problems(exc, data)


def pydantic_problems(exc: ValidationError, data: Any) -> list[Problem]:
    """Rewrite pydantic's errors as one ``Problem`` per JSON path, in plain words."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        path, exists = _display_path(loc, data)
        kind = error.get("type", "")
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            path = join_path(path, "type")
        if path in seen:  # a union reports one error per member; the first says enough
            continue
        seen.add(path)
        problems.append(Problem(path, _message(error, loc, exists)))
    return problems


def _display_path(loc: tuple, data: Any) -> tuple[str, bool]:
    """JSON path of a pydantic location, without the labels of union members ('dense', 'float')."""
    path, node, exists = "", data, True
    for element in loc:
        if isinstance(element, int):
            path = join_path(path, element)
            exists = exists and isinstance(node, list) and 0 <= element < len(node)
            node = node[element] if exists else None
        elif isinstance(node, dict) and element in node:
            path, node = join_path(path, element), node[element]
        elif not exists:
            path = join_path(path, element)
        elif not isinstance(node, dict) or _is_union_label(element):
            continue  # pydantic names the union member it tried; the file has no such key
        else:
            path, node, exists = join_path(path, element), None, False
    return path, exists


_TYPE_LABELS = frozenset({"dense", "dropout", "batchnorm", "float", "int", "bool", "str", "list", "dict"}
                         | {"residual"})


def _is_union_label(element: str) -> bool:
    return element in _TYPE_LABELS or "[" in element


def _message(error: dict[str, Any], loc: tuple, exists: bool) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    value = error.get("input")
    shown = _show(value)
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = _allowed_keys(loc[:-1])
        hint = _did_you_mean(key, allowed)
        listing = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {key!r}{hint}{listing}"
    if kind == "less_than_equal":
        return f"{shown} is above the maximum {ctx.get('le')}"
    if kind == "less_than":
        return f"{shown} must be below {ctx.get('lt')}"
    if kind == "greater_than_equal":
        return f"{shown} is below the minimum {ctx.get('ge')}"
    if kind == "greater_than":
        return f"{shown} must be above {ctx.get('gt')}"
    if kind == "too_long":
        return f"has {ctx.get('actual_length')} items; at most {ctx.get('max_length')} are allowed"
    if kind == "too_short":
        return f"has {ctx.get('actual_length')} items; at least {ctx.get('min_length')} are needed"
    if kind == "string_too_long":
        return f"is {len(value) if isinstance(value, str) else '?'} characters long; " \
               f"at most {ctx.get('max_length')} are allowed"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = [c.strip().strip("'\"") for c in expected.replace(" or ", ", ").split(",") if c.strip()]
        hint = _did_you_mean(value, choices) if isinstance(value, str) else ""
        return f"{shown} is not allowed{hint} (choose from {expected})"
    if kind == "union_tag_invalid":
        tag = ctx.get("tag")
        choices = [c.strip().strip("'") for c in str(ctx.get("expected_tags", "")).split(",")]
        hint = _did_you_mean(str(tag), choices)
        return f"{tag!r} is not a layer type{hint} (choose from {', '.join(choices)})"
    if kind == "union_tag_not_found":
        return "is missing: every layer says what it is ('dense', 'dropout', 'batchnorm', 'residual', …)"
    if kind == "value_error" and ctx.get("error"):  # a model validator's own sentence (residual caps)
        return str(ctx["error"])
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{shown} is not a whole number"
    if kind in ("float_type", "float_parsing"):
        return f"{shown} is not a number"
    if kind in ("finite_number",):
        return f"{shown} is not a finite number"
    if kind in ("bool_type", "bool_parsing"):
        return f"{shown} is not true or false"
    if kind == "string_type":
        return f"{shown} is not a string"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{shown} is not an object"
    if kind in ("tuple_type", "list_type"):
        return f"{shown} is not a list"
    return f"{shown}: {error.get('msg', 'is not valid')}"


def _allowed_keys(loc: tuple) -> list[str]:
    """Field names of the model at a pydantic location (following union labels)."""
    models: list[type[BaseModel]] = [ExperimentSpec]
    for element in loc:
        if isinstance(element, int):
            continue
        if len(models) > 1:
            models = [m for m in models if _tag(m) == element] or models
            continue
        field = models[0].model_fields.get(str(element))
        if field is None:
            return []
        models = _models_in(field.annotation)
        if not models:
            return []
    return list(models[0].model_fields) if len(models) == 1 else []


def _tag(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("type")
    return field.default if field else None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += [m for m in _models_in(arg) if m not in found]
    return found


# -------------------------------------------------------------------------- meaning
def _check_choice(path: str, registry: Any, name: str, options_path: str | None = None,
                  options: dict[str, Any] | None = None, skip: tuple[str, ...] = ()) -> list[Problem]:
    if name not in registry:
        hint = _did_you_mean(name, registry.names())
        return [Problem(path, f"{name!r} is not {_article(registry.kind)} {registry.kind}{hint} "
                              f"(choose from {', '.join(registry.names())})")]
    if options is None or options_path is None:
        return []
    defaults = dict(getattr(registry.get(name), "defaults", {}) or {})
    bounds = dict(getattr(registry.get(name), "bounds", {}) or {})
    for key in skip:
        defaults.pop(key, None)
    problems = []
    for key, value in options.items():
        at = join_path(options_path, key)
        if key not in defaults:
            if defaults:
                listing = f"{_did_you_mean(key, list(defaults))} (options: {', '.join(defaults)})"
            else:
                listing = " (it takes no options)"
            problems.append(Problem(at, f"{key!r} is not an option of {registry.kind} {name!r}{listing}"))
            continue
        error = _option_type_error(value, defaults[key])
        if error is None and key in bounds and not bounds[key][0] <= value <= bounds[key][1]:
            low, high = bounds[key]
            error = f"{_show(value)} is not between {low:g} and {high:g}"
        if error:
            problems.append(Problem(at, error))
    return problems


def _option_type_error(value: Any, default: Any) -> str | None:
    shown = _show(value)
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"{shown} is not true or false"
    if isinstance(default, (tuple, list)):
        ok = isinstance(value, list) and all(_is_number(v) for v in value)
        return None if ok else f"{shown} is not a list of numbers"
    if isinstance(default, int) and not isinstance(default, bool) and default != 0 and not _is_number(value):
        return f"{shown} is not a number"
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float) \
            and not value.is_integer():
        return f"{shown} is not a whole number"
    if default is None or isinstance(default, (int, float)):
        return None if _is_number(value) else f"{shown} is not a number"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_data(spec: ExperimentSpec) -> list[Problem]:
    from engine.data import DATASETS

    data = spec.data
    if data.source not in DATASETS:
        hint = _did_you_mean(data.source, DATASETS.names())
        return [Problem("data.source", f"{data.source!r} is not a dataset{hint} "
                                       f"(choose from {', '.join(DATASETS.names())})")]
    source = DATASETS.get(data.source)
    repeated = sorted({f for f in data.features if data.features.count(f) > 1})
    if repeated:
        return [Problem("data.features", f"{', '.join(map(repr, repeated))} listed more than once")]
    if getattr(source, "kind", None) == "csv" and not data.path:
        return [Problem("data.path", "a CSV source needs the path of its file, relative to the experiment")]
    fixed = getattr(source, "task", "auto")
    if data.task != "auto" and fixed != "auto" and (data.task == "regression") != (fixed == "regression"):
        kind = "regression" if fixed == "regression" else "classification"
        return [Problem("data.task", f"{data.source!r} is a {kind} dataset, so the task cannot be "
                                     f"{data.task!r}; use 'auto'")]
    return []


def data_task(spec: ExperimentSpec) -> str | None:
    """'binary', 'multiclass', 'regression', 'classification' (CSV, either kind) or None (unknown)."""
    from engine.data import DATASETS

    if spec.data.source not in DATASETS:
        return None
    task = getattr(DATASETS.get(spec.data.source), "task", None)
    if task == "auto":
        return None if spec.data.task == "auto" else spec.data.task
    return task


def _check_task(spec: ExperimentSpec, losses: Any) -> list[Problem]:
    task = data_task(spec)
    if task is None or spec.loss.name not in losses:
        return []
    loss_task = getattr(losses.get(spec.loss.name), "task", None)
    if loss_task is None or _suits(loss_task, task):
        return []
    suitable = [n for n, cls in losses.items() if _suits(getattr(cls, "task", ""), task)]
    data_words = "classification" if task == "classification" else _TASK_WORDS.get(task, task)
    return [Problem("loss.name", f"{spec.loss.name!r} is a {_TASK_WORDS.get(loss_task, loss_task)} loss, "
                                 f"but {spec.data.source!r} is a {data_words} dataset "
                                 f"(use {', '.join(repr(n) for n in suitable) or 'another loss'})")]


def _suits(loss_task: str, data_task_: str) -> bool:
    if data_task_ == "regression":
        return loss_task == "regression"
    if data_task_ == "binary":
        # Two classes train with softmax too, and with a squared loss on 0/1 as in TF Playground.
        return True
    if data_task_ == "multiclass":
        return loss_task == "multiclass"
    return loss_task in ("binary", "multiclass")  # 'classification': the CSV decides how many


def _check_size(spec: ExperimentSpec) -> list[Problem]:
    inputs = _known_inputs(spec)
    if inputs is None:
        return []
    try:
        total = count_parameters(spec.model, inputs, 1)
    except ShapeError as exc:  # a layer that does not fit the data's images
        return [Problem("model.layers", str(exc))]
    if total > MAX_PARAMETERS:
        return [Problem("model.layers", f"the network would hold at least {total:,} parameters; "
                                        f"at most {MAX_PARAMETERS:,} are allowed")]
    return []


def _known_inputs(spec: ExperimentSpec) -> tuple[int, ...] | None:
    """Input shape where the spec alone decides it (a CSV's is known once it is read: then a
    width of 1 gives a lower bound, and None when the first layer needs images)."""
    from engine.data import DATASETS
    from engine.data.images import spec_input_shape

    kind = getattr(DATASETS.get(spec.data.source), "kind", None) if spec.data.source in DATASETS else None
    recurrent = any(layer.type in ("rnn", "lstm", "gru") for layer in spec.model.layers)
    if kind in ("sequence", "csv_series"):
        return (spec.data.sequence_length, 1)  # at least one feature per step
    if recurrent:
        return None  # recurrent layers on flat data: sequence_problems says so, by name
    if kind == "2d":
        return (len(spec.data.features),)
    shape = spec_input_shape(spec.data, spec.model, kind)
    if shape is not None:
        return shape
    return None if wants_images(spec.model) else (1,)


# -------------------------------------------------------------------------- variants
def _apply_override(data: dict[str, Any], dotted: str, value: Any) -> str | None:
    """Set one dotted-path override in ``data``; an error message if the path names nothing."""
    parts = dotted.split(".")
    if not dotted or any(not p for p in parts):
        return "is not a dotted path to a setting (e.g. 'optimizer.lr')"
    if parts[0] in _FIXED_KEYS:
        return f"{parts[0]!r} cannot be overridden by a variant"
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return f"{part!r} is not an index of {'.'.join(parts[:depth])} (it has {len(node)} items)"
            if last:
                node[int(part)] = value
                return None
            node = node[int(part)]
        elif isinstance(node, dict):
            open_keys = (depth == 1 and parts[0] in _NAMED_SECTIONS) or (
                depth > 0 and parts[depth - 1].endswith("_options")
            )
            if part not in node and not (last and open_keys):
                return f"{part!r} is not a setting here{_did_you_mean(part, list(node))}"
            if last:
                node[part] = value
                return None
            node = node[part]
        else:
            return f"{'.'.join(parts[:depth])} is a value, not a section"
    return None


def _variant_problem(at: str, overrides: dict[str, Any], problem: Problem) -> Problem:
    """Point a problem of a variant's experiment at the override that caused it."""
    for dotted in overrides:
        json_path = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", dotted)
        if problem.path == json_path or problem.path.startswith((json_path + ".", json_path + "[")):
            return Problem(f"{at}.overrides.{dotted}{problem.path[len(json_path):]}", problem.message)
    return Problem(f"{at}.overrides", str(problem))


# ---------------------------------------------------------------------------- wording
def _did_you_mean(name: Any, choices: list[str]) -> str:
    match = suggest(str(name), [str(c) for c in choices]) if choices else None
    return f"; did you mean {match!r}?" if match else ""


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _show(value: Any) -> str:
    """A short, readable rendering of a value from the file."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)
