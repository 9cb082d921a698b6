"""Training editor: loss, optimizer and its own options, learning rate, schedule, batches,
regularization and clipping. Learning rate, L1/L2 and clipping apply live during a run."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.losses import LOSSES
from engine.optimizers import OPTIMIZERS
from engine.schedules import SCHEDULES
from engine.spec import MAX_EPOCHS
from workbench.app.panels.common import TIPS, ErrorLabel, OptionsForm, edit_spec
from workbench.app.panels.honest import honest_field, mark, parse_float, parse_int
from workbench.app.panels.network_panel import registry_combo

LR_PRESETS = ("1e-05", "3e-05", "0.0001", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3",
              "1", "3", "10")


def combination_problems(spec: Any) -> list[str]:
    """Mismatches the editors explain inline (the trainer would refuse or learn nonsense)."""
    from workbench.experiment import check_spec

    try:
        problems = [str(p) for p in check_spec(spec)]
    except Exception as exc:  # a checker bug must not take the editor down
        problems = [f"{type(exc).__name__}: {exc}"]
    if spec.optimizer.name in OPTIMIZERS and OPTIMIZERS.get(spec.optimizer.name).needs_closure:
        problems.append("L-BFGS takes one full-batch step per epoch: the batch size is ignored.")
    if spec.loss.name in ("binary_cross_entropy", "softmax_cross_entropy") and \
            spec.model.output_activation != "identity":
        problems.append("Cross-entropy already applies sigmoid/softmax to the outputs; an output "
                        "activation on top squashes them twice. Use 'identity'.")
    return problems


LOSS_WORDS = {"mse": "mean squared error (regression)", "softmax_cross_entropy": "cross-entropy (classes)"}


def suggested_loss(error: str) -> str | None:
    """The loss that fits the data when ``error`` says the chosen one does not."""
    text = error.lower()
    if "cross_entropy" in text and "regression" in text:
        return "mse"
    if ("mse" in text or "mae" in text or "huber" in text) and "class" in text and "regression loss" in text:
        return "softmax_cross_entropy"
    return None


class TrainingPanel(QWidget):
    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("TrainingPanel")
        form = QFormLayout()
        self.loss = registry_combo(LOSSES, TIPS["loss"])
        self.loss.activated.connect(lambda _i: self._edit_named("loss", self.loss.currentData()))
        form.addRow("Loss", self.loss)
        self.optimizer = registry_combo(OPTIMIZERS, TIPS["optimizer"])
        self.optimizer.activated.connect(lambda _i: self._optimizer_chosen(self.optimizer.currentData()))
        form.addRow("Optimizer", self.optimizer)
        self.lr = QComboBox()
        self.lr.setEditable(True)
        self.lr.addItems(LR_PRESETS)
        # No validator: it would swallow 1e9 silently. The spec's own rules judge it on Enter.
        self.lr.setToolTip(TIPS["lr"])
        self.lr.lineEdit().setProperty("tip", TIPS["lr"])
        self.lr.activated.connect(lambda _i: self._lr_entered())
        self.lr.lineEdit().editingFinished.connect(self._lr_entered)
        form.addRow("Learning rate", self.lr)

        self.opt_box = QGroupBox("Optimizer options")
        self.opt_form = OptionsForm()
        self.opt_form.changed.connect(lambda values: self._edit_options("optimizer", values, keep=("lr",)))
        QVBoxLayout(self.opt_box).addWidget(self.opt_form)
        self.opt_box.layout().setContentsMargins(6, 2, 6, 2)

        sched_form = QFormLayout()
        self.schedule = registry_combo(SCHEDULES, TIPS["schedule"])
        self.schedule.activated.connect(lambda _i: self._edit_named("schedule", self.schedule.currentData()))
        sched_form.addRow("Schedule", self.schedule)
        self.sched_form = OptionsForm(skip=())
        self.sched_form.changed.connect(lambda values: self._edit_options("schedule", values))

        form2 = QFormLayout()
        self.batch = self._field(TIPS["batch_size"], parse_int, "training", "batch_size")
        form2.addRow("Batch size", self.batch)
        self.epochs = self._field(TIPS["epochs"], parse_int, "training", "epochs")
        form2.addRow("Epochs", self.epochs)
        self.l1 = self._field(TIPS["l1"], parse_float, "regularization", "l1")
        form2.addRow("L1", self.l1)
        self.l2 = self._field(TIPS["l2"], parse_float, "regularization", "l2")
        form2.addRow("L2", self.l2)
        self.clip_mode = QComboBox()
        self.clip_mode.addItems(["none", "norm", "value"])
        self.clip_mode.setToolTip(TIPS["clipping"])
        self.clip_mode.activated.connect(
            lambda _i: self._edit("clipping", "mode", self.clip_mode.currentText())
        )
        form2.addRow("Clipping", self.clip_mode)
        self.clip_max = self._field(TIPS["clip_max"], parse_float, "clipping", "max")
        form2.addRow("Clip at", self.clip_max)
        self.patience = QSpinBox()
        self.patience.setRange(0, MAX_EPOCHS)
        self.patience.setSpecialValueText("off")
        self.patience.setToolTip(TIPS["patience"])
        self.patience.editingFinished.connect(
            lambda: self._edit("training", "early_stopping_patience", self.patience.value() or None)
        )
        form2.addRow("Early stop", self.patience)
        self.dtype = QComboBox()
        self.dtype.addItems(["float32", "float64"])
        self.dtype.setToolTip(TIPS["dtype"])
        self.dtype.activated.connect(lambda _i: self._edit("training", "dtype", self.dtype.currentText()))
        form2.addRow("Precision", self.dtype)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip(TIPS["seed"])
        self.seed.editingFinished.connect(self._seed_edited)
        form2.addRow("Seed", self.seed)

        self.error = ErrorLabel()
        self.notes = ErrorLabel()
        self.notes.setStyleSheet("color: #7a4b00; background: #fff4e0; border-radius: 3px; padding: 3px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        # Messages on top: at 1280×720 the bottom of this editor is below the fold.
        layout.addWidget(self.error)
        # A loss that does not fit the data's task: one click switches to one that does.
        self.switch_loss = QPushButton()
        self.switch_loss.hide()
        self.switch_loss.clicked.connect(lambda: self._edit_named("loss", self.switch_loss.property("loss")))
        layout.addWidget(self.switch_loss)
        layout.addWidget(self.notes)
        layout.addLayout(form)
        layout.addWidget(self.opt_box)
        layout.addLayout(sched_form)
        layout.addWidget(self.sched_form)
        layout.addLayout(form2)
        layout.addStretch(1)

        session.specChanged.connect(self.show_spec)
        session.buildError.connect(lambda text: self.error.show_message(text))
        session.buildError.connect(self._offer_loss_switch)
        self.show_spec(session.spec)
        self.error.show_message(session.build_error)

    def _field(self, tip: str, parse: Any, section: str, key: str) -> QLineEdit:
        """A field judged by the file format's rules; see ``panels/honest.py``."""
        def in_use() -> str:
            return f"{self.session.spec.model_dump(mode='json')[section][key]:g}"

        return honest_field(tip, parse, lambda v: self._edit(section, key, v), in_use, self._report)

    def _offer_loss_switch(self, error: str) -> None:
        loss = suggested_loss(error)
        self.switch_loss.setVisible(loss is not None)
        if loss is not None:
            self.switch_loss.setProperty("loss", loss)
            self.switch_loss.setText(f"Use {LOSS_WORDS[loss]} instead")

    def _report(self, text: str) -> None:
        self.error.show_message(text)

    def _edit(self, section: str, key: str, value: Any) -> str:
        """Apply one field; returns the problem that stopped it, or ""."""
        if self.session.spec.model_dump(mode="json")[section].get(key) == value:
            return ""
        problems: list[str] = []

        def report(text: str) -> None:
            problems.append(text)
            self._report(text)

        edit_spec(self.session, lambda d: d[section].__setitem__(key, value), report)
        return next((p for p in problems if p), "")

    def _edit_named(self, section: str, name: str) -> None:
        if getattr(self.session.spec, section).name == name:
            return
        # Options belong to the old choice; a new one starts from its defaults.
        edit_spec(self.session, lambda d: d.__setitem__(section, {"name": name}), self._report)

    def _optimizer_chosen(self, name: str) -> None:
        if self.session.spec.optimizer.name == name:
            return
        lr = self.session.spec.optimizer.lr
        edit_spec(self.session, lambda d: d.__setitem__("optimizer", {"name": name, "lr": lr}), self._report)

    def _edit_options(self, section: str, values: dict, keep: tuple[str, ...] = ()) -> None:
        def mutate(d: dict) -> None:
            kept = {k: d[section][k] for k in keep if k in d[section]}
            d[section] = {"name": d[section]["name"], **kept, **values}

        edit_spec(self.session, mutate, self._report)

    def set_learning_rate(self, value: float) -> bool:
        return edit_spec(self.session, lambda d: d["optimizer"].__setitem__("lr", value), self._report)

    def _lr_entered(self) -> None:
        edit = self.lr.lineEdit()
        in_use = f"{self.session.spec.optimizer.lr:g}"
        try:
            value = parse_float(self.lr.currentText().strip())
        except ValueError as exc:
            problem = str(exc)
        else:
            problem = self._edit("optimizer", "lr", value)
        if problem:
            problem = f"{problem} Not applied: still using {in_use}."
            mark(edit, problem)
            self._report(problem)
        else:
            mark(edit, "")

    def _seed_edited(self) -> None:
        seed = self.seed.value()
        if seed != self.session.spec.seed:
            edit_spec(self.session, lambda d: d.__setitem__("seed", seed), self._report)

    # ------------------------------------------------------------------ display
    def show_spec(self, spec: Any) -> None:
        widgets = (self.loss, self.optimizer, self.lr, self.schedule, self.batch, self.epochs, self.l1,
                   self.l2, self.clip_mode, self.clip_max, self.patience, self.dtype, self.seed)
        for w in widgets:
            w.blockSignals(True)
        self.loss.setCurrentIndex(max(self.loss.findData(spec.loss.name), 0))
        self.optimizer.setCurrentIndex(max(self.optimizer.findData(spec.optimizer.name), 0))
        self.lr.lineEdit().setText(f"{spec.optimizer.lr:g}")
        self.schedule.setCurrentIndex(max(self.schedule.findData(spec.schedule.name), 0))
        self.batch.setText(str(spec.training.batch_size))
        self.epochs.setText(str(spec.training.epochs))
        self.l1.setText(f"{spec.regularization.l1:g}")
        self.l2.setText(f"{spec.regularization.l2:g}")
        self.clip_mode.setCurrentText(spec.clipping.mode)
        self.clip_max.setText(f"{spec.clipping.max:g}")
        self.clip_max.setEnabled(spec.clipping.mode != "none")
        self.patience.setValue(spec.training.early_stopping_patience or 0)
        self.dtype.setCurrentText(spec.training.dtype)
        self.seed.setValue(min(spec.seed, 2**31 - 1))
        for w in widgets:
            w.blockSignals(False)
        for edit in (self.lr.lineEdit(), self.batch, self.epochs, self.l1, self.l2, self.clip_max):
            mark(edit, "")  # the fields show the values in use
        if spec.optimizer.name in OPTIMIZERS:
            self.opt_form.set_entry(OPTIMIZERS.get(spec.optimizer.name).defaults, spec.optimizer.options)
        self.opt_box.setVisible(bool(self.opt_form.fields))
        if spec.schedule.name in SCHEDULES:
            defaults = dict(getattr(SCHEDULES.get(spec.schedule.name), "defaults", {}) or {})
            if spec.schedule.name == "cosine":
                defaults["t_max"] = spec.training.epochs
            self.sched_form.set_entry(defaults, spec.schedule.options)
        self.sched_form.setVisible(bool(self.sched_form.fields))
        self.notes.show_message("\n".join(combination_problems(spec)))
