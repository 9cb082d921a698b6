"""The table import dialog walked as a person would: open it from the Data panel, pick the target,
ignore a column, switch the missing-value handling, and see the preview and the warnings follow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from tests.table_files import kaggle_iris_csv, titanic_csv


def grid_column(dialog: Any, name: str) -> int:
    header = [dialog.grid.horizontalHeaderItem(j).text() for j in range(dialog.grid.columnCount())]
    return header.index(name)


def choose(box: Any, data: str) -> None:
    box.setCurrentIndex(box.findData(data))  # what a click on the entry does


def test_walk_the_import_dialog_from_the_data_panel(qtbot: Any, tmp_path: Path, window: Any) -> None:
    csv = tmp_path / "titanic.csv"
    csv.write_text(titanic_csv(300), encoding="utf-8")
    panel = window.data_panel
    panel.choose_csv = lambda: str(csv)
    seen: dict[str, Any] = {}

    def walk(dialog: Any) -> bool:
        seen["dialog"] = dialog
        # Opened: 'Survived' is the first guess for the target (the name says so), and the empty Age
        # cells cannot be used as they are: the error names a line and the column.
        assert dialog.target_box.currentData() == "Survived"
        assert "Missing values" in dialog.summary.text()
        choose(dialog.target_box, "Embarked")
        assert dialog.column_state("Embarked") == "target"
        assert any("column 'Age': missing value" in t for t in dialog.message_texts())
        assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
        # Pick the target.
        choose(dialog.target_box, "Survived")
        assert dialog.column_state("Survived") == "target"
        assert dialog.type_boxes["Survived"].currentText() == "target"
        # Switch the missing-value handling: the preview now imports, fills from the training rows.
        choose(dialog.missing, "mean")
        assert dialog.preview.ok, dialog.message_texts()
        summary = dialog.summary.text()
        assert "10 network inputs" in summary and "Survived" in summary and "2 classes" in summary
        texts = dialog.message_texts()
        assert any("'PassengerId' looks like an identifier" in t for t in texts)
        assert any("'Name' looks like an identifier" in t for t in texts)
        assert dialog.preview.class_counts and sum(dialog.preview.class_counts) == 300
        # The preview shows the file's own cells, the identifiers greyed as left out.
        j = grid_column(dialog, "Name")
        assert dialog.grid.item(1, j).text().startswith("Smith, ")
        assert dialog.column_state("Name") == "left out"
        assert dialog.type_boxes["Name"].currentText() == "auto: identifier (left out)"
        # Ignore a column: the input width drops by its one-hot width, and it is listed as left out.
        choose(dialog.type_boxes["Embarked"], "ignore")
        assert dialog.column_state("Embarked") == "left out"
        assert "7 network inputs" in dialog.summary.text() and "Embarked" in dialog.summary.text()
        # One click includes the identifier as a number; the warning now says it is used.
        choose(dialog.type_boxes["PassengerId"], "number")
        assert dialog.column_state("PassengerId") == "input"
        assert "8 network inputs" in dialog.summary.text()
        assert any("'PassengerId' looks like an identifier" in t and "used as an input" in t
                   for t in dialog.message_texts())
        choose(dialog.type_boxes["PassengerId"], "auto")
        # Missing values dropped instead: the warnings say how many rows went.
        choose(dialog.missing, "drop_rows")
        assert any("row(s) with a missing value were dropped" in t for t in dialog.message_texts())
        choose(dialog.missing, "median")
        return True

    panel.run_dialog = walk
    qtbot.mouseClick(panel.import_button, Qt.MouseButton.LeftButton)
    data = window.session.spec.data
    assert data.source == "csv" and data.path == str(csv) and data.target == "Survived"
    assert data.table is not None and data.table.missing == "median" and data.table.ignore == ("Embarked",)
    assert data.table.numeric == ()
    qtbot.waitUntil(lambda: window.session.trainer is not None, timeout=5000)
    ds = window.session.trainer.dataset
    assert ds.input_shape == (7,) and "Sex=female" in ds.feature_names
    # The Data panel shows the same warnings.
    assert panel.data_warnings.isVisible() or not panel.isVisible()
    assert "'PassengerId' looks like an identifier" in panel.data_warnings.text()


def test_semicolons_and_decimal_commas_in_the_dialog(qtbot: Any, tmp_path: Path) -> None:
    from workbench.app.table_import import TableImportDialog

    path = tmp_path / "iris.csv"
    path.write_text(kaggle_iris_csv(separator=";", decimal=","), encoding="utf-8")
    dialog = TableImportDialog(str(path))
    qtbot.addWidget(dialog)
    assert dialog.preview.separator == ";"
    assert any("decimal comma" in t for t in dialog.message_texts())  # says what to set
    choose(dialog.decimal, ",")
    assert dialog.preview.ok and dialog.target_box.currentData() == "Species"
    assert "4 network inputs" in dialog.summary.text() and "3 classes" in dialog.summary.text()
    assert any("'Id' alone predicts the target" in t for t in dialog.message_texts())
    assert dialog.data_changes()["table"]["decimal"] == ","


def test_a_ragged_file_lists_ten_errors_then_and_n_more(qtbot: Any, tmp_path: Path) -> None:
    from workbench.app.table_import import TableImportDialog

    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n" + "".join("1,2\n" if i % 2 else "1,2,0\n" for i in range(60)), encoding="utf-8")
    dialog = TableImportDialog(str(path))
    qtbot.addWidget(dialog)
    texts = dialog.message_texts()
    assert sum("values, expected 3" in t for t in texts) == 10
    assert texts[-1] == "... and 20 more"
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_a_text_column_set_to_number_is_refused_naming_the_cell(qtbot: Any, tmp_path: Path) -> None:
    from workbench.app.table_import import TableImportDialog

    path = tmp_path / "titanic.csv"
    path.write_text(titanic_csv(100), encoding="utf-8")
    dialog = TableImportDialog(str(path))
    qtbot.addWidget(dialog)
    choose(dialog.missing, "mean")
    assert dialog.preview.ok
    choose(dialog.type_boxes["Sex"], "number")
    assert not dialog.preview.ok
    assert any("column 'Sex'" in t and "is not a number" in t for t in dialog.message_texts())
    choose(dialog.type_boxes["Sex"], "auto")
    assert dialog.preview.ok and dialog.column_state("Sex") == "input"
