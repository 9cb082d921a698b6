"""The network editor's per-layer output shapes and parameter counts, against a built network."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from engine.network import Network
from engine.spec import Conv2dSpec, DenseSpec, DropoutSpec, MaxPool2dSpec, ModelSpec
from workbench.model.layer_table import layer_sizes, network_input_shape


def test_rows_match_the_network_the_engine_builds() -> None:
    model = ModelSpec(layers=(Conv2dSpec(filters=4, kernel_size=3), MaxPool2dSpec(), DropoutSpec(),
                              DenseSpec(units=10)))
    net = Network.from_spec(model, (1, 12, 12), 3, np.random.default_rng(0))
    built = {name: (shape, n) for name, _kind, shape, n in net.summary()}
    rows = layer_sizes(model, (1, 12, 12), 3)
    assert [r.text for r in rows] == ["4×10×10 · 40", "4×5×5 · 0", "4×5×5 · 0", "10 · 1,010"]
    assert built["conv1"] == ((4, 10, 10), 40) and built["dense1"] == ((10,), 1010)
    # The flatten the engine inserts before the Dense layer is told on that row.
    assert "flatten1 is inserted before it: the images become 100 features" in rows[3].tip
    assert all(r.ok for r in rows)


def test_the_layer_that_does_not_fit_is_named_and_the_rows_above_keep_their_shapes() -> None:
    model = ModelSpec(layers=(Conv2dSpec(filters=2, kernel_size=3), MaxPool2dSpec(pool_size=9),
                              DenseSpec(units=4)))
    rows = layer_sizes(model, (1, 8, 8), 2)
    assert rows[0].text == "2×6×6 · 20" and rows[0].ok
    assert not rows[1].ok and "maxpool1: a 9×9 pool does not fit a 6×6 input" in rows[1].tip
    assert rows[2].text == "—" and not rows[2].ok
    assert len(rows) == 3


def test_digits_become_images_under_a_first_conv_layer() -> None:
    digits = SimpleNamespace(input_shape=(64,), image_shape=(8, 8))
    assert network_input_shape(digits, ModelSpec(layers=(Conv2dSpec(),))) == (1, 8, 8)
    assert network_input_shape(digits, ModelSpec(layers=(DenseSpec(),))) == (64,)
