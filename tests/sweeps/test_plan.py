"""--set parsing, checks against the schema before anything runs, grid, random samples, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.sweeps.helpers import tiny_spec
from workbench.model.sweep.plan import Axis, LogRange, SweepError, build_configs, parse_set


def problems(spec, *sets: str, **kw) -> list[str]:
    with pytest.raises(SweepError) as info:
        build_configs(spec, [parse_set(s) for s in sets], **kw)
    return [str(p) for p in info.value.problems]


def test_values_are_json_numbers_or_names() -> None:
    assert parse_set("optimizer.lr=0.001,0.01, 1e-1") == Axis("optimizer.lr", (0.001, 0.01, 0.1))
    assert parse_set("training.batch_size=16,64").values == (16, 64)
    assert parse_set("model.layers.*.activation=relu,tanh").values == ("relu", "tanh")
    assert parse_set("optimizer.lr=1e-4..1e-1") == Axis("optimizer.lr", (), LogRange(1e-4, 0.1, False))
    assert parse_set("training.batch_size=8..256").span == LogRange(8.0, 256.0, True)


def test_the_grid_is_every_combination_times_seeds() -> None:
    spec = tiny_spec()
    axes = [parse_set("optimizer.lr=0.001,0.01,0.1"), parse_set("training.batch_size=16,64")]
    configs = build_configs(spec, axes, seeds=2)
    assert len(configs) == 12
    assert [c.label for c in configs[:3]] == [
        "lr=0.001 batch_size=16 seed=0", "lr=0.001 batch_size=16 seed=1", "lr=0.001 batch_size=64 seed=0"]
    c = configs[3]
    assert (c.spec.optimizer.lr, c.spec.training.batch_size, c.spec.seed) == (0.001, 64, 1)
    assert c.values == {"optimizer.lr": 0.001, "training.batch_size": 64} and c.index == 3
    assert c.spec.name == "tiny [lr=0.001 batch_size=64 seed=1]" and c.spec.variants == ()
    # The whole experiment is as in the file apart from the swept settings.
    assert c.spec.model == spec.model and c.spec.data == spec.data
    layers = build_configs(spec, [parse_set("model.layers.*.activation=relu")])[0].spec.model.layers
    assert [layer.activation for layer in layers] == ["relu", "relu"]


def test_random_samples_are_log_uniform_in_range_and_reproducible() -> None:
    spec = tiny_spec()
    axes = [parse_set("optimizer.lr=1e-4..1e-1"), parse_set("training.batch_size=16,32,64")]
    configs = build_configs(spec, axes, random=400, rng=np.random.default_rng(7))
    lrs = np.array([c.spec.optimizer.lr for c in configs])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    # Log-uniform: each decade gets about a third of the samples (uniform would put 90 % in the last).
    decades = np.histogram(np.log10(lrs), bins=[-4, -3, -2, -1])[0] / len(lrs)
    assert np.all(np.abs(decades - 1 / 3) < 0.1), decades
    assert {c.spec.training.batch_size for c in configs} == {16, 32, 64}
    again = build_configs(spec, axes, random=400, rng=np.random.default_rng(7))
    assert [c.spec for c in again] == [c.spec for c in configs]
    axis = parse_set("training.batch_size=8..256")
    sampled = build_configs(spec, [axis], random=50, rng=np.random.default_rng(1))
    sizes = [c.values[axis.path] for c in sampled]
    assert all(isinstance(v, int) and 8 <= v <= 256 for v in sizes) and len(set(sizes)) > 10


def test_every_set_is_checked_against_the_schema_before_anything_runs() -> None:
    spec = tiny_spec()
    assert problems(spec, "optimizer.lrr=0.1") == [
        "--set optimizer.lrr: 'lrr' is not an option of optimizer 'adam' "
        "(options: beta1, beta2, eps, weight_decay, amsgrad)"]
    assert any("'trainig' is not a setting here; did you mean 'training'?" in p
               for p in problems(spec, "trainig.epochs=3"))
    assert problems(spec, "optimizer.lr=0.1,-1") == ["--set optimizer.lr: -1: -1 must be above 0.0"]
    assert problems(spec, "training.batch_size=16.5") == [
        "--set training.batch_size: 16.5 is not a whole number"]
    [line] = problems(spec, "model.layers.*.activation=relu,relu6")
    assert "'relu6' is not an activation; did you mean 'relu'?" in line
    assert problems(spec, "optimizer.lr=1e-4..1e-1") == [
        "--set optimizer.lr: a range LOW..HIGH is sampled: add --random N (or list values)"]
    assert "0 < LOW < HIGH" in problems(spec, "optimizer.lr=1..0.1", random=3)[0]
    assert "expected PATH=VALUES" in problems(spec, "optimizer.lr")[0]
    assert "given twice" in problems(spec, "optimizer.lr=0.1", "optimizer.lr=0.2")[0]
    assert problems(spec, "name=a,b") == ["--set name: 'name' is not a setting a sweep can vary"]
    assert "at most" in problems(spec, "optimizer.lr=" + ",".join(["0.1"] * 101),
                                 "training.batch_size=" + ",".join(map(str, range(1, 101))))[0]


def test_labels_use_the_full_path_where_short_names_clash() -> None:
    spec = tiny_spec()
    configs = build_configs(spec, [parse_set("model.layers.0.units=4"), parse_set("model.layers.1.units=8")])
    assert configs[0].label == "model.layers.0.units=4 model.layers.1.units=8"
    assert math.isclose(build_configs(spec, [parse_set("optimizer.lr=0.0031622776")])[0].spec.optimizer.lr,
                        0.0031622776)
