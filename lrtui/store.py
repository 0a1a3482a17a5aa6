"""SQLite run history, written while runs train so that a crash loses at most the epoch in progress.

One file (`runs.db` in the user data dir, or `--db PATH` / env `LRTUI_DB`) in WAL mode, so a
training process and any number of readers (the TUI, `lrtui runs list` in another terminal) share
it. Every write is one short `BEGIN IMMEDIATE` transaction, retried while another process holds
the lock.

LR range tests (`lrtui find-lr`, the TUI's `f`) are kept in the same file (`range_tests`, one
row per swept curve, schema v3), written once a sweep is over.

This module is core: it imports neither torch nor textual, so `lrtui runs list` starts fast.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import struct
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast, get_args

from lrtui import __version__
from lrtui.numbering import epoch_number

Status = Literal["running", "finished", "stopped", "diverged", "interrupted", "failed"]
STATUSES: Final[tuple[str, ...]] = get_args(Status)
ENDED_STATUSES: Final[tuple[str, ...]] = tuple(s for s in STATUSES if s != "running")

#: PRAGMA application_id in the file header ("LRTU"): tells our files from other SQLite files.
APPLICATION_ID: Final = 0x4C525455
#: Seconds one statement waits for another process's lock before SQLite reports "busy".
BUSY_TIMEOUT_S: Final = 5.0
#: Overall seconds a write keeps retrying while the database stays busy.
RETRY_FOR_S: Final = 30.0

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"

# Forward migrations: MIGRATIONS[i] takes a database from schema version i to i + 1. Never edit a
# released entry; append a new one. All pending entries run in one transaction (SQLite DDL is
# transactional), so a database is never left half-migrated.
MIGRATIONS: list[tuple[str, ...]] = [
    # v1: runs and their per-epoch metrics.
    (
        """CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE runs (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            batch_id      TEXT    NOT NULL,          -- shared by the runs of one train() call
            batch_index   INTEGER NOT NULL,          -- the run's index in that call
            label         TEXT    NOT NULL,
            scheduler     TEXT    NOT NULL,          -- format_spec() of the scheduler
            optimizer     TEXT    NOT NULL,          -- sgd / adam / adamw
            lr            REAL    NOT NULL,          -- base LR
            dataset       TEXT    NOT NULL,          -- actually used (after any fallback)
            device        TEXT    NOT NULL,
            epochs        INTEGER NOT NULL,          -- planned
            config        TEXT    NOT NULL,          -- RunConfig JSON
            notice        TEXT,                      -- e.g. why the dataset fell back
            status        TEXT    NOT NULL CHECK (status IN ('running', 'finished', 'stopped',
                                                   'diverged', 'interrupted', 'failed')),
            reason        TEXT    NOT NULL DEFAULT '',
            started_at    REAL    NOT NULL,          -- unix time
            ended_at      REAL,
            seconds       REAL,                      -- wall time from start to end
            lrtui_version TEXT    NOT NULL,
            torch_version TEXT    NOT NULL,
            pid           INTEGER NOT NULL,          -- the writing process, to detect a dead writer
            host          TEXT    NOT NULL
        )""",
        "CREATE INDEX runs_status ON runs (status)",
        """CREATE TABLE epochs (
            run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            epoch       INTEGER NOT NULL,
            train_loss  REAL,                        -- NULL when not a number
            valid_loss  REAL,
            valid_acc   REAL,
            lr          REAL    NOT NULL,            -- LR of the epoch's first step
            momentum    REAL,
            seconds     REAL    NOT NULL,
            plateau_best             REAL,           -- ReduceLROnPlateau state after the epoch
            plateau_num_bad_epochs   INTEGER,
            plateau_cooldown_counter INTEGER,
            PRIMARY KEY (run_id, epoch)
        ) WITHOUT ROWID""",
    ),
    # v2: the exact LR (and momentum) of every optimizer step, one compact row per run per epoch;
    # the steps in an epoch; a heartbeat (time of the run's last write) to date an interruption.
    (
        """CREATE TABLE steps (
            run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            epoch      INTEGER NOT NULL,
            first_step INTEGER NOT NULL,             -- global index of the row's first step
            lr         BLOB    NOT NULL,             -- little-endian float64 array
            momentum   BLOB,                         -- same length as lr, or NULL
            PRIMARY KEY (run_id, epoch)
        ) WITHOUT ROWID""",
        "ALTER TABLE runs ADD COLUMN steps_per_epoch INTEGER",
        "ALTER TABLE runs ADD COLUMN updated_at REAL",
        "UPDATE runs SET updated_at = COALESCE(ended_at, started_at)",
    ),
    # v3: LR range tests (lrtui find-lr, the TUI's `f`): one row per swept curve.
    (
        """CREATE TABLE range_tests (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            batch_id      TEXT    NOT NULL,          -- shared by the curves swept in one pass
            batch_index   INTEGER NOT NULL,          -- the curve's index in that pass
            label         TEXT    NOT NULL,
            optimizer     TEXT    NOT NULL,          -- sgd / adam / adamw
            dataset       TEXT    NOT NULL,          -- actually used (after any fallback)
            device        TEXT    NOT NULL,
            config        TEXT    NOT NULL,          -- RunConfig JSON (lr, epochs: unused)
            settings      TEXT    NOT NULL,          -- sweep JSON: start, end, steps, ...
            lrs           BLOB    NOT NULL,          -- little-endian float64 arrays, one value
            losses        BLOB    NOT NULL,          --   per step taken (NaN kept as NaN)
            smoothed      BLOB    NOT NULL,
            suggestions   TEXT    NOT NULL,          -- JSON: method -> {lr, loss, index, ...}
            stopped_early INTEGER NOT NULL,          -- 1 when the loss diverged before the end
            stop_reason   TEXT    NOT NULL DEFAULT '',
            notice        TEXT,                      -- e.g. why the dataset fell back
            created_at    REAL    NOT NULL,          -- unix time the sweep ended
            seconds       REAL    NOT NULL,          -- wall time of the sweep
            lrtui_version TEXT    NOT NULL,
            torch_version TEXT    NOT NULL,
            host          TEXT    NOT NULL
        )""",
    ),
    # v4: the model family (lrtui.engine.MODELS) and its shape; every run before it was an MLP.
    (
        "ALTER TABLE runs ADD COLUMN model TEXT NOT NULL DEFAULT 'mlp'",
        "ALTER TABLE runs ADD COLUMN model_shape TEXT",  # e.g. 784-64-32-10
        "UPDATE runs SET model_shape = '784-' || replace(replace(replace("
        "COALESCE(json_extract(config, '$.hidden'), '[64,32]'), '[', ''), ']', ''), ',', '-')"
        " || '-10'",
    ),
    # v5: groups of seeds and sweeps (`lrtui run --seeds N`, value sets in braces): runs of one
    # spec and settings share group_id; seed_index pairs runs across groups (same initial weights
    # and data order); sweep holds the swept values as JSON [[key, value], ...].
    (
        "ALTER TABLE runs ADD COLUMN group_id TEXT",  # "<command id>.<group number>"
        "ALTER TABLE runs ADD COLUMN group_label TEXT",
        "ALTER TABLE runs ADD COLUMN seed_index INTEGER",
        "ALTER TABLE runs ADD COLUMN sweep TEXT",
        "CREATE INDEX runs_group ON runs (group_id)",
    ),
]
SCHEMA_VERSION: Final = len(MIGRATIONS)


class StoreError(Exception):
    """A problem with the run database, as one readable line (commands show it and exit 2)."""


class UnknownRunError(StoreError):
    """No run with that id in the database."""


class RunDeletedError(StoreError):
    """A run this process writes was deleted by another process (`lrtui runs delete --force`)."""

    def __init__(self, message: str, run_id: int) -> None:
        super().__init__(message)
        self.run_id = run_id


class DamagedRunError(StoreError):
    """One run's stored config or step blob cannot be read; the other runs are fine."""

    def __init__(self, message: str, run_id: int) -> None:
        super().__init__(message)
        self.run_id = run_id


class StoreGoneError(StoreError):
    """The database file was deleted, replaced, or its folder removed while this process had it
    open: what it writes from then on would be lost, so writing stops."""


class StoreFullError(StoreError):
    """The disk (or the file's size limit) is full: the transaction was rolled back, the
    epochs committed before it are intact."""


class StoreDamagedError(StoreError):
    """SQLite found a malformed page: the file is damaged (`sqlite3 FILE .recover` may save it)."""


class UnknownRangeTestError(StoreError):
    """No LR range test with that id in the database."""


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class RunGroup:
    """Where a run belongs in a comparison: its group (one spec and settings over seeds) and its
    seed index, which pairs it with the runs of other groups trained from the same seed."""

    id: str  # unique per group: "<command id>.<group number>"
    label: str  # what tells the group from the others: its spec and swept values
    seed_index: int  # i of seed SEED+i
    sweep: tuple[tuple[str, str], ...] = ()  # swept (key, value text), e.g. (("gamma", "0.3"),)


@dataclass(frozen=True)
class NewRun:
    """What opens a run row; the store adds pid, host, lrtui version and the start time."""

    batch_id: str
    batch_index: int
    label: str
    scheduler: str
    optimizer: str
    lr: float
    dataset: str
    device: str
    epochs: int
    config: dict[str, Any]
    torch_version: str
    notice: str | None = None
    model: str = "mlp"  # the model family (RunConfig.model)
    model_shape: str | None = None  # its shape as the family says it, e.g. "784-64-32-10"
    group_id: str | None = None  # runs of one spec and settings across seeds (None: no group)
    group_label: str | None = None
    seed_index: int | None = None  # i of seed SEED+i: pairs runs across groups
    sweep: tuple[tuple[str, str], ...] = ()  # swept (key, value text) of the group


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch. A loss is None where training produced NaN (SQLite stores it as NULL)."""

    epoch: int
    train_loss: float | None
    valid_loss: float | None
    valid_acc: float | None
    lr: float
    momentum: float | None
    seconds: float
    plateau_best: float | None = None
    plateau_num_bad_epochs: int | None = None
    plateau_cooldown_counter: int | None = None


@dataclass(frozen=True)
class StepsRecord:
    """The LR (and momentum) of each optimizer step of one epoch, from global step `first_step`."""

    epoch: int
    first_step: int
    lr: tuple[float, ...]
    momentum: tuple[float, ...] | None


@dataclass(frozen=True)
class RunRecord:
    """One run row plus what its epochs sum up to (epochs done, best validation numbers)."""

    id: int
    batch_id: str
    batch_index: int
    label: str
    scheduler: str
    optimizer: str
    lr: float
    dataset: str
    device: str
    epochs: int
    notice: str | None
    status: Status
    reason: str
    started_at: float
    ended_at: float | None
    seconds: float | None
    lrtui_version: str
    torch_version: str
    pid: int
    host: str
    steps_per_epoch: int | None
    config: dict[str, Any]  # the RunConfig dict the run started with
    epochs_done: int
    best_valid_loss: float | None
    best_valid_acc: float | None
    model: str = "mlp"  # the model family
    model_shape: str | None = None  # e.g. "784-64-32-10"
    group_id: str | None = None  # schema v5: its group of seeds / sweep point (None: none)
    group_label: str | None = None
    seed_index: int | None = None
    sweep: tuple[tuple[str, str], ...] = ()  # the group's swept (key, value text)
    #: What of this run cannot be read ("config: ..."); "" when it reads whole.
    damaged: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (non-finite floats become None so the output is strict JSON)."""
        return {k: _json_float(v) for k, v in self.__dict__.items()}

    @property
    def ended(self) -> bool:
        return self.status != "running"


@dataclass(frozen=True)
class NewRangeTest:
    """One swept curve of an LR range test, written once the sweep is over."""

    batch_id: str
    batch_index: int
    label: str
    optimizer: str
    dataset: str
    device: str
    config: dict[str, Any]
    settings: dict[str, Any]
    lrs: tuple[float, ...]
    losses: tuple[float, ...]  # raw loss of each step (NaN where it was not a number)
    smoothed: tuple[float, ...]
    suggestions: dict[str, Any]  # JSON-ready: method -> {lr, loss, index, reason, ...}
    stopped_early: bool
    stop_reason: str
    seconds: float
    torch_version: str
    notice: str | None = None


@dataclass(frozen=True)
class RangeTestRecord:
    """A stored range-test curve, with what the store adds (id, time, versions, host)."""

    id: int
    batch_id: str
    batch_index: int
    label: str
    optimizer: str
    dataset: str
    device: str
    config: dict[str, Any]
    settings: dict[str, Any]
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    suggestions: dict[str, Any]
    stopped_early: bool
    stop_reason: str
    notice: str | None
    created_at: float
    seconds: float
    lrtui_version: str
    torch_version: str
    host: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN and infinities in the curves become None)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, tuple):
                out[key] = [_json_float(v) for v in value]
            else:
                out[key] = _json_float(value)
        return out


def _json_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def pack_floats(values: Sequence[float]) -> bytes:
    """Little-endian float64 array: 8 bytes a step, the same on every machine."""
    return struct.pack(f"<{len(values)}d", *values)


def unpack_floats(blob: bytes) -> tuple[float, ...]:
    """The inverse of pack_floats; ValueError for a blob that is not whole float64s."""
    if not isinstance(blob, bytes) or len(blob) % 8:
        what = f"{len(blob)} bytes" if isinstance(blob, bytes | str) else type(blob).__name__
        raise ValueError(f"not a float64 array ({what})")
    return struct.unpack(f"<{len(blob) // 8}d", blob)


# ---------------------------------------------------------------------------------------------
# Locations and liveness


def default_db_path() -> Path:
    """`$LRTUI_DB` when set, else `runs.db` in the platform's user data dir for lrtui."""
    env = os.environ.get("LRTUI_DB", "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("lrtui")) / "runs.db"


def resolve_db_path(path: str | os.PathLike[str] | None) -> Path:
    """An explicit `--db` wins over `$LRTUI_DB`, which wins over the default location."""
    if path is None or str(path) == "":
        return default_db_path()
    return Path(path).expanduser()


def check_location(path: Path) -> None:
    """Raise StoreError when no database could ever be created at `path` (a file where a folder
    must be). Used by readers too, which never create anything."""
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise StoreError(f"database: cannot use {path}: {ancestor} is a file, not a folder")
            return


def this_host() -> str:
    return socket.gethostname()


def _process_start_time(pid: int) -> float | None:
    """Unix time the process started (Linux /proc only), to tell a reused pid from our writer."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 22 (starttime, clock ticks after boot) counted after the parenthesised command name.
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def pid_alive(pid: int, *, since: float | None = None) -> bool:
    """Whether `pid` on this host is still the process that started at or before `since`.

    On systems without a cheap, safe check (Windows: os.kill would terminate the process) a pid
    counts as alive, so runs are never marked interrupted wrongly.
    """
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    if since is not None:
        started = _process_start_time(pid)
        # /proc's start time has clock-tick resolution; allow a couple of seconds of slack.
        if started is not None and started > since + 2.0:
            return False  # the pid was reused by a process that started after the run
    return True


def still_training(run: RunRecord) -> str | None:
    """Why `run` cannot simply be deleted now, or None: it is marked running and its writer is
    alive on this host, or it is marked running by another host (whose pids cannot be checked)."""
    if run.status != "running":
        return None
    if run.host != this_host():
        return f"run {run.id} is marked running by pid {run.pid} on host {run.host}"
    if pid_alive(run.pid, since=run.started_at):
        return f"run {run.id} is still training (pid {run.pid})"
    return None


# ---------------------------------------------------------------------------------------------
# The store

_T = TypeVar("_T")

_RANGE_TEST_COLUMNS: Final = (
    "id, batch_id, batch_index, label, optimizer, dataset, device, config, settings, lrs, losses,"
    " smoothed, suggestions, stopped_early, stop_reason, notice, created_at, seconds,"
    " lrtui_version, torch_version, host"
)

_RUN_COLUMNS: Final = (
    "r.id, r.batch_id, r.batch_index, r.label, r.scheduler, r.optimizer, r.lr, r.dataset, "
    "r.device, r.epochs, r.notice, r.status, r.reason, r.started_at, r.ended_at, r.seconds, "
    "r.lrtui_version, r.torch_version, r.pid, r.host, "
    # Runs trained together share their steps per epoch (a run that ended early may not know it).
    "COALESCE(r.steps_per_epoch, (SELECT MAX(b.steps_per_epoch) FROM runs b"
    " WHERE b.batch_id = r.batch_id)), r.config, "
    "(SELECT COUNT(*) FROM epochs e WHERE e.run_id = r.id), "
    "(SELECT MIN(valid_loss) FROM epochs e WHERE e.run_id = r.id), "
    "(SELECT MAX(valid_acc) FROM epochs e WHERE e.run_id = r.id), r.model, r.model_shape, "
    "r.group_id, r.group_label, r.seed_index, r.sweep"
)


def _sweep_of(text: str | None) -> tuple[tuple[str, str], ...]:
    """A stored sweep column back as pairs; () for none or an unreadable one."""
    if not text:
        return ()
    try:
        pairs = json.loads(text)
        return tuple((str(k), str(v)) for k, v in pairs)
    except (ValueError, TypeError):
        return ()


def _error_name(exc: sqlite3.Error) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    name = _error_name(exc)
    if name:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    text = str(exc)
    return "locked" in text or "busy" in text


def _is_damage(exc: sqlite3.Error) -> bool:
    """A malformed page, or a file whose SQLite header is followed by no database (NOTADB is only
    asked after the header was checked, so it means damage too)."""
    name = _error_name(exc)
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _is_full(exc: sqlite3.Error) -> bool:
    name = _error_name(exc)
    if name:
        return name == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and "full" in str(exc))
    return "disk is full" in str(exc)


#: The files SQLite keeps next to a WAL database while it is open.
_SIDECARS: Final = ("-wal", "-shm")
_DEAD_WRITER: Final = "the lrtui process writing it ended before the run did"


def _config_or_damage(text: Any) -> tuple[dict[str, Any], str]:
    """A stored config JSON as a dict, or ({}, what is wrong with it)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        return {}, f"config: not readable JSON ({exc})"
    if not isinstance(value, dict):
        return {}, f"config: not a JSON object ({type(value).__name__})"
    return value, ""


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Store:
    """The run database. Thread-safe: one connection guarded by a lock, so the TUI's UI thread can
    read while its training thread writes; other processes share the file through WAL.

    Raises StoreError with one readable line when the path cannot hold a database, is not an lrtui
    database, is read-only, is damaged, or comes from a newer lrtui. Use as a context manager or
    call close().

    `read_only=True` (the commands that only read: `lrtui runs list/show/export`) opens the file
    with SQLite's `mode=ro`: nothing is created, upgraded or marked, so a chmod 444 file or a
    read-only mount reads fine and an empty or foreign file is never turned into a database.
    Runs whose writer died read as `interrupted` there without being rewritten.

    Every write first checks that the path still names the file this store opened (same device
    and inode): a database deleted, replaced or whose folder was removed while a run writes ends
    the writing with StoreGoneError instead of committing into a file nobody will see again.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, mark_dead: bool = True, read_only: bool = False
    ) -> None:
        self.path = Path(path) if str(path) != ":memory:" else Path(":memory:")
        self._memory = str(path) == ":memory:"
        self.read_only = read_only and not self._memory
        self._lock = threading.RLock()
        if self.read_only:
            self._conn = self._connect_read_only()
        else:
            self._conn = self._connect()
        # Absolute: the identity checks must not follow a later chdir of the process.
        self._abs = self.path if self._memory else self.path.absolute()
        self._identity = None if self._memory else _identity(self._abs)
        self._sidecars: tuple[tuple[int, int] | None, ...] = (None, None)
        try:
            self._check_ours()
            if self.read_only:
                self._check_readable_version()
                return
            self._enable_wal()
            self._migrate()
            if mark_dead:
                self.mark_interrupted()
        except BaseException:
            self._conn.close()
            raise

    # -- opening -------------------------------------------------------------------------------

    def _where(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        if not self._memory:
            self._check_path()
        try:
            conn = sqlite3.connect(
                self._where(),
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
                check_same_thread=False,  # guarded by self._lock
            )
        except sqlite3.Error as exc:
            raise StoreError(f"database: cannot open {self.path}: {exc}") from None
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """Open for reading only. Where the file and its folder are writable, an ordinary
        connection with `PRAGMA query_only` (so that, as the last one to close, it tidies the
        WAL files away); else SQLite's `mode=ro`, and on a read-only mount, where SQLite cannot
        make the WAL's -shm file, `immutable` (nothing can write there anyway)."""
        self._check_header()
        base = "file:" + urllib.parse.quote(str(self.path.absolute()))
        writable = os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK | os.X_OK)
        modes = ("?mode=rw",) if writable else ("?mode=ro", "?mode=ro&immutable=1")
        last: sqlite3.Error | None = None
        for query in modes:
            try:
                conn = sqlite3.connect(
                    base + query,
                    uri=True,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                last = exc
                continue
            try:
                conn.execute("PRAGMA query_only = ON")
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # reads the file
                return conn
            except sqlite3.Error as exc:
                conn.close()
                if _is_damage(exc):
                    raise self._damaged(exc) from None
                last = exc
        raise StoreError(f"database: cannot open {self.path} to read it: {last}") from None

    def _check_header(self) -> None:
        """The file must be a folder-free SQLite file (or empty): read its first 16 bytes."""
        path = self.path
        if path.is_dir():
            raise StoreError(f"database: {path} is a directory, not a database file")
        try:
            with path.open("rb") as fh:
                header = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise StoreError(f"database: cannot read {path}: {exc.strerror}") from None
        if header and header != _SQLITE_MAGIC:
            raise StoreError(f"database: {path} is not an lrtui database (not an SQLite file)")

    def _check_path(self) -> None:
        """Refuse unusable paths before SQLite creates anything there."""
        path = self.path
        if path.exists():
            self._check_header()
            if not os.access(path, os.W_OK):
                raise StoreError(
                    f"database: {path} is read-only; lrtui needs to write to it "
                    "(fix its permissions, or copy it and pass --db COPY)"
                )
            parent = path.parent
            if not os.access(parent, os.W_OK | os.X_OK):
                raise StoreError(
                    f"database: the folder {parent} is read-only; SQLite needs to write its "
                    "journal next to the database"
                )
            return
        if path.is_dir():
            raise StoreError(f"database: {path} is a directory, not a database file")
        check_location(path)
        parent = path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"database: cannot create the folder {parent}: {exc.strerror or exc}"
            ) from None
        if not parent.is_dir():
            raise StoreError(f"database: {parent} is not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StoreError(f"database: cannot create {path}: the folder {parent} is read-only")

    def _check_ours(self) -> None:
        """A non-empty SQLite file must be an lrtui database (our PRAGMA application_id)."""
        try:
            app_id = int(self._conn.execute("PRAGMA application_id").fetchone()[0])
            tables = {
                str(r[0])
                for r in self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            }
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                raise self._damaged(exc) from None
            raise StoreError(f"database: {self.path} is not an lrtui database ({exc})") from None
        if app_id == APPLICATION_ID or (not tables and app_id == 0):
            return
        shown = ", ".join(sorted(tables)[:5]) or "none"
        raise StoreError(
            f"database: {self.path} is an SQLite file but not an lrtui database (tables: {shown})"
        )

    def _check_readable_version(self) -> None:
        """A reader needs the current schema; an older file is upgraded once by a writable open
        (the only write a reading command may cause), a newer one is refused."""
        current = self._read_version()
        if current in (0, SCHEMA_VERSION):
            return
        if current > SCHEMA_VERSION:
            raise self._newer(current, SCHEMA_VERSION)
        self._conn.close()
        try:
            Store(self.path, mark_dead=False).close()
        except StoreError as exc:
            raise StoreError(
                f"database: {self.path} has schema v{current}, older than this lrtui's "
                f"v{SCHEMA_VERSION}, and cannot be upgraded: {exc}"
            ) from None
        self._conn = self._connect_read_only()
        self._identity = _identity(self._abs)

    @property
    def empty(self) -> bool:
        """No lrtui tables yet (a new or empty file opened read-only): it holds no runs."""
        with self._lock:
            return self._read_version() == 0

    def _enable_wal(self) -> None:
        try:
            self._retry(lambda: self._conn.execute("PRAGMA journal_mode = WAL").fetchone())
        except sqlite3.OperationalError as exc:
            raise self._write_error(exc) from None

    def _damaged(self, exc: sqlite3.Error) -> StoreDamagedError:
        return StoreDamagedError(
            f"database: {self.path} is damaged: {exc}; try `sqlite3 {self.path} .recover`"
        )

    def _write_error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if _is_damage(exc):
            return self._damaged(exc)
        if _is_full(exc):
            return StoreFullError(
                f"database: cannot write {self.path}: disk full ({text}); the epochs committed "
                "before are kept"
            )
        if _error_name(exc) == "SQLITE_READONLY_DBMOVED":
            return self._gone_error() or StoreGoneError(
                f"database: {self.path} was moved while lrtui was writing to it"
            )
        if "readonly" in text or "read-only" in text:
            return StoreError(f"database: {self.path} is read-only; lrtui needs to write to it")
        return StoreError(f"database: cannot write {self.path}: {text}")

    def _gone_error(self) -> StoreGoneError | None:
        """Why the path no longer names the file this store opened, or None while it does."""
        if self._memory or self._identity is None:
            return None
        now = _identity(self._abs)
        lost = "nothing more can be stored"
        if now == self._identity:
            wal = self._sidecars[0]  # ours since the last commit; SQLite never swaps it while open
            if wal is not None and _identity(Path(f"{self._abs}-wal")) != wal:
                return StoreGoneError(
                    f"database: {self.path}-wal (its write-ahead log) was deleted while lrtui was "
                    f"writing to it; {lost}"
                )
            return None
        if now is not None:
            why = "was replaced by another file"
        elif not self._abs.parent.is_dir():
            return StoreGoneError(
                f"database: the folder {self.path.parent} was removed while lrtui was writing "
                f"{self.path}; {lost}"
            )
        else:
            why = "was deleted"
        return StoreGoneError(f"database: {self.path} {why} while lrtui was writing to it; {lost}")

    def _check_still_there(self) -> None:
        gone = self._gone_error()
        if gone is not None:
            raise gone

    def schema_version(self) -> int:
        """The version the file is at (0 for a new, empty file)."""
        with self._lock:
            return self._read_version()

    def _read_version(self) -> int:
        try:
            has_meta = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()
            if not has_meta:
                return 0
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                raise self._damaged(exc) from None
            raise StoreError(f"database: cannot read {self.path}: {exc}") from None
        try:
            return int(row[0]) if row else 0
        except ValueError:
            raise StoreError(
                f"database: {self.path} has an unreadable schema version ({row[0]!r})"
            ) from None

    def _migrate(self) -> None:
        """Bring the file up to len(MIGRATIONS) in one transaction, or leave it as it was."""
        target = len(MIGRATIONS)
        with self._lock:
            # Quick read first: an up-to-date database needs no write lock at all.
            current = self._read_version()
            if current == target:
                return
            if current > target:
                raise self._newer(current, target)
            try:
                with self._transaction():
                    # Again, under the write lock: another process may have migrated meanwhile.
                    current = self._read_version()
                    if current > target:
                        raise self._newer(current, target)
                    for version in range(current, target):
                        for statement in MIGRATIONS[version]:
                            self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self._conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(target),),
                    )
            except sqlite3.Error as exc:
                if "readonly" in str(exc) or _is_damage(exc) or _is_full(exc):
                    raise self._write_error(exc) from None
                raise StoreError(
                    f"database: upgrading {self.path} from schema v{current} to v{target} failed "
                    f"({exc}); the file is unchanged"
                ) from None

    def _newer(self, found: int, known: int) -> StoreError:
        return StoreError(
            f"database: {self.path} has schema version {found}, newer than this lrtui "
            f"{__version__} understands ({known}); upgrade lrtui to use it"
        )

    # -- transactions ------------------------------------------------------------------------------

    def _retry(self, fn: Callable[[], _T]) -> _T:
        """Call fn, retrying while another process holds the database lock (beyond busy_timeout)."""
        deadline = time.monotonic() + RETRY_FOR_S
        delay = 0.01
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE (take the write lock first: no deadlock upgrading a read); COMMIT.
        The file must still be the one opened, before and after (StoreGoneError)."""
        with self._lock:
            self._check_still_there()
            self._retry(lambda: self._conn.execute("BEGIN IMMEDIATE"))
            try:
                yield self._conn
            except BaseException:
                with suppress(sqlite3.Error):  # a failed statement may have rolled back already
                    self._conn.execute("ROLLBACK")
                raise
            try:
                self._retry(lambda: self._conn.execute("COMMIT"))
            except sqlite3.Error:
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            self._check_still_there()
            if not self._memory:
                self._sidecars = self._sidecar_ids()

    def _write(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run fn in one write transaction; SQLite errors become StoreError."""
        if self.read_only:
            raise StoreError(f"database: {self.path} was opened read-only")
        try:
            with self._transaction() as conn:
                return fn(conn)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"database: {exc}") from None
        except sqlite3.Error as exc:
            raise self._write_error(exc) from None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._retry(lambda: self._conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                if _is_damage(exc):
                    raise self._damaged(exc) from None
                raise StoreError(f"database: cannot read {self.path}: {exc}") from None

    def _sidecar_ids(self) -> tuple[tuple[int, int] | None, ...]:
        return tuple(_identity(Path(f"{self._abs}{suffix}")) for suffix in _SIDECARS)

    def close(self) -> None:
        """Close the connection. A failure here (a full disk at the last checkpoint) loses
        nothing committed: the WAL file keeps it and the next open applies it.

        When the database was deleted or replaced under it, SQLite leaves this store's WAL
        files behind; next to a replacement they would be applied to the wrong database, so
        they are removed (only while they are still the very files this store wrote)."""
        with self._lock:
            with suppress(sqlite3.Error):
                self._conn.close()
            if self._memory or self.read_only or _identity(self._abs) == self._identity:
                return  # the database is where it was: its WAL files are shared, leave them
            for suffix, ours in zip(_SIDECARS, self._sidecars, strict=True):
                side = Path(f"{self._abs}{suffix}")
                if ours is not None and _identity(side) == ours:
                    with suppress(OSError):
                        side.unlink()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------------

    def start_run(self, run: NewRun, *, started_at: float | None = None) -> int:
        """Insert a run with status running, written by this process; returns its id."""
        when = time.time() if started_at is None else started_at

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO runs (batch_id, batch_index, label, scheduler, optimizer, lr, dataset,"
                " device, epochs, config, notice, status, reason, started_at, updated_at,"
                " lrtui_version, torch_version, pid, host, model, model_shape, group_id,"
                " group_label, seed_index, sweep) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " 'running', '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.batch_id,
                    run.batch_index,
                    run.label,
                    run.scheduler,
                    run.optimizer,
                    run.lr,
                    run.dataset,
                    run.device,
                    run.epochs,
                    json.dumps(run.config, sort_keys=True),
                    run.notice,
                    when,
                    when,
                    __version__,
                    run.torch_version,
                    os.getpid(),
                    this_host(),
                    run.model,
                    run.model_shape,
                    run.group_id,
                    run.group_label,
                    run.seed_index,
                    json.dumps([list(c) for c in run.sweep]) if run.sweep else None,
                ),
            )
            return int(cast(int, cur.lastrowid))

        return self._write(insert)

    def record_epoch(
        self,
        run_id: int,
        epoch: EpochRecord,
        steps: StepsRecord | None = None,
        *,
        steps_per_epoch: int | None = None,
    ) -> None:
        """Write one finished epoch and its steps together: the unit a crash can lose.
        `steps_per_epoch`, when given, is kept on the run (the first value given wins)."""

        def insert(conn: sqlite3.Connection) -> None:
            self._check_run_exists(conn, run_id)
            conn.execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, train_loss, valid_loss, valid_acc,"
                " lr, momentum, seconds, plateau_best, plateau_num_bad_epochs,"
                " plateau_cooldown_counter) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    epoch.epoch,
                    _finite_or_none(epoch.train_loss),
                    _finite_or_none(epoch.valid_loss),
                    _finite_or_none(epoch.valid_acc),
                    epoch.lr,
                    epoch.momentum,
                    epoch.seconds,
                    _finite_or_none(epoch.plateau_best),
                    epoch.plateau_num_bad_epochs,
                    epoch.plateau_cooldown_counter,
                ),
            )
            if steps is not None:
                self._insert_steps(conn, run_id, steps)
            conn.execute(
                "UPDATE runs SET updated_at = ?, steps_per_epoch = COALESCE(steps_per_epoch, ?)"
                " WHERE id = ?",
                (time.time(), steps_per_epoch, run_id),
            )

        self._write(insert)

    def record_steps(self, run_id: int, steps: StepsRecord) -> None:
        """Write the steps of an epoch that ended without an epoch row (a run stopped midway)."""

        def insert(conn: sqlite3.Connection) -> None:
            self._check_run_exists(conn, run_id)
            self._insert_steps(conn, run_id, steps)

        self._write(insert)

    def _check_run_exists(self, conn: sqlite3.Connection, run_id: int) -> None:
        """RunDeletedError when another process deleted the run this one is writing."""
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise RunDeletedError(
                f"run {run_id} was deleted from {self.path} by another process while it trained; "
                "its later epochs are not stored",
                run_id,
            )

    def _insert_steps(self, conn: sqlite3.Connection, run_id: int, steps: StepsRecord) -> None:
        if steps.momentum is not None and len(steps.momentum) != len(steps.lr):
            raise StoreError(
                f"steps: momentum has {len(steps.momentum)} values for {len(steps.lr)} steps"
            )
        conn.execute(
            "INSERT OR REPLACE INTO steps (run_id, epoch, first_step, lr, momentum)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                run_id,
                steps.epoch,
                steps.first_step,
                pack_floats(steps.lr),
                None if steps.momentum is None else pack_floats(steps.momentum),
            ),
        )

    def end_run(
        self,
        run_id: int,
        status: Status,
        reason: str = "",
        *,
        ended_at: float | None = None,
        seconds: float | None = None,
        steps_per_epoch: int | None = None,
    ) -> None:
        """Close a run: its final status, why, and when (and its steps per epoch, if not known)."""
        if status not in ENDED_STATUSES:
            raise ValueError(f"status: must be one of {', '.join(ENDED_STATUSES)} (got {status!r})")
        when = time.time() if ended_at is None else ended_at

        def update(conn: sqlite3.Connection) -> None:
            self._check_run_exists(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = ?, reason = ?, ended_at = ?, updated_at = ?,"
                " seconds = COALESCE(?, ? - started_at),"
                " steps_per_epoch = COALESCE(steps_per_epoch, ?) WHERE id = ?",
                (status, reason, when, when, seconds, when, steps_per_epoch, run_id),
            )

        self._write(update)

    def mark_interrupted(self) -> list[int]:
        """Runs left `running` by a process on this host that no longer exists become `interrupted`
        (their epochs stay). Runs written from other hosts are left alone: we cannot see their pids.
        Returns the ids changed."""
        host = this_host()
        rows = self._read(
            "SELECT id, pid, started_at FROM runs WHERE status = 'running' AND host = ?", (host,)
        )
        dead = [int(r[0]) for r in rows if not pid_alive(int(r[1]), since=float(r[2]))]
        if not dead:
            return []

        def update(conn: sqlite3.Connection) -> list[int]:
            changed = []
            for run_id in dead:
                cur = conn.execute(
                    "UPDATE runs SET status = 'interrupted', reason = ?, ended_at = updated_at,"
                    " seconds = updated_at - started_at WHERE id = ? AND status = 'running'",
                    (_DEAD_WRITER, run_id),
                )
                if cur.rowcount:
                    changed.append(run_id)
            return changed

        return self._write(update)

    def delete_runs(self, run_ids: Sequence[int]) -> int:
        """Delete runs with their epochs and steps, all or none (an unknown id: UnknownRunError)."""
        ids = list(dict.fromkeys(run_ids))

        def delete(conn: sqlite3.Connection) -> int:
            for run_id in ids:
                if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                    raise UnknownRunError(f"run id: no run {run_id} in {self.path}")
            for run_id in ids:
                conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            return len(ids)

        return self._write(delete)

    # -- reading ----------------------------------------------------------------------------------

    def _run_from_row(self, row: tuple[Any, ...]) -> RunRecord:
        (
            run_id, batch_id, batch_index, label, scheduler, optimizer, lr, dataset, device, epochs,
            notice, status, reason, started_at, ended_at, seconds, lrtui_version, torch_version,
            pid, host, steps_per_epoch, config, epochs_done, best_loss, best_acc, model,
            model_shape, group_id, group_label, seed_index, sweep,
        ) = row  # fmt: skip
        config_dict, damaged = _config_or_damage(config)
        record = RunRecord(
            id=run_id, batch_id=batch_id, batch_index=batch_index, label=label,
            scheduler=scheduler, optimizer=optimizer, lr=lr, dataset=dataset, device=device,
            epochs=epochs, notice=notice, status=status, reason=reason, started_at=started_at,
            ended_at=ended_at, seconds=seconds, lrtui_version=lrtui_version,
            torch_version=torch_version, pid=pid, host=host, steps_per_epoch=steps_per_epoch,
            config=config_dict, epochs_done=epochs_done, best_valid_loss=best_loss,
            best_valid_acc=best_acc, model=model, model_shape=model_shape, damaged=damaged,
            group_id=group_id, group_label=group_label, seed_index=seed_index,
            sweep=_sweep_of(sweep),
        )  # fmt: skip
        return self._as_seen(record) if self.read_only else record

    def _as_seen(self, run: RunRecord) -> RunRecord:
        """A reader cannot mark a dead writer's run: it shows it as mark_interrupted would."""
        if run.status != "running" or run.host != this_host():
            return run
        if pid_alive(run.pid, since=run.started_at):
            return run
        rows = self._read("SELECT updated_at FROM runs WHERE id = ?", (run.id,))
        updated = float(rows[0][0]) if rows and rows[0][0] is not None else run.started_at
        return replace(
            run,
            status="interrupted",
            reason=_DEAD_WRITER,
            ended_at=updated,
            seconds=updated - run.started_at,
        )

    def data_version(self) -> int:
        """SQLite's change counter for this connection: it moves when another connection (another
        lrtui process) commits, not on this one's own writes. Reading it costs microseconds, so the
        app polls it to notice runs written elsewhere (`lrtui.session.Session.poll_store`)."""
        return int(self._read("PRAGMA data_version")[0][0])

    def list_runs(self) -> list[RunRecord]:
        """Every run, oldest first (a run whose config cannot be read is listed, `damaged`)."""
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs r ORDER BY r.id")
        return [self._run_from_row(r) for r in rows]

    def get_run(self, run_id: int) -> RunRecord:
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,))
        if not rows:
            raise UnknownRunError(f"run id: no run {run_id} in {self.path}")
        return self._run_from_row(rows[0])

    def get_runs(self, run_ids: Sequence[int]) -> list[RunRecord]:
        """The runs with these ids in the order given (an unknown id: UnknownRunError)."""
        return [self.get_run(run_id) for run_id in run_ids]

    def get_config(self, run_id: int) -> dict[str, Any]:
        """The RunConfig dict the run was started with (RunConfig.from_dict rebuilds it)."""
        rows = self._read("SELECT config FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise UnknownRunError(f"run id: no run {run_id} in {self.path}")
        config, damaged = _config_or_damage(rows[0][0])
        if damaged:
            raise DamagedRunError(f"run {run_id} in {self.path} is damaged: {damaged}", run_id)
        return config

    def epochs(self, run_id: int) -> list[EpochRecord]:
        """The run's finished epochs in order."""
        rows = self._read(
            "SELECT epoch, train_loss, valid_loss, valid_acc, lr, momentum, seconds, plateau_best,"
            " plateau_num_bad_epochs, plateau_cooldown_counter FROM epochs WHERE run_id = ?"
            " ORDER BY epoch",
            (run_id,),
        )
        return [EpochRecord(*row) for row in rows]

    def steps(self, run_id: int) -> list[StepsRecord]:
        """The run's per-step LR rows in epoch order."""
        rows = self._read(
            "SELECT epoch, first_step, lr, momentum FROM steps WHERE run_id = ? ORDER BY epoch",
            (run_id,),
        )
        records = []
        for e, f, lr, m in rows:
            try:
                lrs = unpack_floats(lr)
                momentum = None if m is None else unpack_floats(m)
                if momentum is not None and len(momentum) != len(lrs):
                    raise ValueError(f"{len(momentum)} momenta for {len(lrs)} steps")
            except ValueError as exc:
                raise DamagedRunError(
                    f"run {run_id} in {self.path} is damaged: steps of epoch {epoch_number(e)}: "
                    f"{exc}", run_id
                ) from None
            records.append(StepsRecord(epoch=int(e), first_step=int(f), lr=lrs, momentum=momentum))
        return records

    # -- LR range tests ---------------------------------------------------------------------------

    def save_range_tests(
        self, tests: Sequence[NewRangeTest], *, created_at: float | None = None
    ) -> list[int]:
        """Insert the curves of one range test together (all or none); returns their ids."""
        when = time.time() if created_at is None else created_at
        for test in tests:
            if not (len(test.lrs) == len(test.losses) == len(test.smoothed)):
                raise StoreError(
                    f"range test: lrs, losses and smoothed differ in length ({len(test.lrs)}, "
                    f"{len(test.losses)}, {len(test.smoothed)})"
                )

        def insert(conn: sqlite3.Connection) -> list[int]:
            ids = []
            for t in tests:
                cur = conn.execute(
                    f"INSERT INTO range_tests ({_RANGE_TEST_COLUMNS.removeprefix('id, ')})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        t.batch_id,
                        t.batch_index,
                        t.label,
                        t.optimizer,
                        t.dataset,
                        t.device,
                        json.dumps(t.config, sort_keys=True),
                        json.dumps(t.settings, sort_keys=True),
                        pack_floats(t.lrs),
                        pack_floats(t.losses),
                        pack_floats(t.smoothed),
                        json.dumps(t.suggestions, sort_keys=True, allow_nan=False),
                        int(t.stopped_early),
                        t.stop_reason,
                        t.notice,
                        when,
                        t.seconds,
                        __version__,
                        t.torch_version,
                        this_host(),
                    ),
                )
                ids.append(int(cast(int, cur.lastrowid)))
            return ids

        try:
            return self._write(insert)
        except ValueError as exc:  # json.dumps of a NaN in the suggestions
            raise StoreError(f"range test: suggestions must be finite JSON ({exc})") from None

    def _range_test_from_row(self, row: tuple[Any, ...]) -> RangeTestRecord:
        try:
            return self._range_test_record(row)
        except (TypeError, ValueError) as exc:  # unreadable JSON or float blobs
            raise StoreError(
                f"database: range test {row[0]} in {self.path} is damaged: {exc}"
            ) from None

    def _range_test_record(self, row: tuple[Any, ...]) -> RangeTestRecord:
        (
            test_id, batch_id, batch_index, label, optimizer, dataset, device, config, settings,
            lrs, losses, smoothed, suggestions, stopped_early, stop_reason, notice, created_at,
            seconds, lrtui_version, torch_version, host,
        ) = row  # fmt: skip
        return RangeTestRecord(
            id=test_id, batch_id=batch_id, batch_index=batch_index, label=label,
            optimizer=optimizer, dataset=dataset, device=device, config=json.loads(config),
            settings=json.loads(settings), lrs=unpack_floats(lrs), losses=unpack_floats(losses),
            smoothed=unpack_floats(smoothed), suggestions=json.loads(suggestions),
            stopped_early=bool(stopped_early), stop_reason=stop_reason, notice=notice,
            created_at=created_at, seconds=seconds, lrtui_version=lrtui_version,
            torch_version=torch_version, host=host,
        )  # fmt: skip

    def list_range_tests(self) -> list[RangeTestRecord]:
        """Every stored range-test curve, oldest first."""
        rows = self._read(f"SELECT {_RANGE_TEST_COLUMNS} FROM range_tests ORDER BY id")
        return [self._range_test_from_row(r) for r in rows]

    def get_range_test(self, test_id: int) -> RangeTestRecord:
        rows = self._read(f"SELECT {_RANGE_TEST_COLUMNS} FROM range_tests WHERE id = ?", (test_id,))
        if not rows:
            raise UnknownRangeTestError(f"range test id: no range test {test_id} in {self.path}")
        return self._range_test_from_row(rows[0])

    def delete_range_tests(self, test_ids: Sequence[int]) -> int:
        """Delete range-test curves, all or none (an unknown id: UnknownRangeTestError)."""
        ids = list(dict.fromkeys(test_ids))

        def delete(conn: sqlite3.Connection) -> int:
            for test_id in ids:
                found = conn.execute("SELECT 1 FROM range_tests WHERE id = ?", (test_id,))
                if found.fetchone() is None:
                    raise UnknownRangeTestError(
                        f"range test id: no range test {test_id} in {self.path}"
                    )
            for test_id in ids:
                conn.execute("DELETE FROM range_tests WHERE id = ?", (test_id,))
            return len(ids)

        return self._write(delete)
