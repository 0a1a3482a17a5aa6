"""The form's warm-up: a linear ramp of some epochs in front of any schedule (`LinearLR -> X`),
and back (clone, `runs show`)."""

from __future__ import annotations

from typing import Any

from lrtui.schedulers.entries import CATALOG
from lrtui.schedulers.resolve import safe_cadence
from lrtui.schedulers.spec import SchedulerSpec

WARMUP = "LinearLR"
"""The torch class that ramps the LR up, stepped at the interval of the schedule after it."""
_START = CATALOG[WARMUP].param("start_factor")
DEFAULT_START: float = float(_START.default) if _START is not None else 1.0 / 3


def add_warmup(
    inner: SchedulerSpec, epochs: int, start_factor: float, steps_per_epoch: int = 1
) -> SchedulerSpec:
    """`LinearLR -> inner`: the LR ramps from start_factor x the base LR over `epochs` epochs.
    SequentialLR's members share one interval, so the ramp takes the inner schedule's: after a
    per-step schedule (interval=step, OneCycleLR, a recipe) it is `epochs x steps_per_epoch`
    optimizer steps long."""
    per_step = safe_cadence(inner) == "batch"
    length = epochs * steps_per_epoch if per_step else epochs
    params: dict[str, Any] = {"interval": "step"} if per_step else {}
    params |= {"start_factor": start_factor, "total_iters": length}
    ramp = SchedulerSpec(WARMUP, params)
    later = inner.params.get("milestones")
    if inner.children and isinstance(later, list):  # `A -> B` joins the sequence, shifted
        milestones = [length, *(length + m for m in later if isinstance(m, int))]
        return SchedulerSpec("SequentialLR", {"milestones": milestones}, (ramp, *inner.children))
    return SchedulerSpec("SequentialLR", {"milestones": [length]}, (ramp, inner))


def split_warmup(
    spec: SchedulerSpec, steps_per_epoch: int | None = 1
) -> tuple[int, float, SchedulerSpec] | None:
    """(warm-up epochs, start_factor, the schedule after it) when `spec` is what add_warmup
    makes with `steps_per_epoch`, else None (a ramp in steps needs it to be whole epochs)."""
    kids = spec.children
    if spec.name != "SequentialLR" or len(kids) != 2 or kids[0].name != WARMUP:
        return None
    ramp, inner = kids
    if inner.children or not set(ramp.params) <= {"start_factor", "total_iters", "interval"}:
        return None
    total = ramp.params.get("total_iters")
    if not isinstance(total, int) or list(spec.params.get("milestones") or [total]) != [total]:
        return None
    per_step = ramp.params.get("interval", "epoch") == "step"
    if per_step != (safe_cadence(inner) == "batch"):
        return None  # not a ramp add_warmup would make before this schedule
    if per_step:
        if not steps_per_epoch or total % steps_per_epoch:
            return None
        total //= steps_per_epoch
    return total, float(ramp.params.get("start_factor", DEFAULT_START)), inner


_RAMP_KEY = "SequentialLR[0]."
_INNER_KEY = "SequentialLR[1]."


def warmup_part(key: str) -> str | None:
    """Which part of an add_warmup spec a validation key is about: "ramp", "inner" or None."""
    if key.startswith(_RAMP_KEY) or key == _RAMP_KEY[:-1]:
        return "ramp"
    if key.startswith(_INNER_KEY) or key == _INNER_KEY[:-1]:
        return "inner"
    return None
