"""Run a sweep's configurations through a backend: as many in flight as it has slots, the rest
queued here, so "cancel what has not started" is exact and an ETA can be told.

Every run is seeded, so the numbers do not depend on which worker ran it, in what order, or how
many ran at once: a parallel sweep gives exactly the results of the same runs done one by one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.model.sweep.executor import Backend
from workbench.model.sweep.plan import Config
from workbench.model.sweep.worker import run_one

MAX_ATTEMPTS = 2  # a run whose worker was lost is retried once

ResultStatus = Literal["finished", "stopped", "diverged", "early_stopped", "error", "cancelled"]


@dataclass
class RunResult:
    config: Config
    status: str  # a RunFinished status, 'error' or 'cancelled'
    record: dict[str, Any] | None = None
    error: str = ""
    attempts: int = 0
    seconds: float = 0.0  # wall time from its (last) submission to its result

    @property
    def done(self) -> bool:
        return self.status != "cancelled"


@dataclass
class Progress:
    """What a progress line says after each finished run."""

    done: int
    total: int
    elapsed: float

    @property
    def eta(self) -> float:
        """Seconds left at the pace so far (runs in parallel included); NaN before the first."""
        if self.done == 0:
            return float("nan")
        return self.elapsed / self.done * (self.total - self.done)


@dataclass
class SweepRunner:
    """Submits ``configs`` to ``backend``; ``request_stop`` (thread-safe) cancels the runs that
    have not started and lets the running ones finish."""

    configs: list[Config]
    backend: Backend
    base_dir: str | None = None
    confined: bool = True
    fn: Callable[..., dict[str, Any]] = run_one
    poll: float = 0.2
    _stop: threading.Event = field(default_factory=threading.Event)

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def run(self, on_start: Callable[[Config], None] | None = None,
            on_done: Callable[[RunResult, Progress], None] | None = None,
            should_abort: Callable[[], bool] | None = None) -> list[RunResult]:
        """Every configuration's result, in configuration order. Runs not started when a stop
        was requested are ``cancelled``; with ``should_abort`` true, so are the running ones
        (the caller then closes the backend with ``kill=True``). Raises the backend's
        ClusterError when the cluster is lost."""
        queue = deque(self.configs)
        results: dict[int, RunResult] = {}
        flight: dict[Future, tuple[Config, int, float]] = {}
        start = time.perf_counter()

        def submit(config: Config, attempt: int) -> None:
            future = self.backend.submit(self.fn, config.spec.model_dump_json(), self.base_dir, self.confined)
            flight[future] = (config, attempt, time.perf_counter())
            if on_start is not None and attempt == 1:
                on_start(config)

        def finish(result: RunResult) -> None:
            results[result.config.index] = result
            if on_done is not None:
                done = sum(r.done for r in results.values())
                on_done(result, Progress(done, len(self.configs), time.perf_counter() - start))

        while queue or flight:
            if should_abort is not None and should_abort():
                for config, attempt, _ in flight.values():
                    results[config.index] = RunResult(config, "cancelled", attempts=attempt)
                for future in flight:
                    future.cancel()
                flight.clear()
                self._stop.set()
            if self._stop.is_set():
                while queue:
                    config = queue.popleft()
                    results[config.index] = RunResult(config, "cancelled")
            while queue and len(flight) < self.backend.slots():
                submit(queue.popleft(), 1)
            if not flight:
                break
            finished, _ = wait(list(flight), timeout=self.poll, return_when=FIRST_COMPLETED)
            self.backend.check()
            for future in finished:
                config, attempt, submitted = flight.pop(future)
                seconds = time.perf_counter() - submitted
                try:
                    record = future.result()
                except CancelledError:
                    results[config.index] = RunResult(config, "cancelled", attempts=attempt)
                    continue
                except Exception as exc:  # run_one returns its own errors: this is a lost worker
                    if attempt < MAX_ATTEMPTS and not self._stop.is_set():
                        submit(config, attempt + 1)
                        continue
                    why = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
                    lost = f"its worker was lost {attempt}× ({why})"
                    finish(RunResult(config, "error", None, lost, attempt, seconds))
                    continue
                status = str(record.get("status", "error"))
                finish(RunResult(config, status, record, str(record.get("error", "")), attempt, seconds))
        return [results[c.index] for c in self.configs if c.index in results]
