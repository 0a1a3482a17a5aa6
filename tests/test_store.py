"""The run store: round trips, the Recorder on engine events, liveness, migrations, bad files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lrtui import store as store_mod
from lrtui.store import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    EpochRecord,
    NewRun,
    StepsRecord,
    Store,
    StoreError,
    UnknownRunError,
    pack_floats,
    resolve_db_path,
    unpack_floats,
)


def new_run(**over: object) -> NewRun:
    fields: dict[str, object] = {
        "batch_id": "b1",
        "batch_index": 0,
        "label": "step",
        "scheduler": "StepLR:step_size=10,gamma=0.1",
        "optimizer": "sgd",
        "lr": 0.1,
        "dataset": "mnist-sample",
        "device": "cpu",
        "epochs": 3,
        "config": {"lr": 0.1, "epochs": 3},
        "torch_version": "2.x",
    }
    fields.update(over)
    return NewRun(**fields)  # type: ignore[arg-type]


def dead_pid() -> int:
    """A pid that certainly belonged to a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_new_database_is_wal_with_foreign_keys_stamped_and_current(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "runs.db"
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 5
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "runs", "epochs", "steps", "range_tests"} <= tables


def test_round_trip_exact_values(tmp_path: Path) -> None:
    lrs = tuple(0.1 * 0.95**i for i in range(7))
    moms = tuple(0.85 + 0.01 * i for i in range(7))
    with Store(tmp_path / "r.db") as store:
        rid = store.start_run(new_run(notice="fell back"), started_at=1000.0)
        store.record_epoch(
            rid,
            EpochRecord(0, 2.25, 1.5, 0.625, 0.1, 0.85, 3.5, float("inf"), 0, 0),
            StepsRecord(0, 0, lrs, moms),
            steps_per_epoch=7,
        )
        store.record_epoch(rid, EpochRecord(1, 1.25, 1.75, 0.75, 0.01, None, 3.25))
        store.end_run(rid, "finished", "all epochs done", ended_at=1010.0)
    with Store(tmp_path / "r.db") as store:
        run = store.get_run(rid)
        assert (run.status, run.reason, run.started_at, run.ended_at, run.seconds) == (
            "finished",
            "all epochs done",
            1000.0,
            1010.0,
            10.0,
        )
        assert (run.epochs_done, run.best_valid_loss, run.best_valid_acc) == (2, 1.5, 0.75)
        assert (run.steps_per_epoch, run.notice, run.pid) == (7, "fell back", os.getpid())
        assert run.config == {"lr": 0.1, "epochs": 3}
        assert store.get_config(rid) == {"lr": 0.1, "epochs": 3}
        assert store.epochs(rid) == [
            EpochRecord(0, 2.25, 1.5, 0.625, 0.1, 0.85, 3.5, float("inf"), 0, 0),
            EpochRecord(1, 1.25, 1.75, 0.75, 0.01, None, 3.25),
        ]
        assert store.steps(rid) == [StepsRecord(0, 0, lrs, moms)]
        assert [r.id for r in store.list_runs()] == [rid]


def test_blobs_are_little_endian_float64() -> None:
    blob = pack_floats([0.1, 1e-300, 3.0])
    assert blob[:8] == bytes.fromhex("9a9999999999b93f")
    assert unpack_floats(blob) == (0.1, 1e-300, 3.0)


def test_nan_losses_read_back_as_none_and_json_stays_strict(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        rid = store.start_run(new_run())
        store.record_epoch(rid, EpochRecord(0, float("nan"), float("inf"), 0.1, 0.1, None, 1.0))
        assert store.epochs(rid)[0].train_loss is None
        assert store.epochs(rid)[0].valid_loss == float("inf")
        run = store.get_run(rid)
        assert run.best_valid_loss == float("inf")
        assert json.dumps(run.to_dict(), allow_nan=False)  # inf -> null


def test_unknown_run_and_delete_cascades(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        a = store.start_run(new_run())
        b = store.start_run(new_run(label="other"))
        store.record_epoch(
            a, EpochRecord(0, 1, 1, 0.5, 0.1, None, 1), StepsRecord(0, 0, (0.1,), None)
        )
        with pytest.raises(UnknownRunError, match="no run 99"):
            store.get_run(99)
        with pytest.raises(UnknownRunError, match="no run 99"):
            store.delete_runs([a, 99])
        assert len(store.list_runs()) == 2  # all or nothing
        assert store.delete_runs([a, a]) == 1
        assert [r.id for r in store.list_runs()] == [b]
        assert store.epochs(a) == [] and store.steps(a) == []


def test_threads_share_one_store(tmp_path: Path) -> None:
    """The TUI reads on the UI thread while the training thread writes."""
    errors: list[BaseException] = []
    with Store(tmp_path / "r.db") as store:
        rid = store.start_run(new_run(epochs=200))

        def write() -> None:
            try:
                for e in range(200):
                    store.record_epoch(rid, EpochRecord(e, 1.0, 1.0, 0.5, 0.1, None, 0.1))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        seen = []
        while thread.is_alive():
            seen.append(store.get_run(rid).epochs_done)
            store.epochs(rid)
        thread.join()
        assert not errors
        assert seen == sorted(seen)
        assert store.get_run(rid).epochs_done == 200


# -- liveness ------------------------------------------------------------------------------------


def _force(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_run_of_a_dead_process_becomes_interrupted_keeping_its_epochs(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Store(path) as store:
        dead = store.start_run(new_run(label="dead"), started_at=time.time() - 60)
        mine = store.start_run(new_run(label="mine"))
        remote = store.start_run(new_run(label="remote"))
        for e in range(3):
            store.record_epoch(dead, EpochRecord(e, 1.0, 1.0, 0.5, 0.1, None, 1.0))
    _force(path, "UPDATE runs SET pid = ? WHERE id = ?", dead_pid(), dead)
    _force(path, "UPDATE runs SET updated_at = 1234.5, started_at = 1200 WHERE id = ?", dead)
    _force(path, "UPDATE runs SET host = 'elsewhere', pid = ? WHERE id = ?", dead_pid(), remote)
    with Store(path) as store:
        run = store.get_run(dead)
        assert run.status == "interrupted"
        assert "ended before the run did" in run.reason
        assert (run.ended_at, run.seconds, run.epochs_done) == (1234.5, 34.5, 3)
        assert store.get_run(mine).status == "running"  # this process is alive
        assert store.get_run(remote).status == "running"  # another host: cannot tell
        assert store.mark_interrupted() == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_reused_pid_does_not_keep_a_run_alive(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Store(path) as store:
        rid = store.start_run(new_run(), started_at=time.time() - 10 * 86400)
    # Our pid, but the run claims to have started long before this process did.
    with Store(path) as store:
        assert store.get_run(rid).status == "interrupted"


def test_end_run_rejects_running_status(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        rid = store.start_run(new_run())
        with pytest.raises(ValueError, match="status"):
            store.end_run(rid, "running")  # type: ignore[arg-type]


# -- the Recorder on real engine events ---------------------------------------------------------


def test_recorder_writes_a_training_call_as_it_goes(tmp_path: Path) -> None:
    from lrtui.engine import EpochEnd, Progress, RunEnded, RunStarted, StepChunk
    from lrtui.model import RunConfig
    from lrtui.recorder import Recorder
    from lrtui.schedulers import PlateauState, parse_spec

    configs = [
        RunConfig(
            label="a", epochs=2, lr=0.1, scheduler=parse_spec("StepLR:step_size=1,gamma=0.5")
        ),
        RunConfig(
            label="b", epochs=2, lr=0.05, scheduler=parse_spec("ReduceLROnPlateau:patience=1")
        ),
    ]
    with Store(tmp_path / "r.db") as store, Recorder(store) as rec:
        for i, cfg in enumerate(configs):
            rec(RunStarted(run=i, config=cfg, device="cpu", dataset="mnist-sample", notice=None))
        rec(StepChunk(run=0, epoch=0, first_step=2, lr=(0.1, 0.1), momentum=None))
        rec(StepChunk(run=0, epoch=0, first_step=0, lr=(0.1, 0.1), momentum=None))
        rec(StepChunk(run=1, epoch=0, first_step=0, lr=(0.05,) * 4, momentum=(0.0,) * 4))
        # Epoch 0 of run 0 is committed with its steps before run 1's epoch ends; the steps per
        # epoch come from its complete chunks (no Progress event came yet).
        rec(EpochEnd(0, 0, 2.0, 1.5, 0.5, 0.1, None, 1.0, None))
        rec(Progress(0, 3, 4, 3, 8, 100.0, (1.0, 1.0), 0.5))  # ignored
        a, b = rec.run_ids[0], rec.run_ids[1]
        assert store.epochs(a)[0].valid_loss == 1.5 and store.epochs(b) == []
        assert store.steps(a) == [StepsRecord(0, 0, (0.1,) * 4, None)]
        rec(EpochEnd(1, 0, 2.5, 1.75, 0.25, 0.05, 0.0, 1.0, PlateauState(1.75, 0, 0)))
        rec(StepChunk(run=0, epoch=1, first_step=0, lr=(0.05,) * 4, momentum=None))
        rec(EpochEnd(0, 1, 1.0, 1.25, 0.75, 0.05, None, 1.0, None))
        rec(RunEnded(0, "finished", "", 2))
        rec(StepChunk(run=1, epoch=1, first_step=0, lr=(0.05, 0.05), momentum=(0.0, 0.0)))
        rec(RunEnded(1, "stopped", "stopped by the user", 1))
        assert rec.close() == []  # both ended already

        runs = store.list_runs()
        assert [r.status for r in runs] == ["finished", "stopped"]
        assert runs[0].batch_id == runs[1].batch_id == rec.batch_id
        assert [r.steps_per_epoch for r in runs] == [4, 4]
        assert [s.first_step for s in store.steps(a)] == [0, 4]
        assert [r.batch_index for r in runs] == [0, 1]
        assert (runs[0].scheduler, runs[0].optimizer, runs[0].lr) == (
            "StepLR:step_size=1,gamma=0.5",
            "sgd",
            0.1,
        )
        assert RunConfig.from_dict(store.get_config(b)) == configs[1]
        assert store.epochs(b)[0].plateau_best == 1.75
        assert store.epochs(b)[0].plateau_num_bad_epochs == 0
        # The stopped run keeps the steps of its unfinished epoch.
        assert store.steps(b)[1] == StepsRecord(1, 4, (0.05, 0.05), (0.0, 0.0))
        assert runs[1].reason == "stopped by the user"
        assert runs[1].seconds is not None and runs[1].seconds >= 0


def test_recorder_closes_open_runs_as_failed_when_training_raises(tmp_path: Path) -> None:
    from lrtui.engine import RunStarted
    from lrtui.model import RunConfig
    from lrtui.recorder import Recorder

    with Store(tmp_path / "r.db") as store:
        with pytest.raises(RuntimeError), Recorder(store) as rec:
            rec(RunStarted(run=0, config=RunConfig(), device="cpu", dataset="mnist", notice=None))
            raise RuntimeError("CUDA out of memory")
        run = store.list_runs()[0]
        assert (run.status, run.reason) == ("failed", "RuntimeError: CUDA out of memory")
        with pytest.raises(KeyboardInterrupt), Recorder(store) as rec:
            rec(RunStarted(run=0, config=RunConfig(), device="cpu", dataset="mnist", notice=None))
            raise KeyboardInterrupt
        assert store.list_runs()[1].status == "interrupted"


# -- migrations and files that are not ours -----------------------------------------------------


def make_v1(path: Path) -> None:
    """A database exactly as lrtui's schema v1 left it, with one finished run."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute(
        "INSERT INTO runs (batch_id, batch_index, label, scheduler, optimizer, lr, dataset, device,"
        " epochs, config, status, reason, started_at, ended_at, seconds, lrtui_version,"
        " torch_version, pid, host) VALUES ('b', 0, 'old', 'StepLR', 'sgd', 0.1, 'mnist', 'cpu',"
        " 25, '{}', 'finished', '', 100.0, 150.0, 50.0, '0.0.9', '2.3', 1, 'h')"
    )
    conn.execute(
        "INSERT INTO epochs (run_id, epoch, lr, seconds, valid_loss) VALUES (1, 0, 0.1, 2.0, 0.5)"
    )
    conn.close()


def test_v1_database_migrates_forward_keeping_runs(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    make_v1(path)
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        run = store.get_run(1)
        assert (run.label, run.epochs_done, run.best_valid_loss, run.steps_per_epoch) == (
            "old",
            1,
            0.5,
            None,
        )
        assert store.steps(1) == []
        store.record_epoch(
            1, EpochRecord(1, 1, 1, 1, 0.1, None, 1), StepsRecord(1, 5, (0.1,), None)
        )
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT updated_at FROM runs").fetchone()[0] is not None


def test_v4_records_every_older_run_as_the_mlp_it_was(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    make_v1(path)
    conn = sqlite3.connect(path)
    conn.execute("""UPDATE runs SET config = '{"hidden": [256, 128]}'""")
    conn.execute(
        "INSERT INTO runs (batch_id, batch_index, label, scheduler, optimizer, lr, dataset, device,"
        " epochs, config, status, reason, started_at, lrtui_version, torch_version, pid, host)"
        " VALUES ('b', 1, 'default', 'StepLR', 'sgd', 0.1, 'mnist', 'cpu', 25, '{}', 'finished',"
        " '', 100.0, '0.0.9', '2.3', 1, 'h')"
    )
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert [(r.model, r.model_shape) for r in store.list_runs()] == [
            ("mlp", "784-256-128-10"),
            ("mlp", "784-64-32-10"),  # no hidden stored: the default it trained with
        ]


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Store(path).close()
    _force(path, "UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="schema version 7, newer than this lrtui") as err:
        Store(path)
    assert "\n" not in str(err.value)
    assert path.read_bytes() == before


def test_a_failing_migration_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v1.db"
    make_v1(path)
    broken = ("CREATE TABLE half_done (x)", "INSERT INTO no_such_table VALUES (1)")
    monkeypatch.setattr(store_mod, "MIGRATIONS", [*MIGRATIONS, broken])
    failing = len(MIGRATIONS) + 1
    with pytest.raises(StoreError, match=rf"from schema v1 to v{failing} failed.*unchanged"):
        Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta").fetchone()[0] == "1"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables and "steps" not in tables  # v2 rolled back with v3
    conn.close()
    monkeypatch.undo()
    with Store(path) as store:  # and the real migrations still apply afterwards
        assert store.schema_version() == SCHEMA_VERSION


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n")
    with pytest.raises(StoreError, match="not an lrtui database \\(not an SQLite file\\)"):
        Store(path)
    assert path.read_text() == "shopping list\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_another_apps_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key, value)")
    conn.execute("CREATE TABLE photos (id)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"an SQLite file but not an lrtui database.*meta, photos"):
        Store(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal: mode unchanged


def test_unusable_paths_are_refused_without_creating_anything(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        Store(blocker / "runs.db")
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store("/proc/lrtui-test/runs.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_db_path_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LRTUI_DB", str(tmp_path / "env.db"))
    assert resolve_db_path(None) == tmp_path / "env.db"
    assert resolve_db_path(str(tmp_path / "x.db")) == tmp_path / "x.db"
    monkeypatch.delenv("LRTUI_DB")
    import platformdirs

    assert resolve_db_path(None) == Path(platformdirs.user_data_dir("lrtui")) / "runs.db"


def test_recorder_on_a_real_training_call(tmp_path: Path) -> None:
    """Every EpochEnd and StepChunk the engine emits is in the store, numbers unchanged."""
    from lrtui.data import synthetic, to_device
    from lrtui.engine import EpochEnd, Event, RunEnded, StepChunk, train
    from lrtui.model import OptimizerConfig, RunConfig
    from lrtui.recorder import Recorder
    from lrtui.schedulers import parse_spec

    data = to_device(synthetic(n_train=200, n_valid=50, seed=0))
    base = RunConfig(epochs=3, batch_size=32, device="cpu")
    configs = [
        replace(base, scheduler=parse_spec("StepLR:step_size=1,gamma=0.5"), label="step"),
        replace(
            base,
            scheduler=parse_spec("OneCycleLR:max_lr=0.5"),
            optimizer=OptimizerConfig(momentum=0.9),
        ),
        replace(base, scheduler=parse_spec("ConstantLR"), lr=1e6, label="boom"),
    ]
    events: list[Event] = []
    with Store(tmp_path / "r.db") as store, Recorder(store) as rec:

        def on_event(event: Event) -> None:
            events.append(event)
            rec(event)

        ended = train(configs, on_event, data=data)
        runs = store.list_runs()
        assert [r.status for r in runs] == [e.status for e in ended]
        assert [r.status for r in runs] == ["finished", "finished", "diverged"]
        assert runs[1].scheduler == "OneCycleLR:max_lr=0.5,total_steps=21"  # resolved
        assert [r.steps_per_epoch for r in runs] == [7, 7, 7]
        for i, run in enumerate(runs):
            epochs = [e for e in events if isinstance(e, EpochEnd) and e.run == i]
            chunks = [e for e in events if isinstance(e, StepChunk) and e.run == i]
            (end,) = [e for e in events if isinstance(e, RunEnded) and e.run == i]
            assert run.epochs_done == len(epochs) == end.epochs_done
            stored = store.epochs(run.id)
            assert [(s.epoch, s.lr, s.momentum, s.seconds) for s in stored] == [
                (e.epoch, e.lr, e.momentum, e.seconds) for e in epochs
            ]
            for s, e in zip(stored, epochs, strict=True):
                for got, want in ((s.train_loss, e.train_loss), (s.valid_loss, e.valid_loss)):
                    assert got == want or (got is None and want != want)  # NaN -> None
            steps = store.steps(run.id)
            assert [(s.epoch, s.first_step, s.lr, s.momentum) for s in steps] == [
                (c.epoch, 7 * c.epoch + c.first_step, c.lr, c.momentum) for c in chunks
            ]
