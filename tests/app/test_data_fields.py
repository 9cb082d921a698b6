"""What a newcomer reads in the Data panel for every kind of source: a field the source does not
use never shows a number that is not in use; it shows the value the data really uses, or is
hidden."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.shipped import example_path
from workbench.experiment import load_experiment

FIELDS = ("samples", "noise", "classes", "steps", "images")


def _read(panel) -> dict[str, str]:
    """Each field's text as the user reads it, "" for a row that is not shown."""
    out = {}
    for name in FIELDS:
        widget = {"samples": panel.samples, "noise": panel.noise, "classes": panel.classes,
                  "steps": panel.length, "images": panel.image_size}[name]
        row_holder = panel._stack_of(name) if name in panel.in_use else widget
        if not panel.form.isRowVisible(row_holder):
            out[name] = ""
        elif name in panel.in_use and panel._stack_of(name).currentIndex() == 1:
            assert panel.in_use[name].isVisibleTo(panel)
            out[name] = panel.in_use[name].text()
        else:
            assert widget.isVisibleTo(panel) and widget.isEnabled()
            out[name] = widget.text()
        assert panel.field_text(name) == out[name]
    return out


REGRESSION = ("plane", "adding", "csv_series")


def _choose(window, source: str, **data) -> dict[str, str]:
    loss = {"loss.name": "mse"} if source in REGRESSION else {}
    spec = window.session.spec.with_overrides(
        {"data.source": source, **loss, **{f"data.{k}": v for k, v in data.items()}})
    window.session.set_spec(spec)
    assert window.session.trainer is not None, window.session.build_error
    return _read(window.data_panel)


def test_a_table_shows_the_class_count_of_the_table_not_the_stale_field(window) -> None:
    window.session.open(str(example_path("table-titanic")))
    assert window.session.spec.data.n_classes == 3  # the stale number the file still carries
    seen = _read(window.data_panel)
    n = len(window.session.trainer.dataset.x_train) + len(window.session.trainer.dataset.x_val)
    assert seen == {"samples": f"{n} (from the table)", "noise": "", "classes": "2 (from the table)",
                    "steps": "", "images": ""}
    assert "3" not in seen["classes"]
    assert not window.data_panel.target.isHidden() and not window.data_panel.csv_row.isHidden()


@pytest.mark.parametrize(("source", "expected"), [
    ("circle", {"samples": "200", "noise": "0.00", "classes": "2 (fixed by the circle set)",
                "steps": "", "images": ""}),
    ("blobs", {"samples": "200", "noise": "0.00", "classes": "3", "steps": "", "images": ""}),
    ("plane", {"samples": "200", "noise": "0.00", "classes": "none (predicts numbers)",
               "steps": "", "images": ""}),
    ("digits", {"samples": "1797 (fixed by the digits set)", "noise": "",
                "classes": "10 (fixed by the digits set)", "steps": "",
                "images": "8×8 px, grey (fixed by the digits set)"}),
    ("shapes", {"samples": "200", "noise": "0.00", "classes": "4 (fixed by the shapes set)",
                "steps": "", "images": "16 px"}),
    ("adding", {"samples": "200", "noise": "", "classes": "none (predicts numbers)", "steps": "20",
                "images": ""}),
    ("recall", {"samples": "200", "noise": "0.00", "classes": "3", "steps": "20", "images": ""}),
])
def test_every_generated_source_shows_only_what_it_uses(window, source, expected) -> None:
    spec = load_experiment(example_path("default-spiral")).with_overrides(
        {"data.n_samples": 200, "data.noise": 0.0, "data.n_classes": 3, "data.sequence_length": 20,
         "data.image_size": 16})
    window.session.new(spec)
    seen = _choose(window, source)
    assert seen == expected
    panel = window.data_panel
    assert panel.form.isRowVisible(panel.features_row) == (source in ("circle", "blobs", "plane"))
    assert not panel.form.isRowVisible(panel.csv_row) and not panel.form.isRowVisible(panel.target)


def test_an_image_folder_shows_its_own_counts(window, tmp_path) -> None:
    rng = np.random.default_rng(0)
    for cls in ("red", "blue", "green"):
        (tmp_path / "pics" / cls).mkdir(parents=True)
        for i in range(4):
            pixels = (rng.random((12, 12)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pics" / cls / f"{i}.png")
    seen = _choose(window, "image_folder", path=str(tmp_path / "pics"), n_classes=7, n_samples=999)
    assert seen == {"samples": "12 (from the folders)", "noise": "", "classes": "3 (from the folders)",
                    "steps": "", "images": f"{window.session.spec.data.image_size} px"}
    assert window.data_panel.channels.isVisibleTo(window.data_panel)


def test_a_csv_series_shows_steps_and_no_class_field_it_does_not_use(window, tmp_path) -> None:
    (tmp_path / "w.csv").write_text("t,v\n" + "\n".join(f"{i},{np.sin(i / 3)}" for i in range(60)) + "\n")
    seen = _choose(window, "csv_series", path=str(tmp_path / "w.csv"), sequence_length=5, n_classes=4)
    assert seen["steps"] == "5" and seen["noise"] == "" and seen["images"] == ""
    assert seen["classes"] == "none (predicts numbers)"
    assert seen["samples"].endswith("(from the series)")
