"""Sweeps that run in parallel: many configurations of one experiment, each trained in a worker
process on this machine or on a Dask cluster, written as run folders plus one ``sweep.csv``.

- ``plan``: ``--set PATH=VALUES`` parsed and checked against the experiment's schema, the grid or
  a random sample (log-uniform ranges ``1e-4..1e-1``), times seeds: a list of ``Config``.
- ``worker``: ``run_one(spec_json, ...)``, the pure function a worker runs (one BLAS thread);
  it returns plain records (lists, dicts, floats, arrays), never pickled objects of ours.
- ``executor``: the ``concurrent.futures.Executor`` the runs go through: a process pool here,
  or a ``dask.distributed`` client's executor with ``--scheduler`` (one code path for both).
- ``runner``: submits configurations as slots free up, retries a run once when its worker is
  lost, reports each finished run, stops submitting on request.
- ``results``: the run folder written from a worker's record, and ``sweep.csv`` (atomic).

Nothing here imports Qt: the CLI's ``sweep`` command and the app's Runs view share all of it.
"""
