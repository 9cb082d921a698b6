"""Gradient Workbench's pure-NumPy backprop engine. Never imports Qt.

One API for scripts, the CLI and the GUI: build a ``Network`` from a spec, run forward and
backward, read parameters and gradients by stable names (``dense1.W``), step an optimizer,
or let a ``Trainer`` run a whole ``ExperimentSpec``.
"""

from engine.activations import ACTIVATIONS, Activation, get_activation
from engine.conv import Conv2D
from engine.data import DATASETS, DataError, Dataset, make_dataset, minibatches
from engine.events import Divergence, EpochMetrics, RunFinished, StepMetrics
from engine.gradcheck import TensorCheck, gradient_check
from engine.initializers import INITIALIZERS
from engine.layers import LAYERS, BatchNorm, Dense, Dropout, Layer
from engine.losses import LOSSES, Loss, get_loss
from engine.network import ActivationStats, Network
from engine.optimizers import LBFGS, OPTIMIZERS, SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, get_optimizer
from engine.pooling import AvgPool2D, Flatten, GlobalAvgPool, MaxPool2D
from engine.registry import Registry, UnknownNameError
from engine.regularization import add_l1_l2_grad, clip_grad_norm, clip_grad_value, l1_l2_penalty
from engine.schedules import SCHEDULES, Schedule, get_schedule
from engine.spec import ExperimentSpec
from engine.trainer import Trainer

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "INITIALIZERS",
    "LAYERS",
    "LBFGS",
    "LOSSES",
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Activation",
    "ActivationStats",
    "Adagrad",
    "Adam",
    "AdamW",
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "DataError",
    "Dataset",
    "Dense",
    "Divergence",
    "Dropout",
    "EpochMetrics",
    "ExperimentSpec",
    "Flatten",
    "GlobalAvgPool",
    "Layer",
    "Loss",
    "MaxPool2D",
    "Network",
    "Optimizer",
    "RMSprop",
    "Registry",
    "RunFinished",
    "Schedule",
    "StepMetrics",
    "TensorCheck",
    "Trainer",
    "UnknownNameError",
    "add_l1_l2_grad",
    "clip_grad_norm",
    "clip_grad_value",
    "get_activation",
    "get_loss",
    "get_optimizer",
    "get_schedule",
    "gradient_check",
    "l1_l2_penalty",
    "make_dataset",
    "minibatches",
]
