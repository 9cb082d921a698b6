"""TrainingWorker on a QThread: every event arrives in order, in few batches; errors arrive as
a signal; stop is honoured; the thread is always joined."""

from __future__ import annotations

import threading

import pytest

from engine.events import RunFinished, StepMetrics
from workbench.app.worker import TrainingThread


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
    def __init__(self, run: TrainingThread) -> None:
        self.events: list = []
        self.batches = 0
        self.errors: list[str] = []
        self.finished: list = []
        run.worker.batch.connect(self.on_batch)
        run.worker.error.connect(lambda m, _t: self.errors.append(m))
        run.worker.finished.connect(self.finished.append)

    def on_batch(self, events, _state) -> None:
        self.batches += 1
        self.events.extend(events)


@pytest.fixture
def runs():
    made: list[TrainingThread] = []
    yield made
    for run in made:
        assert run.stop_and_join()


def test_all_steps_arrive_in_order_in_few_batches(qtbot, runs) -> None:
    run = TrainingThread(FakeTrainer(20_000), None)
    runs.append(run)
    got = Collector(run)
    with qtbot.waitSignal(run.worker.finished, timeout=20_000):
        run.start()
    qtbot.waitUntil(lambda: bool(got.finished))
    steps = [e.step for e in got.events if isinstance(e, StepMetrics)]
    assert steps == list(range(1, 20_001))
    assert isinstance(got.events[-1], RunFinished) and got.events[-1].status == "finished"
    assert got.batches < 20_000 / 10
    assert run.stop_and_join() and not run.is_running()


def test_exception_arrives_as_error_signal(qtbot, runs) -> None:
    run = TrainingThread(FakeTrainer(1000, fail_at=300), None)
    runs.append(run)
    got = Collector(run)
    with qtbot.waitSignal(run.worker.finished, timeout=10_000):
        run.start()
    qtbot.waitUntil(lambda: bool(got.errors))
    assert "boom at step 300" in got.errors[0]
    assert [e.step for e in got.events] == list(range(1, 300))  # nothing before the error is lost
    assert got.finished == [None]
    assert run.stop_and_join()


def test_stop_is_honoured_while_paused(qtbot, runs) -> None:
    trainer = FakeTrainer(10**9)
    run = TrainingThread(trainer, None)
    runs.append(run)
    got = Collector(run)
    run.start()
    qtbot.waitUntil(lambda: len(got.events) > 100, timeout=10_000)
    run.worker.pause()
    run.worker.set_hyperparameters(lr=0.5)
    assert trainer.changes == [{"lr": 0.5}]
    assert run.stop_and_join(10_000)
    assert not run.is_running()
    qtbot.waitUntil(lambda: bool(got.finished))
    assert got.finished[0].status == "stopped"
