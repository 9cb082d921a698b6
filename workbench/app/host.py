"""The one interface a view module gets: the contract between the window and its views.

A view module exposes ``install(host: ViewHost) -> None``. Through the host it may:

- read and steer the experiment through ``host.session`` (never a running trainer directly);
- register itself in the view registry (``host.views[name]``) so the window, the tests and
  other views find it by name;
- add a workspace page (``add_page``), optionally borrowing a place on the Training screen;
- add an Analyze-menu entry (``add_action``);
- have a plot redrawn by the frame scheduler and exported with the others (``register_plot``);
- run background work that is cancelled and joined when the window closes (``run_job`` /
  ``register_job``), and be ticked once per frame (``on_frame``).

Nothing else of the window is reachable from a view: no attributes are set on the window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from workbench.app.plots.base import PlotView
from workbench.app.workspace import Home, Page

if TYPE_CHECKING:
    from workbench.app.jobs import BackgroundJob
    from workbench.app.session import Session

TrainingSlot = Literal["health", "diagnostics", "task"]


class ViewRegistry(Mapping[str, Any]):
    """name → view object; a name is registered once."""

    def __init__(self) -> None:
        self._views: dict[str, Any] = {}

    def add(self, name: str, view: Any) -> None:
        if name in self._views:
            raise ValueError(f"a view named {name!r} is registered already")
        self._views[name] = view

    def __getitem__(self, name: str) -> Any:
        return self._views[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)


class ViewHost:
    """What the main window offers its views (built by the window, handed to each ``install``)."""

    def __init__(self, *, session: Session, views: ViewRegistry, parent: QWidget,
                 add_page: Callable[..., Page], open_page: Callable[[str], Page],
                 is_open: Callable[[str], bool], slots: Mapping[str, Home],
                 analyze_menu: QMenu, register_plot: Callable[[PlotView], None],
                 register_job: Callable[[BackgroundJob], None],
                 on_frame: Callable[[Callable[[], None]], None]) -> None:
        self.session = session
        self.views = views
        self.parent = parent  # the parent for a view's dialogs
        self._add_page = add_page
        self._open_page = open_page
        self._is_open = is_open
        self._slots = slots
        self.analyze_menu = analyze_menu
        self._register_plot = register_plot
        self._register_job = register_job
        self._on_frame = on_frame

    def register(self, name: str, view: Any) -> None:
        self.views.add(name, view)

    def add_page(self, name: str, title: str, widget: QWidget, tip: str = "",
                 slot: TrainingSlot | None = None) -> Page:
        """A workspace page; with ``slot`` the widget sits on the Training screen until opened."""
        return self._add_page(name, title, widget, tip, self._slots[slot] if slot else None)

    def open_page(self, name: str) -> Page:
        return self._open_page(name)

    def is_open(self, name: str) -> bool:
        return self._is_open(name)

    def add_action(self, text: str, slot: Callable[[], Any], tip: str = "",
                   shortcut: str | None = None, separator: bool = False) -> QAction:
        """An Analyze-menu entry."""
        if separator:
            self.analyze_menu.addSeparator()
        action = self.analyze_menu.addAction(text)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def add_analysis(self, name: str, view: PlotView, action_text: str, tip: str,
                     run: Callable[[], Any] | None = None, separator: bool = False) -> QAction:
        """The usual analysis view in one call: registered, on its own page, redrawn and exported
        with the plots, its job joined on close, and an Analyze entry that opens the page (and
        then calls ``run``, if given)."""
        self.register(name, view)
        job = getattr(view, "job", None)
        if job is not None:
            self.register_job(job)
        self.add_page(name, view.title, view, tip)
        self.register_plot(view)

        def open_page() -> None:
            self.open_page(name)
            if run is not None:
                run()

        return self.add_action(action_text, open_page, tip, separator=separator)

    def register_plot(self, plot: PlotView) -> None:
        self._register_plot(plot)

    def register_job(self, job: BackgroundJob) -> None:
        self._register_job(job)

    def on_frame(self, callback: Callable[[], None]) -> None:
        self._on_frame(callback)
