"""The window's layout as a person meets it at 1280×720 and 1600×1000, with a fresh profile.

For every Analyze and View menu action, and after Reset Layout and a restart: no two visible
panes overlap, nothing spills out of the window, every view an action newly shows gets at least
480×320 px, and no tab label is elided.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QTabBar, QWidget

from tests.app.conftest import Dialogs, small_spec
from workbench.app.views.runs_view import SweepChoice
from workbench.model.layout import LAYOUT_VERSION, Layout

SIZES = [(1280, 720), (1600, 1000)]
MIN_VIEW = (480, 320)


def _settle(qtbot: Any) -> None:
    QApplication.processEvents()
    qtbot.wait(30)
    QApplication.processEvents()


def _global(widget: QWidget) -> QRect:
    return QRect(widget.mapToGlobal(widget.rect().topLeft()), widget.size())


def panes(window: Any) -> list[QWidget]:
    """What the person sees side by side: the editors, and the parts of the current page."""
    shown: list[QWidget] = [window.about, window.editors] if window.editors_column.isVisible() else []
    name = window.workspace.current_name()
    if name == "training":
        shown += [p for p in window.training_screen.panes if p.isVisible()]
    else:
        shown.append(window.workspace.pages[name].frame)
    return shown


def views_on_screen(window: Any) -> dict[str, QWidget]:
    """Each analysis view is a workspace page (some hold two panes, as Neurons does)."""
    return {name: page.frame for name, page in window.workspace.pages.items()
            if name != "training" and page.frame.isVisible()}


def check_layout(window: Any, before: dict[str, QWidget] | None = None, what: str = "") -> None:
    central = _global(window.centralWidget())
    shown = panes(window)
    for pane in shown:
        assert central.contains(_global(pane)), f"{what}: {pane.objectName()} spills out of the window"
    for i, a in enumerate(shown):
        for b in shown[i + 1:]:
            assert not _global(a).intersects(_global(b)), (
                f"{what}: {a.objectName() or type(a).__name__} overlaps {b.objectName() or type(b).__name__}")
    if before is not None:
        for name, view in views_on_screen(window).items():
            if name not in before:
                size = view.size()
                assert size.width() >= MIN_VIEW[0] and size.height() >= MIN_VIEW[1], (
                    f"{what}: {name} opened at {size.width()}×{size.height()}")
    for bar in window.findChildren(QTabBar):
        if not bar.isVisible():
            continue
        assert bar.elideMode() == Qt.TextElideMode.ElideNone
        for i in range(bar.count()):
            text = bar.tabText(i).replace("&", "")
            assert bar.tabRect(i).width() >= bar.fontMetrics().horizontalAdvance(text), (
                f"{what}: tab “{text}” is cut")
    # The editors never need a horizontal scroll bar they do not have.
    for i in range(window.editors.count()):
        area = window.editors.widget(i)
        if area.isVisible():
            assert area.widget().minimumSizeHint().width() <= area.viewport().width() + 1, (
                f"{what}: the {window.editors.tabText(i)} editor is clipped")
            for table in area.findChildren(QAbstractScrollArea):
                bar = table.horizontalScrollBar()
                assert bar.maximum() == 0, f"{what}: a table of the {window.editors.tabText(i)} editor is cut"


def new_window(qtbot: Any, ini: Path, size: tuple[int, int], dialogs: Dialogs) -> Any:
    from workbench.app.main_window import MainWindow

    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    settings.setValue("pace", "full")
    window = MainWindow(settings)
    dialogs.install(window)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.resize(*size)
    _settle(qtbot)
    return window


def close_window(window: Any) -> None:
    window.session.shutdown()
    window.jobs.cancel_all()
    window.close()


def menu_actions(menu: Any) -> list[Any]:
    out = []
    for action in menu.actions():
        if action.menu() is not None:
            out += menu_actions(action.menu())
        elif action.text() and not action.isSeparator():
            out.append(action)
    return out


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_menu_action_keeps_the_layout_readable(qtbot: Any, tmp_path: Path,
                                                      size: tuple[int, int]) -> None:
    dialogs = Dialogs()
    ini = tmp_path / "settings.ini"
    window = new_window(qtbot, ini, size, dialogs)
    window.session.new(small_spec(epochs=1))
    window.views["runs"].ask_sweep = lambda: SweepChoice("lr", (0.01,), 1)
    window.views["runs"].ask_sweep_folder = lambda: None  # Open Sweep Folder…: the user cancels
    # A run of another experiment with a long name: the Runs table grows wide.
    with qtbot.waitSignal(window.session.runFinished, timeout=20_000):
        window.session.start()
    window.session.new(small_spec(epochs=1).model_copy(update={"name": "a rather long experiment name " * 3}))
    check_layout(window, what="first start")
    assert window.workspace.open_names() == ["training"]

    analyze = menu_actions(window.analyze_menu)
    for action in analyze + menu_actions(window.view_menu):
        before = views_on_screen(window)
        editors_width = window.editors_column.width()
        action.trigger()
        _settle(qtbot)
        check_layout(window, before, what=action.text())
        if action in analyze:
            assert window.editors_column.width() == editors_width, f"{action.text()} squeezed the editors"
        for job in window.jobs.jobs:
            job.cancel(join=True)
        if not window.editors.isVisible():
            window.editors_action.trigger()
        if not window.run_toolbar.isVisible():
            window.run_toolbar.show()
        dialog = window.views["gradcheck"]._dialog
        if dialog is not None:
            dialog.wait()
            dialog.close()

    for name in ("landscape", "runs", "histograms"):
        window.workspace.open_page(name)
    window.reset_layout()
    _settle(qtbot)
    check_layout(window, what="Reset Layout")
    assert window.workspace.open_names() == ["training"], "Reset Layout opens nothing else"
    assert window.editors.isVisible() and window.about.isVisible() and window.run_toolbar.isVisible()

    # A restart restores the saved layout, which passes the same checks.
    window.workspace.open_page("saliency")
    window.workspace.open_page("gradient_health")
    saved = window.current_layout()
    window.save_settings()
    close_window(window)
    again = new_window(qtbot, ini, size, dialogs)
    assert again.workspace.open_names() == ["training", "saliency", "gradient_health"]
    assert again.current_layout().pages == saved.pages
    check_layout(again, {}, what="restart")
    again.workspace.close_page("gradient_health")
    assert again.views["gradient_health"].isVisible() is False or again.workspace.current_name() == "training"
    close_window(again)


def test_a_borrowed_view_goes_home_when_its_tab_closes(qtbot: Any, tmp_path: Path) -> None:
    window = new_window(qtbot, tmp_path / "s.ini", SIZES[0], Dialogs())
    health = window.views["gradient_health"]
    assert health.parent() is not None and window.training_screen.health.isAncestorOf(health)
    window.workspace.open_page("gradient_health")
    _settle(qtbot)
    assert not window.training_screen.health.isAncestorOf(health)
    assert health.width() >= MIN_VIEW[0] and health.height() >= MIN_VIEW[1]
    window.workspace.open_page("training")
    assert "open in its own tab" in window.training_screen.health.note_label.text()
    window.workspace.close_page("gradient_health")
    _settle(qtbot)
    assert window.training_screen.health.isAncestorOf(health) and health.isVisible()
    close_window(window)


@pytest.mark.parametrize("saved", [
    "not json",
    Layout(version=LAYOUT_VERSION - 1).to_json(),  # another version
    Layout(screen=(640, 480)).to_json(),  # another screen
    Layout(pages=("no-such-view",)).to_json(),
    Layout(editors_width=5000).to_json(),
], ids=["garbage", "old-version", "other-screen", "unknown-page", "absurd-width"])
def test_an_invalid_saved_layout_is_discarded_not_applied(qtbot: Any, tmp_path: Path, saved: str) -> None:
    ini = tmp_path / "settings.ini"
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    if saved.startswith("{"):
        # Written for this screen unless the case is about another screen.
        import json

        raw = json.loads(saved)
        if raw["screen"] == [0, 0]:
            screen = QApplication.primaryScreen().availableGeometry().size()
            raw["screen"] = [screen.width(), screen.height()]
            raw["window"] = [min(800, screen.width()), min(600, screen.height())]
        saved = json.dumps(raw)
    settings.setValue("layout", saved)
    settings.sync()
    window = new_window(qtbot, ini, SIZES[0], Dialogs())
    assert window.workspace.open_names() == ["training"]
    assert window.splitter.sizes()[0] == window.default_layout().editors_width
    close_window(window)
