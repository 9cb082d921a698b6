"""Names, options, task/loss fit and variants are checked against the engine's registries."""

from __future__ import annotations

import json

import pytest

from engine.spec import ExperimentSpec
from workbench.experiment import ExperimentError, Problem, check_spec, dumps, loads_experiment


def _problems(data: dict) -> dict[str, str]:
    with pytest.raises(ExperimentError) as info:
        loads_experiment(json.dumps(data))
    return {p.path: p.message for p in info.value.problems}


def _base() -> dict:
    return json.loads(dumps(ExperimentSpec()))


def test_typo_in_optimizer_name_suggests_the_nearest() -> None:
    data = _base()
    data["optimizer"]["name"] = "adma"
    message = _problems(data)["optimizer.name"]
    assert message.startswith("'adma' is not an optimizer; did you mean 'adam'?")
    assert "sgd" in message  # and lists what is allowed


@pytest.mark.parametrize(
    ("section", "key", "bad", "expected"),
    [
        ("model.layers[1].activation", "activation", "rleu", "did you mean 'relu'?"),
        ("model.layers[0].weight_init", "weight_init", "he_unifrom", "did you mean 'he_uniform'?"),
        ("loss.name", None, "softmax_crossentropy", "did you mean 'softmax_cross_entropy'?"),
        ("schedule.name", None, "cosin", "did you mean 'cosine'?"),
        ("data.source", None, "spirals", "did you mean 'spiral'?"),
    ],
)
def test_every_registry_name_is_checked(section: str, key: str | None, bad: str, expected: str) -> None:
    data = _base()
    if section.startswith("model.layers"):
        index = int(section.split("[")[1][0])
        data["model"]["layers"][index][key] = bad
    else:
        part, field = section.split(".")
        data[part][field] = bad
    assert expected in _problems(data)[section]


def test_options_are_checked_against_the_implementation_defaults() -> None:
    data = _base()
    data["optimizer"]["beta"] = 0.9
    data["optimizer"]["amsgrad"] = 1
    data["model"]["layers"][0]["activation"] = "elu"
    data["model"]["layers"][0]["activation_options"] = {"alfa": 0.5}
    data["schedule"] = {"name": "step", "step_size": 2.5}
    problems = _problems(data)
    assert "did you mean 'beta1'?" in problems["optimizer.beta"] or "beta2" in problems["optimizer.beta"]
    assert problems["optimizer.amsgrad"] == "1 is not true or false"
    assert "did you mean 'alpha'?" in problems["model.layers[0].activation_options.alfa"]
    assert problems["schedule.step_size"] == "2.5 is not a whole number"


def test_options_on_an_activation_without_options() -> None:
    data = _base()
    data["model"]["layers"][0]["activation_options"] = {"alpha": 1.0}  # tanh takes none
    assert "takes no options" in _problems(data)["model.layers[0].activation_options.alpha"]


def test_loss_must_suit_the_data() -> None:
    data = _base()
    data["data"]["source"] = "plane"  # regression
    message = _problems(data)["loss.name"]
    assert "'softmax_cross_entropy' is a multi-class classification loss" in message
    assert "regression dataset" in message and "'mse'" in message
    data = _base()
    data["data"]["source"] = "spiral_multi"
    data["loss"]["name"] = "binary_cross_entropy"
    assert "binary classification loss" in _problems(data)["loss.name"]


def test_fixed_task_of_a_source_cannot_be_overridden() -> None:
    data = _base()
    data["data"]["task"] = "regression"
    assert "use 'auto'" in _problems(data)["data.task"]


def test_csv_source_needs_a_path() -> None:
    data = _base()
    data["data"]["source"] = "csv"
    assert "data.path" in _problems(data)


def test_bad_layer_type_and_missing_type() -> None:
    data = _base()
    data["model"]["layers"] = [{"type": "dens", "units": 3}, {"rate": 0.2}]
    problems = _problems(data)
    assert problems["model.layers[0].type"].startswith("'dens' is not a layer type; did you mean 'dense'?")
    assert "every layer says what it is" in problems["model.layers[1].type"]


def test_variant_overrides_point_at_the_override() -> None:
    data = _base()
    data["variants"] = [
        {"name": "ok", "overrides": {"optimizer.lr": 0.1}},
        {"name": "bad value", "overrides": {"optimizer.lr": -1, "model.layers.1.units": "x"}},
        {"name": "bad path", "overrides": {"model.layers.5.units": 3, "trainig.epochs": 3}},
        {"name": "bad name", "overrides": {"optimizer.name": "sdg"}},
        {"name": "ok", "overrides": {}},
        {"name": "fixed", "overrides": {"version": 2}},
    ]
    problems = _problems(data)
    assert problems["variants[1].overrides.optimizer.lr"] == "-1 must be above 0.0"
    assert problems["variants[1].overrides.model.layers.1.units"] == "'x' is not a whole number"
    assert "did you mean 'training'?" in problems["variants[2].overrides.trainig.epochs"]
    assert "not an index" in problems["variants[2].overrides.model.layers.5.units"]
    assert "did you mean 'sgd'?" in problems["variants[3].overrides.optimizer.name"]
    assert "earlier variant" in problems["variants[4].name"]
    assert "cannot be overridden" in problems["variants[5].overrides.version"]
    assert not any(p.startswith("variants[0]") for p in problems)


def test_variant_may_add_an_optimizer_option_and_be_resolved() -> None:
    data = _base()
    overrides = {"optimizer.name": "sgd", "optimizer.momentum": 0.9}
    data["variants"] = [{"name": "momentum", "overrides": overrides}]
    spec = loads_experiment(json.dumps(data))
    resolved = spec.variant("momentum")
    assert resolved.optimizer.name == "sgd" and resolved.optimizer.options == {"momentum": 0.9}
    data["variants"][0]["overrides"]["optimizer.momentun"] = 0.9
    assert "did you mean 'momentum'?" in _problems(data)["variants[0].overrides.optimizer.momentun"]


def test_check_spec_on_an_in_memory_spec() -> None:
    assert check_spec(ExperimentSpec()) == []
    bad = ExperimentSpec(optimizer={"name": "nope"})
    assert check_spec(bad)[0] == Problem("optimizer.name", check_spec(bad)[0].message)
