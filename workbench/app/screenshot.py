"""Render the README screenshot offscreen: ``python -m workbench.app.screenshot docs/screenshot.png``.

Opens experiments/default-spiral.json, trains until the curves tell a story, and grabs the
window at 1280×800 while the run is still going (so the status bar shows a live run).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from engine.shipped import example_path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs/screenshot.png")
    epochs = int(argv[1]) if len(argv) > 1 else 110
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from workbench.app.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        # A throwaway settings file: the shot never depends on (or changes) the user's layout.
        window = MainWindow(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        window.resize(1280, 800)
        window.show()
        if not window.open_path(example_path("default-spiral"), ask=False):
            return 1
        session = window.session
        session.start()
        deadline = time.monotonic() + 120
        while session.history.n_epochs < epochs and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.005)
        for _ in range(3):  # let the last batch reach the plots
            app.processEvents()
            time.sleep(0.03)
        window.refresh_views(force=True)
        app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(out))
        session.shutdown()
        window.close()
    print(f"wrote {out}" if ok else f"could not write {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
