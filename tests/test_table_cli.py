"""Real-world-shaped tables through the command line: they train to their usual accuracy, the
warnings are printed, and the run folder's weights and ONNX model carry the standardisation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.spec import ExperimentSpec
from tests.table_files import count_header_csv, kaggle_iris_csv, titanic_csv
from workbench.cli import main
from workbench.experiment import dumps, loads_experiment
from workbench.experiment.schema import generate_schema


def experiment(folder: Path, name: str, csv: str, data: dict, epochs: int = 60,
               loss: str | None = None) -> Path:
    (folder / f"{name}.csv").write_text(csv, encoding="utf-8")
    spec: dict = {"format": "gradient-workbench/experiment", "version": 2, "name": name,
                  "data": {"source": "csv", "path": f"{name}.csv", **data},
                  "training": {"epochs": epochs}}
    if loss:
        spec["loss"] = {"name": loss}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, str, Path]:
    out = path.parent / f"run-{path.stem}"
    assert main(["run", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), err, out


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_count_header_tables_train_to_90_percent(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 name: str) -> None:
    path = experiment(tmp_path, name, count_header_csv(name), {"table": {}})
    summary, err, _ = run(path, capsys)
    assert summary["final"]["val_accuracy"] >= 0.9
    assert "Column" not in err  # nothing to warn about


def test_id_leak_is_flagged_excluded_and_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = experiment(tmp_path, "iris", kaggle_iris_csv(), {"target": "Species", "table": {}}, epochs=5)
    summary, err, out = run(path, capsys)
    assert "Column 'Id' looks like an identifier" in err and "Column 'Id' alone predicts the target" in err
    assert err.index("Column 'Id'") < len(err)
    assert any("'Id' alone predicts" in d for d in summary["diagnostics"])
    arch = json.loads(str(np.load(out / "weights.npz", allow_pickle=False)["__architecture__"]))
    assert arch["preprocessing"]["feature_names"] == ["SepalLengthCm", "SepalWidthCm", "PetalLengthCm",
                                                      "PetalWidthCm"]


def test_titanic_like_table_trains_with_one_hot_and_mean_imputation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = experiment(tmp_path, "titanic", titanic_csv(),
                      {"target": "Survived", "table": {"missing": "mean"}}, epochs=40,
                      loss="binary_cross_entropy")
    summary, _err, out = run(path, capsys)
    survived = np.array([int(line.split(",")[1]) for line in titanic_csv().splitlines()[1:]])
    baseline = max(survived.mean(), 1 - survived.mean())
    assert summary["final"]["val_accuracy"] > baseline + 0.05
    arch = json.loads(str(np.load(out / "weights.npz", allow_pickle=False)["__architecture__"]))
    assert "Sex=female" in arch["preprocessing"]["feature_names"]


def test_semicolon_decimal_comma_table_through_the_cli(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = experiment(tmp_path, "iris", kaggle_iris_csv(separator=";", decimal=","),
                      {"target": "Species", "table": {"decimal": ",", "separator": ";"}}, epochs=40)
    summary, _, _ = run(path, capsys)
    assert summary["final"]["val_accuracy"] >= 0.8  # the measurements alone, about 93 %


def test_missing_values_without_a_strategy_exit_2_with_ten_lines(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = experiment(tmp_path, "titanic", titanic_csv(), {"target": "Survived", "table": {}})
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "column 'Age': missing value" in err and "set data.table.missing" in err
    assert sum("missing value" in line and "line " in line for line in err.splitlines()) == 10
    assert "and " in err.splitlines()[-1] and err.splitlines()[-1].endswith("more")


def test_onnx_takes_raw_values_and_matches_the_engine(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    ort = pytest.importorskip("onnxruntime")
    from engine.trainer import Trainer
    from workbench.experiment import load_experiment
    from workbench.export import read_weight_arrays

    path = experiment(tmp_path, "wine", count_header_csv("wine"), {"table": {}}, epochs=3)
    _, _, out = run(path, capsys)
    arrays = read_weight_arrays(out / "weights.npz")
    mean, std = arrays["input.mean"], arrays["input.std"]
    trainer = Trainer(load_experiment(path), base_dir=tmp_path)
    from workbench.export import fit_weights

    fit_weights(trainer.network, arrays)  # the input.* arrays are not network parameters
    x_raw = trainer.dataset.x_val * std + mean
    session = ort.InferenceSession(str(out / "model.onnx"))
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["input"] == "raw"
    got = session.run(None, {"input": x_raw.astype(np.float32)})[0]
    expected = trainer.loss.transform(trainer.network.forward(trainer.dataset.x_val.astype(np.float32)))
    assert np.allclose(got, expected, atol=1e-4)


def test_a_v1_csv_experiment_keeps_its_meaning(tmp_path: Path) -> None:
    (tmp_path / "iris.csv").write_text(kaggle_iris_csv(), encoding="utf-8")
    v1 = {"format": "gradient-workbench/experiment", "version": 1, "name": "old",
          "data": {"source": "csv", "path": "iris.csv", "target": "Species"}}
    spec = loads_experiment(json.dumps(v1))
    assert spec.version == 2 and spec.data.table is None
    assert "table" not in json.loads(dumps(spec))["data"]  # written as before
    from engine.data import make_dataset

    ds = make_dataset(spec.data, np.random.default_rng(0), tmp_path)
    # As before table options: every column is an input, the Id too, but now with a warning.
    assert ds.feature_names[0] == "Id" and ds.input_shape == (5,)
    assert {w.kind for w in ds.warnings} >= {"identifier", "leak"}


def test_table_options_round_trip_byte_stable_and_match_the_schema() -> None:
    data = {"format": "gradient-workbench/experiment", "version": 2, "name": "t",
            "data": {"source": "csv", "path": "t.csv", "target": "Survived",
                     "table": {"skip_rows": 1, "header": "present", "separator": ";", "decimal": ",",
                               "ignore": ["Name"], "categorical": ["Pclass"], "numeric": ["Id"],
                               "max_categories": 12, "missing": "median", "missing_indicator": True,
                               "exclude_detected": False, "stratify": False}}}
    spec = loads_experiment(json.dumps(data))
    text = dumps(spec)
    assert dumps(loads_experiment(text)) == text
    assert json.loads(text)["data"]["table"]["missing"] == "median"
    schema = generate_schema()
    table = schema["$defs"]["TableSpec"]
    assert set(table["properties"]) == set(json.loads(text)["data"]["table"])
    assert table["properties"]["missing"]["enum"] == ["error", "drop_rows", "mean", "median", "most_frequent"]
    assert table["additionalProperties"] is False
    assert ExperimentSpec.model_validate_json(text).data.table.categorical == ("Pclass",)
