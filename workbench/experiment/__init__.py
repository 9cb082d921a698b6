"""Experiment files: load, validate, migrate, save, and the JSON Schema. Qt-free."""

from workbench.experiment.errors import ExperimentError, Problem
from workbench.experiment.io import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    atomic_write_bytes,
    dumps,
    load_experiment,
    loads_experiment,
    save_experiment,
)
from workbench.experiment.migrations import MIGRATIONS, migrate
from workbench.experiment.validation import check_spec, check_variants, validate_data

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MIGRATIONS",
    "ExperimentError",
    "Problem",
    "atomic_write_bytes",
    "check_spec",
    "check_variants",
    "dumps",
    "load_experiment",
    "loads_experiment",
    "migrate",
    "save_experiment",
    "validate_data",
]
