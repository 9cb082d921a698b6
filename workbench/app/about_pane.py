"""“About this experiment”: the open experiment's title and what to look at, always in view.

Collapsed, it shows the first few lines; "Show all ▾" grows it to the whole description (the
editors below keep at least ``MIN_EDITORS_HEIGHT`` and scroll), "Show less ▴" folds it again.
The window remembers the choice in its saved layout.
"""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

MAX_HEIGHT = 104  # px: about five lines when folded; longer descriptions scroll
MIN_EDITORS_HEIGHT = 380  # px the editors keep below an unfolded description


class AboutPane(QWidget):
    expandedChanged = Signal(bool)

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("about-experiment")
        self.session = session
        self.expanded = False
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setContentsMargins(6, 4, 6, 4)
        self.area = QScrollArea()
        self.area.setWidgetResizable(True)
        self.area.setWidget(self.label)
        self.area.setFrameShape(QFrame.Shape.StyledPanel)
        self.area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.area.setMaximumHeight(MAX_HEIGHT)
        self.area.setToolTip("About this experiment: its name and description, as saved in the file")
        self.toggle = QPushButton()
        self.toggle.setObjectName("about-toggle")
        self.toggle.setFlat(True)
        self.toggle.setStyleSheet("QPushButton { color: #1f5fa8; text-align: right; padding: 0 6px; }")
        self.toggle.setToolTip("Show the whole description, or fold it to a few lines again")
        self.toggle.clicked.connect(lambda: self.set_expanded(not self.expanded))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(0)
        layout.addWidget(self.area)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignRight)
        session.specChanged.connect(self.show_spec)
        self.show_spec(session.spec)

    def show_spec(self, spec: Any) -> None:
        description = spec.description.strip() or "No description. Add one when you save it for others."
        self.label.setText(f"<b>{escape(spec.name)}</b><br>{escape(description)}")
        self._fit()

    def text(self) -> str:
        return self.label.text()

    def set_expanded(self, expanded: bool) -> None:
        changed = expanded != self.expanded
        self.expanded = expanded
        self._fit()
        if changed:
            self.expandedChanged.emit(expanded)

    def _needed_height(self) -> int:
        """The label's height for the whole text, at the width it has beside a scroll bar (a
        folded long text has one; measuring without it would call a text that needs six lines
        at the narrower width one that fits)."""
        bar = self.area.verticalScrollBar().sizeHint().width()
        width = max(self.area.width() - 2 * self.area.frameWidth() - bar, 100)
        return self.label.heightForWidth(width)

    def _fit(self) -> None:
        frame = 2 * self.area.frameWidth()
        needed = self._needed_height() + frame
        column = self.parentWidget().height() if self.parentWidget() is not None else 0
        room = max(MAX_HEIGHT, column - MIN_EDITORS_HEIGHT - self.toggle.sizeHint().height())
        if self.expanded:
            self.area.setMaximumHeight(min(needed, room))
            self.area.setMinimumHeight(min(needed, room))
        else:
            self.area.setMinimumHeight(0)
            self.area.setMaximumHeight(MAX_HEIGHT)
        fits_folded = needed <= MAX_HEIGHT
        self.toggle.setVisible(not fits_folded)
        self.toggle.setText("Show less ▴" if self.expanded else "Show all ▾")

    def resizeEvent(self, event: Any) -> None:  # the text rewraps: the heights follow
        super().resizeEvent(event)
        self._fit()
