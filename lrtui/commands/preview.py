"""`lrtui preview`: the exact LR (and momentum) a schedule produces, before any training.

The curve comes from stepping the real torch scheduler on a throwaway optimizer
(`lrtui.schedulers.preview`); this command only parses the flags, reports problems as one line,
and prints a terminal chart (plotext) or one JSON object.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Literal, cast

from lrtui.commands import UsageError, strict_json
from lrtui.fields import (
    EPOCHS,
    LR,
    MAX_PREVIEW_STEPS,
    METRICS,
    MOMENTUM,
    OPTIMIZER,
    STEPS_PER_EPOCH,
    Field,
    FieldError,
    from_text,
    preview_steps_problem,
)
from lrtui.numbering import epoch_ticks, steps_x, x_label
from lrtui.optimizers import OPTIMIZER_KINDS
from lrtui.schedulers import (
    RECIPES,
    OptimizerShape,
    Preview,
    SpecError,
    errors_of,
    format_spec,
    lr_growth,
    parse_spec,
    preview,
    validate,
    warnings_of,
)

MAX_STEPS = MAX_PREVIEW_STEPS
"""Longest run a preview steps through (each step is a real torch scheduler step)."""

_CADENCE_TEXT = {
    "epoch": "epoch (scheduler.step() once per epoch)",
    "batch": "batch (scheduler.step() after every optimizer step)",
    "metric": "metric (scheduler.step(valid_loss) once per epoch)",
}


def _recipes_help() -> str:
    """The epilog: every recipe with its source, and the interval option."""
    lines = [
        textwrap.fill(
            "every scheduler without a metric takes interval=epoch|step, e.g. "
            "CosineAnnealingLR:interval=step (scheduler.step() after every optimizer step)",
            78,
        ),
        "",
        "recipes (stepped per optimizer step by default):",
    ]
    for info in RECIPES.values():
        lines.append(f"  {info.example}")
        lines.append(
            textwrap.fill(
                f"{info.text()}; from {info.source}",
                78,
                initial_indent="      ",
                subsequent_indent="      ",
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _recipes_help()
    # Numbers are read as text and checked in main(), so a bad value gives one UsageError line.
    parser.add_argument(
        "-s",
        "--spec",
        required=True,
        help="scheduler spec, e.g. StepLR:step_size=10,gamma=0.1, "
        '"LinearLR:total_iters=5 -> CosineAnnealingLR" or a recipe (below)',
    )
    parser.add_argument(
        "--epochs", default="25", help=f"epochs in the run (default 25; {EPOCHS.rule()})"
    )
    parser.add_argument(
        "--steps-per-epoch",
        default="1",
        help=f"optimizer steps (batches) per epoch (default 1; {STEPS_PER_EPOCH.rule()}); "
        f"at most {MAX_PREVIEW_STEPS} steps in all",
    )
    parser.add_argument("--lr", default="0.1", help="the optimizer's base LR (default 0.1)")
    parser.add_argument(
        "--optimizer",
        default="sgd",
        help="sgd, adam or adamw (decides what momentum means; default sgd)",
    )
    parser.add_argument(
        "--momentum",
        default=None,
        help="SGD momentum (default 0), or Adam/AdamW beta1 (default 0.9)",
    )
    parser.add_argument(
        "--metrics",
        default=None,
        help="ReduceLROnPlateau: validation loss per epoch, comma-separated "
        "(default: a constant metric)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--log", action="store_true", help="log-scale Y axis on the chart")


def _value(f: Field, text: str) -> Any:
    """A flag's value through the fields table (one UsageError line when it is bad)."""
    try:
        return from_text(f, text)
    except FieldError as exc:
        raise UsageError(str(exc)) from None


def _shape(args: argparse.Namespace) -> OptimizerShape:
    typed = cast(Literal["sgd", "adam", "adamw"], _value(OPTIMIZER, args.optimizer))
    if args.momentum is None:
        return OptimizerShape(typed)
    momentum = float(_value(MOMENTUM, args.momentum))
    return OPTIMIZER_KINDS[typed].with_momentum(OptimizerShape(typed), momentum)  # or Adam beta1


def _metrics(text: str | None, epochs: int) -> list[float] | None:
    if text is None:
        return None
    values: list[float] = _value(METRICS, text)
    if len(values) < epochs:
        raise UsageError(f"--metrics: need one value per epoch ({epochs}), got {len(values)}")
    return values


@dataclass(frozen=True)
class Numbers:
    """The numeric flags of a preview, read and checked."""

    epochs: int
    steps_per_epoch: int
    base_lr: float
    shape: OptimizerShape
    metrics: list[float] | None


def read_numbers(args: argparse.Namespace) -> Numbers:
    """Every numeric flag through the fields table; UsageError (one line) on the first bad one."""
    epochs: int = _value(EPOCHS, args.epochs)
    steps_per_epoch: int = _value(STEPS_PER_EPOCH, args.steps_per_epoch)
    base_lr: float = _value(LR, args.lr)
    shape = _shape(args)
    too_long = preview_steps_problem(epochs, steps_per_epoch)
    if too_long:
        raise UsageError(f"{EPOCHS.flag} x {STEPS_PER_EPOCH.flag}: {too_long}")
    return Numbers(epochs, steps_per_epoch, base_lr, shape, _metrics(args.metrics, epochs))


def main(args: argparse.Namespace) -> int:
    numbers = read_numbers(args)
    epochs, steps_per_epoch, base_lr = numbers.epochs, numbers.steps_per_epoch, numbers.base_lr
    shape, metrics = numbers.shape, numbers.metrics
    try:
        spec = parse_spec(args.spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    # the preview below steps the real scheduler over the whole run and names a failing step
    problems = validate(
        spec, epochs=epochs, steps_per_epoch=steps_per_epoch, optimizer=shape, dry_run=False
    )
    errors = errors_of(problems)
    if errors:
        field, message = next(iter(errors.items()))
        raise UsageError(f"{field}: {message}")
    try:
        result = preview(
            spec,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            base_lr=base_lr,
            optimizer=shape,
            metrics=metrics,
        )
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    warnings = {k: str(v) for k, v in warnings_of(problems).items()}
    growth = lr_growth(result.lr_per_step, base_lr=base_lr, epochs=epochs,
                       steps_per_epoch=steps_per_epoch)
    if growth is not None:
        warnings.setdefault(spec.name, str(growth))
    if args.json:
        print(strict_json(_to_json(result, epochs, base_lr, shape, warnings)))
        return 0
    for field, message in warnings.items():
        print(f"lrtui: warning: {field}: {message}", file=sys.stderr)
    _print_chart(result, log=bool(args.log))
    _print_summary(result, epochs)
    return 0


def _to_json(
    result: Preview, epochs: int, base_lr: float, shape: OptimizerShape, warnings: dict[str, str]
) -> dict[str, Any]:
    return {
        "spec": format_spec(result.spec),
        "cadence": result.cadence,
        "epochs": epochs,
        "steps_per_epoch": result.steps_per_epoch,
        "base_lr": base_lr,
        "optimizer": shape.name,
        "lr_per_step": result.lr_per_step,
        "lr_per_epoch": result.lr_per_epoch,
        "momentum_per_step": result.momentum_per_step,
        "warnings": warnings,
    }


def _print_chart(result: Preview, *, log: bool) -> None:
    """The schedule as a plotext chart, with the app's Y ticks (lrtui.app.plotting): round values
    or whole decades on the rows of their values, at any magnitude plotext's own ticks break on
    (an LR of 1e-320 or 1e307)."""
    import plotext as plt

    from lrtui.app.plotting import (
        FRAME_ROWS,
        fit_ticks,
        log_ticks,
        nice_ticks,
        plottable,
        to_log10,
    )

    size = shutil.get_terminal_size((80, 24))
    width, height = max(40, size.columns), max(12, min(size.lines - 6, 30))
    steps, lrs = _envelope(result.lr_per_step, 4 * width)
    per_epoch = result.steps_per_epoch
    epochs = len(result.lr_per_epoch)
    xs, ys = _held(steps_x([*steps, len(result.lr_per_step)], per_epoch), lrs)
    rows = height - FRAME_ROWS
    if log and min(lrs) > 0:
        xs, ys, _ = to_log10(xs, ys)
        bottom, top = math.floor(min(ys)), max(math.floor(min(ys)) + 1, math.ceil(max(ys)))
        y_ticks = fit_ticks(lambda count: log_ticks(bottom, top, count), 6, rows)
        y_lim = (float(bottom), float(top))
    else:
        log = False
        ys, _ = plottable(ys)  # an LR past 1e300 is drawn at it (the summary says the value)
        y_ticks = fit_ticks(lambda count: nice_ticks(min(ys), max(ys), count), 6, rows)
        y_lim = (y_ticks[0][0], y_ticks[0][-1]) if y_ticks[0] else (min(ys), max(ys))
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.plot(xs, ys, marker="braille")
    plt.xlim(0, epochs)  # epochs trained: epoch N runs from N-1 to N (lrtui.numbering)
    plt.xticks(*epoch_ticks(epochs, width - 10))
    plt.ylim(*y_lim)
    if y_ticks[0]:
        plt.yticks(y_ticks[0], y_ticks[1] or None)
    plt.title(format_spec(result.spec) + ("  (log)" if log else ""))
    plt.xlabel(x_label([result.cadence == "batch"], per_epoch))
    chart = plt.build()
    print(chart if sys.stdout.isatty() else plt.uncolorize(chart))
    plt.clear_figure()


def _held(edges: list[float], values: list[float]) -> tuple[list[float], list[float]]:
    """A staircase: value i held from edges[i] to edges[i + 1] (an LR holds for its whole step,
    so the LR of epoch N spans N-1 to N and a drop is drawn where it happens)."""
    xs: list[float] = []
    ys: list[float] = []
    for i, value in enumerate(values):
        xs += [edges[i], edges[i + 1]]
        ys += [value, value]
    return xs, ys


def _envelope(values: list[float], limit: int) -> tuple[list[int], list[float]]:
    """At most ~`limit` points with every bucket's min and max kept (no smoothing: the drawn curve
    still touches each extreme), so long per-batch runs plot quickly."""
    if len(values) <= limit:
        return list(range(len(values))), list(values)
    size = math.ceil(len(values) / (limit // 2))
    xs: list[int] = []
    ys: list[float] = []
    for start in range(0, len(values), size):
        chunk = values[start : start + size]
        lo = min(range(len(chunk)), key=chunk.__getitem__)
        hi = max(range(len(chunk)), key=chunk.__getitem__)
        for i in sorted({lo, hi}):
            xs.append(start + i)
            ys.append(chunk[i])
    return xs, ys


def _print_summary(result: Preview, epochs: int) -> None:
    lrs = result.lr_per_step
    total = len(lrs)
    print(f"spec      {format_spec(result.spec)}")
    print(f"cadence   {_CADENCE_TEXT[result.cadence]}")
    print(f"steps     {epochs} epochs x {result.steps_per_epoch} = {total} optimizer steps")
    print(
        f"LR        first {lrs[0]:.6g}  last {lrs[-1]:.6g}  min {min(lrs):.6g}  max {max(lrs):.6g}"
    )
    if result.momentum_per_step is not None:
        m = result.momentum_per_step
        print(f"momentum  first {m[0]:.6g}  last {m[-1]:.6g}  min {min(m):.6g}  max {max(m):.6g}")
