"""SequentialLR / ChainedScheduler: where each member starts and how long it runs."""

from __future__ import annotations

from collections.abc import Sequence

from lrtui.schedulers.entries import ENTRIES
from lrtui.schedulers.errors import SpecError
from lrtui.schedulers.spec import SchedulerSpec


def member_length(spec: SchedulerSpec) -> int | None:
    """How long a member of `A -> B` lasts when the arrow names no milestone, if the member says."""
    info = ENTRIES.get(spec.name)
    if info is None or info.composite:
        return None
    for key in info.length_params:
        param = info.param(key)
        if param is None:
            continue
        value = spec.params.get(key, param.default)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def milestones_from_lengths(
    members: Sequence[SchedulerSpec], explicit: Sequence[int | None]
) -> list[int]:
    """Milestones of `A -> B -> C`: explicit `@N`, else the previous one plus A's length."""
    out: list[int] = []
    previous = 0
    for i, given in enumerate(explicit):
        if given is None:
            length = member_length(members[i])
            if length is None:
                name = members[i].name
                raise SpecError(
                    "SequentialLR.milestones",
                    f"cannot tell when {name} ends: give its total_iters/T_max, "
                    f"or write '{name} -> @N next'",
                )
            given = previous + length
        out.append(given)
        previous = given
    return out


def member_spans(spec: SchedulerSpec, length: int) -> list[int]:
    """Steps each composite member runs for (SequentialLR: between milestones)."""
    if spec.name != "SequentialLR":
        return [length] * len(spec.children)
    milestones = milestone_list(spec)
    bounds = [0, *milestones, length]
    return [max(1, bounds[i + 1] - bounds[i]) for i in range(len(spec.children))]


def milestone_list(spec: SchedulerSpec) -> list[int]:
    given = spec.params.get("milestones")
    if isinstance(given, list | tuple) and all(isinstance(m, int) for m in given):
        return [int(m) for m in given]
    return milestones_from_lengths(spec.children, [None] * (len(spec.children) - 1))
