"""The real torch scheduler objects for a spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import torch
from torch.optim import lr_scheduler as _torch_sched

from lrtui.expr import compile_formula
from lrtui.schedulers.entries import CATALOG
from lrtui.schedulers.errors import SpecError, errors_of
from lrtui.schedulers.resolve import resolve
from lrtui.schedulers.spec import OptimizerShape, SchedulerSpec
from lrtui.schedulers.validate import validate

AnyScheduler = _torch_sched.LRScheduler | _torch_sched.ReduceLROnPlateau


def _shape_of(optimizer: torch.optim.Optimizer) -> OptimizerShape:
    group = optimizer.param_groups[0]
    if "betas" in optimizer.defaults:
        b1, b2 = group["betas"]
        return OptimizerShape("adam", betas=(float(b1), float(b2)))
    return OptimizerShape("sgd", momentum=float(group.get("momentum", 0.0)))


def first_error(problems: Mapping[str, str]) -> SpecError | None:
    errors = errors_of(problems)
    if not errors:
        return None
    key, message = next(iter(errors.items()))
    return SpecError(key, str(message))


def build(
    spec: SchedulerSpec, optimizer: torch.optim.Optimizer, *, epochs: int, steps_per_epoch: int
) -> AnyScheduler:
    """The real torch scheduler for `spec` on `optimizer` (derived values resolved for this run).

    Raises SpecError with the first validation error.
    """
    error = first_error(
        validate(
            spec, epochs=epochs, steps_per_epoch=steps_per_epoch, optimizer=_shape_of(optimizer)
        )
    )
    if error:
        raise error
    return construct(resolve(spec, epochs=epochs, steps_per_epoch=steps_per_epoch), optimizer)


def _torch_kwargs(spec: SchedulerSpec) -> dict[str, Any]:
    info = CATALOG[spec.name]
    kwargs: dict[str, Any] = {}
    for key, value in spec.params.items():
        param = info.param(key)
        assert param is not None
        if param.kind == "formula":
            kwargs[key] = compile_formula(value)
        elif param.kind == "float":
            kwargs[key] = float(value)
        elif param.kind in ("int_list", "float_list"):
            kwargs[key] = list(value)
        else:
            kwargs[key] = value
    return kwargs


def construct(spec: SchedulerSpec, optimizer: torch.optim.Optimizer) -> AnyScheduler:
    """Instantiate an already resolved and validated spec."""
    if spec.name == "SequentialLR":
        members = [construct(c, optimizer) for c in spec.children]
        return _torch_sched.SequentialLR(
            optimizer, schedulers=members, milestones=list(spec.params["milestones"])
        )
    if spec.name == "ChainedScheduler":
        members = [construct(c, optimizer) for c in spec.children]
        return _torch_sched.ChainedScheduler(members, optimizer=optimizer)
    cls = CATALOG[spec.name].cls
    return cast(AnyScheduler, cls(optimizer, **_torch_kwargs(spec)))


def cycles_momentum(spec: SchedulerSpec) -> bool:
    """Whether a resolved spec changes momentum / beta1 during the run."""
    if spec.children:
        return any(cycles_momentum(c) for c in spec.children)
    if spec.name in ("CyclicLR", "OneCycleLR"):
        return bool(spec.params.get("cycle_momentum", True))
    return False
