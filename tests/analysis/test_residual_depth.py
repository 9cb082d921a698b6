"""The residual example: at depth 20 the plain stack's gradient vanishes, the residual one's does not."""

from __future__ import annotations

import math

import pytest

from engine.analysis import diagnose_trainer
from engine.analysis.skip_paths import skip_path_summary
from engine.shipped import example_path
from engine.trainer import Trainer
from workbench.experiment import load_experiment


def _train(variant: str | None, epochs: int) -> Trainer:
    spec = load_experiment(example_path("residual-depth"))
    spec = spec.variant(variant) if variant else spec.model_copy(update={"variants": ()})
    trainer = Trainer(spec.with_overrides({"training.epochs": epochs}))
    for _ in trainer.run():
        pass
    return trainer


def _first_to_last(trainer: Trainer, epoch: int = 0) -> float:
    norms = trainer.history[epoch].layer_grad_norms
    return norms["dense1"] / norms["output"]


@pytest.fixture(scope="module")
def runs() -> dict[str, Trainer]:
    return {"plain": _train(None, 4), "residual": _train("residual", 4)}


def test_both_networks_have_twenty_weight_layers(runs: dict[str, Trainer]) -> None:
    plain, residual = (list(runs[k].history[0].layer_grad_norms) for k in ("plain", "residual"))
    assert len(plain) == len(residual) == 20
    assert residual[:3] == ["dense1", "res1.dense1", "res1.dense2"] and residual[-1] == "output"


def test_first_to_last_gradient_ratio_differs_by_100x_after_one_epoch(runs: dict[str, Trainer]) -> None:
    plain, residual = _first_to_last(runs["plain"]), _first_to_last(runs["residual"])
    assert math.isfinite(plain) and math.isfinite(residual) and plain > 0
    assert residual / plain >= 100, (plain, residual)
    assert plain < 1e-3 < residual  # the diagnostics' vanishing threshold lies between them


def test_diagnostics_name_vanishing_in_the_plain_stack_only(runs: dict[str, Trainer]) -> None:
    plain = [d for d in diagnose_trainer(runs["plain"]) if d.kind == "vanishing_gradients"]
    residual = [d for d in diagnose_trainer(runs["residual"]) if d.kind == "vanishing_gradients"]
    assert plain and plain[0].layer == "dense1"
    assert not residual


def test_the_skip_paths_carry_most_of_the_gradient(runs: dict[str, Trainer]) -> None:
    shares = runs["residual"].history[-1].skip_shares
    assert list(shares) == [f"res{i}" for i in range(1, 10)]
    assert all(0.5 < s <= 1.0 for s in shares.values()), shares
    text = skip_path_summary(list(runs["residual"].history))
    assert text is not None and "skip path" in text and "res" in text
    assert skip_path_summary(list(runs["plain"].history)) is None
    assert runs["plain"].history[-1].skip_shares == {}


def test_the_vanishing_remedy_offers_residual_blocks_until_they_are_in_use(runs: dict[str, Trainer]) -> None:
    from engine.analysis import RunContext
    from engine.analysis.remedies import remedy

    plain = next(d for d in diagnose_trainer(runs["plain"]) if d.kind == "vanishing_gradients")
    assert "residual blocks" in plain.remedy
    assert "residual blocks" not in remedy("vanishing_gradients", RunContext.from_trainer(runs["residual"]))


def test_an_all_layers_sweep_reaches_the_layers_inside_blocks() -> None:
    from workbench.model.runs import build_sweep

    spec = load_experiment(example_path("residual-depth")).variant("residual")
    (_, relu), = build_sweep(spec, "activation", ["relu"])
    inner = [layer.activation for block in relu.model.layers[1:] for layer in block.layers]
    assert relu.model.layers[0].activation == "relu" and inner == ["relu"] * 18
