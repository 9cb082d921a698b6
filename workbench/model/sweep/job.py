"""A sweep as a background job of the app (``fn(state)``, see ``workbench.model.tasks``): the same
backend and runner as the CLI, with reports the Runs view turns into live table rows."""

from __future__ import annotations

from typing import Any

from engine.analysis import Cancelled
from workbench.model.sweep.executor import DEFAULT_CONNECT_TIMEOUT, open_backend
from workbench.model.sweep.plan import Config
from workbench.model.sweep.results import SweepWriter
from workbench.model.sweep.runner import RunResult, SweepRunner
from workbench.model.tasks import JobFn, TaskState


def sweep_job(configs: list[Config], *, workers: int | None = None, scheduler: str | None = None,
              base_dir: str | None = None, writer: SweepWriter | None = None,
              connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> JobFn:
    """Reports ``("backend", description)``, ``("start", index)`` and ``("done", index, RunResult,
    folder_or_None, problem)`` as partial results; a cancel stops the running runs at once (their
    processes end) and keeps the finished ones. Raises ClusterError when the cluster is out of reach."""

    def work(state: TaskState) -> list[RunResult]:
        backend = open_backend(workers, scheduler, connect_timeout)
        state.set_partial_result(("backend", backend.description))
        runner = SweepRunner(configs, backend, base_dir=base_dir)

        def done(result: RunResult, progress: Any) -> None:
            folder, problem = writer.add(result) if writer is not None else (None, "")
            if result.record is not None:  # the table keeps curves, not networks
                result.record.pop("weights", None)
            state.set_partial_result(("done", result.config.index, result, folder, problem))
            state.set_progress_value(progress.done / max(progress.total, 1))

        try:
            results = runner.run(on_start=lambda c: state.set_partial_result(("start", c.index)),
                                 on_done=done, should_abort=state.is_interruption_requested)
        finally:
            backend.close(kill=state.is_interruption_requested())
        if state.is_interruption_requested():
            raise Cancelled("sweep cancelled")
        return results

    return work
