"""Tables as people download them, read under ``data.table`` options: count headers, identifier
columns, text categories, empty cells, semicolons and decimal commas, and the warnings."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import DataError, make_dataset
from engine.data.table_read import guess_decimal, guess_separator, parse_table
from engine.spec import DataSpec, TableSpec
from tests.table_files import count_header_csv, kaggle_iris_csv, numeric_csv, titanic_csv


def dataset(tmp_path: Path, text: str, target: str | None = None, seed: int = 0, **table: object):
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    spec = DataSpec(source="csv", path="t.csv", target=target, table=TableSpec(**table))
    return make_dataset(spec, np.random.default_rng(seed), tmp_path)


def kinds(ds) -> list[tuple[str, str | None]]:
    return [(w.kind, w.column) for w in ds.warnings]


@pytest.mark.parametrize(("name", "shape"), [("iris", (150, 4, 3)), ("wine", (178, 13, 3)),
                                             ("breast_cancer", (569, 30, 2))])
def test_count_headers_are_recognised_and_name_the_classes(tmp_path: Path, name: str, shape: tuple) -> None:
    ds = dataset(tmp_path, count_header_csv(name))
    n, p, k = shape
    assert ds.n_train + ds.n_val == n and ds.input_shape == (p,) and ds.n_classes == k
    first = count_header_csv(name).splitlines()[0].split(",")
    assert ds.class_names == tuple(first[2:])
    # Realistic data: no column gives the answer away, nothing to warn about.
    assert ds.warnings == ()


def test_kaggle_iris_id_is_flagged_as_a_leak_and_left_out(tmp_path: Path) -> None:
    ds = dataset(tmp_path, kaggle_iris_csv(), target="Species")
    assert ds.feature_names == ("SepalLengthCm", "SepalWidthCm", "PetalLengthCm", "PetalWidthCm")
    assert ("identifier", "Id") in kinds(ds) and ("leak", "Id") in kinds(ds)
    leak = next(w for w in ds.warnings if w.kind == "leak")
    assert "left out" in leak.message and leak.remedy
    assert ds.class_names == ("Iris-setosa", "Iris-versicolor", "Iris-virginica")


def test_one_click_includes_the_id_and_the_warning_then_says_it_is_used(tmp_path: Path) -> None:
    ds = dataset(tmp_path, kaggle_iris_csv(), target="Species", numeric=("Id",))
    assert ds.feature_names[0] == "Id"
    leak = next(w for w in ds.warnings if w.kind == "leak")
    assert "Ignore it" in leak.remedy and "left out" not in leak.message


def test_semicolons_and_decimal_commas_read_the_same_numbers(tmp_path: Path) -> None:
    plain = dataset(tmp_path, kaggle_iris_csv(), target="Species")
    text = kaggle_iris_csv(separator=";", decimal=",")
    assert "5,1" in text or "," in text.splitlines()[1]
    lines = text.splitlines()
    assert guess_separator(lines, ".") == ";" and guess_decimal(lines) == ","
    comma = dataset(tmp_path, text, target="Species", decimal=",")
    assert np.array_equal(plain.x_train, comma.x_train) and np.array_equal(plain.y_val, comma.y_val)
    # Told the wrong decimal mark, the reader names a cell it could not read as a number.
    with pytest.raises(DataError, match=r"line 2, column 'SepalLengthCm': '[0-9],[0-9]' reads as a number "
                                        r"with a "
                                        r"decimal comma; set data.table.decimal to ','"):
        dataset(tmp_path, text, target="Species")


def test_titanic_one_hot_and_mean_imputation_from_the_training_split(tmp_path: Path) -> None:
    text = titanic_csv()
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    spec = DataSpec(source="csv", path="t.csv", target="Survived", standardize=False,
                    table=TableSpec(missing="mean", missing_indicator=True))
    ds = make_dataset(spec, np.random.default_rng(3), tmp_path)
    names = ds.feature_names
    assert {"Sex=female", "Sex=male", "Embarked=C", "Embarked=Q", "Embarked=S"} <= set(names)
    assert "PassengerId" not in names and "Name" not in names
    assert names[-2:] == ("Age missing", "Embarked missing")
    assert ("identifier", "PassengerId") in kinds(ds) and ("identifier", "Name") in kinds(ds)
    age, flag = names.index("Age"), names.index("Age missing")
    train_known = ds.x_train[ds.x_train[:, flag] == 0, age]
    filled = np.concatenate([ds.x_train[ds.x_train[:, flag] == 1, age],
                             ds.x_val[ds.x_val[:, flag] == 1, age]])
    assert len(filled) > 100
    assert np.allclose(filled, train_known.mean())  # the training rows' mean, not the whole file's
    sex = ds.x_train[:, [names.index("Sex=female"), names.index("Sex=male")]]
    assert np.array_equal(sex.sum(axis=1), np.ones(len(sex)))


def test_missing_values_are_an_error_naming_line_and_column_capped_at_ten(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        dataset(tmp_path, titanic_csv(), target="Survived")
    message = str(info.value)
    assert "missing value(s); set data.table.missing" in message
    assert len(info.value.problems) == 10
    assert info.value.problems[0].startswith("t.csv line ") and "column 'Age': missing value" in message
    assert message.splitlines()[-1].startswith("... and ") and message.splitlines()[-1].endswith(" more")


def test_drop_rows_says_how_many_were_dropped(tmp_path: Path) -> None:
    ds = dataset(tmp_path, titanic_csv(), target="Survived", missing="drop_rows")
    dropped = next(w for w in ds.warnings if w.kind == "dropped_rows")
    n = ds.n_train + ds.n_val
    assert f"{n} remain" in dropped.message and 891 - n > 100


def test_too_many_categories_is_a_clear_error(tmp_path: Path) -> None:
    text = "city,y\n" + "".join(f"town{i},{i % 2}\n" for i in range(30)) * 2
    with pytest.raises(DataError, match=r"column 'city' has 30 different values, more than "
                                        r"max_categories \(20\)"):
        dataset(tmp_path, text)
    ds = dataset(tmp_path, text, max_categories=30)
    assert ds.input_shape == (30,)


def test_unknown_column_in_the_options_suggests_one(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data.table.ignore names 'Nmae', which is not a column; "
                                        r"did you mean 'Name'"):
        dataset(tmp_path, titanic_csv(), target="Survived", missing="mean", ignore=("Nmae",))


def test_skip_rows_and_an_absent_header(tmp_path: Path) -> None:
    body = "".join(f"{i % 7},{(i * 3) % 5},{i % 2}\n" for i in range(40))
    ds = dataset(tmp_path, "exported by a tool\nsecond note\n" + body, skip_rows=2, header="absent")
    assert ds.feature_names == ("col1", "col2") and ds.n_train + ds.n_val == 40
    with pytest.raises(DataError, match="line 1"):
        dataset(tmp_path, "exported by a tool\n" + body, header="absent")


def test_ragged_rows_are_listed_with_lines_then_and_n_more(tmp_path: Path) -> None:
    text = "a,b,y\n" + "".join("1,2\n" if i % 2 else "1,2,0\n" for i in range(30))
    with pytest.raises(DataError) as info:
        dataset(tmp_path, text)
    assert "t.csv line 3: 2 values, expected 3" in str(info.value)
    assert "... and 5 more" in str(info.value)


def test_constant_and_mostly_empty_columns_are_left_out_with_a_warning(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [f"{rng.normal():.3f},7,{'' if i % 4 else rng.normal():},{i % 2}" for i in range(60)]
    ds = dataset(tmp_path, "x,same,sparse,y\n" + "\n".join(rows) + "\n", missing="mean")
    assert ds.feature_names == ("x",)
    assert ("constant", "same") in kinds(ds) and ("mostly_missing", "sparse") in kinds(ds)
    kept = dataset(tmp_path, "x,same,sparse,y\n" + "\n".join(rows) + "\n", missing="mean",
                   exclude_detected=False)
    assert kept.feature_names == ("x", "same", "sparse")


def test_imbalance_and_a_tiny_validation_set_are_warned_about(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = [f"{rng.normal():.4f},{rng.normal():.4f},{int(i < 6)}" for i in range(100)]
    ds = dataset(tmp_path, "a,b,y\n" + "\n".join(rows) + "\n")
    assert ("imbalance", None) in kinds(ds) and ("tiny_validation", None) in kinds(ds)
    imbalance = next(w for w in ds.warnings if w.kind == "imbalance")
    assert "94%" in imbalance.message


def test_a_copy_of_the_target_is_a_leak_even_unsorted(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 200)
    rows = [f"{rng.normal():.4f},{y[i] * 10 + rng.uniform():.4f},{y[i]}" for i in range(200)]
    ds = dataset(tmp_path, "a,score,y\n" + "\n".join(rows) + "\n")
    assert [w.column for w in ds.warnings if w.kind == "leak"] == ["score"]


def test_stratified_split_keeps_class_shares(tmp_path: Path) -> None:
    ds = dataset(tmp_path, count_header_csv("iris"))
    shares = np.bincount(ds.y_val, minlength=3) / ds.n_val
    assert np.allclose(shares, np.bincount(ds.y_train, minlength=3) / ds.n_train, atol=0.05)


def test_standardization_is_fitted_on_the_training_split_only(tmp_path: Path) -> None:
    ds = dataset(tmp_path, count_header_csv("wine"))
    raw_train = ds.x_train * ds.input_std + ds.input_mean
    assert np.allclose(raw_train.mean(axis=0), ds.input_mean)
    assert np.allclose(ds.x_train.mean(axis=0), 0, atol=1e-9)
    assert not np.allclose(ds.x_val.mean(axis=0), 0, atol=1e-3)


def test_a_50_mb_numeric_file_takes_the_fast_path(tmp_path: Path) -> None:
    text = numeric_csv(49 * 2**20)
    path = tmp_path / "big.csv"
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size > 48 * 2**20
    spec = DataSpec(source="csv", path="big.csv", table=TableSpec())
    ds = make_dataset(spec, np.random.default_rng(0), tmp_path)
    n = text.count("\n") - 1
    assert ds.n_train + ds.n_val == n and ds.input_shape == (8,) and ds.task == "binary"
    raw = ds.x_val[:5] * ds.input_std + ds.input_mean
    first = np.array([float(v) for v in text.splitlines()[1].split(",")[:8]])
    assert np.isclose(raw, first).all(axis=1).any() or np.isclose(ds.x_train * ds.input_std + ds.input_mean,
                                                                   first).all(axis=1).any()


def test_text_and_bytes_give_the_same_table() -> None:
    text = kaggle_iris_csv(separator=";", decimal=",")
    options = TableSpec(decimal=",")
    a, b = parse_table(text, "t", options), parse_table(text.encode(), "t", options)
    assert a.names == b.names
    assert np.array_equal(a.column("PetalWidthCm").values, b.column("PetalWidthCm").values)


def test_a_byte_order_mark_and_crlf_lines_read_like_plain_text(tmp_path: Path) -> None:
    plain = dataset(tmp_path, kaggle_iris_csv(), target="Species")
    marked = dataset(tmp_path, "\ufeff" + kaggle_iris_csv().replace("\n", "\r\n"), target="Species")
    assert marked.feature_names == plain.feature_names and np.array_equal(marked.x_val, plain.x_val)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(alphabet=",;\t|.\n\r\"0123456789aeNA -", max_size=300))
def test_any_bytes_are_read_or_refused_with_a_data_error(data: bytes | str) -> None:
    from engine.data.table_preview import preview_table

    raw = data.encode() if isinstance(data, str) else data
    spec = DataSpec(source="csv", path="t.csv", table=TableSpec(missing="mean"))
    with contextlib.suppress(DataError):
        parse_table(raw, "t.csv", TableSpec())
    preview = preview_table(raw, "t.csv", spec)  # never raises: errors are shown
    assert preview.ok or preview.errors
