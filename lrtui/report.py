"""How a stored run reads as text: numbers, facts, the epoch table, CSV/JSON rows, PyTorch code.

Shared by `lrtui runs show/export` and the app's details screen and export, so both say the same
thing in the same words. Pure functions over the store's records and `RunConfig`, plus the one
way lrtui writes a file the user names (`write_file`). No textual here; and no torch at import
time either (`lrtui.model`/`lrtui.schedulers` are imported inside the code functions), so
`lrtui runs list` does not pay for importing torch.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lrtui.numbering import epoch_number, step_number
from lrtui.store import EpochRecord, RunRecord, StepsRecord

if TYPE_CHECKING:
    from lrtui.model import RunConfig

# The export columns, in this order (`lrtui runs export`, the app's export).
EPOCH_FIELDS: tuple[str, ...] = (
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
STEP_FIELDS: tuple[str, ...] = ("run_id", "epoch", "step", "lr", "momentum")

# The epoch table's columns (lower case; a caller may change the case), plateau ones when present.
EPOCH_COLUMNS: tuple[str, ...] = (
    "epoch",
    "lr",
    "momentum",
    "train loss",
    "valid loss",
    "valid acc",
    "seconds",
)
PLATEAU_COLUMNS: tuple[str, ...] = ("plateau best", "bad epochs", "cooldown")


# ---------------------------------------------------------------------------------------------
# Numbers and facts


def fmt_num(value: float | None, digits: int = 4) -> str:
    """A loss or a duration: fixed digits; '-' when missing, 'nan'/'inf' as such."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


def fmt_lr(value: float | None) -> str:
    """An LR or momentum: 6 significant digits (0.1, 0.0125, 1e-05); '-' when missing."""
    return "-" if value is None else f"{value:.6g}"


def fmt_acc(value: float | None) -> str:
    """A fraction as a percentage with 2 decimals; '-' when missing."""
    return "-" if value is None else f"{100 * value:.2f}%"


def fmt_when(timestamp: float | None) -> str:
    """A Unix time in local time, to the minute; '-' when missing."""
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def fmt_duration(seconds: float | None) -> str:
    """'12.3 s' under a minute, else '4m05s' / '1h02m05s'; '-' when missing."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def optimizer_text(config: dict[str, Any]) -> str:
    """`sgd lr=0.1 m=0.9`: the optimizer and its non-default settings, short (from a config dict,
    so that configs of other lrtui versions still read; values this version does not write are
    said to be unreadable, and the config lists them)."""
    from lrtui.optimizers import OPTIMIZER_KINDS

    opt = config.get("optimizer")
    opt = opt if isinstance(opt, dict) else {}
    name = str(opt.get("name", "?"))
    kind = OPTIMIZER_KINDS.get(name)
    try:
        parts = [name, f"lr={fmt_lr(config.get('lr'))}"]
        if kind is not None:
            parts += kind.text_parts(opt)
        if opt.get("weight_decay"):
            parts.append(f"wd={opt['weight_decay']:g}")
    except (TypeError, ValueError):  # e.g. "momentum": "0.9"
        return f"{name} (settings unreadable: see the config)"
    return " ".join(parts)


def setup_parts(config: dict[str, Any], model_shape: str | None = None) -> dict[str, str]:
    """What a run trains with besides its schedule and data, one short part per setting in
    display order (`mlp`, `784-64-32-10`, `sgd m=0.9`, `lr=0.1`, `wd=0`, `batch=32`), from a
    config dict so that stored runs of other lrtui versions still read. The runs table shows the
    parts in which the runs it lists differ (`differing_setup`). A stored config whose values
    are not what this version writes (another version's, or edited) gives no parts: the table
    then shows the run without them rather than failing to list it."""
    from lrtui.optimizers import OPTIMIZER_KINDS

    opt = config.get("optimizer")
    opt = opt if isinstance(opt, dict) else {}
    name = str(opt.get("name", "?"))
    kind = OPTIMIZER_KINDS.get(name)
    try:
        return {
            "model": str(config.get("model", "mlp")),
            "shape": model_shape or "",
            "optimizer": " ".join([name, *(kind.text_parts(opt) if kind is not None else [])]),
            "lr": f"lr={fmt_lr(config.get('lr'))}",
            "wd": f"wd={opt.get('weight_decay') or 0:g}",
            "batch": f"batch={config.get('batch_size', '?')}",
        }
    except (TypeError, ValueError):  # e.g. "momentum": "0.9", "lr": [0.1]
        return {}


def differing_setup(setups: Sequence[dict[str, str]]) -> list[str]:
    """The keys of `setup_parts` whose parts differ between these runs (a model's shape only
    between runs of one family: the family's name tells the others apart)."""
    keys = list(dict.fromkeys(k for setup in setups for k in setup))
    differ = [k for k in keys if len({setup.get(k, "") for setup in setups}) > 1]
    return [k for k in differ if not (k == "shape" and "model" in differ)]


def run_facts(run: RunRecord) -> list[tuple[str, str]]:
    """(name, value) lines that sum up a run, in display order; names are at most 10 wide."""
    status = run.status + (f" ({run.reason})" if run.reason else "")
    steps = "" if run.steps_per_epoch is None else f", {run.steps_per_epoch} steps each"
    return [
        ("label", run.label or "-"),
        ("status", status),
        ("scheduler", run.scheduler),
        ("optimizer", optimizer_text(run.config)),
        ("dataset", run.dataset + (f"  [{run.notice}]" if run.notice else "")),
        ("device", run.device),
        ("epochs", f"{run.epochs_done} of {run.epochs} done{steps}"),
        ("started", fmt_when(run.started_at)),
        ("ended", fmt_when(run.ended_at)),
        ("took", fmt_duration(run.seconds)),
        ("batch", f"{run.batch_id[:12]} (run {run.batch_index} of that training call)"),
        *group_facts(run),
        ("versions", f"lrtui {run.lrtui_version}, torch {run.torch_version}"),
        ("writer", f"pid {run.pid} on {run.host}"),
    ]


#: Export columns of a run's group, added when some exported run has one (schema v5).
GROUP_FIELDS = ("group", "group_label", "seed_index")


def group_facts(run: RunRecord) -> list[tuple[str, str]]:
    """The group line of a run made with seeds or a sweep (none for a run outside groups)."""
    if run.group_id is None:
        return []
    return [("group", f"{run.group_id}: {run.group_label or '-'}, seed index {run.seed_index}")]


def group_columns(run: RunRecord) -> dict[str, Any]:
    """A run's GROUP_FIELDS values (None for a run outside groups)."""
    return {"group": run.group_id, "group_label": run.group_label, "seed_index": run.seed_index}


def flat_config(config: dict[str, Any]) -> dict[str, Any]:
    """A config dict one level deep, keys sorted: `optimizer.momentum`, ...; the scheduler stays
    one value (its spec dict), since its parameters only make sense together."""
    flat: dict[str, Any] = {}
    for key, value in sorted(config.items()):
        if isinstance(value, dict) and key != "scheduler":
            flat.update({f"{key}.{k}": v for k, v in sorted(value.items())})
        else:
            flat[key] = value
    return flat


def epoch_table(epochs: Sequence[EpochRecord]) -> tuple[list[str], list[list[str]]]:
    """Column names and formatted rows of a run's epochs; the plateau columns only when some
    epoch has ReduceLROnPlateau's state."""
    plateau = any(e.plateau_best is not None for e in epochs)
    columns = [*EPOCH_COLUMNS, *(PLATEAU_COLUMNS if plateau else ())]
    rows = []
    for e in epochs:
        row = [
            str(epoch_number(e.epoch)),
            fmt_lr(e.lr),
            fmt_lr(e.momentum),
            fmt_num(e.train_loss),
            fmt_num(e.valid_loss),
            fmt_acc(e.valid_acc),
            fmt_num(e.seconds, 2),
        ]
        if plateau:
            row += [
                fmt_num(e.plateau_best),
                "-" if e.plateau_num_bad_epochs is None else str(e.plateau_num_bad_epochs),
                "-" if e.plateau_cooldown_counter is None else str(e.plateau_cooldown_counter),
            ]
        rows.append(row)
    return columns, rows


# ---------------------------------------------------------------------------------------------
# Export rows and files


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def epoch_dict(run: RunRecord, epoch: EpochRecord) -> dict[str, Any]:
    """Every field of one epoch with its run's id and label, the epoch numbered from 1; non-finite
    numbers become None (strict JSON, empty CSV cells)."""
    row = {"run_id": run.id, "label": run.label, **epoch.__dict__,
           "epoch": epoch_number(epoch.epoch)}
    return {k: _finite_or_none(v) for k, v in row.items()}


def epoch_rows(run: RunRecord, epochs: Iterable[EpochRecord]) -> list[dict[str, Any]]:
    """A run's epochs as export rows with the EPOCH_FIELDS keys."""
    rows = []
    for e in epochs:
        full = epoch_dict(run, e)
        rows.append({k: full[k] for k in EPOCH_FIELDS})
    return rows


def step_rows(run_id: int, steps: Iterable[StepsRecord]) -> list[dict[str, Any]]:
    """One export row per optimizer step (STEP_FIELDS keys), epochs and the run's steps numbered
    from 1; momentum None where not recorded."""
    rows: list[dict[str, Any]] = []
    for rec in steps:
        moms = rec.momentum
        for i, lr in enumerate(rec.lr):
            rows.append(
                {
                    "run_id": run_id,
                    "epoch": epoch_number(rec.epoch),
                    "step": step_number(rec.first_step + i),
                    "lr": lr,
                    "momentum": None if moms is None else moms[i],
                }
            )
    return rows


def to_csv(rows: Iterable[dict[str, Any]], fields: Sequence[str]) -> str:
    """CSV text with a header line and '\\n' line ends; None becomes an empty cell."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def to_json(rows: list[dict[str, Any]]) -> str:
    """A strict JSON array (no NaN), one key per line, ending in a newline."""
    return json.dumps(rows, indent=1, allow_nan=False) + "\n"


def write_file(path: Path, text: str, *, wait_for_reader: bool = True) -> Path:
    """Write `text` (UTF-8, newlines as given) to `path` the way its kind of file needs; returns
    the file actually written. The one way lrtui writes a file the user names.

    - A regular file, or a new path: a temp file in the same folder, fsync, os.replace, so a
      reader never sees half a file; an existing file keeps its permission bits (and its owner
      where allowed), a new one gets the umask's.
    - A regular file with other hard links: written in place, so the other names keep seeing it.
    - A character device (`/dev/null`, a terminal) or a FIFO: written through, never replaced.
      A FIFO with no reader blocks until one opens it, as `> fifo` does in a shell; with
      `wait_for_reader=False` it fails at once (ENXIO) instead (the app must not hang).
    - A symlink: followed to its target, which is written as above (the link stays a link).
    - A folder, a block device or a socket: refused (OSError).

    Raises OSError; its `filename` is the folder when no temp file could be made there, else
    the file written (the temp file is removed). The caller checks that the folder exists
    beforehand.
    """
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_through(target, st, text, wait_for_reader)
    elif st is not None and st.st_nlink > 1:
        _write_in_place(target, text)
    else:
        _replace(target, st, text)
    return target


def _write_through(target: Path, st: os.stat_result, text: str, wait_for_reader: bool) -> None:
    """Write into a character device or a FIFO as it is (no temp file, no truncation needed)."""
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(target))
    if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        kind = "a block device" if stat.S_ISBLK(mode) else "a socket or other special file"
        raise OSError(
            errno.EINVAL, f"is {kind}; lrtui writes files, terminals and FIFOs", str(target)
        )
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    if stat.S_ISFIFO(mode) and not wait_for_reader:
        flags |= os.O_NONBLOCK
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(exc.errno, "no program is reading this FIFO", str(target)) from exc
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    try:
        if flags & os.O_NONBLOCK:
            os.set_blocking(fd, True)
        _write_all(fd, text.encode("utf-8"), target)
    finally:
        os.close(fd)


def _write_in_place(target: Path, text: str) -> None:
    """Truncate and write a hard-linked file, keeping its inode (every name sees the new text)."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    try:
        _write_all(fd, text.encode("utf-8"), target)
        os.fsync(fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, target: Path) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(target)) from exc


def _replace(target: Path, st: os.stat_result | None, text: str) -> None:
    """Temp file in the same folder + fsync + os.replace: readers see the old or the new file."""
    parent = target.parent if str(target.parent) else Path(".")
    if st is not None:
        mode = st.st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(parent)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if st is not None:
            with contextlib.suppress(OSError):  # only root (or the owner, for the group) may
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OSError(exc.errno, exc.strerror, str(target)) from exc


# ---------------------------------------------------------------------------------------------
# Plain-PyTorch code


class SchedulerCode(NamedTuple):
    """The scheduler's part of a snippet: its import lines and the lines after them."""

    imports: tuple[str, ...]
    body: tuple[str, ...]


def model_layers(hidden: Sequence[int], model: str = "mlp") -> list[str]:
    """The model family's nn.Sequential items (lrtui.engine.MODELS): for the tutorial MLP,
    Flatten, then Linear (+ ReLU) per hidden width."""
    from lrtui.engine.models import MODELS
    from lrtui.model import RunConfig

    return MODELS[model].layers(RunConfig(model=model, hidden=tuple(hidden)))


#: Layers written on the line of the layer before them in the wrapped layout.
_TRAILING_LAYERS = ("nn.ReLU(", "nn.MaxPool2d(")


def optimizer_args(cfg: RunConfig) -> tuple[str, list[str]]:
    """The torch.optim class name and its arguments (every setting lrtui trains with)."""
    from lrtui.optimizers import OPTIMIZER_KINDS

    kind = OPTIMIZER_KINDS[cfg.optimizer.name]
    args = ["model.parameters()", f"lr={cfg.lr!r}", *kind.code_args(cfg.optimizer)]
    return kind.torch_class, args


def optimizer_code(cfg: RunConfig) -> str:
    """The run's optimizer as one line: `optimizer = torch.optim.SGD(model.parameters(), ...)`."""
    cls, args = optimizer_args(cfg)
    return f"optimizer = torch.optim.{cls}({', '.join(args)})"


def scheduler_code(cfg: RunConfig, steps_per_epoch: int | None) -> SchedulerCode:
    """`schedulers.to_code` split into its imports and the rest (leading and doubled blank lines
    dropped). Raises what to_code raises (SpecError) for a spec it cannot build."""
    from lrtui.schedulers import to_code

    text = to_code(cfg.scheduler, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch or 1)
    imports: list[str] = []
    body: list[str] = []
    for line in text.rstrip("\n").splitlines():
        if line.startswith(("import ", "from ")):
            imports.append(line)
        elif line or (body and body[-1]):
            body.append(line)
    return SchedulerCode(tuple(imports), tuple(body))


def pytorch_code(
    cfg: RunConfig,
    steps_per_epoch: int | None,
    *,
    compact: bool = False,
    scheduler: SchedulerCode | None = None,
) -> str:
    """Plain PyTorch that builds the run's model, optimizer and scheduler (torch's own classes).

    The default layout is `lrtui runs show`'s: imports sorted, one layer per line, the optimizer
    call wrapped, and a note when the steps per epoch are unknown (1 is assumed). `compact` is the
    app's: the model and the optimizer on one line each, a blank line before the scheduler.
    `scheduler` replaces the generated scheduler part (a caller's note when it cannot be built);
    without it a spec that to_code refuses raises.
    """
    sched = scheduler_code(cfg, steps_per_epoch) if scheduler is None else scheduler
    imports = ["import torch", "from torch import nn", *sched.imports]
    layers = model_layers(cfg.hidden, cfg.model)
    if compact:
        lines = [
            *imports,
            "",
            f"model = nn.Sequential({', '.join(layers)})",
            optimizer_code(cfg),
            "",
            *sched.body,
        ]
        return "\n".join(lines).rstrip("\n") + "\n"
    rows: list[str] = []
    for layer in layers:  # a ReLU (and a pooling) shares the line of the layer before it
        if layer.startswith(_TRAILING_LAYERS) and rows:
            rows[-1] += f" {layer},"
        else:
            rows.append(f"{layer},")
    cls, args = optimizer_args(cfg)
    wrap = next(i for i, a in enumerate(args) if a.startswith("weight_decay="))  # 2nd line
    lines = [
        *sorted(imports, key=lambda line: (not line.startswith("import "), line)),
        "",
        "model = nn.Sequential(",
        *(f"    {row}" for row in rows),
        ")",
        f"optimizer = torch.optim.{cls}(",
        f"    {', '.join(args[:wrap])},",
        f"    {', '.join(args[wrap:])},",
        ")",
    ]
    if steps_per_epoch is None:
        lines.append("# steps per epoch unknown (no epoch finished): 1 assumed below")
    return "\n".join([*lines, *sched.body]).rstrip("\n") + "\n"
