"""`lrtui find-lr`: the LR range test, headless.

Sweeps the LR exponentially from --start to --end over --steps batches on fresh weights
(`lrtui.lrfind.range_test`), stops a curve once its smoothed loss diverges, prints a log-X chart
of the loss with the suggested LRs marked and a table of the suggestions (or one JSON object with
--json), and stores the result in the run database (`--db`), after the sweep.

--optimizer, --momentum and --weight-decay take comma-separated lists: every combination is one
curve, and all curves sweep together in one vectorized pass (same data, same initial weights).
Exit: 0, 130 after Ctrl+C (nothing stored), 1 when the dataset cannot be loaded, 2 for bad input.
"""

from __future__ import annotations

import argparse
import itertools
import math
import shutil
import sys
from typing import IO, TYPE_CHECKING, Any

from lrtui.commands import UsageError, ctrl_c_stops, is_terminal, say, strict_json
from lrtui.fields import (
    BATCH_SIZE,
    DATASET,
    DIVERGE_FACTOR,
    FIND_LR_END,
    FIND_LR_START,
    FIND_LR_STEPS,
    HIDDEN,
    MODEL,
    MOMENTUM,
    OPTIMIZER,
    SEED,
    WEIGHT_DECAY,
    Field,
    FieldError,
    from_text,
)
from lrtui.model import OptimizerConfig, OptimizerName, RunConfig, validate_config
from lrtui.optimizers import OPTIMIZER_KINDS

if TYPE_CHECKING:
    from lrtui.lrfind import Curve, RangeTestProgress, RangeTestResult, SweepSettings

#: Most curves one command sweeps together (combinations of the list flags).
MAX_CURVES = 32
#: Flag of each SweepSettings field, for messages.
_SETTING_FLAGS = {
    "start": "--start",
    "end": "--end",
    "steps": "--steps",
    "diverge_factor": "--diverge-factor",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Numbers are read as text and checked in main(), so a bad value is one UsageError line.
    # --dataset/--data-dir/--db default to SUPPRESS so `lrtui --dataset X find-lr` keeps X.
    sup = argparse.SUPPRESS
    parser.add_argument(
        "--dataset",
        default=sup,
        help="mnist (default; falls back to mnist-sample when unavailable), fashion-mnist, "
        "kmnist or mnist-sample",
    )
    parser.add_argument("--data-dir", default=sup, help="folder with (or receiving) the dataset")
    parser.add_argument(
        "--optimizer", default="sgd", help="sgd (default), adam or adamw; a list sweeps each"
    )
    parser.add_argument(
        "--momentum", help="SGD momentum (default 0), or Adam/AdamW beta1 (default 0.9); a list"
    )
    parser.add_argument("--weight-decay", default="0", help="weight decay (default 0); a list")
    parser.add_argument(
        "--model", default="mlp", help="mlp (default, shaped by --hidden) or cnn (LeNet-5)"
    )
    parser.add_argument("--hidden", default="64,32", help="hidden layer widths (default 64,32)")
    parser.add_argument(
        "--batch-size", default="32", help=f"batch size (default 32; {BATCH_SIZE.rule()})"
    )
    parser.add_argument(
        "--seed", default="0", help=f"seed of the initial weights and data order ({SEED.rule()})"
    )
    parser.add_argument("--start", default="1e-7", help="LR of the first step (default 1e-7)")
    parser.add_argument("--end", default="10", help="LR of the last step (default 10)")
    parser.add_argument(
        "--steps",
        default="500",
        help=f"steps, one batch each (default 500; {FIND_LR_STEPS.rule()})",
    )
    parser.add_argument(
        "--diverge-factor",
        default="4",
        help="stop a curve once its smoothed loss exceeds this times its best (default 4; "
        "inf: never)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto (default: CUDA, else MPS, else CPU), cpu, cuda[:i]"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=sup,
        help="run history database the result is stored in (default: $LRTUI_DB, else runs.db "
        "in the user data dir)",
    )


# ------------------------------------------------------------------------------- parsing


def _value(f: Field, text: str) -> Any:
    """A flag's value through the fields table (one UsageError line when it is bad)."""
    try:
        return from_text(f, text)
    except FieldError as exc:
        raise UsageError(str(exc)) from None


def _items(f: Field, text: str) -> list[Any]:
    """A list flag: each comma-separated item is one value of field `f` (repeats dropped, by
    value: 0.9,0.90 is one curve)."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise UsageError(f"{f.flag}: must be a value or a comma-separated list (got {text!r})")
    return list(dict.fromkeys(_value(f, p) for p in parts))


def _dataset(args: argparse.Namespace) -> str:
    """--dataset as given (an empty one is refused, not replaced by the default)."""
    given = getattr(args, "dataset", None)
    return "mnist" if given is None else str(_value(DATASET, given))


def build(args: argparse.Namespace) -> tuple[list[RunConfig], SweepSettings]:
    """The curves' configs and the sweep settings from the command line (UsageError if bad)."""
    from lrtui.lrfind import SweepSettings, validate_settings

    names: list[OptimizerName] = _items(OPTIMIZER, args.optimizer)
    momenta: list[float | None] = [None]
    if args.momentum is not None:
        momenta = list(_items(MOMENTUM, args.momentum))
    decays: list[float] = _items(WEIGHT_DECAY, args.weight_decay)
    hidden = tuple(_value(HIDDEN, args.hidden))
    batch_size: int = _value(BATCH_SIZE, args.batch_size)
    seed: int = _value(SEED, args.seed)
    settings = SweepSettings(
        start=_value(FIND_LR_START, args.start),
        end=_value(FIND_LR_END, args.end),
        steps=_value(FIND_LR_STEPS, args.steps),
        diverge_factor=_value(DIVERGE_FACTOR, args.diverge_factor),
    )
    problems = validate_settings(settings)
    if problems:
        key, message = next(iter(problems.items()))
        raise UsageError(f"{_SETTING_FLAGS.get(key, key)}: {message}")
    combos = list(itertools.product(names, momenta, decays))
    if len(combos) > MAX_CURVES:
        raise UsageError(
            f"--optimizer x --momentum x --weight-decay: at most {MAX_CURVES} curves "
            f"(got {len(combos)})"
        )
    configs = []
    for name, momentum, decay in combos:
        opt = OptimizerConfig(name=name, weight_decay=decay)
        if momentum is not None:  # SGD's momentum, or Adam's beta1
            opt = OPTIMIZER_KINDS[name].with_momentum(opt, momentum)
        config = RunConfig(
            dataset=_dataset(args),
            model=_value(MODEL, args.model),
            hidden=hidden,
            optimizer=opt,
            lr=settings.start,
            batch_size=batch_size,
            epochs=1,
            seed=seed,
            device=args.device,
        )
        errors = validate_config(config)
        if errors:
            key, message = next(iter(errors.items()))
            flag = f"--{key}" if key in ("device", "model") else key
            raise UsageError(f"{flag}: {message}")
        configs.append(config)
    return configs, settings


# ------------------------------------------------------------------------------- output


class _Progress:
    """A live progress line on stderr when it is a terminal; nothing otherwise (nor once stderr
    fails: the sweep never ends because its progress line cannot be drawn)."""

    def __init__(self, err: IO[str]) -> None:
        self.err = err
        self.tty = is_terminal(err)
        self.shown = False

    def _write(self, text: str) -> None:
        try:
            self.err.write(text)
            self.err.flush()
        except (OSError, ValueError, AttributeError):
            self.tty = self.shown = False

    def __call__(self, p: RangeTestProgress) -> None:
        if not self.tty:
            return
        running = sum(not d for d in p.done)
        last = [s[-1] for s in p.smoothed if s]
        losses = " ".join(f"{x:.3f}" for x in last[:6] if math.isfinite(x))
        line = (
            f"find-lr step {p.step}/{p.steps}  LR {p.lrs[-1]:.3g}  "
            f"{running}/{len(p.done)} curves running  smoothed loss {losses}"
        )
        self.shown = True
        self._write("\r\033[K" + line[:100])

    def clear(self) -> None:
        if self.shown:
            self.shown = False
            self._write("\r\033[K")


def _json(result: RangeTestResult, ids: list[int]) -> dict[str, Any]:
    """The first curve's fields at the top level; every curve (with its stored id) in `curves`."""
    from lrtui.lrfind import recommended

    curves = []
    for curve, curve_id in zip(result.curves, ids, strict=True):
        d = curve.to_dict()
        best = recommended(curve.suggestions)
        d["recommended"] = None if best is None else {"method": best.method, "lr": best.lr}
        d["id"] = curve_id
        curves.append(d)
    first = curves[0]
    top = {k: first[k] for k in first if k not in ("run", "id")}
    return {
        **top,
        "dataset": result.dataset,
        "notice": result.notice,
        "device": result.device,
        "settings": result.settings.to_dict(),
        "steps_done": result.steps_done,
        "seconds": round(result.seconds, 4),
        "ids": ids,
        "curves": curves,
    }


_MARKERS = {"steepest": "S", "min_div_10": "M", "valley": "V", "min": "X"}
_COLORS = ("blue+", "orange", "green+", "magenta+", "cyan", "red+", "yellow", "white")


def _print_chart(result: RangeTestResult, out: IO[str]) -> None:
    import plotext as plt

    from lrtui.lrfind import recommended

    size = shutil.get_terminal_size((100, 30))
    skip = result.settings.skip_end
    shown: list[tuple[Curve, list[int]]] = []
    for curve in result.curves:
        points = [
            i for i in range(max(1, len(curve.lrs) - skip)) if math.isfinite(curve.smoothed[i])
        ]
        if points:
            shown.append((curve, points))
    if not shown:
        return
    plt.clear_figure()
    plt.plotsize(max(40, min(size.columns, 120)), max(12, min(size.lines - 8, 28)))
    plt.xscale("log")
    lows = [min(c.smoothed[i] for i in p) for c, p in shown]
    highs = [max(c.smoothed[i] for i in p) for c, p in shown]
    lo, hi = min(lows), max(highs)
    pad = (hi - lo) * 0.05 or 0.05
    single = len(shown) == 1
    for n, (curve, points) in enumerate(shown):
        color = _COLORS[n % len(_COLORS)]
        if single:
            raw = [i for i in points if math.isfinite(curve.losses[i])]
            raw_y = [min(max(curve.losses[i], lo - pad), hi + pad) for i in raw]
            plt.scatter([curve.lrs[i] for i in raw], raw_y, marker="dot", color="gray")
        plt.plot(
            [curve.lrs[i] for i in points],
            [curve.smoothed[i] for i in points],
            marker="braille",
            color=color,
            label=f"{curve.label} (smoothed)" if single else curve.label,
        )
        marks = list(curve.suggestions.values()) if single else [recommended(curve.suggestions)]
        for s in marks:
            if s is None or s.lr is None or s.loss is None:
                continue
            plt.scatter(
                [s.lr], [s.loss], marker=_MARKERS[s.method], color="red+" if single else color
            )
    plt.ylim(lo - pad, hi + pad)
    ticks = _decades(min(c.lrs[p[0]] for c, p in shown), max(c.lrs[p[-1]] for c, p in shown))
    plt.xticks(ticks, [f"{t:.0e}" for t in ticks])
    plt.xlabel("learning rate (log)")
    plt.ylabel("loss")
    what = "smoothed loss; dots: raw" if single else "smoothed loss; marks: recommended LR"
    plt.title(f"LR range test on {result.dataset}: {what}")
    chart = plt.build()
    plt.clear_figure()
    out.write((chart if out.isatty() else plt.uncolorize(chart)) + "\n")


def _decades(lo: float, hi: float, most: int = 7) -> list[float]:
    """Powers of ten across [lo, hi], every n-th one so that at most `most` remain."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    every = max(1, math.ceil((last - first + 1) / most))
    return [10.0**e for e in range(first, last + 1, every)]


def _print_table(result: RangeTestResult, ids: list[int], db: str, out: IO[str]) -> None:
    from lrtui.lrfind import METHODS, recommended

    s = result.settings
    out.write(
        f"LR range test on {result.dataset} ({result.device}): {s.steps} steps from "
        f"{s.start:g} to {s.end:g}, {result.seconds:.2f} s; stored in {db}\n"
    )
    for curve, curve_id in zip(result.curves, ids, strict=True):
        out.write("\n")
        status = (
            f"stopped early, {curve.stop_reason}"
            if curve.stopped_early
            else f"all {len(curve.lrs)} steps"
        )
        out.write(f"{curve.label} (range test {curve_id}): {status}\n")
        best = recommended(curve.suggestions)
        out.write(f"    {'method':<12}  {'lr':>10}  {'loss':>7}  {'step':>4}\n")
        for sug in curve.suggestions.values():
            name = f"{_MARKERS[sug.method]} {sug.method}"
            if sug.lr is None or sug.loss is None:
                out.write(f"    {name:<12}  {'-':>10}  {'-':>7}  {'-':>4}  {sug.reason}\n")
                continue
            note = "  <- recommended" if best is not None and sug.method == best.method else ""
            if not sug.usable:
                note = "  (too high to train with)"
            out.write(f"    {name:<12}  {sug.lr:>10.4g}  {sug.loss:>7.4f}  {sug.index:>4}{note}\n")
    out.write("\n")
    for method, doc in METHODS.items():
        out.write(f"{_MARKERS[method]} {method}: {doc}\n")


# ------------------------------------------------------------------------------- main


def main(args: argparse.Namespace) -> int:
    configs, settings = build(args)
    # Heavy imports only once the command line is known to be good.
    from lrtui import runner
    from lrtui.commands.run import flag_message
    from lrtui.data import DatasetError
    from lrtui.engine import Control
    from lrtui.lrfind import range_test, save
    from lrtui.store import Store, StoreError, resolve_db_path

    try:
        loaded = runner.load(configs, data_dir=getattr(args, "data_dir", None))
    except runner.RunInputError as exc:
        raise UsageError(flag_message(exc)) from None
    except DatasetError as exc:
        say(f"lrtui: error: {exc}")
        return 1
    data, notice = loaded.data, loaded.notice
    db = resolve_db_path(getattr(args, "db", None))
    try:  # open (create, migrate) before the sweep: a bad --db is reported before, not after
        store = Store(db)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    with store:
        if notice:
            say(f"lrtui: note: {notice}")
        control = Control()
        progress = _Progress(sys.stderr)
        try:
            with ctrl_c_stops(control) as ctrl_c:
                result = range_test(
                    configs, settings, on_progress=progress, control=control, data=data,
                    notice=notice,
                )  # fmt: skip
        finally:
            progress.clear()
        if ctrl_c.pressed or result.stopped:
            say("lrtui: find-lr stopped; nothing stored")
            return 130
        try:
            ids = save(store, result)
        except StoreError as exc:  # the disk is full, the file went away: not bad input
            say(f"lrtui: error: {exc}; the range test was not stored")
            return 1
    if args.json:
        print(strict_json(_json(result, ids)))
        return 0
    _print_chart(result, sys.stdout)
    _print_table(result, ids, str(db), sys.stdout)
    return 0
