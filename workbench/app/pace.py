"""The watch pace: from slow motion (each step drawn) to full speed, changed at once mid-run."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from workbench.model.pace import DEFAULT_PACE, PACES, pace_label


class PaceControl(QWidget):
    """A labelled combo box on the Run toolbar bound to ``session.set_pace``."""

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.combo = QComboBox()
        self.combo.setObjectName("pace")
        for rate in PACES:
            self.combo.addItem(pace_label(rate), rate)
        self.combo.setToolTip(
            "How fast training runs, so you can watch it learn: from slow motion (every step drawn) "
            "to full speed. Changing it during a run takes effect at the next step. Ctrl+Up / Ctrl+Down."
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        label = QLabel("Pace")
        label.setBuddy(self.combo)
        layout.addWidget(label)
        layout.addWidget(self.combo)
        self.combo.currentIndexChanged.connect(lambda _i: session.set_pace(self.combo.currentData()))
        self.set_rate(getattr(session, "pace", DEFAULT_PACE))

    def rate(self) -> float | None:
        return self.combo.currentData()

    def set_rate(self, rate: float | None) -> None:
        index = self.combo.findData(rate)
        self.combo.setCurrentIndex(index if index >= 0 else PACES.index(DEFAULT_PACE))
        self.session.set_pace(self.combo.currentData())

    def faster(self) -> None:
        self.combo.setCurrentIndex(min(self.combo.currentIndex() + 1, self.combo.count() - 1))

    def slower(self) -> None:
        self.combo.setCurrentIndex(max(self.combo.currentIndex() - 1, 0))
