"""The engine and the experiment model stay Qt-free, so the CLI and tests share them."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "engine",
        "engine.spec",
        "engine.analysis",
        "workbench.experiment",
        "workbench.runs",
        "workbench.export",
        "workbench.cli",  # the headless runner: Qt only when it opens the window
    ],
)
def test_module_imports_no_qt(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'PySide6', 'pyqtgraph', 'shiboken6'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
