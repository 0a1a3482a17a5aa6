"""`lrtui preview`: the exact LR (and momentum) a schedule produces, before any training.

The curve comes from stepping the real torch scheduler on a throwaway optimizer
(`lrtui.schedulers.preview`); this command only parses the flags, reports problems as one line,
and prints a terminal chart (plotext) or one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from typing import Any, Literal, cast

from lrtui.commands import UsageError
from lrtui.optimizers import OPTIMIZER_KINDS, names_text
from lrtui.schedulers import (
    OptimizerShape,
    Preview,
    SpecError,
    errors_of,
    format_spec,
    parse_spec,
    preview,
    validate,
    warnings_of,
)

MAX_STEPS = 2_000_000
"""Longest run a preview steps through (each step is a real torch scheduler step)."""

_CADENCE_TEXT = {
    "epoch": "epoch (scheduler.step() once per epoch)",
    "batch": "batch (scheduler.step() after every optimizer step)",
    "metric": "metric (scheduler.step(valid_loss) once per epoch)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Numbers are read as text and checked in main(), so a bad value gives one UsageError line.
    parser.add_argument(
        "-s",
        "--spec",
        required=True,
        help="scheduler spec, e.g. StepLR:step_size=10,gamma=0.1 or "
        '"LinearLR:total_iters=5 -> CosineAnnealingLR"',
    )
    parser.add_argument("--epochs", default="25", help="epochs in the run (default 25)")
    parser.add_argument(
        "--steps-per-epoch", default="1", help="optimizer steps (batches) per epoch (default 1)"
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


def _int(flag: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{flag}: must be an integer >= 1 (got {text})") from None
    if value < 1:
        raise UsageError(f"{flag}: must be an integer >= 1 (got {text})")
    return value


def _float(flag: str, text: str, *, positive: bool = False, unit: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if unit and not (math.isfinite(value) and 0 <= value < 1):
        raise UsageError(f"{flag}: must be a number in [0, 1) (got {text})")
    if not math.isfinite(value) or (positive and value <= 0):
        raise UsageError(f"{flag}: must be a number{' > 0' if positive else ''} (got {text})")
    return value


def _shape(args: argparse.Namespace) -> OptimizerShape:
    name = str(args.optimizer).lower()
    if name not in OPTIMIZER_KINDS:
        raise UsageError(f"--optimizer: must be {names_text()} (got {args.optimizer})")
    shape = OptimizerShape(cast(Literal["sgd", "adam", "adamw"], name))
    if args.momentum is None:
        return shape
    momentum = _float("--momentum", args.momentum, unit=True)
    return OPTIMIZER_KINDS[name].with_momentum(shape, momentum)  # SGD momentum or Adam beta1


def _metrics(text: str | None, epochs: int) -> list[float] | None:
    if text is None:
        return None
    values: list[float] = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise UsageError(f"--metrics: must be comma-separated numbers (got {item!r})") from None
        if not math.isfinite(value):
            raise UsageError(f"--metrics: must be finite numbers (got {item})")
        values.append(value)
    if len(values) < epochs:
        raise UsageError(f"--metrics: need one value per epoch ({epochs}), got {len(values)}")
    return values


def main(args: argparse.Namespace) -> int:
    epochs = _int("--epochs", args.epochs)
    steps_per_epoch = _int("--steps-per-epoch", args.steps_per_epoch)
    base_lr = _float("--lr", args.lr, positive=True)
    shape = _shape(args)
    if epochs * steps_per_epoch > MAX_STEPS:
        raise UsageError(
            f"--epochs x --steps-per-epoch: at most {MAX_STEPS} steps in a preview "
            f"(got {epochs * steps_per_epoch})"
        )
    try:
        spec = parse_spec(args.spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    problems = validate(spec, epochs=epochs, steps_per_epoch=steps_per_epoch, optimizer=shape)
    errors = errors_of(problems)
    if errors:
        field, message = next(iter(errors.items()))
        raise UsageError(f"{field}: {message}")
    metrics = _metrics(args.metrics, epochs)
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
    if args.json:
        print(json.dumps(_to_json(result, epochs, base_lr, shape, warnings)))
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
    import plotext as plt

    size = shutil.get_terminal_size((80, 24))
    plt.clear_figure()
    plt.plotsize(max(40, size.columns), max(12, min(size.lines - 6, 30)))
    steps, lrs = _envelope(result.lr_per_step, 4 * max(40, size.columns))
    if log and min(lrs) > 0:
        plt.yscale("log")
    per_epoch = result.steps_per_epoch
    plt.plot([x / per_epoch for x in steps], lrs, marker="braille")
    plt.title(format_spec(result.spec))
    plt.xlabel("epoch" if per_epoch == 1 else f"epoch ({per_epoch} steps each)")
    chart = plt.build()
    print(chart if sys.stdout.isatty() else plt.uncolorize(chart))
    plt.clear_figure()


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
