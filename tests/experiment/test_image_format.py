"""The image layers and data options in format v2: old files keep their meaning and bytes,
new files round-trip byte-stable, the schema knows the new types, and the validator refuses
layers that do not fit the data's images, naming the layer."""

from __future__ import annotations

import json

import pytest

from engine.spec import Conv2dSpec, ExperimentSpec
from workbench.experiment import dumps, loads_experiment
from workbench.experiment.schema import schema_text
from workbench.experiment.validation import check_spec

V1 = {
    "format": "gradient-workbench/experiment",
    "version": 1,
    "name": "old digits",
    "data": {"source": "digits", "train_fraction": 0.75},
    "model": {"layers": [{"type": "dense", "units": 32, "activation": "relu"}, {"type": "batchnorm"}]},
    "optimizer": {"name": "sgd", "lr": 0.05},
}

CNN = {
    "format": "gradient-workbench/experiment",
    "version": 2,
    "name": "shapes cnn",
    "data": {"source": "shapes", "n_samples": 400, "image_size": 24},
    "model": {"layers": [
        {"type": "conv2d", "filters": 6, "kernel_size": 5, "stride": 1, "padding": "same"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1, "activation": "tanh"},
        {"type": "avgpool2d", "pool_size": 3, "stride": 2},
        {"type": "batchnorm"},
        {"type": "global_avgpool"},
    ]},
}


def test_a_version_1_file_loads_into_v2_with_the_meaning_it_had():
    spec = loads_experiment(json.dumps(V1))
    assert spec.version == 2
    assert spec.data.source == "digits" and spec.data.train_fraction == 0.75
    assert [layer.type for layer in spec.model.layers] == ["dense", "batchnorm"]
    assert spec.model.layers[0].units == 32 and spec.optimizer.lr == 0.05
    # No image options appear in a file that does not use them: v1-era files dump as before.
    text = dumps(spec)
    assert "image_size" not in text and "channels" not in text and "conv2d" not in text


def test_a_v2_file_with_image_layers_round_trips_byte_stable():
    spec = loads_experiment(json.dumps(CNN))
    layers = spec.model.layers
    assert isinstance(layers[0], Conv2dSpec) and layers[0].padding == "same" and layers[2].padding == 1
    assert layers[3].stride == 2 and spec.model.layers[1].stride is None
    text = dumps(spec)
    assert '"image_size": 24' in text
    assert dumps(loads_experiment(text)) == text
    assert loads_experiment(text) == spec


def test_the_schema_knows_the_image_layers_and_options():
    schema = json.loads(schema_text())
    defs = schema["$defs"]
    for name in ("Conv2dSpec", "MaxPool2dSpec", "AvgPool2dSpec", "GlobalAvgPoolSpec", "FlattenSpec"):
        assert defs[name]["additionalProperties"] is False
    layers = defs["ModelSpec"]["properties"]["layers"]["items"]
    kinds = {"conv2d", "maxpool2d", "avgpool2d", "global_avgpool", "flatten"}
    assert kinds <= set(layers["discriminator"]["mapping"])
    conv = defs["Conv2dSpec"]["properties"]
    assert conv["filters"]["maximum"] == 512 and conv["kernel_size"]["maximum"] == 15
    padding = json.dumps(conv["padding"])
    assert '"valid"' in padding and '"same"' in padding and '"integer"' in padding
    data = defs["DataSpec"]["properties"]
    assert data["image_size"]["minimum"] == 8 and data["channels"]["enum"] == [1, 3]


@pytest.mark.parametrize(("bad", "message"), [
    ({"type": "conv2d", "padding": "full"}, "padding"),
    ({"type": "conv2d", "filters": 0}, "filters"),
    ({"type": "maxpool2d", "pool_size": 99}, "pool_size"),
    ({"type": "flatten", "units": 3}, "units"),
])
def test_bad_image_layer_settings_are_refused(bad, message):
    data = {**CNN, "model": {"layers": [bad]}}
    with pytest.raises(Exception, match=message):
        loads_experiment(json.dumps(data))


def test_a_conv_layers_activation_is_checked_like_a_dense_ones():
    data = {**CNN, "model": {"layers": [{"type": "conv2d", "activation": "relux"}]}}
    problems = check_spec(ExperimentSpec.model_validate(data))
    assert any(p.path == "model.layers[0].activation" and "did you mean 'relu'" in p.message
               for p in problems)


def test_the_validator_names_a_layer_that_does_not_fit_the_images():
    data = {**CNN, "data": {"source": "shapes", "image_size": 8}, "model": {"layers": [
        {"type": "conv2d", "kernel_size": 5}, {"type": "conv2d", "kernel_size": 5}]}}
    problems = check_spec(ExperimentSpec.model_validate(data))
    assert any(p.path == "model.layers" and "conv2: a 5×5 kernel does not fit a 4×4 input" in p.message
               for p in problems), problems
    digits = {**data, "data": {"source": "digits"}}
    problems = check_spec(ExperimentSpec.model_validate(digits))
    assert any("conv2: a 5×5 kernel does not fit a 4×4 input" in p.message for p in problems)
