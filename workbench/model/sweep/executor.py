"""Where a sweep's runs execute: a ``concurrent.futures.Executor`` and how many runs fit at once.

- ``LocalBackend``: a process pool on this machine (spawned processes: safe beside a GUI's
  threads, and the same on every platform), one worker per core by default.
- ``DaskBackend``: ``dask.distributed.Client(address).get_executor()``, a real
  ``concurrent.futures.Executor``, so the runner has one code path for both. Needs the optional
  ``cluster`` extra; connecting gives up after ``connect_timeout`` with a clear message.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from workbench.model.sweep.worker import ignore_sigint

DEFAULT_CONNECT_TIMEOUT = 10.0


class ClusterError(RuntimeError):
    """The scheduler cannot be reached, or was lost during the sweep."""


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class LocalBackend:
    """Worker processes on this machine. A pool broken by a lost worker is replaced on the next
    submit (the runner retries the runs it held once)."""

    kind = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.description = f"this machine, {self.workers} worker process{'es' * (self.workers != 1)}"
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=ignore_sigint)

    @property
    def executor(self) -> Executor:
        return self._pool

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        try:
            return self._pool.submit(fn, *args)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(fn, *args)

    def slots(self) -> int:
        return self.workers

    def check(self) -> None:
        pass

    def close(self, kill: bool = False) -> None:
        if kill:  # the runs in flight are abandoned: stop their processes now
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """Runs on a Dask distributed cluster through its scheduler's address."""

    kind = "dask"

    def __init__(self, address: str, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError("--scheduler needs Dask: pip install 'gradient-workbench[cluster]'") from None
        self.address = address
        self.connect_timeout = connect_timeout
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address} within {connect_timeout:g} s "
                               f"({type(exc).__name__}: {_first_line(exc)}); start one with "
                               "`dask scheduler` and workers with `dask worker ADDRESS`") from None
        except ValueError as exc:  # a malformed address
            raise ClusterError(f"{address!r} is not a scheduler address ({_first_line(exc)}); "
                               "expected e.g. tcp://host:8786") from None
        self._executor = self.client.get_executor(pure=False)
        self._lost_since: float | None = None
        self.description = f"the Dask scheduler at {address}"

    @property
    def executor(self) -> Executor:
        return self._executor

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._executor.submit(fn, *args)

    def slots(self) -> int:
        """Threads of the cluster's workers now (workers may join or leave during a sweep)."""
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:
            return 1

    def check(self) -> None:
        """Raise ClusterError once the scheduler has been unreachable for the connect timeout."""
        if self.client.status == "running":
            self._lost_since = None
            return
        now = time.monotonic()
        if self._lost_since is None:
            self._lost_since = now
        if self.client.status in ("closed", "closing") or now - self._lost_since > self.connect_timeout:
            raise ClusterError(f"lost the Dask scheduler at {self.address} (client {self.client.status} "
                               f"for {now - self._lost_since:.0f} s)")

    def close(self, kill: bool = False) -> None:
        try:
            self._executor.shutdown(wait=False)
            self.client.close(timeout=self.connect_timeout)
        except Exception:  # closing a client whose scheduler is gone: nothing more to do
            pass


Backend = LocalBackend | DaskBackend


def open_backend(workers: int | None = None, scheduler: str | None = None,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Backend:
    """The scheduler's cluster when an address is given, else processes on this machine."""
    if scheduler:
        return DaskBackend(scheduler, connect_timeout)
    return LocalBackend(workers)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]
