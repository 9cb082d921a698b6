"""The Qt desktop application. ``main(path)`` opens the window (and the file, if given)."""

from __future__ import annotations

import sys


def main(path: str | None = None) -> int:
    """Create the QApplication and the main window, open ``path`` if given, run the event loop."""
    from PySide6.QtWidgets import QApplication

    from workbench.app.main_window import APP_NAME, ORG_NAME, MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    window = MainWindow()
    window.show()
    if path:
        window.open_path(path, ask=False)
    return int(app.exec())


__all__ = ["main"]
