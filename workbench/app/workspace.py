"""The central workspace: the Training screen first, then one full-size tab per opened view.

Analysis views never share the screen with the training plots: each opens as its own tab with
the whole workspace to itself, and closing the tab puts it away. A view that also has a place
on the Training screen (the gradient-health heatmap, the diagnostics strip) is *borrowed*: while
its tab is open the widget moves into the tab and its place on the Training screen shows a
one-line note, so the Training screen never moves or shrinks.

Tab labels are short and never elided: when the tabs outgrow the bar it scrolls instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QTabBar, QTabWidget, QVBoxLayout, QWidget

TRAINING = "training"


class Home(QWidget):
    """The place of a borrowable view on the Training screen."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.note = QWidget()
        note_layout = QVBoxLayout(self.note)
        self.note_label = QLabel()
        self.note_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: #666;")
        self.back = QPushButton("Show here again")
        note_layout.addStretch(1)
        note_layout.addWidget(self.note_label)
        note_layout.addWidget(self.back, 0, Qt.AlignmentFlag.AlignCenter)
        note_layout.addStretch(1)
        self.box.addWidget(self.note)
        self.note.hide()

    def hold(self, widget: QWidget) -> None:
        self.note.hide()
        self.box.insertWidget(0, widget)
        widget.show()

    def lend(self, title: str) -> None:
        self.note_label.setText(f"{title} is open in its own tab.")
        self.note.show()


@dataclass
class Page:
    name: str
    title: str
    widget: QWidget
    tip: str = ""
    home: Home | None = None
    frame: QWidget = field(default_factory=QWidget)


class Workspace(QTabWidget):
    """Named pages, opened and closed by name; the Training page is always there."""

    pageOpened = Signal(str)
    pageClosed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workspace")
        self.setDocumentMode(True)
        self.setTabsClosable(True)
        self.setElideMode(Qt.TextElideMode.ElideNone)
        self.setUsesScrollButtons(True)
        self.tabCloseRequested.connect(lambda index: self.close_page(self.name_at(index)))
        self.pages: dict[str, Page] = {}

    # ------------------------------------------------------------------ registration
    def add_page(self, name: str, title: str, widget: QWidget, tip: str = "",
                 home: Home | None = None) -> Page:
        """Register a page (not opened). With ``home``, the widget lives there until opened."""
        if name in self.pages:
            raise ValueError(f"a page named {name!r} exists already")
        page = Page(name, title, widget, tip, home)
        # Owned by the workspace from the start, not only while open: a parentless page's views
        # hold closures over themselves through Qt connections, which keeps them (and the
        # session they show) alive after the window is gone.
        page.frame.setParent(self)
        page.frame.hide()
        layout = QVBoxLayout(page.frame)
        layout.setContentsMargins(0, 0, 0, 0)
        page.frame.setObjectName(f"page-{name}")
        if home is not None:
            home.hold(widget)
            home.back.clicked.connect(lambda: self.close_page(name))
        else:
            layout.addWidget(widget)
        self.pages[name] = page
        if name == TRAINING:
            self.insertTab(0, page.frame, title)
            self.tabBar().setTabButton(0, QTabBar.ButtonPosition.RightSide, None)
            self.tabBar().setTabButton(0, QTabBar.ButtonPosition.LeftSide, None)
            self.setTabToolTip(0, tip)
        return page

    # ------------------------------------------------------------------ opening and closing
    def name_at(self, index: int) -> str:
        frame = self.widget(index)
        return next((n for n, p in self.pages.items() if p.frame is frame), "")

    def is_open(self, name: str) -> bool:
        page = self.pages.get(name)
        return page is not None and self.indexOf(page.frame) >= 0

    def open_names(self) -> list[str]:
        return [self.name_at(i) for i in range(self.count())]

    def current_name(self) -> str:
        return self.name_at(self.currentIndex())

    def open_page(self, name: str) -> Page:
        """Open ``name`` (if closed) and bring it to the front."""
        page = self.pages[name]
        if not self.is_open(name):
            if page.home is not None:
                page.frame.layout().addWidget(page.widget)
                page.widget.show()
                page.home.lend(page.title)
            index = self.addTab(page.frame, page.title)
            self.setTabToolTip(index, page.tip)
            self.pageOpened.emit(name)
        self.setCurrentWidget(page.frame)
        return page

    def close_page(self, name: str) -> None:
        if name == TRAINING or not self.is_open(name):
            return
        page = self.pages[name]
        self.removeTab(self.indexOf(page.frame))
        if page.home is not None:
            page.home.hold(page.widget)
        self.pageClosed.emit(name)

    def close_all(self) -> None:
        for name in self.open_names():
            self.close_page(name)
        self.setCurrentIndex(0)
