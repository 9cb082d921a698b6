"""The files the packages ship: the digits data, the experiment schema and the example experiments.

The repository keeps them in the top-level folders ``resources/`` and ``experiments/``; the
build (setup.py) maps those folders to the packages ``engine.resources`` and ``engine.examples``,
so a wheel carries them inside ``engine`` and an editable install reads them from the checkout.
Everything finds them here, through ``importlib.resources``, never relative to a source file.
Both live under ``engine`` because the engine must not depend on the app, and an example is an
``ExperimentSpec`` file, a format the engine defines.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

DATA_PACKAGE = "engine.resources"
EXAMPLES_PACKAGE = "engine.examples"


def data_file(name: str) -> Traversable:
    """A shipped data file (``digits.npz``, ``experiment.schema.json``), to ``open()`` or read."""
    return files(DATA_PACKAGE) / name


def data_path(name: str) -> Path:
    """A shipped data file as a path on disk, for messages and for tools that rewrite it."""
    return on_disk(data_file(name))


def example_paths() -> list[Path]:
    """Every shipped example experiment, sorted by file name."""
    folder = files(EXAMPLES_PACKAGE)
    return sorted((on_disk(f) for f in folder.iterdir() if f.name.endswith(".json")), key=lambda p: p.name)


def example_path(name: str) -> Path:
    """The shipped example ``name`` (``"digits"`` or ``"digits.json"``)."""
    file = name if name.endswith(".json") else f"{name}.json"
    path = on_disk(files(EXAMPLES_PACKAGE) / file)
    if not path.is_file():
        known = ", ".join(p.stem for p in example_paths())
        raise FileNotFoundError(f"no shipped example {name!r} (examples: {known})")
    return path


def on_disk(resource: Traversable) -> Path:
    """``resource`` as a path. pip installs wheels unpacked, so a shipped file is always on disk;
    a zipped install would need ``importlib.resources.as_file`` and is said so plainly."""
    if isinstance(resource, Path):
        return resource
    raise FileNotFoundError(
        f"{resource} is inside an archive; install Gradient Workbench with pip (unpacked) to use it"
    )
