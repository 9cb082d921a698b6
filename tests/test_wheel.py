"""The wheel is a working app on its own: built from the checkout, installed into a fresh venv,
run from a folder outside the checkout (validate every example, train each one epoch, run
digits through the console script, open the window on an example).

The venv has no system site-packages and gets the wheel with ``--no-deps --no-index``; the
dependencies (NumPy, PySide6, ...) are lent from the test interpreter by one ``.pth`` line after
the venv's own site-packages. What is under test is what the wheel carries (packages, data,
examples, the console script), not pip resolving NumPy: downloading and unpacking PySide6 into
every test venv would cost a minute and the network on each ``make test``. The test asserts
that ``engine`` and ``workbench`` are imported from the venv, never from the checkout, so the
lent path cannot hide a file missing from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
SOURCES = ("engine", "workbench", "resources", "experiments", "pyproject.toml", "setup.py", "README.md")
TIMEOUT = 300


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    shown = " ".join(map(str, cmd))
    assert proc.returncode == 0, f"{shown} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Build the wheel from a copy of the checkout (the build writes build/ and *.egg-info next to
    its sources) and install it into a fresh venv; returns the paths the tests need."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    for name in SOURCES:
        item = CHECKOUT / name
        if item.is_dir():
            shutil.copytree(item, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(item, src / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # The test interpreter's setuptools builds it (a test dependency), so no download is needed.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-q", "-w", str(root / "dist"), str(src)], root, env)
    (wheel,) = (root / "dist").glob("gradient_workbench-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root, env)
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
          str(wheel)], root, env)
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     root, env).stdout.strip())
    lent = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_lent_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(lent)))
    work = root / "elsewhere"  # outside the checkout: nothing can be found relative to the cwd
    work.mkdir()
    env["QT_QPA_PLATFORM"] = "offscreen"
    return {"wheel": wheel, "venv": venv, "py": py, "site": site, "work": work, "env": env}


def test_the_wheel_carries_every_module_the_data_and_the_examples(installed: dict) -> None:
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    modules = {str(p.relative_to(CHECKOUT)) for pkg in ("engine", "workbench")
               for p in (CHECKOUT / pkg).rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - names == set()
    assert {"engine/resources/digits.npz", "engine/resources/experiment.schema.json"} <= names
    examples = {f"engine/examples/{p.name}" for p in (CHECKOUT / "experiments").glob("*.json")}
    assert len(examples) >= 10 and examples <= names


def test_installed_package_reads_its_files_from_the_venv(installed: dict) -> None:
    code = ("import engine, workbench, json\n"
            "from engine.shipped import data_path, example_paths\n"
            "print(json.dumps([engine.__file__, workbench.__file__, str(data_path('digits.npz')),"
            " [str(p) for p in example_paths()]]))")
    proc = _run([str(installed["py"]), "-c", code], installed["work"], installed["env"])
    engine_file, workbench_file, digits, examples = json.loads(proc.stdout)
    site = installed["site"]
    for path in (engine_file, workbench_file, digits, *examples):
        assert Path(path).is_relative_to(site), f"{path} is not from the installed wheel"
    shipped = sorted(p.name for p in (CHECKOUT / "experiments").glob("*.json"))
    assert sorted(Path(p).name for p in examples) == shipped


def test_installed_cli_runs_digits_and_validates_every_example(installed: dict) -> None:
    cli = str(installed["venv"] / "bin" / "gradient-workbench")
    work, env = installed["work"], installed["env"]
    examples = sorted((installed["site"] / "engine" / "examples").glob("*.json"))
    proc = _run([cli, "validate", *map(str, examples)], work, env)
    assert proc.stderr == ""
    out = work / "digits-run"
    _run([cli, "run", str(installed["site"] / "engine" / "examples" / "digits.json"), "--epochs", "1",
          "--out", str(out)], work, env)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert (out / "history.csv").exists()


def test_installed_package_trains_every_example_one_epoch(installed: dict) -> None:
    # One interpreter for all (the CLI's own main), so ten examples cost one start-up.
    code = (
        "import json, sys\n"
        "from engine.shipped import example_paths\n"
        "from workbench.cli import main\n"
        "codes = {p.stem: main(['run', str(p), '--epochs', '1', '--out', 'runs/' + p.stem])"
        " for p in example_paths()}\n"
        "print(json.dumps(codes))\n"
    )
    proc = _run([str(installed["py"]), "-c", code], installed["work"], installed["env"])
    codes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(codes) >= 10
    # 0 finished; 1 diverged, which the exploding-gradients example is there to show.
    assert {name for name, code in codes.items() if code not in (0, 1)} == set()
    assert codes["exploding-gradients"] == 1 and codes["digits"] == 0
    for name in codes:
        assert (installed["work"] / "runs" / name / "summary.json").exists()


def test_installed_app_opens_an_example(installed: dict) -> None:
    code = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from engine.shipped import example_path\n"
        "from workbench.app.main_window import MainWindow\n"
        "app = QApplication(sys.argv[:1])\n"
        "tmp = tempfile.mkdtemp()\n"
        "w = MainWindow(QSettings(str(Path(tmp) / 's.ini'), QSettings.Format.IniFormat))\n"
        "w.show()\n"
        "assert w.files.open_path(example_path('digits'), ask=False)\n"
        "print(w.session.spec.data.source)\n"
        "w.session.shutdown()\n"
    )
    proc = _run([str(installed["py"]), "-c", code], installed["work"], installed["env"])
    assert proc.stdout.strip().splitlines()[-1] == "digits"
