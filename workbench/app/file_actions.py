"""File ▸ New, Open, Open Recent, Open Run Folder, Save and Save As, for the main window.

Every question goes through the window's replaceable dialog methods (``ask_*``/``show_*``),
so tests answer them and nothing ever blocks on a modal window.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMenu

from engine.shipped import example_paths
from workbench.app.export import slug

if TYPE_CHECKING:
    from workbench.app.main_window import MainWindow

MAX_RECENT = 8


class FileActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.session = window.session
        self.settings = window.settings

    # ------------------------------------------------------------------ asking
    def display_name(self) -> str:
        return self.session.path.name if self.session.path else "Untitled"

    def maybe_save(self) -> bool:
        """True when it is fine to discard the current experiment."""
        if not self.session.dirty:
            return True
        answer = self.window.ask_save_changes()
        if answer == "save":
            return self.save_file()
        return answer == "discard"

    # ------------------------------------------------------------------ opening
    def new_file(self) -> None:
        if self.maybe_save():
            self.session.new()

    def open_file(self) -> None:
        if not self.maybe_save():
            return
        path = self.window.ask_open_path("Open experiment", "Experiments (*.json);;All files (*)")
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        """Open an experiment file or a run folder; on failure the current experiment stays."""
        path = Path(path)
        if ask and not self.maybe_save():
            return False
        if path.is_dir():
            return self.open_run_path(path)
        from workbench.experiment import ExperimentError

        try:
            self.session.open(path)
        except ExperimentError as exc:
            lines = "\n".join(f"• {p}" for p in exc.problems)
            self.window.show_error("Cannot open experiment", f"{path.name} cannot be opened:\n\n{lines}")
            return False
        except OSError as exc:
            self.window.show_error("Cannot open experiment",
                                   f"{path.name} cannot be read: {exc.strerror or exc}")
            return False
        self.remember(path)
        return True

    def open_run_folder(self) -> None:
        if not self.maybe_save():
            return
        folder = self.window.ask_folder("Open run folder")
        if folder:
            self.open_run_path(Path(folder))

    def open_run_path(self, folder: Path) -> bool:
        """Show a saved run: its experiment, its curves, and its trained weights if present."""
        try:
            note = self.session.open_run(folder)
        except Exception as exc:
            self.window.show_error("Cannot open run", f"{folder} is not a readable run folder: {exc}")
            return False
        self.window.refresh_views(force=True)
        self.window.statusBar().showMessage(note, 5000)
        return True

    # ------------------------------------------------------------------ saving
    def save_file(self) -> bool:
        if self.session.path is None or is_shipped_example(self.session.path):
            return self.save_file_as()  # a shipped example is a template: never saved over
        return self._save_to(self.session.path)

    def save_file_as(self) -> bool:
        suggested = self.session.path.name if self.session.path else f"{slug(self.session.spec.name)}.json"
        path = self.window.ask_save_path("Save experiment", suggested, "Experiments (*.json)")
        if not path:
            return False
        if not path.endswith(".json"):
            path += ".json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        if is_shipped_example(path):
            self.window.show_error("Cannot save over an example",
                                   f"{path.name} is a shipped example. Save your version under another name.")
            return False
        try:
            saved = self.session.save(path)
        except OSError as exc:
            self.window.show_error("Cannot save", f"{path} could not be written: {exc.strerror or exc}")
            return False
        self.remember(saved)
        self.window.statusBar().showMessage(f"Saved {saved.name}", 3000)
        return True

    # ------------------------------------------------------------------ examples
    def fill_examples(self, menu: QMenu) -> None:
        """File ▸ Examples: every shipped example by its title; each opens as an untitled copy."""
        from workbench.experiment import ExperimentError, load_experiment

        menu.clear()
        for path in example_paths():
            try:
                title = load_experiment(path).name
            except (ExperimentError, OSError):
                continue
            action = menu.addAction(title)
            action.setToolTip(f"{path.name}: opens as a template; Save asks where to keep your copy")
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))

    # ------------------------------------------------------------------ recent files
    def last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def remember(self, path: Path) -> None:
        path = Path(path).resolve()
        recent = [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent_files", [str(path), *recent][:MAX_RECENT])
        self.settings.setValue("last_dir", str(path.parent))

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        files = self.recent_files()
        for p in files:
            action = menu.addAction(Path(p).name)
            action.setToolTip(p)
            action.triggered.connect(lambda _=False, p=p: self.open_path(p))
        if not files:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(lambda: self.settings.setValue("recent_files", []))


def is_shipped_example(path: Path) -> bool:
    """True for a file of the installed examples folder (read-only by intent)."""
    try:
        return any(Path(path).resolve() == p.resolve() for p in example_paths())
    except OSError:
        return False
