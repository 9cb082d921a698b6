"""What is wrong with an experiment file, said so that a person can fix it."""

from __future__ import annotations

from dataclasses import dataclass

from engine.safe_io import MAX_PROBLEMS


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an experiment: where (a JSON path) and what."""

    path: str  # 'optimizer.name', 'model.layers[2].units', '' for the whole file
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ExperimentError(ValueError):
    """An experiment that cannot be loaded or run; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        if not problems:
            raise ValueError("ExperimentError needs at least one problem")
        problems = list(problems)
        if len(problems) > MAX_PROBLEMS:  # a dialog or terminal of a million lines helps nobody
            more = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], Problem("", f"and {more:,} more problems")]
        self.problems = problems
        self.source = source  # the file name, when there is one
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self, prefix: str = "") -> list[str]:
        """One line per problem, each prefixed (e.g. with the file name) for a terminal."""
        return [f"{prefix}{p}" for p in self.problems]


def join_path(parent: str, key: str | int) -> str:
    """Extend a JSON path: ``join_path('model.layers', 2) == 'model.layers[2]'``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)
