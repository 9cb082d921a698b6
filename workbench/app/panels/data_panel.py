"""Data editor: which data set, how much, how noisy, how it is split, and a preview."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.data import DATASETS
from engine.spec import FEATURES, MAX_IMAGE_SIZE, MAX_SAMPLES, MAX_SEQUENCE_LENGTH, MIN_IMAGE_SIZE
from workbench.app.panels.common import TIPS, ErrorLabel, describe, edit_spec
from workbench.app.plots.boundary_plot import PALETTE
from workbench.model.data_fields import FieldShow, data_fields

FEATURE_LABELS = {"x1": "x₁", "x2": "x₂", "x1_sq": "x₁²", "x2_sq": "x₂²", "x1_x2": "x₁x₂",
                  "sin_x1": "sin x₁", "sin_x2": "sin x₂"}


class DataPanel(QWidget):
    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("DataPanel")
        form = QFormLayout()
        self.form = form
        self.in_use: dict[str, QLabel] = {}  # what the data really uses, where a field does not apply
        self.dataset = QComboBox()
        for name, entry in DATASETS.items():
            label = "CSV file…" if name == "csv" else name.replace("_", " ")
            self.dataset.addItem(label, name)
            self.dataset.setItemData(self.dataset.count() - 1, describe(entry), 3)  # 3: ToolTipRole
        self.dataset.setToolTip(TIPS["dataset"])
        self.dataset.activated.connect(self._dataset_chosen)
        form.addRow("Data set", self.dataset)

        self.csv_row = QWidget()
        csv = QHBoxLayout(self.csv_row)
        csv.setContentsMargins(0, 0, 0, 0)
        self.csv_path = QLineEdit()
        self.csv_path.setToolTip(TIPS["csv_path"])
        self.csv_path.editingFinished.connect(lambda: self._edit("path", self.csv_path.text() or None))
        browse = QPushButton("…")
        browse.setToolTip("Choose a CSV file")
        browse.setMaximumWidth(28)
        browse.clicked.connect(self._browse)
        csv.addWidget(self.csv_path)
        csv.addWidget(browse)
        form.addRow("CSV", self.csv_row)
        self.import_button = QPushButton("Import table…")
        self.import_button.setObjectName("ImportTableButton")
        self.import_button.setToolTip("Read a CSV table with a preview: separator, header, target, column "
                                      "types, missing values, and warnings about leaks")
        self.import_button.clicked.connect(lambda: self.import_table())
        form.addRow("", self.import_button)
        self.target = QLineEdit()
        self.target.setPlaceholderText("last column")
        self.target.setToolTip(TIPS["target"])
        self.target.editingFinished.connect(lambda: self._edit("target", self.target.text().strip() or None))
        form.addRow("Target", self.target)

        self.samples = QSpinBox()
        self.samples.setRange(10, MAX_SAMPLES)
        self.samples.setSingleStep(50)
        self.samples.setToolTip(TIPS["n_samples"])
        self.samples.editingFinished.connect(lambda: self._edit("n_samples", self.samples.value()))
        form.addRow("Samples", self._in_use_stack("samples", self.samples))
        self.noise = QDoubleSpinBox()
        self.noise.setRange(0.0, 0.5)
        self.noise.setSingleStep(0.05)
        self.noise.setToolTip(TIPS["noise"])
        self.noise.editingFinished.connect(lambda: self._edit("noise", self.noise.value()))
        form.addRow("Noise", self.noise)
        self.classes = QSpinBox()
        self.classes.setRange(2, 10)
        self.classes.setToolTip(TIPS["n_classes"])
        self.classes.editingFinished.connect(lambda: self._edit("n_classes", self.classes.value()))
        form.addRow("Classes", self._in_use_stack("classes", self.classes))
        self.length = QSpinBox()  # sequence sources (engine/data/sequences.py)
        self.length.setRange(2, MAX_SEQUENCE_LENGTH)
        self.length.setToolTip("Time steps of each sequence, or the window of a CSV series.")
        self.length.editingFinished.connect(lambda: self._edit("sequence_length", self.length.value()))
        form.addRow("Steps", self.length)
        self.fraction = QDoubleSpinBox()
        self.fraction.setRange(0.05, 0.95)
        self.fraction.setSingleStep(0.05)
        self.fraction.setToolTip(TIPS["train_fraction"])
        self.fraction.editingFinished.connect(lambda: self._edit("train_fraction", self.fraction.value()))
        form.addRow("Train share", self.fraction)
        form.addRow("Images", self._in_use_stack("images", self._image_row()))

        feats = QWidget()
        grid = QGridLayout(feats)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        self.features: dict[str, QCheckBox] = {}
        for i, name in enumerate(FEATURES):
            box = QCheckBox(FEATURE_LABELS.get(name, name))
            box.setToolTip(TIPS["features"])
            box.toggled.connect(self._features_changed)
            grid.addWidget(box, i // 4, i % 4)
            self.features[name] = box
        self.features_row = feats
        form.addRow("Features", feats)
        self.standardize = QCheckBox("standardize inputs")
        self.standardize.setToolTip(TIPS["standardize"])
        self.standardize.toggled.connect(lambda on: self._edit("standardize", on))
        form.addRow("", self.standardize)

        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip(TIPS["seed"])
        self.seed.editingFinished.connect(self._seed_edited)
        regen = QPushButton("Regenerate")
        regen.setToolTip(TIPS["regenerate"])
        regen.clicked.connect(self.regenerate)
        self.regenerate_button = regen
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(regen)
        form.addRow("Seed", seed_row)

        self.error = ErrorLabel()
        self.info = QLabel()
        self.info.setWordWrap(True)  # a long summary must not widen the editors column
        self.info.setStyleSheet("color: #555;")
        self.data_warnings = QLabel()
        self.data_warnings.setObjectName("DataWarnings")
        self.data_warnings.setWordWrap(True)
        self.data_warnings.setStyleSheet("background: #fff4d6; color: #5a4300; padding: 3px;")
        self.data_warnings.setVisible(False)
        self.preview = pg.PlotWidget()
        self.preview.setMinimumHeight(120)
        self.preview.setMaximumHeight(170)
        self.preview.hideAxis("bottom")
        self.preview.hideAxis("left")
        self.preview.setMouseEnabled(False, False)
        self.preview.setMenuEnabled(False)
        self.preview.setToolTip("The training points of a 2-D data set, coloured by class or target.")
        self.scatter = pg.ScatterPlotItem(size=4, pen=None)
        self.preview.addItem(self.scatter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.info)
        layout.addWidget(self.data_warnings)
        layout.addWidget(self.preview)
        layout.addStretch(1)

        session.specChanged.connect(self.show_spec)
        session.trainerChanged.connect(self.show_dataset)
        session.buildError.connect(self.error.show_message)
        self.show_spec(session.spec)
        self.show_dataset(session.trainer)
        self.error.show_message(session.build_error)

    def _in_use_stack(self, name: str, editor: QWidget) -> QStackedWidget:
        """``editor``, or in its place a grey label saying what the data uses instead."""
        stack = QStackedWidget()
        label = QLabel()
        label.setObjectName(f"InUse_{name}")
        label.setStyleSheet("color: #555;")
        label.setToolTip("This source sets the value itself; the field does not apply.")
        stack.addWidget(editor)
        stack.addWidget(label)
        self.in_use[name] = label
        return stack

    def _image_row(self) -> QWidget:
        """Image size (shapes and image folders) and grey/RGB (image folders)."""
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        self.image_size = QSpinBox()
        self.image_size.setRange(MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
        self.image_size.setSuffix(" px")
        self.image_size.setToolTip("Height and width of generated shapes and of imported images (resized).")
        self.image_size.editingFinished.connect(lambda: self._edit("image_size", self.image_size.value()))
        self.channels = QComboBox()
        self.channels.addItem("grey", 1)
        self.channels.addItem("RGB", 3)
        self.channels.setToolTip("Read an image folder as grey (1 channel) or colour (3 channels).")
        self.channels.activated.connect(lambda i: self._edit("channels", self.channels.itemData(i)))
        box.addWidget(self.image_size, 1)
        box.addWidget(self.channels)
        return row

    # ------------------------------------------------------------------ edits
    def _edit(self, key: str, value: Any) -> None:
        if self.session.spec.data.model_dump(mode="json").get(key) == value:
            return
        edit_spec(self.session, lambda d: d["data"].__setitem__(key, value), self.error.show_message)

    def _dataset_chosen(self, index: int) -> None:
        name = self.dataset.itemData(index)
        if name == "csv" and not self.session.spec.data.path:
            if not self.import_table():
                self.show_spec(self.session.spec)
            return
        if name == "image_folder" and not self.session.spec.data.path:
            path = self.choose_folder()
            if not path:
                self.show_spec(self.session.spec)
                return

            def mutate(d: dict) -> None:
                d["data"].update(source=name, path=path)

            edit_spec(self.session, mutate, self.error.show_message)
            return
        self._edit("source", name)

    def choose_csv(self) -> str:
        """Ask for a CSV file (a method so tests can replace the dialog)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a CSV file", "", "CSV files (*.csv);;All files (*)"
        )
        return path

    def import_table(self, path: str | None = None) -> bool:
        """Show the import dialog on ``path``, else on the experiment's CSV, else on a file the user
        chooses; on OK set the data section (the "…" button picks another file)."""
        from workbench.app.table_import import TableImportDialog

        data = self.session.spec.data
        path = path or (data.path if data.source == "csv" else None) or self.choose_csv()
        if not path:
            return False
        current = data if data.source == "csv" and data.path == path else None
        dialog = TableImportDialog(path, current, self.session.spec.seed, self.session.base_dir, self)
        try:
            if not self.run_dialog(dialog):
                return False
            changes = dialog.data_changes()
        finally:
            dialog.deleteLater()  # a child of the panel: it (and its preview) would live on
        return edit_spec(self.session, lambda d: d["data"].update(changes), self.error.show_message)

    def run_dialog(self, dialog: Any) -> bool:
        """Show a modal dialog (a method so tests can drive it instead)."""
        return bool(dialog.exec())

    def choose_folder(self) -> str:
        """Ask for an image folder (a method so tests can replace the dialog)."""
        return QFileDialog.getExistingDirectory(self, "Choose a folder with one sub-folder per class")

    def _browse(self) -> None:
        folder = self.session.spec.data.source == "image_folder"
        path = self.choose_folder() if folder else self.choose_csv()
        if path:
            self.csv_path.setText(path)
            self._edit("path", path)

    def _features_changed(self) -> None:
        chosen = [n for n in FEATURES if self.features[n].isChecked()]
        if not chosen:
            self.error.show_message("Choose at least one input feature.")
            return
        self._edit("features", chosen)

    def _seed_edited(self) -> None:
        if self.seed.value() != self.session.spec.seed:
            seed = self.seed.value()
            edit_spec(self.session, lambda d: d.__setitem__("seed", seed), self.error.show_message)

    def regenerate(self) -> None:
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        edit_spec(self.session, lambda d: d.__setitem__("seed", seed), self.error.show_message)

    # ------------------------------------------------------------------ display
    def show_spec(self, spec: Any) -> None:
        data = spec.data
        widgets = [self.dataset, self.samples, self.noise, self.classes, self.fraction, self.seed,
                   self.standardize, self.csv_path, self.target, self.length, self.image_size, self.channels,
                   *self.features.values()]
        for w in widgets:
            w.blockSignals(True)
        i = self.dataset.findData(data.source)
        self.dataset.setCurrentIndex(max(i, 0))
        self.samples.setValue(data.n_samples)
        self.noise.setValue(data.noise)
        self.classes.setValue(data.n_classes)
        self.length.setValue(data.sequence_length)
        self.fraction.setValue(data.train_fraction)
        self.seed.setValue(min(spec.seed, 2**31 - 1))
        self.standardize.setChecked(data.standardize)
        self.image_size.setValue(data.image_size)
        self.channels.setCurrentIndex(max(self.channels.findData(data.channels), 0))
        self.csv_path.setText(data.path or "")
        self.target.setText(data.target or "")
        for name, box in self.features.items():
            box.setChecked(name in data.features)
        for w in widgets:
            w.blockSignals(False)
        self.show_fields()

    def show_fields(self) -> None:
        """Show each field as edited, as the value the data really uses, or not at all."""
        source = self.session.spec.data.source
        entry = DATASETS.get(source) if source in DATASETS else None
        dataset = getattr(self.session.trainer, "dataset", None)
        shows = data_fields(source, entry, dataset)
        self.fields = shows
        rows = {"samples": self.samples, "noise": self.noise, "classes": self.classes,
                "steps": self.length, "images": self.image_size, "path": self.csv_row,
                "target": self.target, "features": self.features_row}
        for name, widget in rows.items():
            show = shows[name]
            widget.setEnabled(show.state == "edit")
            holder: QWidget = widget
            if name in self.in_use:
                holder = self._stack_of(name)
                holder.setCurrentIndex(1 if show.state == "fixed" else 0)
                self.in_use[name].setText(show.text)
            self.form.setRowVisible(holder, show.state != "hidden")
        self.channels.setVisible(shows["channels"].state == "edit")
        self.channels.setEnabled(shows["channels"].state == "edit")
        for box in self.features.values():
            box.setEnabled(shows["features"].state == "edit")

    def _stack_of(self, name: str) -> QStackedWidget:
        widget = self.in_use[name]
        while not isinstance(widget, QStackedWidget):
            widget = widget.parentWidget()
        return widget

    def field_text(self, name: str) -> str:
        """What the user reads in the field ``name`` ("" when it is hidden)."""
        show: FieldShow = self.fields[name]
        if show.state == "hidden":
            return ""
        if show.state == "fixed":
            return show.text
        widget = {"samples": self.samples, "noise": self.noise, "classes": self.classes,
                  "steps": self.length, "images": self.image_size}.get(name)
        return widget.text() if widget is not None else ""

    def show_dataset(self, trainer: Any) -> None:
        self.show_fields()
        dataset = getattr(trainer, "dataset", None)
        warnings = tuple(getattr(dataset, "warnings", ()) or ())
        self.data_warnings.setVisible(bool(warnings))
        self.data_warnings.setText("\n".join(f"⚠ {w.message}" for w in warnings))
        self.data_warnings.setToolTip("\n\n".join(w.text() for w in warnings))
        if dataset is None:
            self.info.setText("")
            self.scatter.clear()
            return
        self.info.setText(
            f"{len(dataset.x_train)} training, {len(dataset.x_val)} validation examples · "
            + (f"{'×'.join(map(str, dataset.input_shape))} images · " if len(dataset.input_shape) == 3
               else f"{dataset.input_shape[0]} steps × {dataset.input_shape[1]} inputs · "
               if len(dataset.input_shape) == 2 else f"{dataset.input_shape[0]} inputs · ")
            + (f"{dataset.n_classes} classes" if dataset.n_classes else "regression")
        )
        pts = dataset.points_train
        self.preview.setVisible(pts is not None)
        if pts is None:
            self.scatter.clear()
            return
        y = np.asarray(dataset.y_train)
        if dataset.task == "regression":
            v = y.reshape(len(y), -1)[:, 0].astype(float)
            v = (v - v.min()) / (np.ptp(v) or 1.0)
            colors = pg.colormap.get("viridis").map(v, mode="qcolor")
            brushes = [pg.mkBrush(c) for c in colors]
        else:
            cache = [pg.mkBrush(*PALETTE[i % len(PALETTE)]) for i in range(max(dataset.n_classes, 2))]
            brushes = [cache[int(i)] for i in y.reshape(len(y), -1)[:, 0]]
        self.scatter.setData(pos=pts, brush=brushes)
        self.preview.autoRange()
