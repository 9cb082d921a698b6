"""Sweeps: one validated spec per value, with readable labels."""

from __future__ import annotations

import pydantic
import pytest

from engine.analysis import sweep_specs, variant_specs
from engine.spec import DenseSpec, DropoutSpec, ExperimentSpec, ModelSpec, VariantSpec


def test_learning_rate_sweep_like_the_seed_table() -> None:
    base = ExperimentSpec(name="Spiral")
    runs = sweep_specs(base, "optimizer.lr", [1.0, 0.03, 1e-4])
    assert [label for label, _ in runs] == ["lr=1", "lr=0.03", "lr=0.0001"]
    assert [s.optimizer.lr for _, s in runs] == [1.0, 0.03, 1e-4]
    assert [s.name for _, s in runs] == ["Spiral [lr=1]", "Spiral [lr=0.03]", "Spiral [lr=0.0001]"]
    assert all(s.model == base.model and s.optimizer.name == "adam" for _, s in runs)


def test_wildcard_sweeps_every_hidden_layer_and_skips_layers_without_the_key() -> None:
    model = ModelSpec(layers=(DenseSpec(units=8), DropoutSpec(rate=0.1), DenseSpec(units=4)))
    runs = sweep_specs(ExperimentSpec(model=model), "model.layers.*.activation", ["sigmoid", "relu"])
    assert [label for label, _ in runs] == ["activation=sigmoid", "activation=relu"]
    for (_, spec), act in zip(runs, ["sigmoid", "relu"], strict=True):
        dense = [layer for layer in spec.model.layers if layer.type == "dense"]
        assert [d.activation for d in dense] == [act, act]
        assert spec.model.layers[1] == DropoutSpec(rate=0.1)


def test_optimizer_sweep_and_invalid_values() -> None:
    runs = sweep_specs(ExperimentSpec(), "optimizer.name", ["sgd", "rmsprop"])
    assert [s.optimizer.name for _, s in runs] == ["sgd", "rmsprop"]
    with pytest.raises(pydantic.ValidationError):
        sweep_specs(ExperimentSpec(), "optimizer.lr", [-1.0])
    with pytest.raises(ValueError, match="not a list"):
        sweep_specs(ExperimentSpec(), "optimizer.*.lr", [0.1])


def test_variants_of_a_file_become_a_comparison() -> None:
    spec = ExperimentSpec(
        name="E", variants=(VariantSpec(name="fast", overrides={"optimizer.lr": 0.1}),)
    )
    runs = variant_specs(spec)
    assert [label for label, _ in runs] == ["base", "fast"]
    assert runs[0][1].variants == () and runs[0][1].optimizer.lr == 0.01
    assert runs[1][1].optimizer.lr == 0.1 and runs[1][1].name == "E [fast]"
