"""`to_code`: plain PyTorch lines that rebuild a scheduler and say where to step it."""

from __future__ import annotations

import re
from typing import Any

from lrtui.numbering import counted
from lrtui.schedulers.build import first_error, torch_call
from lrtui.schedulers.composite import member_spans
from lrtui.schedulers.entries import ENTRIES, TorchCall
from lrtui.schedulers.params import CADENCE_WORDS, Cadence, Run
from lrtui.schedulers.resolve import cadence_of, member_run, resolve, run_of
from lrtui.schedulers.spec import SchedulerSpec
from lrtui.schedulers.validate import validate


class _Snippet:
    """What the scheduler expression needs above it: run constants, recipe functions, math."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: set[str] = set()
        self.classes: set[str] = set()
        self.math = False

    def formula(self, call: TorchCall, entry: str) -> str:
        """The lr_lambda argument: a lambda of the user's formula (run constants defined above
        it), or a recipe's function with its values as keyword defaults."""
        formula = call.lr_lambda()
        used = formula.names
        var = "epoch" if "epoch" in used and "step" not in used else "step"
        body = formula.to_python(var)
        self.math = self.math or "math." in body
        constants = {k: v for k, v in call.constants.items() if k in used}
        if call.limits:  # the user's formula
            for name, value in constants.items():
                if name not in self.names:
                    self.names.add(name)
                    self.lines.append(f"{name} = {value!r}  # {_CONSTANT_NOTES[name]}")
            return f"lambda {var}: {body}"
        function = re.sub(r"(?<!^)(?=[A-Z])", "_", entry).lower()
        taken = function
        n = 1
        while taken in self.names:
            n += 1
            taken = f"{function}_{n}"
        self.names.add(taken)
        args = ", ".join([var, *(f"{k}={v!r}" for k, v in constants.items())])
        self.lines.extend([f"def {taken}({args}):", f"    # {call.note}", f"    return {body}", ""])
        return taken


_CONSTANT_NOTES = {
    "total_steps": "optimizer steps in the run (epochs x steps per epoch)",
    "steps_per_epoch": "optimizer steps per epoch",
    "epochs": "epochs in the run",
}


def _code_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return repr(value)


def _code_expr(
    spec: SchedulerSpec, run: Run, optimizer_var: str, indent: str, snippet: _Snippet
) -> str:
    inner = indent + "    "
    if spec.children:
        spans = member_spans(spec, run.length)
        members = "".join(
            f"{inner}    "
            f"{_code_expr(c, member_run(c, run, span), optimizer_var, inner + '    ', snippet)},\n"
            for c, span in zip(spec.children, spans, strict=True)
        )
        if "milestones" in spec.params:
            snippet.classes.add("SequentialLR")
            milestones = ", ".join(str(m) for m in spec.params["milestones"])
            return (
                f"SequentialLR(\n{inner}{optimizer_var},\n{inner}schedulers=[\n{members}"
                f"{inner}],\n{inner}milestones=[{milestones}],\n{indent})"
            )
        snippet.classes.add("ChainedScheduler")
        return (
            f"ChainedScheduler(\n{inner}[\n{members}{inner}],\n"
            f"{inner}optimizer={optimizer_var},\n{indent})"
        )
    info = ENTRIES[spec.name]
    call = torch_call(spec, run)
    snippet.classes.add(call.torch_class)
    args = [optimizer_var]
    if call.formula:
        args.append(f"lr_lambda={snippet.formula(call, spec.name)}")
    elif info.recipe:
        snippet.lines.append(f"# {spec.name}: {call.note}")
    args.extend(f"{key}={_code_value(value)}" for key, value in call.kwargs.items())
    return f"{call.torch_class}({', '.join(args)})"


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
    snippet = _Snippet()
    expr = _code_expr(resolved, run_of(spec, epochs, steps_per_epoch), optimizer_var, "", snippet)
    lines: list[str] = []
    if snippet.math:
        lines.append("import math")
        lines.append("")
    lines.append(f"from torch.optim.lr_scheduler import {', '.join(sorted(snippet.classes))}")
    lines.append("")
    lines.append(
        f"# resolved for {counted(epochs, 'epoch')} x {counted(steps_per_epoch, 'step')} per epoch,"
        f" stepped {CADENCE_WORDS[cadence]}"
    )
    lines.extend(snippet.lines)
    lines.append(f"scheduler = {expr}")
    lines.extend(_STEP_COMMENTS[cadence])
    return "\n".join(lines) + "\n"
