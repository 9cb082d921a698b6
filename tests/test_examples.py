"""Every example in experiments/ is shipped, loads, is in canonical form, and trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.shipped import example_path, example_paths
from engine.trainer import Trainer
from workbench.experiment import dumps, load_experiment

EXPERIMENTS = example_paths()
CHECKOUT = Path(__file__).resolve().parents[1] / "experiments"


def test_the_shipped_examples_are_the_checkout_folder() -> None:
    # In the editable install the tests run on, engine.examples is the checkout's experiments/.
    assert [p.name for p in EXPERIMENTS] == sorted(p.name for p in CHECKOUT.glob("*.json"))
    assert EXPERIMENTS[0].parent.resolve() == CHECKOUT


def test_an_unknown_example_names_the_known_ones() -> None:
    with pytest.raises(FileNotFoundError, match=r"no shipped example 'nope' \(examples: .*default-spiral"):
        example_path("nope")


def test_the_examples_are_there() -> None:
    names = {p.stem for p in EXPERIMENTS}
    assert {
        "default-spiral", "activations", "learning-rates", "optimizers", "regularization",
        "vanishing-gradients", "exploding-gradients", "batch-size", "initialization", "digits",
    } <= names
    assert {"digits-cnn", "shapes-gradcam", "pooling-vs-stride", "cnn-learning-rates"} <= names


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
