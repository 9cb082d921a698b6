"""A real Dask cluster on localhost (2 worker processes): the same sweep through the scheduler's
address gives exactly the numbers of the same runs done one by one, a worker lost mid-run costs a
retry, not the run, and a scheduler lost mid-sweep ends it with a message instead of a hang."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sweeps import helpers
from tests.sweeps.helpers import fingerprint, tiny_spec
from workbench.cli import main
from workbench.experiment import save_experiment
from workbench.model.sweep.executor import DaskBackend
from workbench.model.sweep.plan import build_configs, parse_set
from workbench.model.sweep.results import read_sweep
from workbench.model.sweep.runner import SweepRunner
from workbench.runs import read_run

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Any:
    # Processes, as on a real cluster: each worker imports the worker function by name.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=40) as c:
        yield c


def outcome(folder: Path) -> list[tuple]:
    table = read_sweep(folder)
    out = []
    for row in table.rows:
        run = read_run(table.run_folder(row))
        out.append((row["run"], row["status"], row["final_train_loss"], row["final_val_loss"],
                    row["final_val_metric"], fingerprint(run.weights)))
    return out


def test_a_sweep_on_the_cluster_equals_the_local_runs(cluster: Any, tmp_path: Path, capsys) -> None:
    path = tmp_path / "tiny.json"
    save_experiment(tiny_spec(epochs=2), path)
    sets = ["--set", "optimizer.lr=0.1,0.01", "--set", "training.batch_size=16,64"]
    address = cluster.scheduler_address
    assert main(["sweep", str(path), *sets, "--scheduler", address, "--out", str(tmp_path / "dask")]) == 0
    assert f"4 runs on the Dask scheduler at {address}" in capsys.readouterr().out
    # The same runs one by one in this process (tests/sweeps/test_parallel.py shows the local
    # process pool gives these same numbers).
    configs = build_configs(tiny_spec(epochs=2), [parse_set(sets[1]), parse_set(sets[3])])
    local = []
    for config in configs:
        record = helpers.run_one(config.spec.model_dump_json())
        last = record["history"][-1]
        local.append((config.label, record["status"], last["train_loss"], last["val_loss"],
                      last["val_metric"], fingerprint(record["weights"])))
    dask = outcome(tmp_path / "dask")
    assert len({row[-1] for row in dask}) == 4
    assert sorted(dask) == sorted(local)  # bitwise: final metrics compared with ==, weights by SHA-256
    table = read_sweep(tmp_path / "dask")
    workers = {read_run(table.run_folder(r)).summary["sweep"]["worker"] for r in table.rows}
    assert len(workers) == 2  # both worker processes of the cluster took runs


def test_a_lost_cluster_worker_is_retried(cluster: Any, tmp_path: Path) -> None:
    # The marker's path reaches the workers through a file they can read: they were started before
    # this test, so it is set in each of them.
    marker = tmp_path / "died"
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        client.run(lambda: __import__("os").environ.__setitem__("WORKBENCH_TEST_DIE_ONCE", str(marker)))
    finally:
        client.close()
    sweep = build_configs(tiny_spec(epochs=2), [parse_set("optimizer.lr=0.1")])
    backend = DaskBackend(cluster.scheduler_address, connect_timeout=10)
    try:
        [result] = SweepRunner(sweep, backend, fn=helpers.die_once).run()
    finally:
        backend.close()
    assert marker.exists() and result.status == "finished"
    alone = helpers.run_one(sweep[0].spec.model_dump_json())
    assert helpers.final(result.record) == helpers.final(alone)


def test_a_scheduler_lost_mid_sweep_ends_it_with_a_clear_message_not_a_hang() -> None:
    import threading
    import time

    from workbench.model.sweep.executor import ClusterError

    own = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                   silence_logs=50)
    sweep = build_configs(tiny_spec(epochs=2000, n_samples=600), [parse_set("optimizer.lr=0.1,0.01")])
    backend = DaskBackend(own.scheduler_address, connect_timeout=2)
    killer = threading.Timer(2, own.close)
    killer.start()
    started = time.monotonic()
    try:
        with pytest.raises(ClusterError, match=f"lost the Dask scheduler at {own.scheduler_address}"):
            SweepRunner(sweep, backend).run()
    finally:
        killer.join()
        backend.close()
        own.close()
    assert time.monotonic() - started < 30
