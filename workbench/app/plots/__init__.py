"""Live pyqtgraph views over the session's History; each lives in its own dock."""

from workbench.app.plots.base import PlotView
from workbench.app.plots.boundary_plot import BoundaryPlot
from workbench.app.plots.gradient_plot import GradientPlot
from workbench.app.plots.loss_plot import LossPlot
from workbench.app.plots.metric_plot import MetricPlot

__all__ = ["BoundaryPlot", "GradientPlot", "LossPlot", "MetricPlot", "PlotView"]
