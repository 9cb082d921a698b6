"""Fixtures: the 3-class spiral (built once per module) and its loss."""

from __future__ import annotations

import pytest

from engine.data import Dataset
from engine.losses import LOSSES, Loss

from .problems import make_spiral


@pytest.fixture(scope="module")
def spiral() -> Dataset:
    return make_spiral()


@pytest.fixture
def ce() -> Loss:
    return LOSSES.get("softmax_cross_entropy")()
