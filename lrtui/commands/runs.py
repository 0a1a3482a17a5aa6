"""`lrtui runs list | show ID | export [ID ...] | delete ID ...`: the run history, headless.

Reading commands (list, show, export) open the database read-only and never create, upgrade
(except an older schema, once, where the file is writable) or mark anything: on a path with no
file yet, or an empty file, they report no runs; a chmod 444 file or a read-only mount reads fine.
A run whose stored config or steps cannot be read is listed as damaged and reported by show and
export (exit 1) without hiding the others.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from lrtui.commands import UsageError, say, strict_json
from lrtui.fields import RUN_ID, FieldError, from_text
from lrtui.report import (
    EPOCH_FIELDS,
    GROUP_FIELDS,
    STEP_FIELDS,
    epoch_dict,
    epoch_rows,
    epoch_table,
    flat_config,
    fmt_acc,
    fmt_num,
    fmt_when,
    group_columns,
    optimizer_text,
    pytorch_code,
    run_facts,
    step_rows,
    to_csv,
    to_json,
    write_file,
)
from lrtui.store import (
    DamagedRunError,
    RunRecord,
    Store,
    StoreError,
    UnknownRunError,
    check_location,
    resolve_db_path,
    still_training,
    this_host,
)


def _db_argument(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a value given before the subcommand (`lrtui --db X runs list`) is not overwritten.
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="run history database (default: $LRTUI_DB, else runs.db in the user data dir)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _db_argument(parser)
    sub = parser.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="one line per stored run", description="One line per run.")
    _db_argument(p)
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")

    p = sub.add_parser(
        "show",
        help="a run's config, epochs and PyTorch code",
        description="A run's config, per-epoch numbers and the plain-PyTorch code of its schedule.",
    )
    _db_argument(p)
    p.add_argument("id", metavar="ID", help="run id (see `lrtui runs list`)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser(
        "export",
        help="per-epoch (or per-step) numbers as CSV or JSON",
        description="Per-epoch rows of the given runs (all runs when no id is given).",
    )
    _db_argument(p)
    p.add_argument("ids", nargs="*", metavar="ID", help="run ids (default: all)")
    p.add_argument(
        "--format",
        choices=("csv", "json"),
        help="output format (default: from the -o suffix, else csv)",
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write FILE (atomically) instead of stdout"
    )
    p.add_argument("--steps", action="store_true", help="one row per optimizer step: its LR")

    p = sub.add_parser(
        "compare",
        help="groups of seeds and sweeps: mean ± std, min-max, paired differences",
        description="Per group (one spec and settings over seeds): n, final and best valid "
        "accuracy and loss as mean ± std and min-max; against --baseline, the paired difference "
        "over seeds with its bootstrap 95 % interval and a verdict; for a sweep, a chart of the "
        "metric against the swept value. Default: the runs of the last `lrtui run`.",
    )
    _db_argument(p)
    p.add_argument("ids", nargs="*", metavar="ID", help="run ids (default: --last)")
    p.add_argument("--group", metavar="G", help="the runs of one group (its id or label)")
    p.add_argument("--last", action="store_true", help="the runs of the last `lrtui run`")
    p.add_argument(
        "--baseline", metavar="G", help="the group to compare against: its number, id or label"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("delete", help="delete runs", description="Delete runs with their epochs.")
    _db_argument(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="run ids")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--force",
        action="store_true",
        help="also delete runs marked running whose writer cannot be checked (another host)",
    )


def main(args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[argparse.Namespace, Path], int]] = {
        "list": _list,
        "show": _show,
        "export": _export,
        "delete": _delete,
        "compare": _compare,
    }
    _read_ids(args)
    path = resolve_db_path(getattr(args, "db", None))
    try:
        return commands[args.runs_command](args, path)
    except StoreError as exc:
        raise UsageError(str(exc)) from None


def _read_ids(args: argparse.Namespace) -> None:
    """Run ids are read as text by argparse and parsed here: a bad one is one UsageError line
    (not argparse's usage text), and one beyond SQLite's integers never reaches the database.
    An id given twice means its run once (compare would count it as two seeds)."""
    try:
        if isinstance(getattr(args, "id", None), str):
            args.id = from_text(RUN_ID, args.id, RUN_ID.label)
        if isinstance(getattr(args, "ids", None), list):
            args.ids = list(
                dict.fromkeys(from_text(RUN_ID, text, RUN_ID.label) for text in args.ids)
            )
    except FieldError as exc:
        raise UsageError(str(exc)) from None


@contextlib.contextmanager
def _existing(path: Path) -> Iterator[Store | None]:
    """The store at path opened read-only, or None when no file (or an empty one) is there yet:
    reading must not create or change anything."""
    if not path.exists():
        check_location(path)
        yield None
        return
    with Store(path, read_only=True) as store:
        yield None if store.empty else store


def _report_damage(messages: Sequence[str]) -> int:
    """One stderr line per damaged run; exit code 1 when there was any."""
    for message in messages:
        print(f"lrtui: error: {message}", file=sys.stderr)
    return 1 if messages else 0


def _unknown(run_id: int, path: Path) -> UsageError:
    return UsageError(f"run id: no run {run_id} in {path} (no database there yet)")


# ---------------------------------------------------------------------------------------------
# Formatting


def _fit(rows: list[list[str]], headers: list[str], shrinkable: Sequence[int], width: int) -> str:
    """Aligned columns; the shrinkable columns are cut (with …) until the table fits `width`."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    for i in shrinkable:
        if excess <= 0:
            break
        floor = max(len(headers[i]), 10)
        cut = min(excess, widths[i] - floor)
        if cut > 0:
            widths[i] -= cut
            excess -= cut

    def cell(text: str, w: int) -> str:
        return text if len(text) <= w else text[: w - 1] + "…"

    lines = [
        "  ".join(cell(t, widths[i]).ljust(widths[i]) for i, t in enumerate(line)).rstrip()
        for line in [headers, *rows]
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# list


def _list(args: argparse.Namespace, path: Path) -> int:
    with _existing(path) as store:
        runs = [] if store is None else store.list_runs()
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2, allow_nan=False))
        return 0
    if not runs:
        where = "" if path.exists() else " (no database there yet)"
        print(f"No runs in {path}{where}.")
        return 0
    headers = [
        "ID",
        "LABEL",
        "SCHEDULER",
        "OPTIMIZER",
        "DATASET",
        "EPOCHS",
        "BEST VLOSS",
        "BEST VACC",
        "STATUS",
        "STARTED",
    ]
    rows = [
        [
            str(r.id),
            r.label or "-",
            r.scheduler,
            optimizer_text(r.config),
            r.dataset,
            f"{r.epochs_done}/{r.epochs}",
            fmt_num(r.best_valid_loss),
            fmt_acc(r.best_valid_acc),
            f"{r.status} (damaged)" if r.damaged else r.status,
            fmt_when(r.started_at),
        ]
        for r in runs
    ]
    if any(r.group_id is not None for r in runs):  # runs made with seeds or a sweep
        headers.insert(1, "GROUP")
        for row, r in zip(rows, runs, strict=True):
            row.insert(1, "-" if r.group_id is None else f"{r.group_id}#{r.seed_index}")
        shrinkable: tuple[int, ...] = (3, 2, 4)
    else:
        shrinkable = (2, 1, 3)
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 10_000
    print(_fit(rows, headers, shrinkable=shrinkable, width=width))
    return 0


# ---------------------------------------------------------------------------------------------
# show


def _code_or_reason(run: RunRecord) -> str:
    try:
        from lrtui.model import RunConfig  # here: `runs list` must not import torch

        return pytorch_code(RunConfig.from_dict(run.config), run.steps_per_epoch)
    except Exception as exc:  # a config from another lrtui version must not break `show`
        return f"# cannot generate the code for this run: {type(exc).__name__}: {exc}"


def _show(args: argparse.Namespace, path: Path) -> int:
    with _existing(path) as store:
        if store is None:
            raise _unknown(args.id, path)
        run = store.get_run(args.id)
        epochs = store.epochs(args.id)
    damage = [f"run {run.id} in {path} is damaged: {run.damaged}"] if run.damaged else []
    code = _code_or_reason(run) if not run.damaged else f"# cannot read this run's {run.damaged}\n"
    if args.json:
        out = {**run.to_dict(), "epochs": [epoch_dict(run, e) for e in epochs], "code": code}
        print(json.dumps(out, indent=2, allow_nan=False))
        return _report_damage(damage)
    print(f"Run {run.id}")
    for key, value in run_facts(run):
        print(f"  {key:<10} {value}")
    if run.damaged:
        print(f"  {'damaged':<10} {run.damaged}")
    print("\nConfig")
    flat = flat_config(run.config)
    width = max((len(k) for k in flat), default=0)
    for key, value in flat.items():
        print(f"  {key:<{width}}  {json.dumps(value, sort_keys=True)}")
    if not flat:
        print("  (unreadable)" if run.damaged else "  (empty)")
    print("\nEpochs")
    if epochs:
        columns, rows = epoch_table(epochs)
        headers = [c.upper() for c in columns]
        print(_indent(_fit(rows, headers, shrinkable=(), width=10_000)))
    else:
        print("  (no epoch finished)")
    print("\nPyTorch code")
    print(_indent(code))
    return _report_damage(damage)


def _indent(text: str) -> str:
    return "\n".join(("  " + line) if line else line for line in text.splitlines())


# ---------------------------------------------------------------------------------------------
# export


def _export_rows(
    store: Store | None, ids: list[int], steps: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of every run that reads, and one message per damaged run left out (its epochs
    still export when only its config is damaged)."""
    if store is None:
        runs: list[RunRecord] = []
    else:
        runs = store.get_runs(ids) if ids else store.list_runs()
    rows: list[dict[str, Any]] = []
    damage: list[str] = []
    for run in runs:
        assert store is not None
        if steps:
            try:
                rows += step_rows(run.id, store.steps(run.id))
            except DamagedRunError as exc:
                damage.append(f"{exc}; its steps are left out")
        else:
            if run.damaged:
                damage.append(f"run {run.id} in {store.path} is damaged: {run.damaged}")
            grouped = any(r.group_id is not None for r in runs)
            extra = group_columns(run) if grouped else {}
            rows += [row | extra for row in epoch_rows(run, store.epochs(run.id))]
    return rows, damage


def _render(rows: list[dict[str, Any]], fields: Sequence[str], fmt: str) -> str:
    return to_json(rows) if fmt == "json" else to_csv(rows, fields)


#: Errors of a write that started: not bad input, but a failure (exit 1), like a full stdout.
_WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EPIPE})


def write_output(path: Path, text: str, *, database: Path) -> bool:
    """Write `-o FILE` with lrtui.report.write_file (a file is replaced atomically; a device or
    FIFO is written through; a symlink's target is written). A target that cannot be used is
    a UsageError (exit 2); a write that fails midway (disk full) is said in one line and False
    is returned (exit 1). The run database itself (or its WAL files) is never a target."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"-o: {path} is a folder (got {path})")
    if not parent.is_dir():
        raise UsageError(f"-o: the folder {parent} does not exist (got {path})")
    for own in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        with contextlib.suppress(OSError):
            if os.path.samefile(path, own):
                raise UsageError(f"-o: {path} is the run database {own.name}; pick another file")
    try:
        write_file(path, text)
    except OSError as exc:
        if exc.filename == str(parent):
            raise UsageError(f"-o: cannot write in {parent}: {exc.strerror} (got {path})") from None
        if exc.errno in _WRITE_FAILURES:
            say(f"lrtui: error: -o: cannot write {exc.filename or path}: {exc.strerror}")
            return False
        raise UsageError(f"-o: cannot write {exc.filename or path}: {exc.strerror}") from None
    return True


def _export(args: argparse.Namespace, path: Path) -> int:
    out = Path(args.output).expanduser() if args.output else None
    fmt = args.format or ("json" if out is not None and out.suffix.lower() == ".json" else "csv")
    ids: list[int] = args.ids
    with _existing(path) as store:
        if store is None and ids:
            raise _unknown(ids[0], path)
        rows, damage = _export_rows(store, ids, args.steps)
    fields = STEP_FIELDS if args.steps else EPOCH_FIELDS
    if rows and not args.steps and "group" in rows[0]:
        fields = (*fields, *GROUP_FIELDS)
    text = _render(rows, fields, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        if not write_output(out, text, database=path):
            return 1
        what = "step" if args.steps else "epoch"
        print(f"Wrote {len(rows)} {what} rows to {out}.", file=sys.stderr)
    return _report_damage(damage)


# ---------------------------------------------------------------------------------------------
# delete


def _confirm(question: str, stdin: TextIO) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _delete(args: argparse.Namespace, path: Path) -> int:
    ids: list[int] = args.ids
    if not path.exists():
        check_location(path)
        raise _unknown(ids[0], path)
    with Store(path) as store:
        try:
            runs = store.get_runs(ids)
        except UnknownRunError as exc:
            raise UsageError(str(exc)) from None
        for run in runs:
            busy = still_training(run)
            if busy and not (args.force and run.host != this_host()):
                hint = "; pass --force if it is not" if run.host != this_host() else ""
                raise UsageError(f"run id: {busy}; stop it first{hint}")
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "delete: stdin is not a terminal, so lrtui cannot ask; pass --yes to delete"
                )
            names = ", ".join(f"{r.id}" + (f" ({r.label})" if r.label else "") for r in runs)
            noun = "run" if len(runs) == 1 else "runs"
            if not _confirm(f"Delete {len(runs)} {noun}: {names}? [y/N] ", sys.stdin):
                print("Nothing deleted.", file=sys.stderr)
                return 1
        count = store.delete_runs(ids)
    print(f"Deleted {count} run{'s' if count != 1 else ''}.")
    return 0


# ---------------------------------------------------------------------------------------------
# compare


def _compare(args: argparse.Namespace, path: Path) -> int:
    from lrtui.compare import CompareError, select_runs, summarize

    chosen = sum(bool(x) for x in (args.ids, args.group is not None, args.last))
    if chosen > 1:
        raise UsageError("runs compare: give run ids, --group G or --last, not several")
    with _existing(path) as store:
        if store is None:
            raise UsageError(f"--last: no run history at {path} (nothing has been stored there)")
        try:
            runs = select_runs(store, ids=args.ids, group=args.group, last=args.last)
            comparison = summarize(store, runs, baseline=args.baseline)
        except CompareError as exc:
            raise UsageError(str(exc)) from None
    if args.json:
        print(strict_json(comparison.to_dict(), indent=2))
        return 0
    print(_comparison_text(comparison))
    chart = _sweep_chart(comparison)
    if chart:
        print(chart)
    return 0


def _comparison_text(comparison: Any) -> str:
    """The summary table: one line per group, then the paired differences against the baseline."""
    from lrtui.compare import MAIN_METRIC, difference_text, summary_cells

    headers = ["#", "GROUP", "N", "FINAL VACC", "BEST VACC", "FINAL VLOSS", "BEST VLOSS"]
    rows = [summary_cells(g) for g in comparison.groups]
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 10_000
    lines = ["mean ± std [min, max] over each group's seeds", _fit(rows, headers, (1,), width)]
    if comparison.baseline is not None:
        lines.append(
            f"\nAgainst group {comparison.baseline}, paired by seed (mean difference "
            "[bootstrap 95 % interval] verdict):"
        )
        diff_rows = [
            [
                str(g.number),
                g.label,
                str(g.vs_baseline[MAIN_METRIC].n),
                difference_text(g.vs_baseline["final_valid_acc"], True),
                difference_text(g.vs_baseline["final_valid_loss"], False),
            ]
            for g in comparison.groups
            if g.vs_baseline
        ]
        lines.append(
            _fit(diff_rows, ["#", "GROUP", "PAIRS", "FINAL VACC", "FINAL VLOSS"], (1,), width)
        )
    return "\n".join(lines)


def _sweep_chart(comparison: Any) -> str:
    """Mean final valid accuracy against the swept value, one line per other swept values,
    the best group marked; "" when the runs are no sweep."""
    import plotext as plt

    from lrtui.compare import MAIN_METRIC, best_group, log_x, sweep_series

    series = sweep_series(comparison)
    if not series:
        return ""
    key = comparison.sweep_key
    xs = [x for _, line_xs, _ in series for x in line_xs]
    size = shutil.get_terminal_size((100, 30))
    plt.clear_figure()
    plt.plotsize(max(40, min(size.columns, 100)), 16)
    if log_x(xs):
        plt.xscale("log")
    for rest, line_xs, line_ys in series:
        plt.plot(line_xs, [y * 100 for y in line_ys], marker="braille", label=rest or key)
    best = best_group(comparison)
    note = ""
    if best is not None and key is not None:
        bx = float(dict(best.sweep)[key])
        by = (best.metrics[MAIN_METRIC].mean or 0.0) * 100
        plt.scatter([bx], [by], marker="x", color="red")
        note = f"\nbest: {best.label} ({by:.2f}% mean final valid accuracy), marked x"
    plt.xlabel(key + (" (log)" if log_x(xs) else ""))
    plt.ylabel("final valid acc %")
    plt.title(f"mean final valid accuracy against {key}")
    chart = plt.build()
    plt.clear_figure()
    text: str = chart if sys.stdout.isatty() else plt.uncolorize(chart)
    return text + note
