"""The "explain the gradients" views: each module installs itself through a ``ViewHost``.

Every view module exposes ``install(host) -> None`` (the contract is in ``workbench.app.host``);
``install_views`` calls them in Analyze-menu order. Views read the session (``host.session``)
and never call into a running trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.app.views import (
    diagnostics_panel,
    gradcheck_dialog,
    gradient_health,
    histograms,
    landscape_view,
    lr_finder_view,
    neuron_maps,
    race_view,
    runs_view,
    saliency_view,
    step_through_view,
)

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

VIEW_MODULES = (
    gradient_health,
    diagnostics_panel,
    histograms,
    neuron_maps,
    saliency_view,
    lr_finder_view,
    landscape_view,
    runs_view,
    gradcheck_dialog,
    step_through_view,
    race_view,
)


def install_views(host: ViewHost) -> None:
    for module in VIEW_MODULES:
        module.install(host)
