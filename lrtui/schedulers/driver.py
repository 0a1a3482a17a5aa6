"""Stepping the real scheduler: `ScheduleDriver` for training, `preview` for the whole curve.

torch is imported when a driver is made, not with this module (the app draws its first frame
without it).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from lrtui.numbering import epoch_number, step_number
from lrtui.optimizers import OPTIMIZER_KINDS, names_text
from lrtui.schedulers.build import construct, cycles_momentum, first_error
from lrtui.schedulers.errors import SpecError
from lrtui.schedulers.params import Cadence, OptimizerShape, is_number
from lrtui.schedulers.resolve import cadence_of, resolve, run_of
from lrtui.schedulers.spec import SchedulerSpec
from lrtui.schedulers.validate import validate

if TYPE_CHECKING:
    import torch
    from torch.optim import lr_scheduler as _torch_sched

    from lrtui.schedulers.build import AnyScheduler

_STEP_ERRORS = (ArithmeticError, ValueError, TypeError, NotImplementedError, RuntimeError)
"""What torch's constructors and step() raise on a schedule they cannot run (a formula that divides
by zero, a composite torch cannot restart, an overflow): reported as SpecError with the place."""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class PlateauState:
    """ReduceLROnPlateau's bookkeeping after the last step (for the plateau chart)."""

    best: float
    num_bad_epochs: int
    cooldown_counter: int


def _make_optimizer(shape: OptimizerShape, base_lr: float) -> torch.optim.Optimizer:
    """A one-parameter optimizer of the right kind: the scheduler only reads its param_groups."""
    import torch

    kind = OPTIMIZER_KINDS.get(shape.name)
    if kind is None:
        raise SpecError("optimizer", f"must be {names_text()} (got {shape.name!r})")
    param = torch.zeros(1, requires_grad=True)
    optimizer_class = getattr(torch.optim, kind.torch_class)
    # What a scheduler may cycle: SGD's momentum or Adam's betas (lrtui.optimizers says which).
    if kind.momentum_field == "momentum":
        return cast(
            torch.optim.Optimizer, optimizer_class([param], lr=base_lr, momentum=shape.momentum)
        )
    return cast(torch.optim.Optimizer, optimizer_class([param], lr=base_lr, betas=shape.betas))


class ScheduleDriver:
    """One run's real torch scheduler on a throwaway one-parameter optimizer, stepped at cadence.

    A training loop that, per epoch, does `optimizer.step()` for each batch (plus `scheduler.step()`
    after each for batch cadence), then `scheduler.step()` (epoch) or `scheduler.step(valid_loss)`
    (metric), uses exactly the LR and momentum values `plan_epoch()` returns, step for step.
    """

    def __init__(
        self,
        spec: SchedulerSpec,
        *,
        epochs: int,
        steps_per_epoch: int,
        base_lr: float,
        optimizer: OptimizerShape = OptimizerShape(),
        validated: bool = False,
    ) -> None:
        """SpecError for an invalid spec (`validated`: the caller has just run validate()), and
        for a scheduler torch refuses to construct."""
        if not validated:
            error = first_error(
                validate(
                    spec,
                    epochs=epochs,
                    steps_per_epoch=steps_per_epoch,
                    optimizer=optimizer,
                    dry_run=False,  # this driver is the run: it reports a failing step itself
                )
            )
            if error:
                raise error
        if not is_number(base_lr) or not math.isfinite(base_lr) or base_lr <= 0:
            raise SpecError("lr", f"must be a number > 0 (got {base_lr})")
        self.spec = resolve(spec, epochs=epochs, steps_per_epoch=steps_per_epoch)
        self.field = self.spec.name  # where a failing step is reported
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.cadence: Cadence = cadence_of(self.spec)
        self.cycles_momentum: bool = cycles_momentum(self.spec)
        try:
            self.optimizer = _make_optimizer(optimizer, float(base_lr))
        except ValueError as exc:  # torch's own check of betas / momentum
            raise SpecError("optimizer", str(exc)) from None
        self._epochs_planned = 0
        self._step = 0  # optimizer steps planned so far
        try:
            with warnings.catch_warnings():
                # SequentialLR's constructor steps a composite first member before any optimizer
                # step could exist; torch warns about the order even in a correct loop.
                warnings.filterwarnings(
                    "ignore", "Detected call of `lr_scheduler.step", UserWarning
                )
                run = run_of(self.spec, epochs, steps_per_epoch)
                self.scheduler: AnyScheduler = construct(self.spec, self.optimizer, run)
        except _STEP_ERRORS as exc:
            raise SpecError(self.field, f"torch cannot build it: {_reason(exc)}") from None
        self._check_lr()
        self._use_beta1 = "betas" in self.optimizer.defaults
        self._optimizer_stepped = False

    def _where(self) -> str:
        epoch = epoch_number(min(self._step // self.steps_per_epoch, self.epochs - 1))
        if self.steps_per_epoch == 1 or self.cadence != "batch":
            return f"epoch {epoch} of {self.epochs}"
        total = self.epochs * self.steps_per_epoch
        return (f"optimizer step {step_number(self._step)} of {total} (epoch {epoch} of "
                f"{self.epochs})")

    def _check_lr(self) -> None:
        lr = self.lr
        if not math.isfinite(lr):
            raise SpecError(
                self.field,
                f"the LR becomes {lr} at {self._where()}: no training can use it",
            )

    def _step_scheduler(self, metric: float | None = None) -> None:
        """scheduler.step() (or step(metric)); a failure names the epoch and step it happened at."""
        self._before_scheduler_step()
        try:
            if metric is None:
                self.scheduler.step()  # type: ignore[call-arg]
            else:
                cast("_torch_sched.ReduceLROnPlateau", self.scheduler).step(metric)
        except _STEP_ERRORS as exc:
            raise SpecError(
                self.field, f"torch's step() failed at {self._where()}: {_reason(exc)}"
            ) from None

    @property
    def lr(self) -> float:
        """The LR the next optimizer step uses."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def momentum(self) -> float:
        """SGD momentum or Adam beta1 the next optimizer step uses."""
        group = self.optimizer.param_groups[0]
        return float(group["betas"][0] if self._use_beta1 else group["momentum"])

    def _before_scheduler_step(self) -> None:
        # torch warns when scheduler.step() runs before any optimizer.step() (it checks the
        # optimizer's `_opt_called` flag, set by its wrapped step()). A real step of the throwaway
        # optimizer has no gradient to apply, so it changes nothing but that flag.
        if not self._optimizer_stepped:
            self.optimizer.step()
            self._optimizer_stepped = True

    def plan_epoch(self) -> tuple[list[float], list[float]]:
        """LR and momentum/beta1 for each optimizer step of the next epoch.

        For batch cadence the scheduler is stepped after each of those steps, as a training loop
        calling scheduler.step() after optimizer.step() does.
        """
        if self._epochs_planned >= self.epochs:
            raise RuntimeError(f"the run has {self.epochs} epochs; all were planned already")
        self._epochs_planned += 1
        lrs: list[float] = []
        momenta: list[float] = []
        batch = self.cadence == "batch"
        for _ in range(self.steps_per_epoch):
            self._check_lr()
            lrs.append(self.lr)
            momenta.append(self.momentum)
            if batch:
                self._step_scheduler()
            self._step += 1
        return lrs, momenta

    def end_epoch(self, metric: float | None = None) -> None:
        """Step at the end of an epoch: epoch cadence step(); metric cadence step(metric)."""
        if self.cadence == "batch":
            return
        if self.cadence == "metric":
            if metric is None:
                raise ValueError("ReduceLROnPlateau needs the epoch's metric (validation loss)")
            self._step -= 1  # a failure belongs to the epoch that just ended
            self._step_scheduler(float(metric))
            self._step += 1
        else:
            self._step -= 1
            self._step_scheduler()
            self._step += 1

    def plateau_state(self) -> PlateauState | None:
        """ReduceLROnPlateau's best metric, bad-epoch count and cooldown; None for others."""
        from torch.optim import lr_scheduler as _torch_sched

        sched = self.scheduler
        if not isinstance(sched, _torch_sched.ReduceLROnPlateau):
            return None
        return PlateauState(
            float(sched.best), int(sched.num_bad_epochs), int(sched.cooldown_counter)
        )


@dataclass(frozen=True)
class Preview:
    """The exact LR (and momentum) curve of a spec for one run length."""

    spec: SchedulerSpec  # resolved (derived params filled)
    cadence: Cadence
    lr_per_step: list[float]  # the LR optimizer step i uses, for every step of the run
    momentum_per_step: list[float] | None  # when the scheduler cycles momentum / beta1
    lr_per_epoch: list[float]  # LR of each epoch's first step
    steps_per_epoch: int


def preview(
    spec: SchedulerSpec,
    *,
    epochs: int,
    steps_per_epoch: int = 1,
    base_lr: float = 0.1,
    optimizer: OptimizerShape = OptimizerShape(),
    metrics: Sequence[float] | None = None,
) -> Preview:
    """Step the real scheduler on a fresh throwaway optimizer over the whole run.

    ReduceLROnPlateau is stepped with metrics[epoch] (a constant metric when None).
    SpecError when the spec is invalid, or when torch fails or the LR stops being finite at some
    step (the message names the epoch and step).
    """
    driver = ScheduleDriver(
        spec, epochs=epochs, steps_per_epoch=steps_per_epoch, base_lr=base_lr, optimizer=optimizer
    )
    return run_through(driver, metrics)


def run_through(driver: ScheduleDriver, metrics: Sequence[float] | None = None) -> Preview:
    """Step a fresh driver over its whole run, as a training loop would (preview and dry run)."""
    epochs = driver.epochs
    if metrics is not None and driver.cadence == "metric" and len(metrics) < epochs:
        raise SpecError("metrics", f"need one value per epoch ({epochs}), got {len(metrics)}")
    lr_per_step: list[float] = []
    momentum_per_step: list[float] = []
    lr_per_epoch: list[float] = []
    for epoch in range(epochs):
        lrs, momenta = driver.plan_epoch()
        lr_per_step.extend(lrs)
        momentum_per_step.extend(momenta)
        lr_per_epoch.append(lrs[0])
        metric = None
        if driver.cadence == "metric":
            metric = float(metrics[epoch]) if metrics is not None else 1.0
        driver.end_epoch(metric)
    return Preview(
        spec=driver.spec,
        cadence=driver.cadence,
        lr_per_step=lr_per_step,
        momentum_per_step=momentum_per_step if driver.cycles_momentum else None,
        lr_per_epoch=lr_per_epoch,
        steps_per_epoch=driver.steps_per_epoch,
    )
