"""Every example in experiments/ loads, is in canonical form, and trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.trainer import Trainer
from workbench.experiment import dumps, load_experiment

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.json"))


def test_the_examples_are_there() -> None:
    names = {p.stem for p in EXPERIMENTS}
    assert {
        "default-spiral", "activations", "learning-rates", "optimizers", "regularization",
        "vanishing-gradients", "exploding-gradients", "batch-size", "initialization", "digits",
    } <= names


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_example_loads_and_every_variant_trains_one_epoch(path: Path) -> None:
    spec = load_experiment(path)
    assert path.read_text(encoding="utf-8") == dumps(spec), "not in canonical form: load and save it"
    assert len(spec.description) > 80, "say what to look at"
    runs = [spec.model_copy(update={"variants": ()})] + [spec.variant(v.name) for v in spec.variants]
    for run_spec in runs:
        trainer = Trainer(run_spec.with_overrides({"training.epochs": 1}), base_dir=path.parent)
        events = list(trainer.run())
        assert events[-1].epoch <= 1
        assert events[-1].status in ("finished", "diverged")


def test_default_spiral_reaches_95_percent() -> None:
    path = next(p for p in EXPERIMENTS if p.stem == "default-spiral")
    spec = load_experiment(path)
    assert spec.data.source == "spiral_multi" and spec.data.n_classes == 3
    trainer = Trainer(spec, base_dir=path.parent)
    for _ in trainer.run():
        pass
    assert trainer.status == "finished"
    assert trainer.history[-1].val_metric >= 0.95
