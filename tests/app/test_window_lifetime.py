"""A closed window lets go of everything: its views, its session and the data they hold.

Qt holds the closures connected to its signals strongly, out of the garbage collector's sight,
so a closure over a view that sits on an object outside the window's Qt tree (pyqtgraph's
context menus, pages never opened) kept the whole window alive after its Qt side was deleted."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QSettings

from tests.app.conftest import destroy, menu_action, small_spec


def _open_and_close(qtbot: Any, tmp_path: Any) -> tuple[weakref.ref, weakref.ref]:
    from workbench.app.main_window import MainWindow

    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win.show()
    win.session.new(small_spec(epochs=1))
    for title in ("Learning-Rate Range Test", "Loss Landscape"):
        action = menu_action(win.menuBar(), title)
        if action is not None:
            action.trigger()
    qtbot.wait(50)
    refs = weakref.ref(win), weakref.ref(win.session)
    win.session.shutdown()
    win.close()
    destroy(win)
    return refs


def test_a_closed_and_deleted_window_is_freed_with_its_session(qtbot: Any, tmp_path: Any) -> None:
    window, session = _open_and_close(qtbot, tmp_path)
    gc.collect()
    assert window() is None, "the main window outlived its Qt side"
    assert session() is None, "the session (and the data it holds) outlived its window"


def test_the_table_import_dialog_does_not_outlive_its_use(qtbot: Any, window: Any, tmp_path: Any) -> None:
    from workbench.app.table_import import TableImportDialog

    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    panel = window.data_panel
    panel.run_dialog = lambda dialog: False  # the user cancels
    for _ in range(3):
        panel.import_table(str(csv))
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert panel.findChildren(TableImportDialog) == []
