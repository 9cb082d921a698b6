"""Done when: on the shapes set a small CNN reaches >= 95 % validation accuracy, and for >= 90 %
of the correctly classified validation images the peak of its Grad-CAM lies inside the
object's bounding box. Seeded; float32 training, as the app trains by default."""

from __future__ import annotations

import numpy as np

from engine.analysis.gradcam import grad_cam
from engine.data.shapes import SHAPE_NAMES, in_box
from engine.spec import ExperimentSpec
from engine.trainer import Trainer

SPEC = {
    "seed": 0,
    "data": {"source": "shapes", "n_samples": 1200, "image_size": 24},
    "model": {"layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": "same"},
        {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": "same"},
        {"type": "global_avgpool"},
    ]},
    "optimizer": {"name": "adam", "lr": 0.005},
    "training": {"epochs": 8, "batch_size": 32, "dtype": "float32"},
}


def test_a_small_cnn_learns_shapes_and_its_grad_cam_points_at_the_object():
    trainer = Trainer(ExperimentSpec.model_validate(SPEC))
    for _ in trainer.run():
        pass
    data = trainer.dataset
    assert data.boxes_val is not None and data.class_names == SHAPE_NAMES
    correct = np.flatnonzero(trainer.predict(data.x_val).argmax(axis=1) == data.y_val)
    accuracy = len(correct) / data.n_val
    assert accuracy >= 0.95, f"validation accuracy {accuracy:.1%}"

    # The last convolution, for each image's true class (every image here is classified right).
    cams = np.zeros((len(correct), *data.x_val.shape[2:]))
    for k in range(len(SHAPE_NAMES)):
        chosen = data.y_val[correct] == k
        cams[chosen] = grad_cam(trainer.network, data.x_val[correct[chosen]], k, "conv3")
    flat = cams.reshape(len(cams), -1)
    assert np.all(flat.max(axis=1) > 0), "a Grad-CAM map with no positive evidence at all"
    peaks = np.stack(np.unravel_index(flat.argmax(axis=1), cams.shape[1:]), axis=1)
    inside = in_box(peaks, data.boxes_val[correct])
    assert inside.mean() >= 0.90, f"Grad-CAM peak inside the box for only {inside.mean():.1%}"
    # And it is not the box being everything: objects cover well under half the image.
    boxes = data.boxes_val
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / 24**2
    assert area.mean() < 0.4
