"""Learning-rate schedules against their closed forms (PyTorch's per-epoch schedulers)."""

from __future__ import annotations

import math

import pytest

from engine.registry import UnknownNameError
from engine.schedules import SCHEDULES, get_schedule


def test_registry_names_and_defaults() -> None:
    assert SCHEDULES.names() == ["constant", "step", "exponential", "cosine", "warmup"]
    assert SCHEDULES.get("step").defaults == {"step_size": 10, "gamma": 0.1}
    assert SCHEDULES.get("exponential").defaults == {"gamma": 0.95}
    assert SCHEDULES.get("warmup").defaults == {"warmup_epochs": 5}
    assert SCHEDULES.get("cosine").defaults["eta_min"] == 0.0
    with pytest.raises(UnknownNameError, match="cosine"):
        get_schedule("cosin")


@pytest.mark.parametrize("epoch", [0.0, 0.5, 3.0, 99.9, 1000.0])
def test_constant(epoch: float) -> None:
    assert get_schedule("constant").lr(0.1, epoch) == 0.1


@pytest.mark.parametrize(
    ("epoch", "expected"),
    # StepLR(step_size=3, gamma=0.5): 0.1 for epochs 0-2, 0.05 for 3-5, 0.025 for 6-8.
    [(0.0, 0.1), (2.0, 0.1), (2.99, 0.1), (3.0, 0.05), (5.5, 0.05), (6.0, 0.025), (8.9, 0.025)],
)
def test_step(epoch: float, expected: float) -> None:
    assert get_schedule("step", step_size=3, gamma=0.5).lr(0.1, epoch) == pytest.approx(expected)


@pytest.mark.parametrize("epoch", [0.0, 0.7, 1.0, 2.5, 10.0])
def test_exponential(epoch: float) -> None:
    got = get_schedule("exponential", gamma=0.9).lr(0.2, epoch)
    assert got == pytest.approx(0.2 * 0.9 ** math.floor(epoch))


def test_exponential_whole_epochs_by_hand() -> None:
    sched = get_schedule("exponential", gamma=0.5)
    assert [sched.lr(1.0, e) for e in (0, 1, 2, 3)] == [1.0, 0.5, 0.25, 0.125]


@pytest.mark.parametrize("epoch", [0.0, 1.0, 2.5, 5.0, 7.9, 10.0])
def test_cosine_closed_form(epoch: float) -> None:
    got = get_schedule("cosine", t_max=10, eta_min=0.01).lr(0.1, epoch)
    expected = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * math.floor(epoch) / 10)) / 2
    assert got == pytest.approx(expected)


def test_cosine_landmarks() -> None:
    sched = get_schedule("cosine", t_max=4)
    assert sched.lr(1.0, 0) == pytest.approx(1.0)
    assert sched.lr(1.0, 2) == pytest.approx(0.5)  # half way: half the rate
    assert sched.lr(1.0, 4) == pytest.approx(0.0, abs=1e-15)  # t_max: eta_min
    assert sched.lr(1.0, 3.99) == sched.lr(1.0, 3)  # per-epoch stepping


@pytest.mark.parametrize(("epoch", "expected"), [(0.0, 0.0), (0.5, 0.01), (1.25, 0.025), (4.0, 0.08)])
def test_warmup_ramps_linearly_at_fractional_epochs(epoch: float, expected: float) -> None:
    assert get_schedule("warmup", warmup_epochs=5).lr(0.1, epoch) == pytest.approx(expected)


def test_warmup_reaches_base_and_stays() -> None:
    sched = get_schedule("warmup", warmup_epochs=2)
    assert [sched.lr(0.3, e) for e in (2.0, 3.0, 50.0)] == [0.3, 0.3, 0.3]
    assert get_schedule("warmup", warmup_epochs=0).lr(0.3, 0.0) == 0.3


def test_warmup_rises_every_step_within_an_epoch() -> None:
    sched = get_schedule("warmup", warmup_epochs=1)
    steps_per_epoch = 4
    lrs = [sched.lr(1.0, i / steps_per_epoch) for i in range(steps_per_epoch)]
    assert lrs == [0.0, 0.25, 0.5, 0.75]


def test_returns_python_float() -> None:
    for name in SCHEDULES.names():
        assert type(get_schedule(name).lr(0.1, 1.5)) is float


def test_bad_options() -> None:
    with pytest.raises(TypeError, match="gamma"):
        get_schedule("constant", gamma=0.5)
    with pytest.raises(ValueError, match="step_size"):
        get_schedule("step", step_size=0)
    with pytest.raises(ValueError, match="whole number"):
        get_schedule("step", step_size=2.5)
    with pytest.raises(ValueError, match="t_max"):
        get_schedule("cosine", t_max=0)
    with pytest.raises(ValueError, match="gamma"):
        get_schedule("exponential", gamma=-1.0)
    with pytest.raises(ValueError, match="epoch"):
        get_schedule("constant").lr(0.1, -1.0)
    assert get_schedule("step", step_size=4.0).step_size == 4  # integral floats from JSON are fine
