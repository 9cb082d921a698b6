"""On every shipped example the range test either suggests a rate at which the example trains or
says "inconclusive" and why (issue 10's acceptance test). Kept cheap: 60 steps, 3 epochs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.analysis.lr_finder import range_test_for
from engine.trainer import Trainer
from workbench.experiment import load_experiment

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.json"))
EPOCHS = 3
STEPS = 60


def _loss_drop(spec, base_dir: Path) -> float:
    """Training-loss fall over the run; -inf when it diverged (it achieved nothing)."""
    trainer = Trainer(spec, base_dir=base_dir)  # a CSV example's table lies beside it
    before = trainer.evaluate("train")[0]
    for _ in trainer.run():
        pass
    after = trainer.evaluate("train")[0]
    return before - after if math.isfinite(after) and trainer.status != "diverged" else -math.inf


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_lr_find_suggests_a_rate_that_trains_or_says_why_not(path: Path) -> None:
    spec = load_experiment(path).with_overrides({"training.epochs": EPOCHS})
    result, _ = range_test_for(Trainer(spec, base_dir=path.parent), steps=STEPS)
    if result.verdict == "inconclusive":
        assert result.suggested_lr is None and len(result.reason) > 20
        return
    lr = float(f"{result.suggested_lr:.2g}")  # what "Apply" sets
    own = _loss_drop(spec, path.parent)
    suggested = _loss_drop(spec.with_overrides({"optimizer.lr": lr}), path.parent)
    assert suggested > 0 and suggested >= 0.5 * max(own, 0.0), (path.stem, lr, suggested, own)
