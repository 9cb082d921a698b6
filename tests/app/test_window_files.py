"""Files and exports through the window: save/reopen, malformed files, exports of every format,
run folders, drag and drop, recent files, help dialogs, extra view docks."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from engine.spec import ExperimentSpec
from tests.app.conftest import small_spec
from workbench.app.plots.boundary_plot import GRID

GRID_POINTS = GRID * GRID


def train_epochs(qtbot, window, n: int = 3) -> None:
    window.session.new(small_spec(epochs=n))
    window.session.start()
    qtbot.waitUntil(lambda: window.session.run is None and window.session.history.n_epochs == n,
                    timeout=15_000)
    window.refresh_views(force=True)


def test_save_reopen_compare(qtbot, window, dialogs, tmp_path) -> None:
    window.training_panel.set_learning_rate(0.05)
    assert window.isWindowModified()
    dialogs.save_path = str(tmp_path / "mine")
    assert window.files.save_file()  # no path yet: asks, adds .json
    path = tmp_path / "mine.json"
    assert path.exists() and not window.isWindowModified()
    assert "mine.json" in window.windowTitle()
    saved = window.session.spec
    window.files.new_file()
    assert window.session.spec == ExperimentSpec() and window.session.path is None
    assert window.files.open_path(path)
    assert window.session.spec == saved and window.session.path == path.resolve()
    assert window.files.recent_files()[0] == str(path.resolve())


def test_unsaved_changes_are_asked_about(window, dialogs) -> None:
    window.training_panel.set_learning_rate(0.07)
    dialogs.save_changes = "cancel"
    window.files.new_file()
    assert window.session.spec.optimizer.lr == 0.07
    dialogs.save_changes = "discard"
    window.files.new_file()
    assert window.session.spec == ExperimentSpec()


def test_malformed_file_shows_problems_and_keeps_experiment(window, dialogs, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "gradient-workbench/experiment", "version": 1, "training": {"epochs": -3}}')
    typo = tmp_path / "typo.json"
    typo.write_text('{"format": "gradient-workbench/experiment", "version": 1, '
                    '"optimizer": {"name": "adamm"}}')
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": ')
    before, path = window.session.spec, window.session.path
    for f in (bad, typo, broken):
        assert not window.files.open_path(f)
    assert len(dialogs.errors) == 3
    assert "bad.json" in dialogs.errors[0][1] and "training.epochs" in dialogs.errors[0][1]
    assert "optimizer.name" in dialogs.errors[1][1] and "adam" in dialogs.errors[1][1]
    assert "broken.json" in dialogs.errors[2][1]
    assert window.session.spec == before and window.session.path == path


def test_export_every_format(qtbot, window, dialogs, tmp_path) -> None:
    import onnxruntime as ort

    train_epochs(qtbot, window)
    dialogs.png_size = (640, 400)
    dialogs.save_path = str(tmp_path / "loss.png")
    out = window.exports.export_plot(window.loss_plot, "png")
    image = QImage(str(out))
    assert (image.width(), image.height()) == (640, 400)

    dialogs.save_path = str(tmp_path / "grads.svg")
    out = window.exports.export_plot(window.gradient_plot, "svg")
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    assert sum(1 for el in root.iter() if el.tag.endswith(("path", "polyline"))) > 3

    dialogs.save_path = str(tmp_path / "acc.csv")
    out = window.exports.export_plot(window.metric_plot, "csv")
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["epoch", "train_accuracy", "val_accuracy"] and len(rows) == 1 + 3

    dialogs.save_path = str(tmp_path / "boundary.csv")
    rows = list(csv.reader(window.exports.export_plot(window.boundary_plot, "csv").open()))
    assert rows[0][:2] == ["x1", "x2"] and len(rows) == 1 + GRID_POINTS

    dialogs.save_path = str(tmp_path / "w.npz")
    out = window.exports.export_weights("npz")
    with np.load(out) as z:
        assert {"dense1.W", "dense1.b", "output.W"} <= set(z.files)

    dialogs.save_path = str(tmp_path / "m.onnx")
    out = window.exports.export_weights("onnx")
    session = ort.InferenceSession(str(out))
    ds = window.session.trainer.dataset
    x = ds.x_val[:5].astype(np.float32)
    raw = (ds.x_val[:5] * ds.input_std + ds.input_mean).astype(np.float32)  # the model standardises itself
    got = session.run(None, {session.get_inputs()[0].name: raw})[0]
    np.testing.assert_allclose(got, window.session.trainer.predict(x), rtol=1e-4, atol=1e-5)

    dialogs.folder = str(tmp_path / "all")
    files = window.exports.export_all_plots()
    assert len(files) == 3 * len(window.plots) and all(f.stat().st_size > 0 for f in files)


def test_run_folder_roundtrip_shows_curves(qtbot, window, dialogs, tmp_path) -> None:
    train_epochs(qtbot, window, 3)
    dialogs.folder = str(tmp_path / "run")
    folder = window.exports.export_run_folder()
    assert (folder / "history.csv").exists()
    window.files.new_file()
    assert window.session.history.n_epochs == 0
    assert window.files.open_path(folder)
    assert window.session.history.n_epochs == 3
    assert len(window.metric_plot.train.xData) == 3
    assert window.boundary_plot._prediction is not None


def test_drop_a_file_opens_it(qtbot, window, tmp_path) -> None:
    from workbench.experiment import save_experiment

    path = tmp_path / "dropped.json"
    save_experiment(small_spec(epochs=7), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(QPoint(50, 50)), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.session.path == path.resolve())
    assert window.session.spec.training.epochs == 7


def test_help_about_and_saved_layout(window, dialogs) -> None:
    window.show_shortcuts()
    assert "F5" in dialogs.infos[-1][1] and "Shift+F5" in dialogs.infos[-1][1]
    window.show_about()
    assert "PySide6" in dialogs.infos[-1][1] and "NumPy" in dialogs.infos[-1][1]
    window.workspace.open_page("saliency")
    window.editors_column.hide()
    window.reset_layout()
    assert window.workspace.open_names() == ["training"] and window.editors.isVisible()
    assert window.loss_plot.isVisible()
    window.save_settings()
    assert '"version": 2' in window.settings.value("layout")


def test_invalid_combination_is_explained_inline(window) -> None:
    panel = window.training_panel
    panel.loss.setCurrentIndex(panel.loss.findData("mse"))
    panel.loss.activated.emit(panel.loss.currentIndex())
    # spiral_multi has three classes; mse on class labels is explained, not a crash.
    assert window.session.spec.loss.name == "mse"
    assert panel.notes.text() or panel.error.text() or window.session.build_error
