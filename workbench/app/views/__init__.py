"""The "explain the gradients" views: each module adds its docks and actions to the window.

Every view module exposes ``install(window) -> None``; ``install_views`` calls them in menu
order. Views read the session (``window.session``) and never call into a running trainer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMenu

if TYPE_CHECKING:
    from workbench.app.main_window import MainWindow

VIEW_MODULES = (
    "gradient_health",
    "diagnostics_panel",
    "histograms",
    "neuron_maps",
    "saliency_view",
    "lr_finder_view",
    "landscape_view",
    "runs_view",
    "gradcheck_dialog",
)


def analyze_menu(window: MainWindow) -> QMenu:
    """The window's Analyze menu, created before Help on first use."""
    menu = getattr(window, "analyze_menu", None)
    if menu is None:
        bar = window.menuBar()
        help_action = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
        menu = QMenu("&Analyze", window)
        bar.insertMenu(help_action, menu) if help_action else bar.addMenu(menu)
        window.analyze_menu = menu
    return menu


def show_action(window: MainWindow, text: str, tip: str, dock: QDockWidget) -> QAction:
    """An Analyze-menu action that shows and raises ``dock``."""
    action = analyze_menu(window).addAction(text)
    action.setToolTip(tip)
    action.triggered.connect(lambda _=False: (dock.show(), dock.raise_()))
    return action


def tab_with_boundary(window: MainWindow, *docks: QDockWidget) -> None:
    """Tab ``docks`` behind the decision boundary, which stays in front."""
    boundary = window.plot_docks.get(window.boundary_plot)
    if boundary is not None:
        for dock in docks:
            window.tabifyDockWidget(boundary, dock)
        boundary.raise_()


def install_views(window: MainWindow) -> None:
    for name in VIEW_MODULES:
        importlib.import_module(f"workbench.app.views.{name}").install(window)
