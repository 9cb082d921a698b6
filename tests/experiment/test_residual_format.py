"""Residual blocks in the experiment format (v2): optional, nested, bounded, round-trip stable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.network import Network
from engine.spec import MAX_LAYERS, DenseSpec, DropoutSpec, ExperimentSpec, ResidualSpec, count_parameters
from workbench.experiment import ExperimentError, dumps, loads_experiment
from workbench.experiment.schema import schema_text

RESIDUAL_V2 = {
    "format": "gradient-workbench/experiment",
    "version": 2,
    "name": "residual",
    "model": {
        "layers": [
            {"type": "dense", "units": 8, "activation": "tanh"},
            {"type": "residual", "layers": [
                {"type": "dense", "units": 8, "activation": "relu"},
                {"type": "dropout", "rate": 0.1},
                {"type": "dense", "units": 8, "activation": "identity"},
            ]},
            {"type": "residual", "layers": [{"type": "dense", "units": 4, "activation": "tanh"}]},
        ]
    },
}


def _problems(data: dict) -> list[str]:
    with pytest.raises(ExperimentError) as info:
        loads_experiment(json.dumps(data))
    return [str(p) for p in info.value.problems]


def test_a_v1_file_loads_into_v2_with_the_meaning_it_had() -> None:
    dense = {"type": "dense", "units": 5, "activation": "relu"}
    v1 = {**RESIDUAL_V2, "version": 1, "model": {"layers": [dense]}}
    spec = loads_experiment(json.dumps(v1))
    assert spec.version == 2
    assert spec.model.layers == (DenseSpec(units=5, activation="relu"),)
    net = Network.from_spec(spec.model, (2,), 3, np.random.default_rng(0))
    assert [name for name, *_ in net.summary()] == ["dense1", "output"]  # no block appeared


def test_a_v2_file_with_blocks_round_trips_byte_stable() -> None:
    spec = loads_experiment(json.dumps(RESIDUAL_V2))
    block = spec.model.layers[1]
    assert isinstance(block, ResidualSpec)
    assert block.layers[1] == DropoutSpec(rate=0.1)
    text = dumps(spec)
    assert dumps(loads_experiment(text)) == text
    assert json.loads(text)["model"]["layers"][1]["type"] == "residual"


def test_the_regenerated_schema_describes_nested_blocks() -> None:
    schema = json.loads(schema_text())
    defs = schema["$defs"]
    block = defs["ResidualSpec"]
    assert block["properties"]["type"]["const"] == "residual"
    assert block["properties"]["layers"]["minItems"] == 1
    items = block["properties"]["layers"]["items"]
    mapping = items["discriminator"]["mapping"]
    assert mapping["residual"] == "#/$defs/ResidualSpec" and mapping["dense"] == "#/$defs/DenseSpec"
    model_items = defs["ModelSpec"]["properties"]["layers"]["items"]
    assert model_items["discriminator"]["mapping"] == mapping
    # Every layer of the file above is one of the schema's layer kinds, with only known keys.
    spec_data = json.loads(dumps(loads_experiment(json.dumps(RESIDUAL_V2))))

    def check(layer: dict) -> None:
        target = defs[mapping[layer["type"]].rsplit("/", 1)[-1]]
        assert set(layer) <= set(target["properties"]), layer
        for inner in layer.get("layers", []):
            check(inner)

    for layer in spec_data["model"]["layers"]:
        check(layer)


def test_an_empty_block_is_refused_with_its_path() -> None:
    data = json.loads(json.dumps(RESIDUAL_V2))
    data["model"]["layers"][1]["layers"] = []
    problems = _problems(data)
    assert any(p.startswith("model.layers[1].layers") and "at least 1" in p for p in problems), problems


def test_a_bad_inner_layer_names_the_block_and_the_layer() -> None:
    data = json.loads(json.dumps(RESIDUAL_V2))
    data["model"]["layers"][1]["layers"][2]["activation"] = "sigmoud"
    problems = _problems(data)
    assert problems == [
        "model.layers[1].layers[2].activation: in residual block res1, layer dense2 (res1.dense2): "
        "'sigmoud' is not an activation; did you mean 'sigmoid'? (choose from identity, sigmoid, tanh, "
        "relu, leaky_relu, elu, gelu, softplus, silu)"
    ]


def test_nesting_depth_and_total_layers_are_capped() -> None:
    layer: dict = {"type": "dense", "units": 4}
    for _ in range(4):
        layer = {"type": "residual", "layers": [layer]}
    deep = {**RESIDUAL_V2, "model": {"layers": [layer]}}
    assert any("nested 4 deep; at most 3" in p for p in _problems(deep))
    many = {**RESIDUAL_V2, "model": {"layers": [
        {"type": "residual", "layers": [{"type": "dense", "units": 4}] * 40},
        {"type": "residual", "layers": [{"type": "dense", "units": 4}] * 40},
    ]}}
    assert any(f"82 layers counting those inside residual blocks; at most {MAX_LAYERS}" in p
               for p in _problems(many))


def test_count_parameters_counts_inner_layers_and_the_projection() -> None:
    spec = loads_experiment(json.dumps(RESIDUAL_V2))
    # dense1 3*8+8; res1: 8*8+8 twice; res2: 8*4+4 plus an 8x4 projection; output 4*2+2
    assert count_parameters(spec.model, 3, 2) == 32 + 144 + 36 + 32 + 10
    net = Network.from_spec(spec.model, (3,), 2, np.random.default_rng(0))
    assert net.n_parameters == count_parameters(spec.model, 3, 2)
    assert isinstance(ExperimentSpec.model_validate(json.loads(dumps(spec))), ExperimentSpec)
