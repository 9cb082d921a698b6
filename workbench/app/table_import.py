"""The table import dialog, like a spreadsheet's text import: the first rows as a table with each
column's detected type (which the user can override), the target, how to treat missing values,
the target's class balance or histogram, the resulting input width and the warnings, all
updated live. A thin view over ``engine.data.table_preview``; the result is the experiment's
``data`` section (``data_changes``), so the CLI reads exactly what the dialog chose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.data.csvfile import read_bytes
from engine.data.dataset import DataError
from engine.data.table_preview import TablePreview, preview_table
from engine.spec import DataSpec, TableSpec
from workbench.app.plots.boundary_plot import PALETTE

# What the per-column type menu offers; 'auto' keeps the detected kind.
TYPE_CHOICES = ("auto", "number", "category", "ignore")
KIND_WORDS = {"number": "number", "category": "category", "identifier": "identifier (left out)",
              "constant": "constant (left out)", "mostly_missing": "mostly missing (left out)",
              "text": "free text"}
MISSING_CHOICES = (("error", "refuse the file"), ("drop_rows", "drop those rows"), ("mean", "fill: mean"),
                   ("median", "fill: median"), ("most_frequent", "fill: most frequent"))
SEPARATORS = (("auto", "auto"), (",", "comma ,"), (";", "semicolon ;"), ("\t", "tab"), ("|", "bar |"))
# A first guess at the target of a file the experiment has not read yet (the file format's own
# default stays 'the last column'): the first column named like one of these.
TARGET_NAMES = ("target", "label", "class", "species", "survived", "outcome", "y")
TARGET_COLOUR = QColor(220, 235, 255)
LEFT_OUT_COLOUR = QColor(235, 235, 235)


class TableImportDialog(QDialog):
    """``exec()`` it; on accept, ``data_changes()`` is the data section to merge into the experiment."""

    def __init__(self, path: str, data: DataSpec | None = None, seed: int = 0, base_dir: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import table — {Path(path).name}")
        self.setObjectName("TableImportDialog")
        self.path = path
        self.seed = seed
        full = Path(path) if Path(path).is_absolute() or base_dir is None else Path(base_dir) / path
        try:
            self.raw = read_bytes(full, Path(path).name)
            self.read_error = ""
        except DataError as exc:
            self.raw, self.read_error = b"", str(exc)
        fresh = data is None
        data = data or DataSpec(source="csv", path=path)
        self.table = data.table or TableSpec()
        self.target: str | None = data.target
        if fresh and self.raw:
            self.target = self._guess_target()
        self.train_fraction = data.train_fraction
        self.overrides: dict[str, str] = {}  # column -> 'number' | 'category' | 'ignore'
        for name in self.table.ignore:
            self.overrides[name] = "ignore"
        for name in self.table.categorical:
            self.overrides[name] = "category"
        for name in self.table.numeric:
            self.overrides[name] = "number"
        self.preview = TablePreview()
        self._building = False
        self._build()
        self.refresh()
        self.resize(1180, 660)

    def _guess_target(self) -> str | None:
        names = preview_table(self.raw, Path(self.path).name, DataSpec(source="csv", path=self.path,
                                                                         table=self.table)).names
        for word in TARGET_NAMES:
            for name in names:
                if name.strip().lower() == word:
                    return name
        return None

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        reading = QGroupBox("Reading")
        form = QHBoxLayout(reading)
        self.separator = QComboBox()
        for value, label in SEPARATORS:
            self.separator.addItem(label, value)
        self.decimal = QComboBox()
        self.decimal.addItem("point 3.5", ".")
        self.decimal.addItem("comma 3,5", ",")
        self.skip = QSpinBox()
        self.skip.setRange(0, 1000)
        self.skip.setToolTip("Lines to skip before the header or the data (notes a tool wrote first)")
        self.header = QComboBox()
        for value in ("auto", "present", "absent"):
            self.header.addItem(value, value)
        self.header.setToolTip("auto: a first row of names over numbers is a header; scikit-learn's count "
                               "header ('150,4,setosa,…') is recognised and skipped")
        for label, widget in (("Separator", self.separator), ("Decimal", self.decimal),
                              ("Skip lines", self.skip), ("Header", self.header)):
            form.addWidget(QLabel(label))
            form.addWidget(widget)
        form.addStretch(1)

        self.grid = QTableWidget()
        self.grid.setObjectName("TablePreviewGrid")
        self.grid.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.grid.verticalHeader().setDefaultSectionSize(22)
        self.grid.setToolTip("The first rows as read. Row 'type' shows each column's detected type; "
                             "choose another to override it (a left-out identifier becomes an input "
                             "when set to number or category).")

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        options = QFormLayout()
        self.target_box = QComboBox()
        self.target_box.setObjectName("TargetPicker")
        self.target_box.setToolTip("The column to predict")
        options.addRow("Target", self.target_box)
        self.missing = QComboBox()
        for value, label in MISSING_CHOICES:
            self.missing.addItem(label, value)
        self.missing.setToolTip("Empty or NA cells. Filled values come from the training rows only; "
                                "category columns are filled with their most frequent value.")
        options.addRow("Missing values", self.missing)
        self.indicator = QCheckBox("add a 'missing' input per column with gaps")
        options.addRow("", self.indicator)
        self.max_categories = QSpinBox()
        self.max_categories.setRange(2, 1000)
        self.max_categories.setToolTip("A category column may one-hot into at most this many inputs")
        options.addRow("Max categories", self.max_categories)
        self.stratify = QCheckBox("keep class shares in the split")
        options.addRow("Split", self.stratify)
        side_layout.addLayout(options)
        self.summary = QLabel()
        self.summary.setObjectName("ImportSummary")
        self.summary.setWordWrap(True)
        side_layout.addWidget(self.summary)
        self.chart = pg.PlotWidget()
        self.chart.setMinimumHeight(110)
        self.chart.setMaximumHeight(150)
        self.chart.setMenuEnabled(False)
        self.chart.setMouseEnabled(False, False)
        self.chart.hideAxis("left")
        side_layout.addWidget(self.chart)

        self.messages = QListWidget()
        self.messages.setObjectName("ImportMessages")
        self.messages.setWordWrap(True)
        self.messages.setMinimumHeight(90)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.grid)
        top.addWidget(side)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 1)
        side.setMinimumWidth(300)
        side.setMaximumWidth(380)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(self.messages)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 1)

        buttons = QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        self.buttons = QDialogButtonBox(buttons)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use this table")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(reading)
        layout.addWidget(body, 1)
        layout.addWidget(self.buttons)

        self._set_controls()
        for box in (self.separator, self.decimal, self.header, self.missing):
            box.currentIndexChanged.connect(self._options_changed)
        self.target_box.currentIndexChanged.connect(self._target_changed)
        self.skip.valueChanged.connect(self._options_changed)
        self.max_categories.valueChanged.connect(self._options_changed)
        self.indicator.toggled.connect(self._options_changed)
        self.stratify.toggled.connect(self._options_changed)

    def _set_controls(self) -> None:
        self._building = True
        t = self.table
        self.separator.setCurrentIndex(max(0, self.separator.findData(t.separator)))
        self.decimal.setCurrentIndex(max(0, self.decimal.findData(t.decimal)))
        self.header.setCurrentIndex(max(0, self.header.findData(t.header)))
        self.skip.setValue(t.skip_rows)
        self.missing.setCurrentIndex(max(0, self.missing.findData(t.missing)))
        self.indicator.setChecked(t.missing_indicator)
        self.max_categories.setValue(t.max_categories)
        self.stratify.setChecked(t.stratify)
        self._building = False

    # ------------------------------------------------------------------ state
    def table_spec(self) -> TableSpec:
        def listed(kind: str) -> tuple[str, ...]:
            return tuple(n for n in self.preview.names or self.overrides if self.overrides.get(n) == kind
                         and n != self.target)

        return TableSpec(
            skip_rows=self.skip.value(), header=self.header.currentData(),
            separator=self.separator.currentData(),
            decimal=self.decimal.currentData(), ignore=listed("ignore"), categorical=listed("category"),
            numeric=tuple(n for n in listed("number") if self._needs_numeric(n)),
            max_categories=self.max_categories.value(), missing=self.missing.currentData(),
            missing_indicator=self.indicator.isChecked(), exclude_detected=self.table.exclude_detected,
            stratify=self.stratify.isChecked())

    def _needs_numeric(self, name: str) -> bool:
        # A column read as a number anyway needs no listing; any other is listed, so a text column
        # set to 'number' is refused with the cell that is not one, never silently kept a category.
        prof = self.preview.profiles.get(name)
        return prof is None or prof.kind != "number"

    def data_spec(self) -> DataSpec:
        return DataSpec(source="csv", path=self.path, target=self.target, table=self.table_spec(),
                        train_fraction=self.train_fraction)

    def data_changes(self) -> dict[str, Any]:
        """The experiment's data keys this import sets."""
        spec = self.data_spec()
        return {"source": "csv", "path": spec.path, "target": spec.target,
                "table": spec.table.model_dump(mode="json") if spec.table else None}

    # ------------------------------------------------------------------ edits
    def _options_changed(self, *_: Any) -> None:
        if not self._building:
            self.refresh()

    def _target_changed(self, index: int) -> None:
        if self._building or index < 0:
            return
        self.target = self.target_box.itemData(index)
        self.refresh()

    def set_column_type(self, column: str, choice: str) -> None:
        """Override a column's type: 'auto', 'number', 'category' or 'ignore' (what its menu does)."""
        if choice == "auto":
            self.overrides.pop(column, None)
        else:
            self.overrides[column] = choice
        self.refresh()

    def refresh(self) -> None:
        if self.read_error:
            self.preview = TablePreview(errors=self.read_error.splitlines())
        else:
            try:
                spec = self.data_spec()
            except ValueError as exc:  # options pydantic refuses (none expected from these controls)
                self.preview = TablePreview(errors=[str(exc)])
            else:
                self.preview = preview_table(self.raw, Path(self.path).name, spec, self.seed)
        if self.target is None and self.preview.target:
            self.target = self.preview.target
        self._fill_targets()
        self._fill_grid()
        self._fill_summary()
        self._fill_chart()
        self._fill_messages()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.preview.ok)

    # ------------------------------------------------------------------ display
    def _fill_targets(self) -> None:
        self._building = True
        self.target_box.clear()
        for name in self.preview.names:
            self.target_box.addItem(name, name)
        i = self.target_box.findData(self.target) if self.target else -1
        self.target_box.setCurrentIndex(i if i >= 0 else self.target_box.count() - 1)
        self._building = False

    def column_state(self, name: str) -> str:
        """'target', 'input' or 'left out': what the import does with the column now."""
        plan = self.preview.plan
        if plan is None:
            return "unknown"
        if name == plan.target:
            return "target"
        return "input" if any(i.name == name for i in plan.inputs) else "left out"

    def _fill_grid(self) -> None:
        p = self.preview
        names = p.names
        self.grid.clear()
        self.grid.setColumnCount(len(names))
        self.grid.setRowCount(len(p.head) + 1)
        self.grid.setHorizontalHeaderLabels(names)
        self.grid.setVerticalHeaderLabels(["type", *(str(i + 1) for i in range(len(p.head)))])
        self.type_boxes: dict[str, QComboBox] = {}
        for j, name in enumerate(names):
            state = self.column_state(name)
            box = QComboBox()
            prof = p.profiles.get(name)
            detected = KIND_WORDS.get(prof.kind, prof.kind) if prof else "?"
            if state == "target":
                box.addItem("target", "auto")
                box.setEnabled(False)
            else:
                box.addItem(f"auto: {detected}", "auto")
                for choice in TYPE_CHOICES[1:]:
                    box.addItem(choice, choice)
                box.setCurrentIndex(max(0, box.findData(self.overrides.get(name, "auto"))))
            if prof is not None:
                box.setToolTip(f"{name}: detected {detected} — {prof.reason}"
                               + (f"; {prof.n_missing} empty cell(s)" if prof.n_missing else ""))
            box.currentIndexChanged.connect(
                lambda _i, n=name, b=box: self.set_column_type(n, b.currentData()))
            self.grid.setCellWidget(0, j, box)
            self.type_boxes[name] = box
            colour = TARGET_COLOUR if state == "target" else LEFT_OUT_COLOUR if state == "left out" else None
            for i, row in enumerate(p.head):
                item = QTableWidgetItem(row[j] if j < len(row) else "")
                if colour is not None:
                    item.setBackground(QBrush(colour))
                if state == "left out":
                    item.setForeground(QBrush(QColor(140, 140, 140)))
                self.grid.setItem(i + 1, j, item)
        self.grid.resizeColumnsToContents()
        for j in range(len(names)):
            self.grid.setColumnWidth(j, min(max(self.grid.columnWidth(j), 80), 220))

    def _fill_summary(self) -> None:
        p = self.preview
        if not p.ok:
            hint = ""
            if any("data.table.missing" in e for e in p.errors):
                hint = " Choose what to do with <b>Missing values</b>."
            elif any("decimal comma" in e for e in p.errors):
                hint = " Set <b>Decimal</b> to comma."
            self.summary.setText("<b>Cannot import with these options</b> (the problems are listed "
                                 f"below).{hint}")
            return
        plan = p.plan
        assert plan is not None
        kind = {"binary": "2 classes", "multiclass": f"{len(p.class_names)} classes",
                "regression": "regression"}[p.task]
        left_out = [e.name for e in plan.excluded]
        text = (f"<b>{p.width} network inputs</b> from {len(plan.inputs)} column(s) · {p.n_rows:,} rows"
                f"{' (preview of the first rows)' if p.sampled else ''} · target <b>{plan.target}</b>: "
                f"{kind}")
        if left_out:
            text += f"<br>Left out: {', '.join(left_out)}"
        self.summary.setText(text)
        self.summary.setToolTip("Network inputs, in order:\n" + "\n".join(plan.feature_names()))

    def _fill_chart(self) -> None:
        self.chart.clear()
        p = self.preview
        axis = self.chart.getAxis("bottom")
        if p.class_counts:
            counts = np.array(p.class_counts, dtype=float)
            brushes = [pg.mkBrush(*PALETTE[i % len(PALETTE)]) for i in range(len(counts))]
            self.chart.addItem(pg.BarGraphItem(x=np.arange(len(counts)), height=counts, width=0.7,
                                               brushes=brushes))
            axis.setTicks([[(i, f"{n} ({c:.0f})") for i, (n, c) in enumerate(zip(p.class_names, counts,
                                                                                     strict=True))]])
            self.chart.setTitle("Class balance", size="9pt")
        elif p.histogram is not None:
            counts, edges = p.histogram
            self.chart.addItem(pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts,
                                               brush=pg.mkBrush(90, 130, 200)))
            axis.setTicks(None)
            self.chart.setTitle("Target histogram", size="9pt")
        self.chart.setVisible(bool(p.class_counts) or p.histogram is not None)
        self.chart.autoRange()

    def _fill_messages(self) -> None:
        self.messages.clear()
        style = self.style()
        from PySide6.QtWidgets import QStyle

        for line in self.preview.errors:
            item = QListWidgetItem(style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical), line)
            item.setBackground(QBrush(QColor(253, 226, 225)))
            self.messages.addItem(item)
        for w in self.preview.warnings:
            item = QListWidgetItem(style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning), w.text())
            item.setBackground(QBrush(QColor(255, 244, 214)))
            item.setToolTip(w.text())
            self.messages.addItem(item)
        if not self.preview.errors and not self.preview.warnings:
            self.messages.addItem("No warnings: no identifier, leak, constant column, imbalance or tiny "
                                  "validation set found.")

    def message_texts(self) -> list[str]:
        return [self.messages.item(i).text() for i in range(self.messages.count())]
