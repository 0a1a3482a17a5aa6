"""`to_code`: plain PyTorch lines that rebuild a scheduler and say where to step it."""

from __future__ import annotations

from typing import Any

from lrtui.expr import compile_formula
from lrtui.schedulers.build import first_error
from lrtui.schedulers.entries import CATALOG
from lrtui.schedulers.params import Cadence, Param
from lrtui.schedulers.resolve import cadence_of, resolve
from lrtui.schedulers.spec import SchedulerSpec
from lrtui.schedulers.validate import validate


def _code_value(param: Param, value: Any) -> str:
    if param.kind == "formula":
        return "lambda epoch: " + compile_formula(value).to_python()
    if param.kind == "float":
        return repr(float(value))
    if param.kind in ("int_list", "float_list"):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return repr(value)


def _code_expr(spec: SchedulerSpec, optimizer_var: str, indent: str) -> str:
    inner = indent + "    "
    if spec.name == "SequentialLR":
        members = "".join(
            f"{inner}    {_code_expr(c, optimizer_var, inner + '    ')},\n" for c in spec.children
        )
        milestones = ", ".join(str(m) for m in spec.params["milestones"])
        return (
            f"SequentialLR(\n{inner}{optimizer_var},\n{inner}schedulers=[\n{members}{inner}],\n"
            f"{inner}milestones=[{milestones}],\n{indent})"
        )
    if spec.name == "ChainedScheduler":
        members = "".join(
            f"{inner}    {_code_expr(c, optimizer_var, inner + '    ')},\n" for c in spec.children
        )
        return (
            f"ChainedScheduler(\n{inner}[\n{members}{inner}],\n"
            f"{inner}optimizer={optimizer_var},\n{indent})"
        )
    info = CATALOG[spec.name]
    args = [optimizer_var]
    for param in info.params:
        if param.name in spec.params:
            args.append(f"{param.name}={_code_value(param, spec.params[param.name])}")
    return f"{spec.name}({', '.join(args)})"


def _class_names(spec: SchedulerSpec) -> set[str]:
    return {spec.name}.union(*(_class_names(c) for c in spec.children))


def _uses_math(spec: SchedulerSpec) -> bool:
    if spec.children:
        return any(_uses_math(c) for c in spec.children)
    value = spec.params.get("lr_lambda")
    return isinstance(value, str) and compile_formula(value).uses_math


_STEP_COMMENTS: dict[Cadence, tuple[str, ...]] = {
    "epoch": ("# once per epoch, after that epoch's optimizer.step() calls:", "# scheduler.step()"),
    "batch": ("# after every optimizer.step() (once per batch):", "# scheduler.step()"),
    "metric": (
        "# once per epoch, after validation, with the validation loss:",
        "# scheduler.step(valid_loss)",
    ),
}


def to_code(
    spec: SchedulerSpec, *, epochs: int, steps_per_epoch: int, optimizer_var: str = "optimizer"
) -> str:
    """Python lines that rebuild this scheduler in a plain PyTorch script (values resolved)."""
    problems = validate(spec, epochs=epochs, steps_per_epoch=steps_per_epoch)
    error = first_error(problems)
    if error:
        raise error
    resolved = resolve(spec, epochs=epochs, steps_per_epoch=steps_per_epoch)
    cadence = cadence_of(resolved)
    lines: list[str] = []
    if _uses_math(resolved):
        lines.append("import math")
        lines.append("")
    lines.append(
        f"from torch.optim.lr_scheduler import {', '.join(sorted(_class_names(resolved)))}"
    )
    lines.append("")
    lines.append(
        f"# resolved for {epochs} epochs x {steps_per_epoch} steps per epoch ({cadence} cadence)"
    )
    lines.append(f"scheduler = {_code_expr(resolved, optimizer_var, '')}")
    lines.extend(_STEP_COMMENTS[cadence])
    return "\n".join(lines) + "\n"
