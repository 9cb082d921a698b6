"""The "About this experiment" pane at 1280×720: a long description can be read whole with one
click, the editors below stay usable, and the choice is kept in the saved layout."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine.shipped import example_path
from workbench.app.about_pane import MAX_HEIGHT, MIN_EDITORS_HEIGHT
from workbench.model.layout import Layout, parse_layout


def _settle(qtbot: Any) -> None:
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(20)


def _whole_text_shown(about: Any) -> bool:
    bar = about.area.verticalScrollBar()
    return bar.maximum() == 0 and about.area.viewport().height() >= about.label.sizeHint().height() - 1


def test_a_long_description_unfolds_whole_and_folds_again(qtbot: Any, window: Any) -> None:
    window.resize(1280, 720)
    window.session.open(str(example_path("table-titanic")))
    _settle(qtbot)
    about = window.about
    assert about.area.height() <= MAX_HEIGHT
    assert not _whole_text_shown(about), "folded, the Titanic description needs scrolling"
    assert about.toggle.isVisible() and about.toggle.text() == "Show all ▾"

    qtbot.mouseClick(about.toggle, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert _whole_text_shown(about), "unfolded, every line of the description is on screen"
    assert about.toggle.text() == "Show less ▴"
    assert window.editors.height() >= MIN_EDITORS_HEIGHT - 40  # the tabs, the table and its buttons
    assert window.network_panel.table.isVisible() and window.network_panel.add_button.isVisible()
    assert window.current_layout().about_expanded

    qtbot.mouseClick(about.toggle, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert about.area.height() <= MAX_HEIGHT and not window.current_layout().about_expanded


def test_the_unfolded_description_is_kept_in_the_layout(qtbot: Any, window: Any) -> None:
    window.resize(1280, 720)
    window.session.open(str(example_path("table-titanic")))
    window.apply_layout(replace(window.current_layout(), about_expanded=True))
    _settle(qtbot)
    assert window.about.expanded and _whole_text_shown(window.about)
    saved = window.current_layout().to_json()
    assert json.loads(saved)["about_expanded"] is True
    screen = tuple(json.loads(saved)["screen"])
    assert parse_layout(saved, screen, set(window.workspace.pages)).about_expanded
    # A layout saved before the choice existed still loads, folded.
    older = json.loads(saved)
    del older["about_expanded"]
    assert parse_layout(json.dumps(older), screen, set(window.workspace.pages)) == replace(
        Layout(**{**older, "window": tuple(older["window"]), "screen": screen,
                   "pages": tuple(older["pages"])}),
        about_expanded=False)


def test_a_short_description_offers_nothing_to_unfold(qtbot: Any, window: Any) -> None:
    window.resize(1280, 720)
    window.session.new(window.session.spec.model_copy(update={"description": "Two lines at most."}))
    _settle(qtbot)
    assert not window.about.toggle.isVisible() and _whole_text_shown(window.about)


def test_show_all_is_offered_exactly_when_the_folded_text_scrolls(qtbot: Any, window: Any) -> None:
    window.resize(1280, 720)
    for name in ("default-spiral", "digits", "table-titanic", "recurrent-adding", "saturated-sigmoid"):
        # From a short description each time: the pane must re-measure, not keep its last answer.
        window.session.new(window.session.spec.model_copy(update={"description": "Short."}))
        _settle(qtbot)
        window.session.open(str(example_path(name)))
        _settle(qtbot)
        scrolls = window.about.area.verticalScrollBar().maximum() > 0
        assert window.about.toggle.isVisible() == scrolls, name
