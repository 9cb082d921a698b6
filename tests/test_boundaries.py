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
        "workbench.model",
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


def test_import_contracts_hold() -> None:
    """The layering of pyproject.toml's import-linter contracts (engine at the bottom, the Qt
    app and the CLI on top, no Qt below the app): a new import across a layer fails here."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    linter = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(linter), "--config", str(root / "pyproject.toml")], capture_output=True,
                         text=True, cwd=root)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in out.stdout
