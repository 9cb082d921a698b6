"""Trained networks in formats other tools read: NPZ weights and ONNX models. Qt-free."""

from workbench.export.npz import (
    WeightsError,
    architecture,
    fit_weights,
    load_weights,
    read_architecture,
    read_weight_arrays,
    save_weights,
)
from workbench.export.onnx_export import export_onnx, to_onnx

__all__ = [
    "WeightsError",
    "architecture",
    "export_onnx",
    "fit_weights",
    "load_weights",
    "read_architecture",
    "read_weight_arrays",
    "save_weights",
    "to_onnx",
]
