"""The training engine: K runs of one model family trained at once, each with its own scheduler.

Parts: `events` (what a call reports), `control` (stop / pause from another thread), `devices`
(device choice), `optim` (optimizers vectorized over runs, a registry by name), `models` (one
module per model family behind the `StackedModel` protocol, a registry by name), `loop` (the one
step loop, shared by training and the LR range test) and `trainer` (epochs, schedulers, events).
"""

from lrtui.engine.control import Control
from lrtui.engine.devices import describe_device, resolve_device
from lrtui.engine.events import (
    EpochEnd,
    Event,
    Progress,
    RunEnded,
    RunStarted,
    RunStatus,
    StepChunk,
)
from lrtui.engine.loop import steps_per_epoch
from lrtui.engine.models import MODELS, ModelFamily, StackedModel, family_of
from lrtui.engine.optim import OPTIMIZERS, StackedOptimizer
from lrtui.engine.trainer import (
    PROGRESS_EVERY_S,
    Trainer,
    check_batch,
    cpu_threads,
    train,
    train_steps,
)

__all__ = [
    "MODELS",
    "OPTIMIZERS",
    "PROGRESS_EVERY_S",
    "Control",
    "EpochEnd",
    "Event",
    "ModelFamily",
    "Progress",
    "RunEnded",
    "RunStarted",
    "RunStatus",
    "StackedModel",
    "StackedOptimizer",
    "StepChunk",
    "Trainer",
    "check_batch",
    "cpu_threads",
    "describe_device",
    "family_of",
    "resolve_device",
    "steps_per_epoch",
    "train",
    "train_steps",
]
