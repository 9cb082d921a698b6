"""Editor panels docked on the left: data, network, training."""

from workbench.app.panels.data_panel import DataPanel
from workbench.app.panels.network_panel import NetworkPanel
from workbench.app.panels.training_panel import TrainingPanel

__all__ = ["DataPanel", "NetworkPanel", "TrainingPanel"]
