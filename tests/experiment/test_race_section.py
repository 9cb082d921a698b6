"""The optional ``race`` section: absent in old files, round-trips byte-stable, validated."""

from __future__ import annotations

import json

import pytest

from engine.spec import ExperimentSpec, RacerSpec, RaceSpec
from workbench.experiment import ExperimentError, dumps, loads_experiment
from workbench.experiment.schema import schema_text


def _race_spec() -> ExperimentSpec:
    race = RaceSpec(surface="formula", formula="(x - 1)**2 + 3*sin(y)**2", start=(-2.0, 1.5), steps=300,
                    tolerance=0.1, racers=(RacerSpec(name="sgd", lr=0.01, momentum=0.9, label="heavy ball"),
                                           RacerSpec(name="adam", lr=0.05, beta1=0.8)))
    return ExperimentSpec(name="race", race=race)


def test_a_v1_file_loads_without_a_race_and_saves_without_one() -> None:
    v1 = {"format": "gradient-workbench/experiment", "version": 1, "name": "old",
          "optimizer": {"name": "sgd", "lr": 0.05}}
    spec = loads_experiment(json.dumps(v1))
    assert spec.version == 2 and spec.race is None
    text = dumps(spec)
    assert '"race"' not in text  # an unset optional section adds nothing to the file
    assert loads_experiment(text) == spec


def test_a_v2_file_with_a_race_round_trips_byte_stable() -> None:
    spec = _race_spec()
    text = dumps(spec)
    again = loads_experiment(text)
    assert again == spec and dumps(again) == text
    race = json.loads(text)["race"]
    assert race["racers"][0] == {"name": "sgd", "lr": 0.01, "label": "heavy ball", "momentum": 0.9}
    assert again.race.racers[1].options == {"beta1": 0.8}


def test_the_race_section_is_in_the_schema_and_a_file_fits_it() -> None:
    schema = json.loads(schema_text())
    assert "race" in schema["properties"] and "race" not in schema.get("required", [])
    race_props = schema["$defs"]["RaceSpec"]["properties"]
    racer_schema = schema["$defs"]["RacerSpec"]
    data = json.loads(dumps(_race_spec()))["race"]
    assert set(data) <= set(race_props)
    assert race_props["steps"]["maximum"] == 20000 and race_props["racers"]["maxItems"] == 12
    assert racer_schema.get("additionalProperties", True) is not False  # optimizer options ride along
    for racer in data["racers"]:
        assert set(racer_schema.get("required", [])) <= set(racer)


@pytest.mark.parametrize("race,path,message", [
    ({"surface": "rosenbrok"}, "race.surface", "did you mean 'rosenbrock'"),
    ({"surface": "formula", "formula": "__import__('os')"}, "race.formula", "unknown function"),
    ({"surface": "formula", "formula": "x ** 1000"}, "race.formula", "exponents"),
    ({"racers": [{"name": "adma", "lr": 0.1}]}, "race.racers[0].name", "did you mean 'adam'"),
    ({"racers": [{"name": "sgd", "lr": 0.1, "momentun": 0.9}]}, "race.racers[0].momentun", "momentum"),
    ({"racers": []}, "race.racers", "at least 1"),
    ({"steps": 10**6}, "race.steps", "20000"),
])
def test_a_bad_race_is_named(race: dict, path: str, message: str) -> None:
    data = json.loads(dumps(ExperimentSpec()))
    data["race"] = race
    with pytest.raises(ExperimentError) as info:
        loads_experiment(json.dumps(data))
    problems = [p for p in info.value.problems if p.path == path]
    assert problems, info.value.problems
    assert message in problems[0].message
