"""Grad-CAM against its closed form on a network where ∂score/∂A is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from engine.analysis.gradcam import grad_cam, image_layers, upsample_bilinear
from engine.network import Network
from engine.spec import Conv2dSpec, GlobalAvgPoolSpec, MaxPool2dSpec, ModelSpec


def _net() -> Network:
    model = ModelSpec(layers=(Conv2dSpec(filters=4, kernel_size=3, padding="same"), GlobalAvgPoolSpec()))
    return Network.from_spec(model, (1, 6, 6), 3, np.random.default_rng(0), dtype=np.float64)


def test_grad_cam_of_conv_then_global_average_is_the_class_weighted_sum_of_maps():
    net = _net()
    x = np.random.default_rng(1).normal(size=(2, 1, 6, 6))
    net.forward(x)
    A = np.array(net.layer("conv1").a)
    W = net.layer("output").params["W"]  # (4, 3): score_k = Σ_f W[f, k] · mean(A_f) + b_k
    for k in range(3):
        want = np.maximum(np.einsum("f,nfhw->nhw", W[:, k] / 36.0, A), 0.0)
        np.testing.assert_allclose(grad_cam(net, x, k, "conv1"), want, atol=1e-12)
    np.testing.assert_allclose(grad_cam(net, x[1], 2, "conv1"), grad_cam(net, x, 2, "conv1")[1])


def test_grad_cam_leaves_the_network_alone_and_names_bad_choices():
    net = _net()
    before = net.grads.copy()
    grad_cam(net, np.ones((1, 6, 6)), 0, "conv1")
    np.testing.assert_array_equal(net.grads, before)
    assert image_layers(net) == ["conv1"]
    with pytest.raises(ValueError, match="choose one of: conv1"):
        grad_cam(net, np.ones((1, 6, 6)), 0, "output")
    with pytest.raises(ValueError, match=r"class_index must be in \[0, 3\)"):
        grad_cam(net, np.ones((1, 6, 6)), 3, "conv1")


def test_a_pooled_map_is_upsampled_to_the_input_size():
    model = ModelSpec(layers=(Conv2dSpec(filters=2, kernel_size=3, padding="same"), MaxPool2dSpec()))
    net = Network.from_spec(model, (1, 8, 8), 2, np.random.default_rng(0), dtype=np.float64)
    assert grad_cam(net, np.ones((1, 8, 8)), 1, "maxpool1").shape == (8, 8)


def test_bilinear_upsampling_keeps_constants_and_interpolates_between_centres():
    np.testing.assert_allclose(upsample_bilinear(np.full((1, 2, 2), 3.0), (5, 7)), 3.0)
    out = upsample_bilinear(np.array([[[0.0, 4.0]]]), (1, 4))
    np.testing.assert_allclose(out[0, 0], [0.0, 1.0, 3.0, 4.0])  # torch's align_corners=False
