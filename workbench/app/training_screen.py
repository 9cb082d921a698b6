"""The Training screen: everything a run needs on one page, as TensorFlow Playground shows it.

Loss and accuracy on top, gradients by layer and the gradient-health heatmap under them, the
task's own picture (the decision boundary) on the right over both rows, and the diagnostics
strip along the bottom. A grid, not docks: nothing can overlap, and the proportions hold at
1280×720 as at 1920×1080.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QGridLayout, QStackedWidget, QVBoxLayout, QWidget

from workbench.app.workspace import Home

STRIP_HEIGHT = 132  # px: the diagnostics strip, about three findings


class TrainingScreen(QWidget):
    def __init__(self, loss: QWidget, metric: QWidget, gradients: QWidget, picture: QWidget,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TrainingScreen")
        self.health = Home()
        self.diagnostics = Home()
        self.diagnostics.setFixedHeight(STRIP_HEIGHT)
        # The right column: the decision boundary for a 2-D set, else the live view of the
        # ``task`` slot (what the network predicts), so a third of the screen is never empty.
        self.task = Home()
        self.right = QStackedWidget()
        self.right.setObjectName("training-right-column")
        self.right.addWidget(picture)
        self.right.addWidget(self.task)
        self.picture = picture
        grid = QGridLayout()
        grid.setContentsMargins(2, 2, 2, 2)
        grid.setSpacing(6)
        grid.addWidget(loss, 0, 0)
        grid.addWidget(metric, 0, 1)
        grid.addWidget(gradients, 1, 0)
        grid.addWidget(self.health, 1, 1)
        grid.addWidget(self.right, 0, 2, 2, 1)
        for column in range(3):
            grid.setColumnStretch(column, 1)
        for row in range(2):
            grid.setRowStretch(row, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(grid, 1)
        layout.addWidget(self.diagnostics)
        self.panes = (loss, metric, gradients, self.health, self.right, self.diagnostics)

    def show_for(self, trainer: Any) -> None:
        """The boundary when the data has a 2-D plane (or nothing could be built: its note says
        what to fix), else the live predictions."""
        from workbench.app.views.live_predictions import has_plane

        plane = trainer is None or has_plane(trainer)
        self.right.setCurrentWidget(self.picture if plane else self.task)
