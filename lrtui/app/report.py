"""Run details and CSV export, read from the store (the same numbers `lrtui runs show` prints).

Non-widget code: the details screen and the export action only receive what these functions return.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from lrtui import schedulers as S
from lrtui.app.screens import RunDetails
from lrtui.model import RunConfig
from lrtui.store import EpochRecord, RunRecord, Store

# Same columns, same order as `lrtui runs export --format csv`.
EPOCH_FIELDS: tuple[str, ...] = (
    "run_id", "label", "epoch", "lr", "momentum", "train_loss", "valid_loss", "valid_acc",
    "seconds",
)


def fmt_loss(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def fmt_acc(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def fmt_lr6(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def optimizer_code(cfg: RunConfig) -> str:
    """The torch.optim line of a run."""
    opt = cfg.optimizer
    if opt.name == "sgd":
        return (f"optimizer = torch.optim.SGD(model.parameters(), lr={cfg.lr!r}, "
                f"momentum={opt.momentum!r}, weight_decay={opt.weight_decay!r}, "
                f"nesterov={opt.nesterov!r})")
    cls = "Adam" if opt.name == "adam" else "AdamW"
    return (f"optimizer = torch.optim.{cls}(model.parameters(), lr={cfg.lr!r}, "
            f"betas={tuple(opt.betas)!r}, eps={opt.eps!r}, weight_decay={opt.weight_decay!r})")


def pytorch_code(cfg: RunConfig, steps_per_epoch: int | None) -> str:
    """Plain PyTorch for the run's model, optimizer and scheduler (the scheduler from to_code)."""
    sizes = [784, *cfg.hidden, 10]
    layers = ["nn.Flatten()"]
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(f"nn.Linear({a}, {b})")
        if i < len(sizes) - 2:
            layers.append("nn.ReLU()")
    try:
        sched = S.to_code(cfg.scheduler, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch or 1)
    except Exception as exc:  # a config from another version must not break the details screen
        sched = f"# cannot generate the scheduler code: {type(exc).__name__}: {exc}\n"
    imports = ["import torch", "from torch import nn"]
    body: list[str] = []
    for line in sched.rstrip("\n").splitlines():
        (imports if line.startswith(("import ", "from ")) else body).append(line)
    while body and not body[0]:
        body.pop(0)
    lines = [*imports, "", "model = nn.Sequential(" + ", ".join(layers) + ")",
             optimizer_code(cfg), "", *body]
    return "\n".join(lines).rstrip("\n") + "\n"


def run_details(store: Store, run_id: int) -> RunDetails:
    """Everything the details screen shows for one stored run."""
    run = store.get_run(run_id)
    epochs = store.epochs(run_id)
    config_dict = store.get_config(run_id)
    try:
        cfg: RunConfig | None = RunConfig.from_dict(config_dict)
    except ValueError:
        cfg = None
    status = run.status + (f" ({run.reason})" if run.reason else "")
    lines = [
        f"label      {run.label or '-'}",
        f"status     {status}",
        f"scheduler  {run.scheduler}",
        f"dataset    {run.dataset}" + (f"  [{run.notice}]" if run.notice else ""),
        f"device     {run.device}",
        f"epochs     {run.epochs_done} of {run.epochs} done"
        + (f", {run.steps_per_epoch} steps each" if run.steps_per_epoch else ""),
    ]
    flat: dict[str, Any] = {}
    for key, value in sorted(config_dict.items()):
        if isinstance(value, dict) and key != "scheduler":
            flat.update({f"{key}.{k}": v for k, v in sorted(value.items())})
        elif key != "scheduler":
            flat[key] = value
    width = max((len(k) for k in flat), default=0)
    lines.append("")
    lines.extend(f"{k:<{width}}  {v}" for k, v in flat.items())
    plateau = any(e.plateau_best is not None for e in epochs)
    columns = ["epoch", "lr", "momentum", "train loss", "valid loss", "valid acc", "seconds"]
    if plateau:
        columns += ["plateau best", "bad epochs", "cooldown"]
    rows = tuple(_epoch_row(e, plateau) for e in epochs)
    code = (pytorch_code(cfg, run.steps_per_epoch) if cfg is not None
            else "# this run's config cannot be read by this version of lrtui\n")
    return RunDetails(title=f"Run {run.id}: {run.label or run.scheduler}",
                      config_lines=tuple(lines), epoch_columns=tuple(columns),
                      epoch_rows=rows, code=code)


def _epoch_row(e: EpochRecord, plateau: bool) -> tuple[str, ...]:
    row = [str(e.epoch), fmt_lr6(e.lr), fmt_lr6(e.momentum), fmt_loss(e.train_loss),
           fmt_loss(e.valid_loss), fmt_acc(e.valid_acc), f"{e.seconds:.2f}"]
    if plateau:
        row += [fmt_loss(e.plateau_best),
                "-" if e.plateau_num_bad_epochs is None else str(e.plateau_num_bad_epochs),
                "-" if e.plateau_cooldown_counter is None else str(e.plateau_cooldown_counter)]
    return tuple(row)


def epochs_csv(run: RunRecord, epochs: list[EpochRecord]) -> str:
    """The run's epochs as CSV with `lrtui runs export`'s columns (empty cells: missing values)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(EPOCH_FIELDS), lineterminator="\n")
    writer.writeheader()
    for e in epochs:
        row: dict[str, Any] = {"run_id": run.id, "label": run.label, "epoch": e.epoch, "lr": e.lr,
                               "momentum": e.momentum, "train_loss": e.train_loss,
                               "valid_loss": e.valid_loss, "valid_acc": e.valid_acc,
                               "seconds": e.seconds}
        writer.writerow({k: ("" if v is None or (isinstance(v, float) and not math.isfinite(v))
                             else v) for k, v in row.items()})
    return buf.getvalue()


def export_run(store: Store, run_id: int, path: str) -> tuple[Path, int]:
    """Write one run's epochs to `path` (atomically); returns the absolute path and the row count.
    Raises OSError / ValueError with a readable message."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"export: {target} is a folder; give a file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"export: the folder {parent} does not exist")
    run = store.get_run(run_id)
    epochs = store.epochs(run_id)
    text = epochs_csv(run, epochs)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target.resolve(), len(epochs)
