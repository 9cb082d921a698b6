"""The "explain the gradients" views: each module installs itself through a ``ViewHost``.

Every view module exposes ``install(host) -> None`` (the contract is in ``workbench.app.host``);
``install_views`` calls them in Analyze-menu order. Views read the session (``host.session``)
and never call into a running trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.app.views import (
    confusion_view,
    diagnostics_panel,
    feature_maps_view,
    gradcam_view,
    gradcheck_dialog,
    gradient_health,
    histograms,
    landscape_view,
    live_predictions,
    lr_finder_view,
    neuron_maps,
    race_view,
    runs_view,
    saliency_view,
    sequence_view,
    step_through_view,
    time_gradients,
)

if TYPE_CHECKING:
    from workbench.app.host import ViewHost

VIEW_MODULES = (
    gradient_health,
    diagnostics_panel,
    histograms,
    neuron_maps,
    saliency_view,
    confusion_view,
    feature_maps_view,
    gradcam_view,
    lr_finder_view,
    landscape_view,
    runs_view,
    gradcheck_dialog,
    time_gradients,
    sequence_view,
    step_through_view,
    race_view,
    live_predictions,
)


def install_views(host: ViewHost) -> None:
    for module in VIEW_MODULES:
        module.install(host)
