"""Recurrent layers and sequence data in the v2 format: optional, old files unchanged."""

from __future__ import annotations

import json

import pytest

from engine.spec import ExperimentSpec, LSTMSpec, RNNSpec, count_parameters
from workbench.experiment import check_spec, dumps, loads_experiment
from workbench.experiment.schema import schema_text

V2_RECURRENT = {
    "format": "gradient-workbench/experiment",
    "version": 2,
    "name": "adding with a stacked LSTM",
    "data": {"source": "adding", "sequence_length": 30},
    "model": {"layers": [{"type": "gru", "units": 8, "return_sequences": True, "truncate": 10},
                         {"type": "lstm", "units": 12}]},
    "loss": {"name": "mse"},
}


def test_a_v1_file_loads_with_the_meaning_it_had_and_writes_no_sequence_keys() -> None:
    v1 = {
        "format": "gradient-workbench/experiment",
        "version": 1,
        "data": {"source": "circle", "n_samples": 200},
        "model": {"layers": [{"type": "dense", "units": 5, "activation": "relu"}]},
    }
    spec = loads_experiment(json.dumps(v1))
    assert spec.version == 2
    assert spec.data.sequence_length == 50 and spec.data.sequence_id is None
    text = dumps(spec)
    assert "sequence" not in text  # defaults stay out of the file: old files keep their bytes
    assert loads_experiment(text) == spec


def test_a_v2_file_with_recurrent_layers_round_trips_byte_stable_and_validates() -> None:
    spec = loads_experiment(json.dumps(V2_RECURRENT))
    gru, lstm = spec.model.layers
    assert (gru.type, gru.units, gru.return_sequences, gru.truncate) == ("gru", 8, True, 10)
    assert lstm == LSTMSpec(units=12)
    text = dumps(spec)
    assert dumps(loads_experiment(text)) == text
    _fits_schema(json.loads(text), json.loads(schema_text()))
    assert check_spec(spec) == []


@pytest.mark.parametrize(("change", "where"), [
    ({"data": {"source": "circle"}}, "model.layers[0]"),
    ({"model": {"layers": [{"type": "dense"}]}}, "model.layers"),
    ({"model": {"layers": [{"type": "lstm", "return_sequences": True}]}}, "model.layers[0].return_sequences"),
    ({"model": {"layers": [{"type": "rnn"}, {"type": "lstm"}]}}, "model.layers[0].return_sequences"),
])
def test_check_spec_explains_what_does_not_fit(change: dict, where: str) -> None:
    spec = ExperimentSpec.model_validate({**V2_RECURRENT, **change})
    assert [p.path for p in check_spec(spec)] == [where]


def test_bad_recurrent_fields_are_refused_with_their_path() -> None:
    bad = json.loads(json.dumps(V2_RECURRENT))
    bad["model"]["layers"][1]["units"] = 0
    with pytest.raises(Exception, match="units"):
        loads_experiment(json.dumps(bad))
    bad["model"]["layers"][1] = {"type": "lstm", "truncate": -1}
    with pytest.raises(Exception, match="truncate"):
        loads_experiment(json.dumps(bad))


def test_count_parameters_matches_torch_formulas() -> None:
    spec = ExperimentSpec.model_validate(V2_RECURRENT)
    # gru: 3·8·(2 + 8) + 2·3·8; lstm on 8 inputs: 4·12·(8 + 12) + 2·4·12; output 12·1 + 1.
    expected = 3 * 8 * 10 + 48 + 4 * 12 * 20 + 96 + 13
    assert count_parameters(spec.model, (30, 2), 1) == expected
    rnn = ExperimentSpec(model={"layers": [RNNSpec(units=4)]}).model
    assert count_parameters(rnn, (10, 3), 1) == 4 * 7 + 8 + 5


def _fits_schema(data: dict, schema: dict) -> None:
    """The parts of the schema these keys use: every key declared, layer types in the union,
    values within the declared bounds (no JSON Schema library is a dependency)."""
    defs = schema["$defs"]
    names = {"rnn": "RNNSpec", "lstm": "LSTMSpec", "gru": "GRUSpec"}
    refs = defs["ModelSpec"]["properties"]["layers"]["items"]["oneOf"]
    union = {ref["$ref"].rsplit("/", 1)[-1] for ref in refs}
    assert set(names.values()) <= union
    for layer in data["model"]["layers"]:
        spec = defs[names[layer["type"]]]
        assert spec["additionalProperties"] is False
        assert set(layer) <= set(spec["properties"])
        units = spec["properties"]["units"]
        assert units["minimum"] <= layer["units"] <= units["maximum"]
        assert spec["properties"]["truncate"]["minimum"] == 0
    length = defs["DataSpec"]["properties"]["sequence_length"]
    assert length["minimum"] <= data["data"]["sequence_length"] <= length["maximum"]
