"""A user's CSV file as a dataset: header, target, task, and every way a file can be broken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import DataError, csvfile, make_dataset
from engine.spec import DataSpec


def write(folder: Path, text: str, name: str = "data.csv", **kwargs) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, **kwargs)
    return path


def load(folder: Path, name: str = "data.csv", **options):
    spec = DataSpec(source="csv", path=name, **options)
    return make_dataset(spec, np.random.default_rng(0), base_dir=folder)


def rows(n: int, fn) -> str:
    return "".join(fn(i) + "\n" for i in range(n))


# --- reading the table --------------------------------------------------------------------


def test_header_row_names_the_columns(tmp_path: Path) -> None:
    write(tmp_path, "height,weight,label\n" + rows(20, lambda i: f"{i},{i * 2.5},{i % 2}"))
    d = load(tmp_path, standardize=False)
    assert d.name == "data.csv"
    assert d.feature_names == ("height", "weight")
    assert len(d.x_train) + len(d.x_val) == 20 and d.input_shape == (2,)
    x = np.concatenate([d.x_train, d.x_val])
    assert sorted(x[:, 0]) == list(range(20))
    assert np.allclose(x[:, 1], x[:, 0] * 2.5)


def test_numeric_first_row_is_data_and_columns_get_names(tmp_path: Path) -> None:
    write(tmp_path, rows(20, lambda i: f"{i},{-i},{i * i},{i % 3}"))
    d = load(tmp_path, standardize=False)
    assert d.feature_names == ("col1", "col2", "col3")
    assert len(d.x_train) + len(d.x_val) == 20  # the first row was not eaten as a header
    assert 0.0 in np.concatenate([d.x_train, d.x_val])[:, 0]


def test_target_chosen_by_name(tmp_path: Path) -> None:
    write(tmp_path, "a,y,b\n" + rows(30, lambda i: f"{i},{i * 0.5 + 0.25},{-i}"))
    d = load(tmp_path, target="y", standardize=False)
    assert d.feature_names == ("a", "b") and d.task == "regression"
    x, y = np.concatenate([d.x_train, d.x_val]), np.concatenate([d.y_train, d.y_val])
    assert np.allclose(y[:, 0], x[:, 0] * 0.5 + 0.25)


def test_unknown_target_suggests_a_column(tmp_path: Path) -> None:
    write(tmp_path, "x1,x2,label\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match=r"no column 'lable'; did you mean 'label'\?"):
        load(tmp_path, target="lable")


def test_semicolons_bom_crlf_quotes_and_blank_lines(tmp_path: Path) -> None:
    text = '\ufeff"x 1";x2;class\r\n1;2;a\r\n\r\n3;"4";b\r\n5;6;a\r\n7;8;b\r\n\r\n'
    write(tmp_path, text, newline="")
    d = load(tmp_path, standardize=False)
    assert d.feature_names == ("x 1", "x2") and d.class_names == ("a", "b")
    assert len(d.x_train) + len(d.x_val) == 4


def test_two_feature_columns_can_be_plotted_as_points(tmp_path: Path) -> None:
    write(tmp_path, "u,v,c\n" + rows(40, lambda i: f"{i * 10},{i % 7},{int(i % 7 > 3)}"))
    d = load(tmp_path)
    assert d.points_train.shape == (len(d.x_train), 2)
    assert np.allclose(d.featurize(d.points_train), d.x_train)
    assert np.allclose(d.featurize(d.points_val), d.x_val)
    write(tmp_path, "u,v,w,c\n" + rows(40, lambda i: f"{i},{i % 7},{i % 5},{i % 2}"), name="three.csv")
    d = load(tmp_path, name="three.csv")
    assert d.points_train is None and d.featurize is None


# --- task inference and override ----------------------------------------------------------


def test_two_integer_values_make_a_binary_task(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n" + rows(20, lambda i: f"{i},{3 + 4 * (i % 2)}"))
    d = load(tmp_path)
    assert d.task == "binary" and d.n_classes == 2 and d.class_names == ("3", "7")
    assert d.y_train.shape == (len(d.x_train), 1) and d.y_train.dtype == np.float64
    assert set(np.unique(np.concatenate([d.y_train, d.y_val]))) == {0.0, 1.0}


def test_few_integer_values_make_a_multiclass_task(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n" + rows(40, lambda i: f"{i},{(i % 4) * 10}.0"))
    d = load(tmp_path)
    assert d.task == "multiclass" and d.n_classes == 4 and d.class_names == ("0", "10", "20", "30")
    assert d.y_train.dtype == np.int64 and d.y_train.shape == (len(d.x_train),)
    assert np.array_equal(np.unique(np.concatenate([d.y_train, d.y_val])), np.arange(4))


def test_many_integers_or_fractions_make_a_regression_task(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n" + rows(30, lambda i: f"{i},{i}"))  # 30 distinct integers > 20
    assert load(tmp_path).task == "regression"
    write(tmp_path, "x,y\n" + rows(30, lambda i: f"{i},{(i % 2) + 0.5}"))
    d = load(tmp_path)
    assert d.task == "regression" and d.n_classes == 0 and d.class_names == ()
    assert d.y_train.shape == (len(d.x_train), 1) and d.y_train.dtype == np.float64


def test_text_labels_become_sorted_classes(tmp_path: Path) -> None:
    names = ["versicolor", "setosa", "virginica"]
    write(tmp_path, "a,b,species\n" + rows(30, lambda i: f"{i},{i % 5},{names[i % 3]}"))
    d = load(tmp_path, standardize=False)
    assert d.task == "multiclass" and d.class_names == ("setosa", "versicolor", "virginica")
    x, y = np.concatenate([d.x_train, d.x_val]), np.concatenate([d.y_train, d.y_val])
    expected = np.array([["setosa", "versicolor", "virginica"].index(names[int(i) % 3]) for i in x[:, 0]])
    assert np.array_equal(y, expected)


def test_task_override(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n" + rows(30, lambda i: f"{i},{i % 3}"))
    assert load(tmp_path).task == "multiclass"
    d = load(tmp_path, task="regression")
    assert d.task == "regression" and d.y_train.shape == (len(d.x_train), 1)
    write(tmp_path, "x,y\n" + rows(30, lambda i: f"{i},{(i % 2) * 0.5}"), name="f.csv")
    d = load(tmp_path, name="f.csv", task="classification")
    assert d.task == "binary" and d.class_names == ("0", "0.5")


def test_regression_override_on_text_labels_names_the_lines(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n1,2.5\n2,cat\n3,1.5\n")
    with pytest.raises(DataError, match=r"data.csv line 3, column 'y': 'cat' is not a number"):
        load(tmp_path, task="regression")


def test_single_class_target_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n1,a\n2,a\n3,a\n")
    with pytest.raises(DataError, match="single value"):
        load(tmp_path)


# --- broken files: every problem names file, line and column --------------------------------


def test_non_numeric_feature_reported_with_line_and_column(tmp_path: Path) -> None:
    text = "x1,x2,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n\n9,abc,0\n11,12,1\n"
    write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load(tmp_path)
    # Line 7: the header and the blank line 6 count, as in a text editor.
    assert "data.csv line 7, column 'x2': 'abc' is not a number" in str(info.value)
    assert info.value.problems == ["data.csv line 7, column 'x2': 'abc' is not a number"]


def test_missing_and_non_finite_values_are_reported_not_dropped(tmp_path: Path) -> None:
    write(tmp_path, "x1,x2,y\n1,,0\n3,4,\n5,nan,1\n7,inf,0\n9,10,1\n")
    with pytest.raises(DataError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "4 value(s)" in message
    assert "data.csv line 2, column 'x2': missing value" in message
    assert "data.csv line 3, column 'y': missing value" in message
    assert "data.csv line 4, column 'x2': 'nan' is not a finite number" in message
    assert "data.csv line 5, column 'x2': 'inf' is not a finite number" in message


def test_a_long_list_of_problems_is_capped(tmp_path: Path) -> None:
    write(tmp_path, "a,b\n" + rows(25, lambda i: f"bad{i},1"))
    with pytest.raises(DataError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "25 value(s)" in message and "line 11, column 'a'" in message
    assert "line 12," not in message and "... and 15 more" in message
    assert len(info.value.problems) == 10


def test_ragged_rows_reported_with_their_lines(tmp_path: Path) -> None:
    write(tmp_path, "x1,x2,y\n1,2,0\n3,4\n5,6,1\n7,8,1,9\n")
    with pytest.raises(DataError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "data.csv line 3: 2 values, expected 3" in message
    assert "data.csv line 5: 4 values, expected 3" in message


def test_one_column_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "y\n1\n2\n3\n")
    with pytest.raises(DataError, match="one column"):
        load(tmp_path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    write(tmp_path, text)
    with pytest.raises(DataError, match=r"data\.csv is empty"):
        load(tmp_path)


def test_header_without_rows_or_a_single_row(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n")
    with pytest.raises(DataError, match="header but no data rows"):
        load(tmp_path)
    write(tmp_path, "x,y\n1,0\n")
    with pytest.raises(DataError, match="only one data row"):
        load(tmp_path)


def test_duplicate_column_names(tmp_path: Path) -> None:
    write(tmp_path, "x,x,y\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match="'x' appear more than once"):
        load(tmp_path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'nope.csv' not found"):
        load(tmp_path, name="nope.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(DataError, match="not a file"):
        load(tmp_path, name="folder.csv")


def test_too_big_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "x,y\n" + rows(100, lambda i: f"{i},{i % 2}"))
    monkeypatch.setattr(csvfile, "MAX_BYTES", 200)  # rather than writing 50 MB
    with pytest.raises(DataError, match=r"data.csv is 0.0 MB; CSV files are limited to"):
        load(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_bytes(b"x,y\n1,\xff\n")
    with pytest.raises(DataError, match="not UTF-8"):
        load(tmp_path)


def test_csv_source_without_path_or_with_derived_features(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no CSV path"):
        make_dataset(DataSpec(source="csv"), np.random.default_rng(0))
    write(tmp_path, "x,y\n1,0\n2,1\n")
    with pytest.raises(DataError, match=r"features.*'csv' uses its own columns"):
        load(tmp_path, features=("x1", "x2", "x1_sq"))


# --- where the file is ----------------------------------------------------------------------


def test_path_is_relative_to_the_experiment_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "exp" / "data", "x,y\n" + rows(10, lambda i: f"{i},{i % 2}"), name="d.csv")
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    d = load(tmp_path / "exp", name="data/d.csv")
    assert len(d.x_train) + len(d.x_val) == 10 and d.name == "data/d.csv"
    with pytest.raises(DataError, match="not found"):
        load(tmp_path, name="data/d.csv")
    # An absolute path ignores the experiment folder; no folder means the working directory.
    absolute = str(tmp_path / "exp" / "data" / "d.csv")
    assert load(tmp_path / "elsewhere", name=absolute).n_classes == 2
    spec = DataSpec(source="csv", path="exp/data/d.csv")
    assert make_dataset(spec, np.random.default_rng(0)).n_classes == 2


def test_csv_split_is_deterministic_and_stratified(tmp_path: Path) -> None:
    write(tmp_path, "x,y\n" + rows(50, lambda i: f"{i},{int(i < 10)}"))
    a, b = load(tmp_path), load(tmp_path)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_val, b.y_val)
    assert int(a.y_val.sum()) == 2  # 20 % of the 10 positives
