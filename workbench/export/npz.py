"""Weights as ``.npz``: one array per parameter/buffer under its stable name, plus the
architecture as JSON, so ``np.load(path, allow_pickle=False)`` is all another tool needs.

Keys: ``dense1.W`` (in, out), ``dense1.b``, ``batchnorm1.gamma``, ``batchnorm1.beta``,
``batchnorm1.running_mean``, ``batchnorm1.running_var``, …, ``output.W``, ``output.b``, the input
standardisation ``input.mean`` and ``input.std`` when known (``preprocessing.py``), and
``__architecture__`` (a 0-d unicode array holding JSON: input shape, layers with their
configuration, parameter shapes and, when known, the experiment).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.spec import MAX_PARAMETERS, ExperimentSpec
from workbench.experiment.errors import ExperimentError
from workbench.experiment.io import atomic_write_bytes, parse_json
from workbench.export.preprocessing import PREFIX, Standardization
from workbench.files import FileRefused, capped_lines, read_npz

ARCHITECTURE_KEY = "__architecture__"
WEIGHTS_FORMAT = "gradient-workbench/weights"


# A network holds at most MAX_PARAMETERS parameters: float64 arrays of that, the few buffers
# and the architecture (with the experiment, at most 5 MB) fit well within these.
MAX_INFLATED_BYTES = MAX_PARAMETERS * 8 + 64 * 2**20
MAX_FILE_BYTES = MAX_INFLATED_BYTES + 2**20  # np.savez stores arrays uncompressed
MAX_MEMBERS = 1024


class WeightsError(ValueError):
    """A weights file that does not fit the network, is not a weights file, or holds bad values."""


def architecture(network: Any, spec: ExperimentSpec | None = None) -> dict[str, Any]:
    """What the arrays mean: enough to rebuild the network without the experiment file."""
    input_shape = getattr(network, "input_shape", None) or network.layers[0].input_shape
    arch: dict[str, Any] = {
        "format": WEIGHTS_FORMAT,
        "version": 1,
        "dtype": str(network.params.dtype),
        "input_shape": [int(d) for d in input_shape],
        "layers": [_layer_entry(layer) for layer in network.layers],
        "parameters": {k: list(v.shape) for k, v in network.parameters().items()},
        "buffers": {k: list(v.shape) for k, v in network.buffers().items()},
    }
    if spec is not None:
        arch["loss"] = spec.loss.name
        arch["experiment"] = spec.model_dump(mode="json")
    return arch


def save_weights(network: Any, path: str | os.PathLike[str], spec: ExperimentSpec | None = None,
                 standardization: Standardization | None = None) -> None:
    """Write parameters, buffers, the input standardisation and the architecture (atomically)."""
    arrays = {k: np.array(v) for k, v in network.parameters().items()}
    arrays.update({k: np.array(v) for k, v in network.buffers().items()})
    arch = architecture(network, spec)
    if standardization is not None:
        arrays.update(standardization.arrays())
        arch["preprocessing"] = standardization.describe()
    arrays[ARCHITECTURE_KEY] = np.array(json.dumps(arch, sort_keys=False))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(Path(path), buffer.getvalue())


def _open(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    try:
        return read_npz(path, max_file_bytes=MAX_FILE_BYTES, max_total_bytes=MAX_INFLATED_BYTES,
                        max_members=MAX_MEMBERS, what="weights file")
    except FileRefused as exc:
        raise WeightsError(str(exc)) from None


def _architecture(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    entry = arrays.pop(ARCHITECTURE_KEY)
    if entry.shape != () or entry.dtype.kind != "U":
        raise WeightsError(f"{path}: {ARCHITECTURE_KEY} is not one JSON text")
    try:
        arch = parse_json(str(entry[()]))
    except ExperimentError as exc:
        raise WeightsError(f"{path}: {ARCHITECTURE_KEY} is not valid JSON ({exc.problems[0]})") from None
    if not isinstance(arch, dict):
        raise WeightsError(f"{path}: {ARCHITECTURE_KEY} is not a JSON object")
    return arch


def read_architecture(path: str | os.PathLike[str]) -> dict[str, Any]:
    arrays = _open(path)
    if ARCHITECTURE_KEY not in arrays:
        raise WeightsError(f"{path}: has no {ARCHITECTURE_KEY} entry")
    return _architecture(path, arrays)


def read_weight_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every parameter and buffer of a weights file, checked: numbers only, all finite.

    The architecture entry, when present, must be a JSON object and is left out of the result.
    """
    arrays = _open(path)
    if ARCHITECTURE_KEY in arrays:
        _architecture(path, arrays)
    problems = []
    for key, value in arrays.items():
        if value.dtype.kind not in "fiu":
            problems.append(f"{key[:80]} holds {value.dtype} values, not numbers")
        elif value.dtype.kind == "f" and not np.isfinite(value).all():
            bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            problems.append(f"{key[:80]} holds {bad:,} NaN or infinite value(s)")
    if problems:
        raise WeightsError(f"{path}: " + "; ".join(capped_lines(problems)))
    return arrays


def fit_weights(network: Any, arrays: dict[str, np.ndarray], source: str = "weights") -> None:
    """Load checked arrays (``read_weight_arrays``) into a network of the same architecture.

    Nothing is changed unless every array fits: names and shapes are all checked first.
    """
    expected = {k: v.shape for k, v in network.parameters().items()}
    expected.update({k: v.shape for k, v in network.buffers().items()})
    problems = []
    missing = [k for k in expected if k not in arrays]
    if missing:
        problems.append(f"missing {', '.join(capped_lines(missing))}")
    unexpected = [k[:80] for k in arrays if k not in expected and not k.startswith(PREFIX)]
    if unexpected:
        problems.append(f"this network has no {', '.join(capped_lines(unexpected))}")
    mismatched = [f"{key} has shape {arrays[key].shape} in the file but {shape} in the network"
                  for key, shape in expected.items() if key in arrays and arrays[key].shape != shape]
    problems += capped_lines(mismatched)
    if problems:
        raise WeightsError(f"{source}: weights do not fit this network: " + "; ".join(problems))
    dtype = network.params.dtype
    network.load_state_dict({k: arrays[k].astype(dtype, copy=False) for k in expected})


def load_weights(network: Any, path: str | os.PathLike[str]) -> None:
    """Load weights into a network of the same architecture; a clear error on any mismatch.

    Nothing is changed unless every array fits and is finite.
    """
    fit_weights(network, read_weight_arrays(path), str(path))


def _layer_entry(layer: Any) -> dict[str, Any]:
    """A layer's name, kind, configuration and output shape; a residual block lists its inner
    layers (and its projection, if any) instead of a configuration."""
    entry: dict[str, Any] = {"name": layer.name, "kind": layer.kind}
    subs = layer.sublayers() if hasattr(layer, "sublayers") else []
    if subs:
        entry["layers"] = [_layer_entry(s) for s in subs]
    else:
        entry["config"] = _jsonable(layer.config())
    entry["output_shape"] = [int(d) for d in layer.output_shape]
    return entry


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
