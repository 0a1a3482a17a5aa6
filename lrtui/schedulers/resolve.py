"""Cadence and run length of a spec, and the values that derive from the run (T_max, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrtui.schedulers.composite import member_spans, milestone_list
from lrtui.schedulers.entries import TORCH_REQUIRED, SchedulerInfo, lookup, unknown_scheduler
from lrtui.schedulers.errors import SpecError
from lrtui.schedulers.params import Cadence
from lrtui.schedulers.spec import SchedulerSpec


def cadence_of(spec: SchedulerSpec) -> Cadence:
    """When step() is called: after every epoch, after every batch, or with the epoch's metric."""
    info = lookup(spec.name)
    if info is None:
        raise unknown_scheduler(spec.name)
    if info.composite and spec.children:
        return cadence_of(spec.children[0])
    return info.cadence


def safe_cadence(spec: SchedulerSpec) -> Cadence | None:
    """cadence_of, or None where a name is unknown (validate reports that separately)."""
    try:
        return cadence_of(spec)
    except SpecError:
        return None


def run_length(spec: SchedulerSpec, epochs: int, steps_per_epoch: int) -> int:
    """Number of scheduler steps in the run: epochs, or batches for batch cadence."""
    return epochs * steps_per_epoch if cadence_of(spec) == "batch" else epochs


def _derived_value(
    info: SchedulerInfo, name: str, length: int, steps_per_epoch: int, params: Mapping[str, Any]
) -> Any:
    if name in ("T_max", "total_iters", "total_steps"):
        return length
    if name == "T_0":
        return max(1, length // 4)
    if name == "step_size_up":
        return max(1, 2 * steps_per_epoch)
    if name == "step_size_down":
        return params.get("step_size_up")
    raise AssertionError(f"no rule for derived {info.name}.{name}")  # pragma: no cover


def resolve(spec: SchedulerSpec, *, epochs: int, steps_per_epoch: int) -> SchedulerSpec:
    """The spec with every value torch needs filled in: derived params (T_max, total_steps,
    total_iters, milestones...) from the run's length, and the catalog default of parameters torch
    requires (StepLR.step_size...). Values the user gave are kept."""
    return resolve_for_length(spec, run_length(spec, epochs, steps_per_epoch), steps_per_epoch)


def resolve_for_length(spec: SchedulerSpec, length: int, steps_per_epoch: int) -> SchedulerSpec:
    info = lookup(spec.name)
    if info is None:
        raise unknown_scheduler(spec.name)
    if info.composite:
        params = dict(spec.params)
        if info.name == "SequentialLR" and spec.children:
            params["milestones"] = milestone_list(spec)
        spans = member_spans(spec, length) if spec.children else []
        children = tuple(
            resolve_for_length(c, span, steps_per_epoch)
            for c, span in zip(spec.children, spans, strict=True)
        )
        return SchedulerSpec(info.name, params, children)
    required = TORCH_REQUIRED[info.name]
    params = {}
    for param in info.params:
        if param.name in spec.params:
            params[param.name] = spec.params[param.name]
        elif param.derived:
            params[param.name] = _derived_value(info, param.name, length, steps_per_epoch, params)
        elif param.name in required:
            params[param.name] = param.default
    for key, value in spec.params.items():  # unknown keys stay for validate() to report
        params.setdefault(key, value)
    return SchedulerSpec(info.name, params, spec.children)
