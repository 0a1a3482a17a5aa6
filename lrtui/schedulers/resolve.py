"""Interval, cadence and length of a spec, and the values that derive from the run (T_max, ...).

Every entry without a metric steps per `interval` (epoch or optimizer step; its natural one by
default); lengths that derive from the run count in that unit, so `CosineAnnealingLR:interval=step`
gets T_max = epochs x steps per epoch.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any, cast

from lrtui.schedulers.composite import member_spans, milestone_list
from lrtui.schedulers.entries import TORCH_REQUIRED, SchedulerInfo, lookup, unknown_scheduler
from lrtui.schedulers.errors import SpecError
from lrtui.schedulers.params import INTERVALS, Cadence, Interval, Run
from lrtui.schedulers.spec import SchedulerSpec


def interval_of(spec: SchedulerSpec) -> Interval | None:
    """ "epoch" or "step" (a composite: its first member's); None for a metric scheduler."""
    info = lookup(spec.name)
    if info is None:
        raise unknown_scheduler(spec.name)
    if info.composite:
        return interval_of(spec.children[0]) if spec.children else "epoch"
    if info.cadence == "metric":
        return None
    given = spec.params.get("interval")
    return cast(Interval, given) if given in INTERVALS else info.natural_interval


def cadence_of(spec: SchedulerSpec) -> Cadence:
    """When step() is called: after every epoch, after every optimizer step (interval=step), or
    with the epoch's metric."""
    interval = interval_of(spec)
    if interval is None:
        return "metric"
    return "batch" if interval == "step" else "epoch"


def safe_cadence(spec: SchedulerSpec) -> Cadence | None:
    """cadence_of, or None where a name is unknown (validate reports that separately)."""
    try:
        return cadence_of(spec)
    except SpecError:
        return None


def run_of(spec: SchedulerSpec, epochs: int, steps_per_epoch: int) -> Run:
    """The whole run as `spec` counts it: epochs, or optimizer steps with interval=step."""
    interval = interval_of(spec) or "epoch"
    length = epochs * steps_per_epoch if interval == "step" else epochs
    return Run(epochs, steps_per_epoch, interval, length)


def run_length(spec: SchedulerSpec, epochs: int, steps_per_epoch: int) -> int:
    """Number of scheduler steps in the run."""
    return run_of(spec, epochs, steps_per_epoch).length


def member_run(member: SchedulerSpec, run: Run, span: int) -> Run:
    """A composite member's run: its own interval (validate checks they agree), its span."""
    return Run(run.epochs, run.steps_per_epoch, interval_of(member) or run.interval, span)


def resolve(spec: SchedulerSpec, *, epochs: int, steps_per_epoch: int) -> SchedulerSpec:
    """The spec with every value torch needs filled in: derived params (T_max, total_steps,
    total_iters, milestones, a recipe's warmup_steps...) from the run's length in the spec's own
    interval, and the catalog default of parameters torch requires (StepLR.step_size...). Values
    the user gave are kept; a ratio a derived count came from (warmup_ratio) is dropped."""
    return resolve_in(spec, run_of(spec, epochs, steps_per_epoch))


def full_values(info: SchedulerInfo, params: dict[str, Any]) -> dict[str, Any]:
    """Every parameter's value: the given (or resolved) ones over the catalog defaults."""
    out = {p.name: p.default for p in info.every_param if p.default is not None}
    out.update(params)
    return out


def resolve_in(spec: SchedulerSpec, run: Run) -> SchedulerSpec:
    info = lookup(spec.name)
    if info is None:
        raise unknown_scheduler(spec.name)
    if info.composite:
        params = dict(spec.params)
        if info.name == "SequentialLR" and spec.children:
            params["milestones"] = milestone_list(spec)
        spans = member_spans(spec, run.length) if spec.children else []
        children = tuple(
            resolve_in(c, member_run(c, run, span))
            for c, span in zip(spec.children, spans, strict=True)
        )
        return SchedulerSpec(info.name, params, children)
    required = TORCH_REQUIRED.get(info.name, frozenset())
    params = {}
    values = full_values(info, dict(spec.params))  # what derive rules may read
    for param in info.every_param:
        if param.name in spec.params:
            params[param.name] = spec.params[param.name]
        elif param.derived and info.derive is not None:
            # derived from a value of the wrong type: validate() reports that value
            with suppress(TypeError, ValueError, ArithmeticError):
                params[param.name] = values[param.name] = info.derive(param.name, run, values)
        elif param.name in required:
            params[param.name] = param.default
    for key, value in spec.params.items():  # unknown keys stay for validate() to report
        params.setdefault(key, value)
    for derived, source in info.replaces:
        if derived not in spec.params:
            params.pop(source, None)
    return SchedulerSpec(info.name, params, spec.children)
