"""The shortcuts a large numeric table takes through the import give exactly what the careful
way gives: the loadtxt reader against the row reader (same bits, same column kinds, the same
error messages when a file is malformed), the split built row by row against the whole matrix
indexed, the whole-table column summary against per-column statistics, counted labels against
sorted ones, and the leak check on its sample against the leak check on whole columns.
Speed itself is measured in ``benchmarks/table_bench.py``, never here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import DataError, make_dataset
from engine.data.build import _class_counts, split_indices
from engine.data.features import Standardizer
from engine.data.table_build import _small_whole_numbers, prepare_table
from engine.data.table_checks import leak_warnings
from engine.data.table_columns import _column_extremes, category_codes, column_summary, profile
from engine.data.table_read import _fast_numeric, _general, detect_layout, parse_table
from engine.spec import DataSpec, TableSpec
from tests.table_files import kaggle_iris_csv, numeric_csv, titanic_csv


def _both_ways(text: str, options: TableSpec):
    """(the loadtxt reader's table, the row reader's table) of ``text``; the first must exist."""
    raw = text.encode("utf-8")
    layout = detect_layout(text, "t.csv", options)
    fast = _fast_numeric(raw, "t.csv", layout, options)
    assert fast is not None, "the file should take the numeric fast path"
    slow = _general(text, "t.csv", layout, options)
    return fast, slow


def _rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scaled = rng.normal(size=n) * 10.0 ** rng.integers(-3, 4, size=n)
    return np.column_stack([scaled, rng.integers(0, 3, size=n), np.arange(n), np.full(n, 7.0),
                            rng.normal(size=n)])


def _tricky_files() -> dict[str, tuple[str, TableSpec]]:
    x = _rows(60)
    plain = "\n".join(",".join(repr(float(v)) for v in r) for r in x)  # 17-digit reprs, exponents
    fixed = "\n".join(",".join(f"{v:.6f}" for v in r) for r in x)
    head = "a,b,id,c,d\n"
    spaced = "\n".join(", ".join(f" {v:+.4e} " for v in r) for r in x)
    comma = "\n".join(";".join(f"{v:.3f}".replace(".", ",") for v in r) for r in x)
    signs = zip(["-0", "0", "+0", "-0.0"] * 6, [",1", ",2"] * 12, strict=True)
    zeros = "a,b\n" + "\n".join(f"{zero}{rest}" for zero, rest in signs)
    return {
        "repr floats, header": (head + plain + "\n", TableSpec()),
        "no trailing newline": (head + fixed, TableSpec()),
        "CRLF": ((head + fixed).replace("\n", "\r\n") + "\r\n", TableSpec()),
        "several trailing newlines": (head + fixed + "\n\n\n", TableSpec()),
        "no header": (fixed + "\n", TableSpec(header="absent")),
        "signs, exponents, spaces": (head + spaced + "\n", TableSpec()),
        "decimal commas, semicolons": (comma + "\n", TableSpec(header="absent", decimal=",")),
        "count header": ("60,4,a,b,c\n" + fixed + "\n", TableSpec()),
        "skipped lines": ("# made by hand\n\n" + head + fixed + "\n", TableSpec(skip_rows=2)),
        "signed zeros": (zeros + "\n", TableSpec()),
    }


@pytest.mark.parametrize("name", list(_tricky_files()))
def test_the_loadtxt_reader_gives_the_row_readers_bits_and_column_kinds(name: str) -> None:
    text, options = _tricky_files()[name]
    fast, slow = _both_ways(text, options)
    assert fast.names == slow.names
    assert np.array_equal(fast.lines, slow.lines)
    for a, b in zip(fast.columns, slow.columns, strict=True):
        assert a.values.tobytes() == b.values.tobytes(), a.name  # bit for bit, signed zeros too
        assert not a.missing.any() and not b.missing.any() and a.codes is None and b.codes is None
    # The fast table's kinds come from its whole-table summary, the row reader's per column.
    assert fast.matrix is not None and slow.matrix is None
    for col in fast.names:
        assert profile(fast, col) == profile(slow, col), col


def test_the_tricky_files_hold_the_kinds_they_are_meant_to_test() -> None:
    text, options = _tricky_files()["repr floats, header"]
    fast, _ = _both_ways(text, options)
    kinds = {name: profile(fast, name).kind for name in fast.names}
    assert kinds == {"a": "number", "b": "number", "id": "identifier", "c": "constant", "d": "number"}


@pytest.mark.parametrize(("body", "message"), [
    ("1,2,3\n4,5\n7,8,9\n", "t.csv line 3: 2 values, expected 3"),
    ("1,2,3\n4,5,6,7\n7,8,9\n", "t.csv line 3: 4 values, expected 3"),
    ("1,2,3\n4,5\n7,8,9,10\n", "t.csv line 3: 2 values, expected 3"),  # a short and a long row
    ("1,2,3\n4,,6\n7,8,9\n", "t.csv line 3, column 'b': missing value"),
    ("1,2,3\n4,inf,6\n7,8,9\n", "t.csv line 3, column 'b': 'inf' is not a finite number"),
])
def test_malformed_numeric_files_are_refused_by_line_and_column(tmp_path: Path, body: str, message: str
                                                               ) -> None:
    (tmp_path / "t.csv").write_text("a,b,c\n" + body, encoding="utf-8")
    spec = DataSpec(source="csv", path="t.csv", table=TableSpec())
    with pytest.raises(DataError) as info:
        make_dataset(spec, np.random.default_rng(0), tmp_path)
    assert message in str(info.value)


def test_text_in_a_numeric_column_is_read_as_text_with_its_line(tmp_path: Path) -> None:
    text = "a,b,c\n" + "".join(f"{i},{i % 3}.5,{i % 2}\n" for i in range(40)) + "41,oops,1\n"
    table = parse_table(text.encode(), "t.csv", TableSpec())
    assert table.matrix is None and table.column("b").first_text == (42, "oops")


def test_blank_lines_keep_their_line_numbers(tmp_path: Path) -> None:
    text = "a,b\n1,0\n\n2,1\n\r\n3,0\n4\n"
    with pytest.raises(DataError) as info:
        parse_table(text.encode(), "t.csv", TableSpec())
    assert "t.csv line 7: 1 values, expected 2" in str(info.value)
    table = parse_table(text.replace("4\n", "4,1\n").encode(), "t.csv", TableSpec())
    assert table.lines.tolist() == [2, 4, 6, 7]


def _prepared(text: str, **options: object):
    target = options.pop("target", None)
    spec = DataSpec(source="csv", path="t.csv", target=target, table=TableSpec(**options))
    return prepare_table(text.encode(), "t.csv", spec)


@pytest.mark.parametrize(("text", "options"), [
    (numeric_csv(200_000), {}),
    (numeric_csv(200_000), {"target": "f3", "ignore": ("f5",)}),
    (titanic_csv(), {"target": "Survived", "missing": "mean", "missing_indicator": True}),
    (titanic_csv(), {"target": "Survived", "missing": "median"}),
    (titanic_csv(), {"target": "Survived", "missing": "most_frequent", "missing_indicator": True}),
])
def test_each_split_built_alone_is_the_whole_matrix_indexed(text: str, options: dict) -> None:
    prepared = _prepared(text, **options)
    train, val = split_indices(len(prepared.y), 0.8, np.random.default_rng(3))
    whole = prepared.encode(train)
    for at in (train, val):
        part = prepared.encode(train, at)
        assert part.flags.c_contiguous and part.tobytes() == whole[at].tobytes()


def test_standardising_in_place_is_the_same_as_a_copy() -> None:
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 5))
    x[:, 2] = 4.0  # constant: left unscaled
    scaler = Standardizer.fit(x)
    assert scaler.std.tobytes() == np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0).tobytes()
    expected = scaler(x)
    assert scaler.apply_in_place(x) is x and x.tobytes() == expected.tobytes()


@pytest.mark.parametrize("n", [1, 7, 8192, 8193, 30_001])
def test_the_whole_table_summary_is_each_columns_own(n: int) -> None:
    rng = np.random.default_rng(n)
    whole = rng.integers(-5, 5, size=n).astype(np.float64)
    late = whole.copy()
    late[-1] += 0.5  # a fraction in the very last row
    x = np.column_stack([rng.normal(size=n), whole, late, np.full(n, 2.0)])
    lows, highs = _column_extremes(x)
    assert np.array_equal(lows, x.min(axis=0)) and np.array_equal(highs, x.max(axis=0))
    text = "a,b,c,d\n" + "".join(",".join(repr(float(v)) for v in r) + "\n" for r in x)
    table = parse_table(text.encode(), "t.csv", TableSpec())
    assert table.matrix is not None
    for j, name in enumerate("abcd"):
        v = x[:, j]
        assert column_summary(table, name) == (v.min(), v.max(), bool(np.all(v == np.round(v))))


@pytest.mark.parametrize("labels", [
    np.array([2, 0, 2, 5, 0, 0], dtype=np.int64),
    np.array([3], dtype=np.int64),
    np.array([-1, 4, 4], dtype=np.int64),  # negative: sorted by np.unique
    np.array([0.0, 1.0, 1.0]),  # float labels: sorted by np.unique
])
def test_counted_classes_are_np_unique(labels: np.ndarray) -> None:
    classes, counts = _class_counts(labels)
    want_classes, want_counts = np.unique(labels, return_counts=True)
    assert classes.dtype == want_classes.dtype and np.array_equal(classes, want_classes)
    assert counts.dtype == want_counts.dtype and np.array_equal(counts, want_counts)


def test_counted_target_values_are_np_unique_and_a_negative_zero_is_sorted() -> None:
    table = parse_table(b"a,y\n1.5,3\n2.5,0\n3.5,3\n4.5,7\n", "t.csv", TableSpec())
    values = table.column("y").values
    distinct, ranks = _small_whole_numbers(table, "y", values)
    assert distinct.tobytes() == np.unique(values).tobytes()
    assert np.array_equal(ranks[values.astype(np.int64)], np.searchsorted(np.unique(values), values))
    signed = parse_table(b"a,y\n1.5,-0\n2.5,0\n3.5,1\n", "t.csv", TableSpec())
    assert _small_whole_numbers(signed, "y", signed.column("y").values) is None


def _sorted_leak_csv(n: int = 30_000) -> str:
    rng = np.random.default_rng(1)
    label = np.repeat([0, 1], n // 2)  # rows sorted by the target: a row number predicts it
    score = label + rng.normal(0.0, 0.02, size=n)  # a near copy of the answer
    # Two grades per class, 0.5 % of class 1 graded as class 0: its message counts the rows out
    # of place, a number that changes with the rows looked at.
    grade = 2 * label + rng.integers(0, 2, size=n)
    grade[(label == 1) & (rng.random(n) < 0.005)] = 1
    rows = [f"{i},{rng.normal():.5f},{score[i]:.5f},{grade[i]},{label[i]}" for i in range(n)]
    return "row,noise,score,grade,label\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize(("text", "leaks"), [(kaggle_iris_csv(), ["Id"]),
                                             (_sorted_leak_csv(), ["row", "score", "grade"])])
def test_the_leak_check_on_its_sample_finds_what_whole_columns_find(text: str, leaks: list[str]) -> None:
    spec = DataSpec(source="csv", path="t.csv", table=TableSpec())
    prepared = prepare_table(text.encode(), "t.csv", spec)
    train, val = split_indices(len(prepared.y), 0.8, np.random.default_rng(0))
    columns = {}  # every kept row of every column, as the check was first written
    for name in prepared.table.names:
        prof = prepared.plan.profiles[name]
        if name == prepared.plan.target:
            continue
        if prof.kind in ("number", "identifier"):
            col = prepared.table.column(name)
            columns[name] = np.where(col.missing[prepared.rows], np.nan, col.values[prepared.rows])
        elif prof.kind == "category":
            codes = category_codes(prepared.table, name, prof.categories)[prepared.rows].astype(np.float64)
            columns[name] = np.where(codes < 0, np.nan, codes)
    excluded = [e.name for e in prepared.plan.excluded]
    full = leak_warnings(columns, prepared.y, prepared.task, train, excluded)
    assert [w.column for w in full] == leaks  # the comparison means something: the leaks are there
    assert len(train) < 20_000 or "row(s) out of place" in full[-1].message
    assert [w for w in prepared.checks(train, val) if w.kind == "leak"] == full
