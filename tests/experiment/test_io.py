"""Experiment files: round trips, stable text, every class of bad input, atomic saves, migrations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.spec import OMIT_WHEN_NONE, VERSION, BatchNormSpec, DenseSpec, DropoutSpec, ExperimentSpec
from workbench.experiment import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    ExperimentError,
    Problem,
    dumps,
    load_experiment,
    loads_experiment,
    migrate,
    save_experiment,
)
from workbench.experiment import io as experiment_io
from workbench.experiment.migrations import MIGRATIONS, migrate_v0_to_v1
from workbench.experiment.schema import SCHEMA_PATH, schema_text


def _spec() -> ExperimentSpec:
    return ExperimentSpec(
        name="Round trip ✓",
        description="unicode and\nnewlines",
        seed=7,
        model={
            "layers": [
                DenseSpec(units=12, activation="leaky_relu", activation_options={"negative_slope": 0.2}),
                DropoutSpec(rate=0.25),
                BatchNormSpec(momentum=0.2),
                DenseSpec(units=5, activation="elu"),
            ]
        },
        optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
        schedule={"name": "step", "step_size": 3, "gamma": 0.5},
        regularization={"l2": 0.001},
        clipping={"mode": "norm", "max": 2.5},
        variants=[{"name": "fast", "overrides": {"optimizer.lr": 0.5}}],
    )


def _text(**changes: object) -> str:
    data = json.loads(dumps(ExperimentSpec()))
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[leaf] = value
    return json.dumps(data)


def _problems(text: str) -> list[Problem]:
    with pytest.raises(ExperimentError) as info:
        loads_experiment(text)
    return info.value.problems


# ----------------------------------------------------------------------------- round trips
def test_round_trip_through_text_and_file(tmp_path: Path) -> None:
    spec = _spec()
    assert loads_experiment(dumps(spec)) == spec
    path = tmp_path / "e.json"
    save_experiment(spec, path)
    assert load_experiment(path) == spec
    assert path.read_text(encoding="utf-8") == dumps(spec)


def test_dumps_is_byte_stable_keeps_field_order_and_ends_with_newline() -> None:
    text = dumps(_spec())
    assert text == dumps(loads_experiment(text))
    assert text.endswith("}\n")
    assert text.startswith('{\n  "format": "gradient-workbench/experiment",\n  "version": 2,\n  "name"')
    keys = list(json.loads(text))
    assert keys == [k for k in ExperimentSpec.model_fields if k not in OMIT_WHEN_NONE]  # unset: omitted


def test_header_names_format_and_version() -> None:
    data = json.loads(dumps(ExperimentSpec()))
    assert data["format"] == "gradient-workbench/experiment"
    assert data["version"] == VERSION


# --------------------------------------------------------------------------- hostile input
def test_non_json_reports_line_and_column() -> None:
    (problem,) = _problems('{\n  "name": "x",\n  "seed": ,\n}')
    assert "not valid JSON" in problem.message
    assert "line 3, column 11" in problem.message


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_rejected(literal: str) -> None:
    text = _text().replace('"lr": 0.01', f'"lr": {literal}')
    (problem,) = _problems(text)
    assert literal in problem.message and "not allowed" in problem.message


def test_overflowing_float_and_giant_int_are_rejected() -> None:
    assert "too large" in _problems(_text().replace('"lr": 0.01', '"lr": 1e999'))[0].message
    assert "too large" in _problems(_text().replace('"seed": 0', '"seed": ' + "9" * 5000))[0].message


def test_wrong_types_are_errors_not_coerced() -> None:
    problems = _problems(_text(model__layers__0__units="16", training__epochs=True, seed=1.5))
    by_path = {p.path: p.message for p in problems}
    assert by_path["model.layers[0].units"] == "'16' is not a whole number"
    assert by_path["training.epochs"] == "true is not a whole number"
    assert by_path["seed"] == "1.5 is not a whole number"


def test_absurd_sizes_are_rejected_before_anything_is_built() -> None:
    problems = _problems(_text(model__layers__0__units=1_000_000_000, training__batch_size=-5))
    messages = {str(p) for p in problems}
    assert "model.layers[0].units: 1000000000 is above the maximum 4096" in messages
    assert "training.batch_size: -5 is below the minimum 1" in messages


def test_too_many_weights_in_total_is_rejected() -> None:
    layers = [{"type": "dense", "units": 4096}] * 3
    (problem,) = _problems(_text(model__layers=layers))
    assert problem.path == "model.layers" and "at most" in problem.message


def test_deep_nesting_is_rejected() -> None:
    nested = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    text = _text().replace('"description": ""', f'"description": {nested}')
    (problem,) = _problems(text)
    assert "nested more than" in problem.message
    # Far deeper than the parser's stack: still a clean error, not a RecursionError.
    (problem,) = _problems("[" * 200_000 + "]" * 200_000)
    assert "nested" in problem.message


def test_huge_file_is_rejected_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: large on paper, cheap to make
    opened: list[Path] = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(self) or real_open(self, *a, **k))
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert "at most 5 MB" in str(info.value)
    assert path not in opened


def test_unknown_key_with_did_you_mean() -> None:
    data = json.loads(_text())
    data["trainig"] = {}
    data["model"]["layers"][0]["activaton"] = "relu"
    by_path = {p.path: p.message for p in _problems(json.dumps(data))}
    assert by_path["trainig"].startswith("unknown key 'trainig'; did you mean 'training'?")
    assert "did you mean 'activation'?" in by_path["model.layers[0].activaton"]


def test_duplicate_keys_are_rejected() -> None:
    (problem,) = _problems('{"format": "gradient-workbench/experiment", "version": 1, "seed": 1, "seed": 2}')
    assert "'seed' appears twice" in problem.message


def test_newer_version_is_a_clear_error() -> None:
    (problem,) = _problems(_text(version=VERSION + 1))
    assert problem.path == "version"
    assert f"format version {VERSION + 1}" in problem.message
    assert "update Gradient Workbench" in problem.message


def test_not_an_experiment_at_all() -> None:
    assert _problems("[1, 2]")[0].message.startswith("an experiment file holds one JSON object")
    (problem,) = _problems('{"name": "x"}')
    assert problem.path == "format"


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ExperimentError, match="cannot read"):
        load_experiment(tmp_path / "missing.json")
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(ExperimentError, match="not a UTF-8"):
        load_experiment(bad)


def test_error_text_is_one_line_per_problem() -> None:
    problems = _problems(_text(seed=-1, training__epochs=0))
    text = str(ExperimentError(problems))
    assert text.splitlines() == [str(p) for p in problems]
    assert len(problems) == 2


# ---------------------------------------------------------------------------- atomic save
def test_failed_save_leaves_the_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "e.json"
    save_experiment(ExperimentSpec(name="old"), path)
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(experiment_io.os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_experiment(ExperimentSpec(name="new"), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.json"]  # no temporary left behind


def test_failed_write_midway_leaves_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "e.json"
    save_experiment(ExperimentSpec(name="old"), path)
    before = path.read_bytes()
    monkeypatch.setattr(experiment_io.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OSError):
        save_experiment(ExperimentSpec(name="new"), path)
    assert path.read_bytes() == before


def test_save_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    save_experiment(ExperimentSpec(), path)
    os.chmod(path, 0o640)
    save_experiment(ExperimentSpec(name="again"), path)
    assert path.stat().st_mode & 0o777 == 0o640


# ----------------------------------------------------------------------------- migrations
def test_v0_file_is_migrated_to_the_current_spec() -> None:
    v0 = {
        "format": "gradient-workbench/experiment",
        "version": 0,
        "name": "old file",
        "lr": 0.2,
        "optimizer": "sgd",
        "layers": [{"type": "dense", "units": 4, "activation": "tanh"}],
    }
    spec = loads_experiment(json.dumps(v0))
    assert spec.version == VERSION
    assert spec.optimizer.name == "sgd" and spec.optimizer.lr == 0.2
    assert spec.model.layers == (DenseSpec(units=4, activation="tanh"),)
    assert spec.name == "old file"


def test_v1_file_means_the_same_in_v2() -> None:
    v1 = {
        "format": "gradient-workbench/experiment",
        "version": 1,
        "name": "a v1 file",
        "model": {"layers": [{"type": "dense", "units": 5, "activation": "relu"},
                             {"type": "dropout", "rate": 0.1}]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    }
    spec = loads_experiment(json.dumps(v1))
    assert spec.version == 2
    assert spec.model.layers == (DenseSpec(units=5, activation="relu"), DropoutSpec(rate=0.1))
    assert spec.optimizer.options == {"momentum": 0.9}
    assert json.loads(dumps(spec))["version"] == 2


def test_migration_functions_are_registered_in_order_and_pure() -> None:
    assert sorted(MIGRATIONS) == list(range(VERSION))
    v0 = {"format": "x", "version": 0, "lr": 0.1}
    out = migrate_v0_to_v1(v0)
    assert out == {"format": "x", "version": 1, "optimizer": {"name": "adam", "lr": 0.1}}
    assert v0["lr"] == 0.1  # input untouched


def test_migrate_chain_with_synthetic_steps() -> None:
    steps = {0: lambda d: {**d, "version": 1, "a": 1}, 1: lambda d: {**d, "version": 2, "b": 2}}
    assert migrate({"version": 0}, steps) == {"version": 2, "a": 1, "b": 2}
    with pytest.raises(ExperimentError, match="no migration from version 0"):
        migrate({"version": 0}, {})
    with pytest.raises(ExperimentError, match="whole number"):
        migrate({"version": "1"})


# --------------------------------------------------------------------------------- schema
def test_shipped_schema_equals_the_generated_one() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "resources/experiment.schema.json is stale: run python -m workbench.experiment.schema"
    )


def test_schema_describes_the_format() -> None:
    schema = json.loads(schema_text())
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(ExperimentSpec.model_fields)
    units = schema["$defs"]["DenseSpec"]["properties"]["units"]
    assert units["maximum"] == 4096 and units["minimum"] == 1
