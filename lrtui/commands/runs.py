"""`lrtui runs list | show ID | export [ID ...] | delete ID ...`: the run history, headless.

Reading commands never create a database: on a path with no file yet they report no runs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from lrtui.commands import UsageError
from lrtui.store import (
    EpochRecord,
    RunRecord,
    Store,
    StoreError,
    UnknownRunError,
    check_location,
    pid_alive,
    resolve_db_path,
    this_host,
)

EPOCH_FIELDS = (
    "run_id",
    "label",
    "epoch",
    "lr",
    "momentum",
    "train_loss",
    "valid_loss",
    "valid_acc",
    "seconds",
)
STEP_FIELDS = ("run_id", "epoch", "step", "lr", "momentum")


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
    p.add_argument("id", type=int, metavar="ID", help="run id (see `lrtui runs list`)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser(
        "export",
        help="per-epoch (or per-step) numbers as CSV or JSON",
        description="Per-epoch rows of the given runs (all runs when no id is given).",
    )
    _db_argument(p)
    p.add_argument("ids", type=int, nargs="*", metavar="ID", help="run ids (default: all)")
    p.add_argument(
        "--format",
        choices=("csv", "json"),
        help="output format (default: from the -o suffix, else csv)",
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write FILE (atomically) instead of stdout"
    )
    p.add_argument("--steps", action="store_true", help="one row per optimizer step: its LR")

    p = sub.add_parser("delete", help="delete runs", description="Delete runs with their epochs.")
    _db_argument(p)
    p.add_argument("ids", type=int, nargs="+", metavar="ID", help="run ids")
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
    }
    path = resolve_db_path(getattr(args, "db", None))
    try:
        return commands[args.runs_command](args, path)
    except StoreError as exc:
        raise UsageError(str(exc)) from None


@contextlib.contextmanager
def _existing(path: Path) -> Iterator[Store | None]:
    """The store at path, or None when no file is there yet (reading must not create one)."""
    if not path.exists():
        check_location(path)
        yield None
        return
    with Store(path) as store:
        yield store


def _unknown(run_id: int, path: Path) -> UsageError:
    return UsageError(f"run id: no run {run_id} in {path} (no database there yet)")


# ---------------------------------------------------------------------------------------------
# Formatting


def _num(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


def _lr(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def optimizer_text(config: dict[str, Any]) -> str:
    """`sgd lr=0.1 m=0.9`: the optimizer and its non-default settings, short."""
    opt = config.get("optimizer") or {}
    name = str(opt.get("name", "?"))
    parts = [name, f"lr={_lr(config.get('lr'))}"]
    if name == "sgd" and opt.get("momentum"):
        parts.append(f"m={opt['momentum']:g}")
        if opt.get("nesterov"):
            parts.append("nesterov")
    if name in ("adam", "adamw") and list(opt.get("betas", (0.9, 0.999))) != [0.9, 0.999]:
        b1, b2 = opt["betas"]
        parts.append(f"betas=({b1:g},{b2:g})")
    if opt.get("weight_decay"):
        parts.append(f"wd={opt['weight_decay']:g}")
    return " ".join(parts)


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


def _acc(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


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
            _num(r.best_valid_loss),
            _acc(r.best_valid_acc),
            r.status,
            _when(r.started_at),
        ]
        for r in runs
    ]
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 10_000
    print(_fit(rows, headers, shrinkable=(2, 1, 3), width=width))
    return 0


# ---------------------------------------------------------------------------------------------
# show


def pytorch_code(config: dict[str, Any], *, steps_per_epoch: int | None) -> str:
    """Plain PyTorch that builds this run's model, optimizer and scheduler (torch's own classes)."""
    from lrtui.model import RunConfig
    from lrtui.schedulers import to_code

    cfg = RunConfig.from_dict(config)
    sizes = [784, *cfg.hidden, 10]
    layers = ["nn.Flatten(),"]
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(f"nn.Linear({a}, {b})," + (" nn.ReLU()," if i < len(sizes) - 2 else ""))
    opt = cfg.optimizer
    if opt.name == "sgd":
        optimizer = (
            f"torch.optim.SGD(\n    model.parameters(), lr={cfg.lr!r}, momentum={opt.momentum!r}, "
            f"dampening={opt.dampening!r},\n    weight_decay={opt.weight_decay!r}, "
            f"nesterov={opt.nesterov!r},\n)"
        )
    else:
        cls = "Adam" if opt.name == "adam" else "AdamW"
        optimizer = (
            f"torch.optim.{cls}(\n    model.parameters(), lr={cfg.lr!r}, "
            f"betas={tuple(opt.betas)!r}, eps={opt.eps!r},\n"
            f"    weight_decay={opt.weight_decay!r},\n)"
        )
    scheduler = to_code(cfg.scheduler, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch or 1)
    imports = ["import torch", "from torch import nn"]
    body: list[str] = []
    for line in scheduler.rstrip("\n").splitlines():
        if line.startswith(("import ", "from ")):
            imports.append(line)
        elif line or (body and body[-1]):
            body.append(line)
    lines = [
        *sorted(imports, key=lambda line: (not line.startswith("import "), line)),
        "",
        "model = nn.Sequential(",
        *(f"    {layer}" for layer in layers),
        ")",
        f"optimizer = {optimizer}",
    ]
    if steps_per_epoch is None:
        lines.append("# steps per epoch unknown (no epoch finished): 1 assumed below")
    return "\n".join([*lines, *body]).rstrip("\n") + "\n"


def _code_or_reason(run: RunRecord) -> str:
    try:
        return pytorch_code(run.config, steps_per_epoch=run.steps_per_epoch)
    except Exception as exc:  # a config from another lrtui version must not break `show`
        return f"# cannot generate the code for this run: {type(exc).__name__}: {exc}"


def _epoch_dict(run: RunRecord, e: EpochRecord) -> dict[str, Any]:
    row = {"run_id": run.id, "label": run.label, **e.__dict__}
    return {k: (None if _nonfinite(v) else v) for k, v in row.items()}


def _nonfinite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _show(args: argparse.Namespace, path: Path) -> int:
    with _existing(path) as store:
        if store is None:
            raise _unknown(args.id, path)
        run = store.get_run(args.id)
        epochs = store.epochs(args.id)
    code = _code_or_reason(run)
    if args.json:
        out = {**run.to_dict(), "epochs": [_epoch_dict(run, e) for e in epochs], "code": code}
        print(json.dumps(out, indent=2, allow_nan=False))
        return 0
    status = run.status + (f" ({run.reason})" if run.reason else "")
    facts = [
        ("label", run.label or "-"),
        ("status", status),
        ("scheduler", run.scheduler),
        ("optimizer", optimizer_text(run.config)),
        ("dataset", run.dataset + (f"  [{run.notice}]" if run.notice else "")),
        ("device", run.device),
        ("epochs", f"{run.epochs_done} of {run.epochs} done" + _steps_note(run)),
        ("started", _when(run.started_at)),
        ("ended", _when(run.ended_at)),
        ("took", _duration(run.seconds)),
        ("batch", f"{run.batch_id[:12]} (run {run.batch_index} of that training call)"),
        ("versions", f"lrtui {run.lrtui_version}, torch {run.torch_version}"),
        ("writer", f"pid {run.pid} on {run.host}"),
    ]
    print(f"Run {run.id}")
    for key, value in facts:
        print(f"  {key:<10} {value}")
    print("\nConfig")
    flat: dict[str, Any] = {}
    for key, value in sorted(run.config.items()):
        if isinstance(value, dict) and key != "scheduler":
            flat.update({f"{key}.{k}": v for k, v in sorted(value.items())})
        else:
            flat[key] = value
    width = max((len(k) for k in flat), default=0)
    for key, value in flat.items():
        print(f"  {key:<{width}}  {json.dumps(value, sort_keys=True)}")
    print("\nEpochs")
    if epochs:
        plateau = any(e.plateau_best is not None for e in epochs)
        headers = ["EPOCH", "LR", "MOMENTUM", "TRAIN LOSS", "VALID LOSS", "VALID ACC", "SECONDS"]
        if plateau:
            headers += ["PLATEAU BEST", "BAD EPOCHS", "COOLDOWN"]
        rows = []
        for e in epochs:
            row = [
                str(e.epoch),
                _lr(e.lr),
                _lr(e.momentum),
                _num(e.train_loss),
                _num(e.valid_loss),
                _acc(e.valid_acc),
                _num(e.seconds, 2),
            ]
            if plateau:
                row += [
                    _num(e.plateau_best),
                    "-" if e.plateau_num_bad_epochs is None else str(e.plateau_num_bad_epochs),
                    "-" if e.plateau_cooldown_counter is None else str(e.plateau_cooldown_counter),
                ]
            rows.append(row)
        print(_indent(_fit(rows, headers, shrinkable=(), width=10_000)))
    else:
        print("  (no epoch finished)")
    print("\nPyTorch code")
    print(_indent(code))
    return 0


def _steps_note(run: RunRecord) -> str:
    return "" if run.steps_per_epoch is None else f", {run.steps_per_epoch} steps each"


def _indent(text: str) -> str:
    return "\n".join(("  " + line) if line else line for line in text.splitlines())


# ---------------------------------------------------------------------------------------------
# export


def _export_rows(store: Store | None, ids: list[int], steps: bool) -> list[dict[str, Any]]:
    if store is None:
        runs: list[RunRecord] = []
    else:
        runs = store.get_runs(ids) if ids else store.list_runs()
    rows: list[dict[str, Any]] = []
    for run in runs:
        assert store is not None
        if steps:
            for rec in store.steps(run.id):
                moms = rec.momentum
                for i, lr in enumerate(rec.lr):
                    rows.append(
                        {
                            "run_id": run.id,
                            "epoch": rec.epoch,
                            "step": rec.first_step + i,
                            "lr": lr,
                            "momentum": None if moms is None else moms[i],
                        }
                    )
        else:
            for e in store.epochs(run.id):
                full = _epoch_dict(run, e)
                rows.append({k: full[k] for k in EPOCH_FIELDS})
    return rows


def _render(rows: list[dict[str, Any]], fields: Sequence[str], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=1, allow_nan=False) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and os.replace: readers never see half a file."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"-o: {path} is a folder (got {path})")
    if not parent.is_dir():
        raise UsageError(f"-o: the folder {parent} does not exist (got {path})")
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"-o: cannot write in {parent}: {exc.strerror} (got {path})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"-o: cannot write {path}: {exc.strerror}") from None


def _export(args: argparse.Namespace, path: Path) -> int:
    out = Path(args.output).expanduser() if args.output else None
    fmt = args.format or ("json" if out is not None and out.suffix.lower() == ".json" else "csv")
    ids = list(dict.fromkeys(args.ids))
    with _existing(path) as store:
        if store is None and ids:
            raise _unknown(ids[0], path)
        rows = _export_rows(store, ids, args.steps)
    text = _render(rows, STEP_FIELDS if args.steps else EPOCH_FIELDS, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomically(out, text)
        what = "step" if args.steps else "epoch"
        print(f"Wrote {len(rows)} {what} rows to {out}.", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# delete


def _still_training(run: RunRecord) -> str | None:
    if run.status != "running":
        return None
    if run.host != this_host():
        return f"run {run.id} is marked running by pid {run.pid} on host {run.host}"
    if pid_alive(run.pid, since=run.started_at):
        return f"run {run.id} is still training (pid {run.pid})"
    return None


def _confirm(question: str, stdin: TextIO) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _delete(args: argparse.Namespace, path: Path) -> int:
    ids = list(dict.fromkeys(args.ids))
    if not path.exists():
        check_location(path)
        raise _unknown(ids[0], path)
    with Store(path) as store:
        try:
            runs = store.get_runs(ids)
        except UnknownRunError as exc:
            raise UsageError(str(exc)) from None
        for run in runs:
            busy = _still_training(run)
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
