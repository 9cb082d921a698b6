"""Pieces the editor panels share: spec edits with inline errors, option forms, tooltips."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from engine.spec import ExperimentSpec

TIPS = {
    "dataset": "Where the examples come from. The 2-D sets are small puzzles you can see whole; digits are "
    "8×8 images of handwritten digits; a CSV file brings your own table.",
    "n_samples": "How many examples to generate. More data makes the boundary harder to overfit.",
    "noise": "Jitter added to the points (or labels). Noisy data cannot be fitted perfectly: a network "
    "that reaches 100 % training accuracy on it has memorised the noise.",
    "n_classes": "How many classes a multi-class set has.",
    "train_fraction": "Share of the examples used for training; the rest is held out as validation data "
    "to show how well the network generalises.",
    "features": "Inputs computed from the 2-D point (x₁², sin x₁, …). Good features can make a hard "
    "problem linear; a network with enough hidden units can learn them itself.",
    "standardize": "Shift and scale every input to mean 0, variance 1 (statistics from the training "
    "split). Unscaled inputs make some weights learn much faster than others.",
    "seed": "The random seed: the same seed gives the same data, initial weights and batches, so a "
    "run can be repeated exactly.",
    "regenerate": "Pick a new random seed: new data, new initial weights.",
    "csv_path": "A CSV file with a header row, numeric feature columns and a target column.",
    "target": "The CSV column to predict (default: the last one).",
    "layer_type": "Dense: every input connected to every unit. Dropout: randomly zeroes a share of the "
    "values while training (regularization). BatchNorm: normalises each unit over the batch, which "
    "keeps activations in a healthy range and speeds training.",
    "units": "How many neurons the layer has. More units can fit more complex functions but overfit "
    "more easily.",
    "activation": "The non-linearity after the layer. Without one, stacked layers collapse into a single "
    "linear map. Sigmoid and tanh saturate (their gradient vanishes for large inputs); ReLU does not, but "
    "units can die (always output 0).",
    "weight_init": "How the weights start. Zeros (or any constant) never learns: every unit gets the same "
    "gradient and they stay identical. Glorot suits tanh/sigmoid, He suits ReLU: both keep the signal "
    "from shrinking or exploding through the layers.",
    "rate": "The share of values dropout zeroes while training. Typical: 0.1–0.5.",
    "momentum_bn": "How fast the running mean/variance used at evaluation follow the batch statistics.",
    "output_activation": "Applied to the output layer. Keep 'identity' with the cross-entropy losses: "
    "they apply sigmoid/softmax themselves, in a numerically stable way.",
    "loss": "What training minimises. Cross-entropy for classes (binary for two, softmax for more), "
    "MSE/MAE/Huber for numbers. MAE and Huber are less swayed by outliers than MSE.",
    "optimizer": "How gradients become weight updates. SGD follows the gradient; momentum smooths it; "
    "Adam, RMSprop and AdaGrad scale each weight's step by its gradient history; L-BFGS uses curvature "
    "on the full batch.",
    "lr": "The step size. Too high and the loss jumps around or explodes to NaN; too low and training "
    "crawls. Try values a factor of 10 apart. Can be changed while training.",
    "schedule": "How the learning rate changes over the epochs: step decay, exponential decay, cosine "
    "annealing or a linear warm-up.",
    "batch_size": "Examples per gradient step. Small batches give noisy but frequent steps (a mild "
    "regulariser); large batches give smooth, expensive ones.",
    "epochs": "Passes over the training data.",
    "l1": "L1 penalty λ₁·Σ|w|: pushes weights to exactly zero (sparse networks). Live while training.",
    "l2": "L2 penalty (λ₂/2)·Σw² (weight decay): keeps weights small, smoothing the boundary and "
    "reducing overfitting. Live while training.",
    "clipping": "Gradient clipping protects against exploding gradients: one huge step can throw the "
    "weights far away or to NaN. 'norm' rescales the whole gradient when its norm exceeds the maximum; "
    "'value' caps each entry. Live while training.",
    "clip_max": "The largest gradient norm (or entry) allowed.",
    "patience": "Stop when the validation loss has not improved for this many epochs (0: never).",
    "dtype": "float32 is fast; float64 is twice as precise and about half as fast.",
}

OPTION_TIPS = {
    "momentum": "Keeps a running average of past gradients, which speeds travel along consistent "
    "directions and damps zig-zags.",
    "nesterov": "Looks ahead along the momentum before measuring the gradient.",
    "weight_decay": "Shrinks every weight a little each step (like L2 regularization).",
    "beta1": "Decay of Adam's running mean of gradients (momentum).",
    "beta2": "Decay of Adam's running mean of squared gradients (per-weight scale).",
    "eps": "A tiny number that prevents division by zero.",
    "amsgrad": "Use the maximum of past squared-gradient averages (a convergence fix of Adam).",
    "alpha": "Decay of RMSprop's running mean of squared gradients.",
    "centered": "Normalise by the gradient's variance rather than its raw second moment.",
    "step_size": "Epochs between learning-rate drops.",
    "gamma": "Factor the learning rate is multiplied by at each decay.",
    "t_max": "Epochs of one cosine half-period.",
    "eta_min": "Smallest learning rate of the cosine schedule.",
    "warmup_epochs": "Epochs over which the rate rises linearly from 0.",
}


def edit_spec(session: Any, mutate: Callable[[dict], None], report: Callable[[str], None]) -> bool:
    """Apply ``mutate`` to a JSON copy of the current spec; validation errors go to ``report``."""
    data = session.spec.model_dump(mode="json")
    mutate(data)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        report(validation_message(exc))
        return False
    report("")
    return bool(session.set_spec(spec))


def validation_message(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors()[:4]:
        where = ".".join(str(p) for p in err["loc"])
        lines.append(f"{where}: {err['msg']}")
    return "\n".join(lines)


class ErrorLabel(QLabel):
    """An inline explanation of what is wrong, hidden while all is well."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet("color: #b00020; background: #fdecea; border-radius: 3px; padding: 3px;")
        self.hide()

    def show_message(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))


class OptionsForm(QWidget):
    """Fields for a registry entry's ``defaults``; rebuilt when the entry changes."""

    changed = Signal(dict)  # the options that differ from the defaults

    def __init__(self, parent: QWidget | None = None, skip: tuple[str, ...] = ("lr",)) -> None:
        super().__init__(parent)
        self.skip = skip
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.defaults: dict[str, Any] = {}
        self.fields: dict[str, QWidget] = {}

    def set_entry(self, defaults: dict[str, Any], values: dict[str, Any]) -> None:
        if dict(defaults) != self.defaults or set(self.fields) != set(defaults) - set(self.skip):
            while self.form.rowCount():
                self.form.removeRow(0)
            self.fields = {}
            self.defaults = dict(defaults)
            for key, default in defaults.items():
                if key in self.skip or not isinstance(default, (bool, int, float, str)):
                    continue
                field = self._make_field(default)
                field.setToolTip(OPTION_TIPS.get(key, f"Option '{key}' (default {default!r})."))
                self.fields[key] = field
                self.form.addRow(key.replace("_", " "), field)
        for key, field in self.fields.items():
            self._show(field, values.get(key, self.defaults[key]))

    def _make_field(self, default: Any) -> QWidget:
        if isinstance(default, bool):
            box = QCheckBox()
            box.toggled.connect(self._emit)
            return box
        if isinstance(default, int):
            spin = QSpinBox()
            spin.setRange(0, 1_000_000)
            spin.editingFinished.connect(self._emit)
            return spin
        edit = QLineEdit()
        if isinstance(default, float):
            edit.setValidator(QDoubleValidator())
        edit.editingFinished.connect(self._emit)
        return edit

    @staticmethod
    def _show(field: QWidget, value: Any) -> None:
        field.blockSignals(True)
        if isinstance(field, QCheckBox):
            field.setChecked(bool(value))
        elif isinstance(field, QSpinBox):
            field.setValue(int(value))
        elif isinstance(field, QLineEdit):
            field.setText(f"{value:g}" if isinstance(value, float) else str(value))
        field.blockSignals(False)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, field in self.fields.items():
            default = self.defaults[key]
            if isinstance(field, QCheckBox):
                value: Any = field.isChecked()
            elif isinstance(field, QSpinBox):
                value = field.value()
            else:
                text = field.text().strip()
                try:
                    value = float(text) if isinstance(default, float) else text
                except ValueError:
                    value = default
            if value != default:
                out[key] = value
        return out

    def _emit(self, *_args: object) -> None:
        self.changed.emit(self.values())


def describe(entry: Any) -> str:
    """A registry entry's first docstring line or description, for item tooltips."""
    text = getattr(entry, "description", None) or (getattr(entry, "__doc__", None) or "")
    return text.strip().splitlines()[0] if text.strip() else ""
