"""What a training call tells its caller: plain frozen dataclasses, delivered through a callback
on the training thread, so the store, the app and the CLI read the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lrtui.model import RunConfig
from lrtui.schedulers import PlateauState

RunStatus = Literal["finished", "stopped", "diverged", "failed"]


@dataclass(frozen=True)
class RunStarted:
    """A run begins: its resolved config (derived scheduler params filled) and what it runs on."""

    run: int
    config: RunConfig
    device: str
    dataset: str  # the dataset actually used (after any fallback)
    notice: str | None  # why the dataset differs from the one asked for, or None
    steps_per_epoch: int = 0  # optimizer steps per epoch on that dataset (the last may be short)


@dataclass(frozen=True)
class StepChunk:
    """The LR (and momentum or beta1, when the run has one) of consecutive optimizer steps."""

    run: int
    epoch: int
    first_step: int  # index within the epoch of lr[0]
    lr: tuple[float, ...]
    momentum: tuple[float, ...] | None


@dataclass(frozen=True)
class Progress:
    """Emitted at most every PROGRESS_EVERY_S seconds during an epoch, for all runs at once."""

    epoch: int
    step: int  # optimizer steps done in this epoch
    steps_per_epoch: int
    global_step: int  # optimizer steps done in the whole call
    total_steps: int
    samples_per_s: float  # training examples per second through the batch (once, not per run)
    train_loss: tuple[float, ...]  # per run: mean loss per sample so far this epoch (nan: ended)
    elapsed_s: float  # seconds of training so far (pauses excluded)


@dataclass(frozen=True)
class EpochEnd:
    """One run finished an epoch. Losses are means per sample; valid_acc is a fraction."""

    run: int
    epoch: int
    train_loss: float
    valid_loss: float
    valid_acc: float
    lr: float  # LR of the epoch's first step
    momentum: float | None  # momentum (SGD) or beta1 (Adam) of the first step; None without one
    seconds: float
    plateau: PlateauState | None  # ReduceLROnPlateau's state after this epoch's step


@dataclass(frozen=True)
class RunEnded:
    """The last event of a run."""

    run: int
    status: RunStatus
    reason: str
    epochs_done: int


Event = RunStarted | StepChunk | Progress | EpochEnd | RunEnded
