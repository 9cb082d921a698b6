"""Analyses that explain training: diagnostics, LR range test, loss landscape, saliency,
Grad-CAM, sweeps.

Qt-free; the GUI runs the long ones (range test, landscape) on a worker thread with the
``progress``/``cancelled`` callbacks.
"""

from engine.analysis.diagnostics import Diagnosis, diagnose, diagnose_trainer
from engine.analysis.gradcam import grad_cam, image_layers, upsample_bilinear
from engine.analysis.landscape import (
    Cancelled,
    LandscapeResult,
    filter_normalized_direction,
    loss_landscape,
    pca_directions,
)
from engine.analysis.lr_finder import LRRangeResult, lr_range_test, suggest_lr
from engine.analysis.run_context import RunContext
from engine.analysis.saliency import SaliencyMap, saliency, saliency_map_2d
from engine.analysis.sweep import sweep_specs, variant_specs

__all__ = [
    "Cancelled",
    "Diagnosis",
    "LRRangeResult",
    "LandscapeResult",
    "RunContext",
    "SaliencyMap",
    "diagnose",
    "diagnose_trainer",
    "filter_normalized_direction",
    "grad_cam",
    "image_layers",
    "loss_landscape",
    "lr_range_test",
    "pca_directions",
    "saliency",
    "saliency_map_2d",
    "suggest_lr",
    "sweep_specs",
    "upsample_bilinear",
    "variant_specs",
]
