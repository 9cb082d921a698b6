"""The open experiment as a document: its spec, its file, undo/redo and whether it is saved."""

from __future__ import annotations

from pathlib import Path

from engine.spec import ExperimentSpec

MAX_UNDO = 200  # edits kept for undo: a spec is a few kB


class ExperimentDocument:
    def __init__(self, spec: ExperimentSpec | None = None, path: Path | None = None) -> None:
        self.spec = spec or ExperimentSpec()
        self.path = path
        self.saved = self.spec
        self._undo: list[ExperimentSpec] = []
        self._redo: list[ExperimentSpec] = []

    @property
    def dirty(self) -> bool:
        return self.spec != self.saved

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def edit(self, spec: ExperimentSpec, undoable: bool = True) -> None:
        if undoable:
            self._undo = [*self._undo[-(MAX_UNDO - 1):], self.spec]
            self._redo.clear()
        self.spec = spec

    def undo_target(self) -> ExperimentSpec | None:
        return self._undo[-1] if self._undo else None

    def redo_target(self) -> ExperimentSpec | None:
        return self._redo[-1] if self._redo else None

    def undone(self, previous: ExperimentSpec) -> None:
        """``undo_target()`` was applied (not undoably); ``previous`` is what it replaced."""
        self._undo.pop()
        self._redo.append(previous)

    def redone(self, previous: ExperimentSpec) -> None:
        self._redo.pop()
        self._undo.append(previous)

    def replace(self, spec: ExperimentSpec, path: Path | None) -> None:
        """A new or opened experiment: no history, saved as it is."""
        self.spec = self.saved = spec
        self.path = path
        self._undo.clear()
        self._redo.clear()

    def mark_saved(self, path: Path) -> None:
        self.path = path
        self.saved = self.spec
