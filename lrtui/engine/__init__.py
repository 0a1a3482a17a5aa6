"""The training engine: K runs of one model family trained at once, each with its own scheduler.

Parts: `events` (what a call reports), `control` (stop / pause from another thread), `devices`
(device choice), `optim` (optimizers vectorized over runs, a registry by name), `models` (one
module per model family behind the `StackedModel` protocol, a registry by name), `loop` (the one
step loop, shared by training and the LR range test) and `trainer` (epochs, schedulers, events).

Events and controls load with the package; the names from the parts that need torch load on
first use (`from lrtui.engine import train` works as ever), so the app draws its first frame
before torch's import of a few seconds.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lrtui.engine.control import Control
from lrtui.engine.events import (
    EpochEnd,
    Event,
    Progress,
    RunEnded,
    RunStarted,
    RunStatus,
    StepChunk,
)

if TYPE_CHECKING:
    from lrtui.engine.devices import describe_device, resolve_device
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

#: name -> the part that defines it, for the names that need torch.
_WITH_TORCH: dict[str, str] = {
    "describe_device": "devices",
    "resolve_device": "devices",
    "steps_per_epoch": "loop",
    "MODELS": "models",
    "ModelFamily": "models",
    "StackedModel": "models",
    "family_of": "models",
    "OPTIMIZERS": "optim",
    "StackedOptimizer": "optim",
    "PROGRESS_EVERY_S": "trainer",
    "Trainer": "trainer",
    "check_batch": "trainer",
    "cpu_threads": "trainer",
    "train": "trainer",
    "train_steps": "trainer",
}


def __getattr__(name: str) -> Any:
    """A name of a part that needs torch: imported on first use (PEP 562)."""
    part = _WITH_TORCH.get(name)
    if part is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{part}"), name)
    globals()[name] = value
    return value


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
