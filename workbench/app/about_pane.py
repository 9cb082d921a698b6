"""“About this experiment”: the open experiment's title and what to look at, always in view."""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

MAX_HEIGHT = 104  # px: about five lines; longer descriptions scroll


class AboutPane(QWidget):
    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("about-experiment")
        self.session = session
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setContentsMargins(6, 4, 6, 4)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(self.label)
        area.setFrameShape(QFrame.Shape.StyledPanel)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setMaximumHeight(MAX_HEIGHT)
        area.setToolTip("About this experiment: its name and description, as saved in the file")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.addWidget(area)
        session.specChanged.connect(self.show_spec)
        self.show_spec(session.spec)

    def show_spec(self, spec: Any) -> None:
        description = spec.description.strip() or "No description. Add one when you save it for others."
        self.label.setText(f"<b>{escape(spec.name)}</b><br>{escape(description)}")

    def text(self) -> str:
        return self.label.text()
