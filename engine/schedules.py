"""Learning-rate schedules: ``schedule.lr(base_lr, epoch) -> lr`` as a pure function of progress.

``epoch`` is fractional progress (``step / steps_per_epoch``, starting at 0), so a schedule
can be evaluated before every optimizer step. The PyTorch correspondence, with
``scheduler.step()`` called once per epoch (the usual torch loop):

- ``constant``: no scheduler.
- ``step``: ``StepLR(step_size, gamma)``: ``base * gamma ** (floor(epoch) // step_size)``.
- ``exponential``: ``ExponentialLR(gamma)``: ``base * gamma ** floor(epoch)``.
- ``cosine``: ``CosineAnnealingLR(T_max=t_max, eta_min)``, torch's closed form
  ``eta_min + (base - eta_min) * (1 + cos(pi * floor(epoch) / t_max)) / 2`` (periodic past
  ``t_max``, as torch's closed form). The trainer passes the run's epochs as ``t_max`` when
  the experiment does not set it.
- ``warmup``: linear warm-up from 0 to ``base`` over ``warmup_epochs``, then constant; like
  ``LinearLR`` stepped every optimizer step (torch needs ``start_factor > 0``; here the ramp
  starts at exactly 0). It is evaluated at the *fractional* epoch, so the lr rises every step.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from engine.registry import Registry

SCHEDULES: Registry[type[Schedule]] = Registry("schedule")


class Schedule:
    """Base class; ``defaults`` lists the options (read by the GUI and the validator)."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, float | int]] = {}

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise TypeError(
                f"schedule {self.name!r} has no option {', '.join(map(repr, unknown))}"
                + (f" (options: {', '.join(self.defaults)})" if self.defaults else "")
            )
        for key, default in self.defaults.items():
            value = options.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"schedule {self.name!r}: {key} must be a finite number, got {value!r}")
            if isinstance(default, int):
                if value != int(value):
                    raise ValueError(f"schedule {self.name!r}: {key} must be a whole number, got {value!r}")
                value = int(value)
            else:
                value = float(value)
            setattr(self, key, value)
        self._validate()

    def _validate(self) -> None:
        """Raise ValueError for out-of-range options."""

    def options(self) -> dict[str, float | int]:
        return {key: getattr(self, key) for key in self.defaults}

    def lr(self, base_lr: float, epoch: float) -> float:
        """The learning rate at fractional ``epoch`` (>= 0) for a run whose base rate is ``base_lr``."""
        if not epoch >= 0.0:
            raise ValueError(f"epoch must be >= 0, got {epoch!r}")
        return float(self._lr(float(base_lr), float(epoch)))

    def _lr(self, base_lr: float, epoch: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({options})"


@SCHEDULES.register("constant")
class Constant(Schedule):
    name = "constant"

    def _lr(self, base_lr: float, epoch: float) -> float:
        return base_lr


@SCHEDULES.register("step")
class StepDecay(Schedule):
    """torch ``StepLR``: multiply by ``gamma`` every ``step_size`` whole epochs."""

    name = "step"
    defaults: ClassVar[dict[str, float | int]] = {"step_size": 10, "gamma": 0.1}

    def _validate(self) -> None:
        if self.step_size < 1:
            raise ValueError(f"schedule 'step': step_size must be >= 1, got {self.step_size}")
        if self.gamma <= 0.0:
            raise ValueError(f"schedule 'step': gamma must be > 0, got {self.gamma}")

    def _lr(self, base_lr: float, epoch: float) -> float:
        return base_lr * self.gamma ** (math.floor(epoch) // self.step_size)


@SCHEDULES.register("exponential")
class Exponential(Schedule):
    """torch ``ExponentialLR``: multiply by ``gamma`` every whole epoch."""

    name = "exponential"
    defaults: ClassVar[dict[str, float | int]] = {"gamma": 0.95}

    def _validate(self) -> None:
        if self.gamma <= 0.0:
            raise ValueError(f"schedule 'exponential': gamma must be > 0, got {self.gamma}")

    def _lr(self, base_lr: float, epoch: float) -> float:
        return base_lr * self.gamma ** math.floor(epoch)


@SCHEDULES.register("cosine")
class Cosine(Schedule):
    """torch ``CosineAnnealingLR`` (closed form), stepped per whole epoch."""

    name = "cosine"
    # t_max defaults to the run's epochs: the trainer fills it in; 100 is TrainingSpec's default.
    defaults: ClassVar[dict[str, float | int]] = {"t_max": 100, "eta_min": 0.0}

    def _validate(self) -> None:
        if self.t_max < 1:
            raise ValueError(f"schedule 'cosine': t_max must be >= 1, got {self.t_max}")
        if self.eta_min < 0.0:
            raise ValueError(f"schedule 'cosine': eta_min must be >= 0, got {self.eta_min}")

    def _lr(self, base_lr: float, epoch: float) -> float:
        cosine = math.cos(math.pi * math.floor(epoch) / self.t_max)
        return self.eta_min + (base_lr - self.eta_min) * (1.0 + cosine) / 2.0


@SCHEDULES.register("warmup")
class Warmup(Schedule):
    """Linear ramp from 0 to ``base_lr`` over ``warmup_epochs`` (fractional), then constant."""

    name = "warmup"
    defaults: ClassVar[dict[str, float | int]] = {"warmup_epochs": 5}

    def _validate(self) -> None:
        if self.warmup_epochs < 0:
            raise ValueError(f"schedule 'warmup': warmup_epochs must be >= 0, got {self.warmup_epochs}")

    def _lr(self, base_lr: float, epoch: float) -> float:
        if epoch >= self.warmup_epochs:
            return base_lr
        return base_lr * epoch / self.warmup_epochs


def get_schedule(name: str, **options: Any) -> Schedule:
    """Build a registered schedule (UnknownNameError for a bad name)."""
    return SCHEDULES.get(name)(**options)
