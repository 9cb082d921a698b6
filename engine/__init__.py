"""Gradient Workbench's pure-NumPy backprop engine. Never imports Qt."""

from engine.registry import Registry, UnknownNameError
from engine.spec import ExperimentSpec

__all__ = ["ExperimentSpec", "Registry", "UnknownNameError"]
