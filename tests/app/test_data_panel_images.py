"""The Data panel edits the image options: image size for shapes, and a folder of class
sub-folders read grey or RGB."""

from __future__ import annotations

import numpy as np
from PIL import Image


def _choose(panel, name: str) -> None:
    panel.dataset.setCurrentIndex(panel.dataset.findData(name))
    panel.dataset.activated.emit(panel.dataset.currentIndex())


def test_shapes_image_size_is_editable(window) -> None:
    panel = window.data_panel
    _choose(panel, "shapes")
    assert window.session.spec.data.source == "shapes"
    assert panel.image_size.isEnabled() and panel.samples.isEnabled() and not panel.channels.isEnabled()
    panel.image_size.setValue(24)
    panel.image_size.editingFinished.emit()
    assert window.session.spec.data.image_size == 24
    assert window.session.trainer.dataset.input_shape == (1, 24, 24)
    assert "1×24×24 images" in panel.info.text()


def test_an_image_folder_is_chosen_and_read_in_colour(window, tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    for cls in ("red", "blue"):
        (tmp_path / "pics" / cls).mkdir(parents=True)
        for i in range(4):
            pixels = (rng.random((12, 12, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pics" / cls / f"{i}.png")
    panel = window.data_panel
    monkeypatch.setattr(panel, "choose_folder", lambda: str(tmp_path / "pics"))
    _choose(panel, "image_folder")
    assert window.session.spec.data.path == str(tmp_path / "pics")
    assert panel.csv_row.isEnabled() and panel.channels.isEnabled()
    panel.channels.setCurrentIndex(panel.channels.findData(3))
    panel.channels.activated.emit(panel.channels.currentIndex())
    assert window.session.spec.data.channels == 3
    assert window.session.trainer.dataset.input_shape == (3, 16, 16)
    assert window.session.trainer.dataset.class_names == ("blue", "red")
