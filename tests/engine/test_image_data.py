"""Image data: the shapes set, the digits as images and image folders (Pillow)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.data import DataError, make_dataset
from engine.data import imagefolder as folder_mod
from engine.data.shapes import bounding_boxes, in_box, make_shapes
from engine.spec import DataSpec, ExperimentSpec
from engine.trainer import Trainer


def test_shapes_are_seeded_balanced_and_their_boxes_hold_the_object():
    x, y, boxes = make_shapes(400, 0.0, 16, np.random.default_rng(3))
    x2, y2, b2 = make_shapes(400, 0.0, 16, np.random.default_rng(3))
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(boxes, b2)
    assert x.shape == (400, 1, 16, 16) and np.bincount(y).tolist() == [100] * 4
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 16) and np.all(boxes[:, 2:] > boxes[:, :2])
    # The object (brightness >= 0.7 on noise of std 0.15) is brighter inside its box than outside.
    inside = np.zeros((400, 16, 16), bool)
    for k, (t, lft, b, r) in enumerate(boxes):
        inside[k, t:b, lft:r] = True
    img = x[:, 0]
    assert img[inside].mean() > img[~inside].mean() + 0.4
    assert abs(img[~inside].mean()) < 0.02


def test_bounding_boxes_and_in_box_agree_on_a_drawn_mask():
    mask = np.zeros((1, 6, 7), bool)
    mask[0, 2:4, 1:6] = True
    np.testing.assert_array_equal(bounding_boxes(mask), [[2, 1, 4, 6]])
    boxes = np.repeat(bounding_boxes(mask), 4, 0)
    assert in_box(np.array([[2, 1], [3, 5], [4, 5], [2, 6]]), boxes).tolist() == [True, True, False, False]


def test_shapes_dataset_keeps_boxes_with_the_split_and_scales_per_channel():
    data = make_dataset(DataSpec(source="shapes", n_samples=200, image_size=24), np.random.default_rng(0))
    assert data.input_shape == (1, 24, 24) and data.x_train.shape == (160, 1, 24, 24)
    assert data.boxes_train.shape == (160, 4) and data.boxes_val.shape == (40, 4)
    assert abs(data.x_train.mean()) < 1e-9 and abs(data.x_train.std() - 1) < 1e-9
    assert data.class_names == ("square", "circle", "cross", "triangle")


def test_digits_are_images_when_the_first_layer_is_a_convolution():
    base = {"data": {"source": "digits"}, "training": {"epochs": 1}}
    flat = Trainer(ExperimentSpec.model_validate(base))
    conv = Trainer(ExperimentSpec.model_validate(
        {**base, "model": {"layers": [{"type": "conv2d", "filters": 4}, {"type": "maxpool2d"}]}}))
    assert flat.dataset.input_shape == (64,)
    assert conv.dataset.input_shape == (1, 8, 8)
    # The same images, split the same way.
    np.testing.assert_array_equal(flat.dataset.y_val, conv.dataset.y_val)
    assert [row[0] for row in conv.network.summary()] == ["conv1", "maxpool1", "flatten1", "output"]


def test_a_layer_that_does_not_fit_the_data_is_refused_naming_it():
    spec = ExperimentSpec.model_validate({"data": {"source": "digits"}, "model": {"layers": [
        {"type": "conv2d", "filters": 4, "kernel_size": 5},
        {"type": "conv2d", "filters": 4, "kernel_size": 5}]}})
    with pytest.raises(DataError, match="conv2: a 5×5 kernel does not fit a 4×4 input"):
        Trainer(spec)


def _folder(tmp_path, n=3):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(n):
            pixels = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    return tmp_path


@pytest.mark.parametrize("channels", [1, 3])
def test_an_image_folder_reads_each_class_resized(tmp_path, channels):
    folder = _folder(tmp_path)
    (folder / "cats" / "notes.txt").write_text("ignored")
    spec = DataSpec(source="image_folder", path=str(folder), image_size=12, channels=channels,
                    train_fraction=0.5)
    data = make_dataset(spec, np.random.default_rng(0))
    assert data.input_shape == (channels, 12, 12)
    assert data.class_names == ("cats", "dogs") and data.n_train + data.n_val == 6


def test_a_bad_image_is_named_by_its_path_and_nothing_is_loaded(tmp_path):
    folder = _folder(tmp_path)
    (folder / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError) as err:
        make_dataset(DataSpec(source="image_folder", path=str(folder)), np.random.default_rng(0))
    assert "dogs/broken.png" in str(err.value) and "not a readable PNG or JPEG" in str(err.value)
    assert len(err.value.problems) == 1


def test_image_folder_caps_files_bytes_and_pixels(tmp_path, monkeypatch):
    folder = _folder(tmp_path)
    spec = DataSpec(source="image_folder", path=str(folder))
    monkeypatch.setattr(folder_mod, "MAX_FILES", 4)
    with pytest.raises(DataError, match="more than 4 images"):
        make_dataset(spec, np.random.default_rng(0))
    monkeypatch.setattr(folder_mod, "MAX_FILES", 100)
    monkeypatch.setattr(folder_mod, "MAX_PIXELS", 500)  # the files are 30×20 = 600 pixels
    with pytest.raises(DataError, match="30×20 pixels; at most 500 per image"):
        make_dataset(spec, np.random.default_rng(0))
    monkeypatch.setattr(folder_mod, "MAX_PIXELS", 10**6)
    monkeypatch.setattr(folder_mod, "MAX_FILE_BYTES", 100)
    with pytest.raises(DataError, match=r"cats/0\.jpg"):
        make_dataset(spec, np.random.default_rng(0))


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path):
    folder = _folder(tmp_path)
    Image.new("L", (6000, 6000)).save(folder / "cats" / "bomb.png")  # tiny file, 36 M pixels
    assert (folder / "cats" / "bomb.png").stat().st_size < 200_000
    with pytest.raises(DataError, match="6000×6000 pixels"):
        make_dataset(DataSpec(source="image_folder", path=str(folder)), np.random.default_rng(0))


def test_an_image_folder_needs_class_folders(tmp_path):
    (tmp_path / "only").mkdir()
    with pytest.raises(DataError, match="at least two sub-folders"):
        make_dataset(DataSpec(source="image_folder", path=str(tmp_path)), np.random.default_rng(0))
    with pytest.raises(DataError, match="no folder path"):
        make_dataset(DataSpec(source="image_folder"), np.random.default_rng(0))
