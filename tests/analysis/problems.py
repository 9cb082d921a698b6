"""Small real problems for the analyses: a 3-class spiral, networks, and a no-side-effects check."""

from __future__ import annotations

import numpy as np

from engine.data import Dataset, make_dataset
from engine.network import Network
from engine.spec import BatchNormSpec, DataSpec, DenseSpec, DropoutSpec, ModelSpec


def make_spiral() -> Dataset:
    # Derived features make featurize non-linear, which the 2-D saliency chain rule must handle.
    features = ("x1", "x2", "x1_sq", "sin_x2")
    spec = DataSpec(source="spiral_multi", n_classes=3, n_samples=300, features=features)
    return make_dataset(spec, np.random.default_rng(0))


def make_net(dataset: Dataset, *, dtype: type = np.float32, seed: int = 1, extras: bool = False) -> Network:
    """2×16 tanh (the default model); ``extras`` adds BatchNorm and Dropout layers."""
    layers: tuple = (DenseSpec(units=16, activation="tanh"), DenseSpec(units=16, activation="tanh"))
    if extras:
        layers = (layers[0], BatchNormSpec(), DropoutSpec(rate=0.3), layers[1])
    return Network.from_spec(
        ModelSpec(layers=layers), dataset.input_shape, dataset.n_classes, np.random.default_rng(seed), dtype
    )


def snapshot(net: Network) -> dict[str, np.ndarray]:
    """Everything an analysis could disturb: weights, gradients, buffers, cached activations, rng."""
    state = {f"param:{k}": v.copy() for k, v in net.state_dict().items()}
    state["grads"] = net.grads.copy()
    for layer in net.layers:
        for attr in ("z", "a"):
            value = getattr(layer, attr, None)
            if isinstance(value, np.ndarray):
                state[f"{layer.name}.{attr}"] = value.copy()
    state["rng"] = np.array([net.rng.bit_generator.state["state"]["state"]], dtype=object)
    return state


def assert_unchanged(net: Network, before: dict[str, np.ndarray]) -> None:
    after = snapshot(net)
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert np.array_equal(after[key], value), key
