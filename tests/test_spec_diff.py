"""The Runs table's "Differs from base" words, for options a variant drops."""

from __future__ import annotations

from engine.shipped import example_path
from workbench.experiment import load_experiment
from workbench.model.runs import spec_diff


def test_a_dropped_option_reads_no_option() -> None:
    base = load_experiment(example_path("exploding-gradients.json"))
    he = base.variant("he init")
    assert spec_diff(base, he) == "weight_init=he_uniform, no std"
