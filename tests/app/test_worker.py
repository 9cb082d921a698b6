"""A training run as a job (TrainingTask on a BackgroundJob): every event arrives in order, in few
batches; errors arrive as a signal with nothing lost; stop is honoured while paused; the watch
pace holds the run to its rate; the thread is always joined."""

from __future__ import annotations

import threading
import time

import pytest

from engine.events import RunFinished, StepMetrics
from workbench.app.jobs import BackgroundJob
from workbench.model.pace import PaceClock
from workbench.model.tasks import TaskState
from workbench.model.training import TrainingTask


class FakeTrainer:
    """Follows the Trainer contract: a generator with thread-safe stop/pause between steps."""

    def __init__(self, steps: int, fail_at: int | None = None) -> None:
        self.steps, self.fail_at = steps, fail_at
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self.changes: list[dict] = []
        self.network = None

    def run(self, epochs=None):
        for i in range(1, self.steps + 1):
            if self._stop.is_set():
                yield RunFinished("stopped", 1, i - 1, 0.0)
                return
            while not self._resume.wait(0.01):
                pass
            if i == self.fail_at:
                raise FloatingPointError(f"boom at step {i}")
            yield StepMetrics(1, i, 1.0 / i, 0.1, 1.0, {"output": 1.0}, {}, {}, {})
        yield RunFinished("finished", 1, self.steps, 0.0)

    def request_stop(self):
        self._stop.set()
        self._resume.set()

    def pause(self):
        self._resume.clear()

    def resume(self):
        self._resume.set()

    def set_hyperparameters(self, **changes):
        self.changes.append(changes)


class Collector:
    def __init__(self, job: BackgroundJob) -> None:
        self.events: list = []
        self.batches = 0
        self.errors: list[str] = []
        self.finished: list = []
        job.partial.connect(self.on_batch)
        job.failed.connect(lambda m, _t: self.errors.append(m))
        job.finished.connect(self.finished.append)

    def on_batch(self, batch) -> None:
        events, _weights = batch
        self.batches += 1
        self.events.extend(events)


@pytest.fixture
def jobs():
    made: list[BackgroundJob] = []
    yield made
    for job in made:
        job.cancel(join=True)
        assert job.thread is None


def start(jobs: list, task: TrainingTask) -> tuple[BackgroundJob, Collector]:
    job = BackgroundJob()
    jobs.append(job)
    got = Collector(job)
    assert job.start(task, "training")
    return job, got


def test_all_steps_arrive_in_order_in_few_batches(qtbot, jobs) -> None:
    task = TrainingTask(FakeTrainer(20_000), None)
    job, got = start(jobs, task)
    qtbot.waitUntil(lambda: bool(got.finished), timeout=20_000)
    steps = [e.step for e in got.events if isinstance(e, StepMetrics)]
    assert steps == list(range(1, 20_001))
    assert isinstance(got.events[-1], RunFinished) and got.events[-1].status == "finished"
    assert got.batches < 20_000 / 10
    job.join()
    assert job.thread is None


def test_exception_arrives_as_error_signal_and_nothing_before_it_is_lost(qtbot, jobs) -> None:
    _job, got = start(jobs, TrainingTask(FakeTrainer(1000, fail_at=300), None))
    qtbot.waitUntil(lambda: bool(got.errors), timeout=10_000)
    assert "boom at step 300" in got.errors[0]
    assert [e.step for e in got.events] == list(range(1, 300))
    assert got.finished == []


def test_stop_is_honoured_while_paused(qtbot, jobs) -> None:
    trainer = FakeTrainer(10**9)
    task = TrainingTask(trainer, None)
    _job, got = start(jobs, task)
    qtbot.waitUntil(lambda: len(got.events) > 100, timeout=10_000)
    task.pause()
    task.set_hyperparameters(lr=0.5)
    assert trainer.changes == [{"lr": 0.5}]
    task.request_stop()
    qtbot.waitUntil(lambda: bool(got.finished), timeout=10_000)
    assert got.finished[0].status == "stopped"


def test_a_window_closing_cancels_the_run_cleanly(qtbot, jobs) -> None:
    job, got = start(jobs, TrainingTask(FakeTrainer(10**9), None))
    qtbot.waitUntil(lambda: len(got.events) > 10, timeout=10_000)
    job.cancel(join=True)
    assert job.thread is None
    assert got.finished and got.finished[0].status == "stopped"


def test_the_watch_pace_holds_the_run_to_its_rate_and_changes_at_once() -> None:
    clock = PaceClock(40.0)
    trainer = FakeTrainer(10**9)
    task = TrainingTask(trainer, None, clock=clock)
    seen: list = []
    state = TaskState(on_partial=lambda batch: seen.extend(batch[0]))
    runner = threading.Thread(target=task, args=(state,))
    t0 = time.monotonic()
    runner.start()
    time.sleep(1.0)
    slow = sum(isinstance(e, StepMetrics) for e in seen) / (time.monotonic() - t0)
    clock.set_rate(None)  # full speed, from the next step
    changed = time.monotonic()
    while sum(isinstance(e, StepMetrics) for e in seen) < 1000 and time.monotonic() - changed < 5:
        time.sleep(0.02)
    fast = time.monotonic() - changed
    task.request_stop()
    runner.join(5)
    assert not runner.is_alive()
    assert 25 <= slow <= 50, f"{slow:.1f} steps/s at a pace of 40"
    assert fast < 5, "full speed takes effect at once (1,000 steps at 40 steps/s would take 25 s)"
