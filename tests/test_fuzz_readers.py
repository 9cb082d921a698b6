"""Fuzzing every reader: random bytes, truncations and mutations of real files give the
reader's own error type or a successful read, never any other exception."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.data import DataError
from engine.data.csvfile import load_csv
from engine.events import RunFinished
from engine.spec import ExperimentSpec
from engine.trainer import Trainer
from workbench.experiment import ExperimentError, load_experiment
from workbench.export import WeightsError, read_weight_arrays
from workbench.runs import RunError, read_run, write_run

REPO = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = ExperimentSpec(name="fuzz", seed=2, data={"source": "moons", "n_samples": 40},
                          training={"epochs": 3, "batch_size": 20})
    trainer = Trainer(spec)
    finished = next(e for e in trainer.run() if isinstance(e, RunFinished))
    return write_run(tmp_path_factory.mktemp("fuzz") / "run", spec, trainer.history, trainer.network,
                     finished, loss=trainer.loss)


CSV = b"x1,x2,label\n0.5,1.5,a\n-1,2e3,b\n3,4,a\n\"5\",6,b\n"


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The file cut short, with bytes flipped, inserted or deleted, or replaced by random bytes."""
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "random"]))
    data = bytearray(original)
    if kind == "random":
        return draw(st.binary(max_size=4096))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, max(len(data) - 1, 0)))])
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[i] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete" and data:
            del data[i: i + draw(st.integers(1, 16))]
    return bytes(data)


def _only(reader: Callable[[], object], errors: tuple[type[BaseException], ...]) -> None:
    """Run ``reader``: success, or one of ``errors``; any other exception fails the test."""
    with contextlib.suppress(errors):
        reader()


@FUZZ
@given(data=st.data())
def test_experiment_reader(tmp_path: Path, data: st.DataObject) -> None:
    original = (REPO / "experiments" / "optimizers.json").read_bytes()
    path = tmp_path / "e.json"
    path.write_bytes(data.draw(mutated(original)))
    _only(lambda: load_experiment(path), (ExperimentError,))


@FUZZ
@given(data=st.data())
def test_csv_reader(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(data.draw(mutated(CSV)))
    task = data.draw(st.sampled_from(["auto", "classification", "regression"]))
    _only(lambda: load_csv(path, target=data.draw(st.sampled_from([None, "label", "x1", "nope"])), task=task),
          (DataError,))


@FUZZ
@given(data=st.data())
def test_weights_reader(tmp_path: Path, real_run: Path, data: st.DataObject) -> None:
    path = tmp_path / "w.npz"
    path.write_bytes(data.draw(mutated((real_run / "weights.npz").read_bytes())))
    _only(lambda: read_weight_arrays(path), (WeightsError,))


@FUZZ
@given(data=st.data(), shape=st.lists(st.integers(0, 2**40), max_size=4),
       descr=st.sampled_from(["<f8", "<f4", "|u1", "<i8", "|O", "<U3", "|b1", "|V8"]),
       payload=st.binary(max_size=256))
def test_weights_reader_with_forged_npy_headers(tmp_path: Path, data: st.DataObject, shape: list[int],
                                                descr: str, payload: bytes) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": data.draw(st.booleans()),
                                                  "shape": tuple(shape)})
    path = tmp_path / "w.npz"
    method = data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr("dense1.W.npy", header.getvalue() + payload)
    _only(lambda: read_weight_arrays(path), (WeightsError,))


@FUZZ
@given(data=st.data(),
       name=st.sampled_from(["experiment.json", "summary.json", "history.csv", "weights.npz"]))
def test_run_folder_reader(tmp_path: Path, real_run: Path, data: st.DataObject, name: str) -> None:
    folder = tmp_path / "run"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(real_run, folder)
    (folder / name).write_bytes(data.draw(mutated((real_run / name).read_bytes())))
    try:
        record = read_run(folder)
    except RunError:
        return
    record.history()  # what the app draws must be readable too


@FUZZ
@given(summary=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                                       inner, max_size=3),
                            max_leaves=8))
def test_run_summary_of_any_json_shape(tmp_path: Path, real_run: Path, summary: object) -> None:
    folder = tmp_path / "run"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(real_run, folder)
    (folder / "summary.json").write_text(json.dumps(summary))
    try:
        record = read_run(folder)
    except RunError:
        assert not isinstance(summary, dict)
        return
    record.history()
    assert isinstance(record.metric_name, str)
