"""Weights as ``.npz``: one array per parameter/buffer under its stable name, plus the
architecture as JSON, so ``np.load(path, allow_pickle=False)`` is all another tool needs.

Keys: ``dense1.W`` (in, out), ``dense1.b``, ``batchnorm1.gamma``, ``batchnorm1.beta``,
``batchnorm1.running_mean``, ``batchnorm1.running_var``, …, ``output.W``, ``output.b`` and
``__architecture__`` (a 0-d unicode array holding JSON: input shape, layers with their
configuration, parameter shapes and, when known, the experiment).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.spec import ExperimentSpec
from workbench.experiment.io import atomic_write_bytes

ARCHITECTURE_KEY = "__architecture__"
WEIGHTS_FORMAT = "gradient-workbench/weights"


class WeightsError(ValueError):
    """A weights file that does not fit the network (or is not a weights file)."""


def architecture(network: Any, spec: ExperimentSpec | None = None) -> dict[str, Any]:
    """What the arrays mean: enough to rebuild the network without the experiment file."""
    input_shape = getattr(network, "input_shape", None) or network.layers[0].input_shape
    arch: dict[str, Any] = {
        "format": WEIGHTS_FORMAT,
        "version": 1,
        "dtype": str(network.params.dtype),
        "input_shape": [int(d) for d in input_shape],
        "layers": [
            {
                "name": layer.name,
                "kind": layer.kind,
                "config": _jsonable(layer.config()),
                "output_shape": [int(d) for d in layer.output_shape],
            }
            for layer in network.layers
        ],
        "parameters": {k: list(v.shape) for k, v in network.parameters().items()},
        "buffers": {k: list(v.shape) for k, v in network.buffers().items()},
    }
    if spec is not None:
        arch["loss"] = spec.loss.name
        arch["experiment"] = spec.model_dump(mode="json")
    return arch


def save_weights(network: Any, path: str | os.PathLike[str], spec: ExperimentSpec | None = None) -> None:
    """Write parameters, buffers and the architecture (atomically)."""
    arrays = {k: np.array(v) for k, v in network.parameters().items()}
    arrays.update({k: np.array(v) for k, v in network.buffers().items()})
    arrays[ARCHITECTURE_KEY] = np.array(json.dumps(architecture(network, spec), sort_keys=False))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(Path(path), buffer.getvalue())


def _open(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise WeightsError(f"{path}: not a readable .npz weights file ({exc})") from None


def read_architecture(path: str | os.PathLike[str]) -> dict[str, Any]:
    arrays = _open(path)
    if ARCHITECTURE_KEY not in arrays:
        raise WeightsError(f"{path}: has no {ARCHITECTURE_KEY} entry")
    return json.loads(str(arrays[ARCHITECTURE_KEY][()]))


def load_weights(network: Any, path: str | os.PathLike[str]) -> None:
    """Load weights into a network of the same architecture; a clear error on any mismatch.

    Nothing is changed unless every array fits: names and shapes are all checked first.
    """
    arrays = _open(path)
    arrays.pop(ARCHITECTURE_KEY, None)
    expected = {k: v.shape for k, v in network.parameters().items()}
    expected.update({k: v.shape for k, v in network.buffers().items()})
    problems = []
    missing = [k for k in expected if k not in arrays]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    unexpected = [k for k in arrays if k not in expected]
    if unexpected:
        problems.append(f"this network has no {', '.join(unexpected)}")
    for key, shape in expected.items():
        if key in arrays and arrays[key].shape != shape:
            problems.append(f"{key} has shape {arrays[key].shape} in the file but {shape} in the network")
    for key, value in arrays.items():
        if key in expected and value.dtype.kind not in "fiu":
            problems.append(f"{key} holds {value.dtype} values, not numbers")
    if problems:
        raise WeightsError(f"{path}: weights do not fit this network: " + "; ".join(problems))
    dtype = network.params.dtype
    network.load_state_dict({k: arrays[k].astype(dtype, copy=False) for k in expected})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
