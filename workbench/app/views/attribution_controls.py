"""The method picker of the saliency view: gradient, SmoothGrad or Integrated Gradients, and
only the chosen method's options (noise and samples; steps and baseline)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from engine.analysis.attribution import METHODS, Attribution, AttributionMethod, attribute

SEED = 0  # SmoothGrad's noise: one fixed draw, so the picture does not flicker between redraws


class AttributionControls(QWidget):
    """A row of controls; ``changed`` is called after any edit."""

    def __init__(self, changed: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method_box = QComboBox()
        for key, label in METHODS.items():
            self.method_box.addItem(label, key)
        self.method_box.setToolTip(
            "Gradient: |∂score/∂input| at the sample.\n"
            "SmoothGrad: the gradient averaged over noisy copies of the sample (less speckle).\n"
            "Integrated Gradients: the gradient integrated along the straight path from a baseline "
            "to the sample, times (sample − baseline); the attributions add up to "
            "score(sample) − score(baseline), and the title reports how far they are from it."
        )
        self.noise_box = _spin(1, 100, 15, " % noise", "SmoothGrad's noise: its standard deviation "
                               "as a share of the sample's value range")
        self.samples_box = _spin(1, 200, 25, " copies", "SmoothGrad: noisy copies averaged")
        self.steps_box = _spin(1, 2000, 50, " steps",
                               "Integrated Gradients: points on the path (more: smaller completeness error)")
        self.baseline_box = QComboBox()
        self.baseline_box.addItem("baseline: zero input", "zero")
        self.baseline_box.addItem("baseline: training mean", "mean")
        self.baseline_box.setToolTip(
            "Integrated Gradients starts from this input. Inputs are standardised, so the zero input "
            "is close to the average training sample; 'training mean' is exactly it."
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("method"))
        for w in (self.method_box, self.noise_box, self.samples_box, self.steps_box, self.baseline_box):
            layout.addWidget(w)
        self.method_box.currentIndexChanged.connect(lambda _i: (self._show_options(), changed()))
        for box in (self.noise_box, self.samples_box, self.steps_box):
            box.valueChanged.connect(lambda _v: changed())
        self.baseline_box.currentIndexChanged.connect(lambda _i: changed())
        self._show_options()

    @property
    def method(self) -> AttributionMethod:
        return self.method_box.currentData()

    def set_method(self, method: AttributionMethod) -> None:
        self.method_box.setCurrentIndex(self.method_box.findData(method))

    def _show_options(self) -> None:
        m = self.method
        self.noise_box.setVisible(m == "smoothgrad")
        self.samples_box.setVisible(m == "smoothgrad")
        self.steps_box.setVisible(m == "integrated_gradients")
        self.baseline_box.setVisible(m == "integrated_gradients")

    def compute(self, network: Any, loss: Any, x: np.ndarray, dataset: Any,
                target_class: int | None) -> Attribution:
        """The chosen method's attributions for the rows ``x`` (already the network's input shape)."""
        baseline: np.ndarray | float = 0.0
        if self.baseline_box.currentData() == "mean" and len(dataset.x_train):
            baseline = np.asarray(dataset.x_train, np.float64).mean(axis=0).reshape(x.shape[1:])
        return attribute(self.method, network, loss, x, np.random.default_rng(SEED), target_class,
                         n_samples=self.samples_box.value(), noise=self.noise_box.value() / 100.0,
                         baseline=baseline, steps=self.steps_box.value())


def _spin(lo: int, hi: int, value: int, suffix: str, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)  # typing "200" computes once, not for 2, 20 and 200
    return box
