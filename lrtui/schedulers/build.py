"""The real torch scheduler objects for a spec.

torch is imported where a scheduler is built, not with this module: the code snippet
(`torch_call`) and the rest of the package work without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from lrtui.schedulers.composite import member_spans
from lrtui.schedulers.entries import ENTRIES, TorchCall
from lrtui.schedulers.errors import SpecError, errors_of
from lrtui.schedulers.params import OptimizerShape, Run
from lrtui.schedulers.resolve import full_values, member_run, resolve, run_of
from lrtui.schedulers.spec import SchedulerSpec
from lrtui.schedulers.validate import validate

if TYPE_CHECKING:
    import torch
    from torch.optim import lr_scheduler as _torch_sched

    AnyScheduler: TypeAlias = _torch_sched.LRScheduler | _torch_sched.ReduceLROnPlateau


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
    resolved = resolve(spec, epochs=epochs, steps_per_epoch=steps_per_epoch)
    return construct(resolved, optimizer, run_of(spec, epochs, steps_per_epoch))


def torch_call(spec: SchedulerSpec, run: Run) -> TorchCall:
    """The torch class and arguments of a resolved, valid plain spec (a recipe expanded); a
    formula stays text with the constants it may use, for the snippet to show."""
    info = ENTRIES[spec.name]
    if info.expand is not None:
        return info.expand(full_values(info, spec.params), run)
    kwargs: dict[str, Any] = {}
    formula = ""
    for key, value in spec.params.items():
        param = info.param(key)
        assert param is not None
        if not param.torch_arg:
            continue
        if param.kind == "formula":
            formula = str(value)
        elif param.kind == "float":
            kwargs[key] = float(value)
        elif param.kind in ("int_list", "float_list"):
            kwargs[key] = list(value)
        else:
            kwargs[key] = value
    constants: dict[str, int | float] = dict(run.formula_constants()) if formula else {}
    return TorchCall(info.torch_class, kwargs, formula, constants, limits=True)


def construct(spec: SchedulerSpec, optimizer: torch.optim.Optimizer, run: Run) -> AnyScheduler:
    """Instantiate an already resolved and validated spec for `run` (the whole run's count)."""
    from torch.optim import lr_scheduler as _torch_sched

    if spec.children:
        spans = member_spans(spec, run.length)
        members = [
            construct(c, optimizer, member_run(c, run, span))
            for c, span in zip(spec.children, spans, strict=True)
        ]
        if "milestones" in spec.params:
            return _torch_sched.SequentialLR(
                optimizer, schedulers=members, milestones=list(spec.params["milestones"])
            )
        return _torch_sched.ChainedScheduler(members, optimizer=optimizer)
    call = torch_call(spec, run)
    kwargs = dict(call.kwargs)
    if call.formula:
        kwargs["lr_lambda"] = call.lr_lambda()
    return cast("AnyScheduler", call.cls(optimizer, **kwargs))


def cycles_momentum(spec: SchedulerSpec) -> bool:
    """Whether a resolved spec changes momentum / beta1 during the run."""
    if spec.children:
        return any(cycles_momentum(c) for c in spec.children)
    return ENTRIES[spec.name].cycles_momentum(spec.params)
