import gc
import os
import sys

import pytest

# Before any Qt import: tests never need a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_exit_status: list[int] = []
_tests_since_collection = [0]
COLLECT_EVERY = 10


def pytest_configure(config: pytest.Config) -> None:
    # Garbage collection only in the main thread, between tests. Python collects in whichever
    # thread allocates past its threshold; a training or job thread that collected a dead
    # test's widgets deleted them off the GUI thread and deadlocked against it in Qt's
    # destructor (seen in test_worker.py once closed windows became collectable).
    gc.disable()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    _tests_since_collection[0] += 1
    if _tests_since_collection[0] >= COLLECT_EVERY:
        _tests_since_collection[0] = 0
        gc.collect()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # After the whole suite, the interpreter's final garbage collection walked thousands of dead
    # PySide6 wrappers for minutes at full CPU before the process could exit (the summary line was
    # long printed). Every test has finished and reported by now, and every thread and process a
    # test started was joined in its teardown: leave at once with pytest's own exit status.
    if _exit_status and os.environ.get("GW_PYTEST_FULL_EXIT") != "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[0])
