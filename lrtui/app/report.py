"""Run details and CSV export, read from the store (the same numbers `lrtui runs show` prints).

Non-widget code: the details screen and the export action only receive what these functions return.
The wording, the numbers, the export rows and the code snippet come from the core `lrtui.report`,
shared with `lrtui runs`; what is the app's own here is which of them the screen shows, and how.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

from lrtui import report as R
from lrtui.app.screens import RunDetails
from lrtui.model import RunConfig
from lrtui.report import EPOCH_FIELDS
from lrtui.store import EpochRecord, RunRecord, Store

# The facts of `lrtui runs show` that the details screen shows, in its order.
DETAIL_FACTS: tuple[str, ...] = ("label", "status", "scheduler", "dataset", "device", "epochs")


def pytorch_code(cfg: RunConfig, steps_per_epoch: int | None) -> str:
    """Plain PyTorch for the run's model, optimizer and scheduler, compact; a scheduler that
    cannot be built becomes a comment in its place (the model and optimizer still show)."""
    try:
        return R.pytorch_code(cfg, steps_per_epoch, compact=True)
    except Exception as exc:  # a config from another version must not break the details screen
        note = f"# cannot generate the scheduler code: {type(exc).__name__}: {exc}"
        return R.pytorch_code(
            cfg, steps_per_epoch, compact=True, scheduler=R.SchedulerCode((), (note,)))


def run_details(store: Store, run_id: int) -> RunDetails:
    """Everything the details screen shows for one stored run."""
    run = store.get_run(run_id)
    epochs = store.epochs(run_id)
    config_dict = store.get_config(run_id)
    try:
        cfg: RunConfig | None = RunConfig.from_dict(config_dict)
    except ValueError:
        cfg = None
    lines = [f"{key:<10} {value}" for key, value in R.run_facts(run) if key in DETAIL_FACTS]
    flat = {k: v for k, v in R.flat_config(config_dict).items() if k != "scheduler"}
    width = max((len(k) for k in flat), default=0)
    lines.append("")
    lines.extend(f"{k:<{width}}  {v}" for k, v in flat.items())
    columns, rows = R.epoch_table(epochs)
    code = (pytorch_code(cfg, run.steps_per_epoch) if cfg is not None
            else "# this run's config cannot be read by this version of lrtui\n")
    return RunDetails(title=f"Run {run.id}: {run.label or run.scheduler}",
                      config_lines=tuple(lines), epoch_columns=tuple(columns),
                      epoch_rows=tuple(tuple(row) for row in rows), code=code)


def epochs_csv(run: RunRecord, epochs: list[EpochRecord]) -> str:
    """The run's epochs as CSV with `lrtui runs export`'s columns (empty cells: missing values)."""
    return R.to_csv(R.epoch_rows(run, epochs), EPOCH_FIELDS)


def default_export_path(run_id: int) -> Path:
    """Where the export screen proposes to write run `run_id`'s CSV, as an absolute path: the
    user's documents folder (platformdirs) when it exists, else the current folder."""
    documents = Path(platformdirs.user_documents_dir()).expanduser()
    folder = documents if documents.is_dir() else Path.cwd()
    return folder.resolve() / f"lrtui-run-{run_id}.csv"


def export_problem(exc: Exception) -> str:
    """Why `export_run` wrote nothing, in one line for the export screen."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"not written: {exc.strerror} ({exc.filename})"
    return str(exc)


def export_run(store: Store, run_id: int, path: str) -> tuple[Path, int]:
    """Write one run's epochs to `path` with lrtui.report.write_file (a file atomically, keeping
    its mode; a device or FIFO written through, never waiting for a FIFO's reader; a symlink's
    target); returns the file written and the row count. Raises OSError / ValueError."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"export: {target} is a folder; give a file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"export: the folder {parent} does not exist")
    for own in (store.path, Path(f"{store.path}-wal"), Path(f"{store.path}-shm")):
        with contextlib.suppress(OSError):
            if os.path.samefile(target, own):
                raise ValueError(
                    f"export: {target} is the run database {own.name}; give another file")
    run = store.get_run(run_id)
    epochs = store.epochs(run_id)
    written = R.write_file(target, epochs_csv(run, epochs), wait_for_reader=False)
    return written.resolve(), len(epochs)
