"""The Qt desktop application. ``main(path)`` opens the window (and the file, if given)."""

from __future__ import annotations

import os
import sys


def main(path: str | None = None) -> int:
    """Create the QApplication and the main window, open ``path`` if given, run the event loop."""
    problem = missing_display()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from pyqtgraph.util.garbage_collector import GarbageCollector
    from PySide6.QtWidgets import QApplication

    from workbench.app.main_window import APP_NAME, ORG_NAME, MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Garbage is collected on this (the GUI) thread only, once a second: Python collects in
    # whichever thread allocates past its threshold, and a training thread that collected dead
    # widgets would delete them off the GUI thread (a deadlock in Qt's destructors).
    collector = GarbageCollector(interval=1.0)  # noqa: F841 (its timer lives as long as this frame)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    window = MainWindow()
    window.show()
    if path:
        window.files.open_path(path, ask=False)
    return int(app.exec())


def missing_display() -> str | None:
    """Why no window can open here (Linux without X11/Wayland), or None.

    Qt would abort the process with a plugin error; a sentence naming the way out is kinder.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "gradient-workbench: no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY "
        "is set). Train headless with `gradient-workbench run EXPERIMENT.json`, or run under a "
        "virtual screen (xvfb-run)."
    )


__all__ = ["main", "missing_display"]
