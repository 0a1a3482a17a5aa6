"""The run store under faults: its file deleted, replaced or its folder removed while a run writes,
a full disk (SQLite's max_page_count and a real tmpfs), a damaged file or a damaged run, readers
on files they cannot write, and a run deleted by another process while it trains."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lrtui.cli import main
from lrtui.data import synthetic, to_device
from lrtui.engine import EpochEnd, train
from lrtui.model import RunConfig
from lrtui.recorder import Recorder
from lrtui.schedulers import parse_spec
from lrtui.store import (
    MIGRATIONS,
    DamagedRunError,
    EpochRecord,
    NewRun,
    RunDeletedError,
    StepsRecord,
    Store,
    StoreDamagedError,
    StoreError,
    StoreFullError,
    StoreGoneError,
)

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def new_run(label: str = "run") -> NewRun:
    return NewRun(
        batch_id="b", batch_index=0, label=label, scheduler="StepLR:step_size=2", optimizer="sgd",
        lr=0.1, dataset="mnist-sample", device="cpu", epochs=3,
        config=RunConfig(label=label, epochs=3).to_dict(), torch_version="2.x",
    )  # fmt: skip


def epoch(n: int) -> EpochRecord:
    return EpochRecord(n, 1.0 / (n + 1), 0.5, 0.9, 0.1, None, 1.0)


def steps(n: int) -> StepsRecord:
    return StepsRecord(n, 4 * n, (0.1, 0.1, 0.1, 0.1), None)


def lrtui(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# -- the file goes away while a run writes --------------------------------------------------------


@pytest.mark.parametrize("how", ["deleted", "replaced", "folder removed", "wal deleted"])
def test_a_vanished_database_stops_the_writing_with_one_line(tmp_path: Path, how: str) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "runs.db"
    store = Store(db)
    run_id = store.start_run(new_run())
    store.record_epoch(run_id, epoch(0), steps(0), steps_per_epoch=4)
    if how == "deleted":
        for path in folder.glob("runs.db*"):  # rm runs.db*
            path.unlink()
        said = f"database: {db} was deleted while lrtui was writing to it"
    elif how == "replaced":
        other = tmp_path / "other.db"
        Store(other).close()
        os.replace(other, db)
        said = f"database: {db} was replaced by another file while lrtui was writing to it"
    elif how == "wal deleted":
        Path(f"{db}-wal").unlink()  # the committed epoch 0 lives only there until a checkpoint
        said = f"database: {db}-wal (its write-ahead log) was deleted while lrtui was writing to it"
    else:
        shutil.rmtree(folder)
        said = f"database: the folder {folder} was removed while lrtui was writing {db}"
    with pytest.raises(StoreGoneError) as err:
        store.record_epoch(run_id, epoch(1), steps(1), steps_per_epoch=4)
    assert str(err.value) == f"{said}; nothing more can be stored"
    with pytest.raises(StoreGoneError):
        store.end_run(run_id, "finished")
    store.close()
    assert not folder.exists() or how in ("replaced", "wal deleted") or not db.exists()
    if how == "replaced":  # the file now there is not written to
        with Store(db) as fresh:
            assert fresh.list_runs() == []


@pytest.mark.slow
def test_lrtui_run_whose_database_is_deleted_ends_with_exit_1(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    cmd = [
        sys.executable, "-m", "lrtui", "run", "-s", "StepLR:step_size=2", "--dataset",
        "mnist-sample", "--epochs", "100000", "--batch-size", "1000", "--hidden", "8",
        "--device", "cpu", "--db", str(db), "--json",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # epoch 1 is stored before it is printed
        assert json.loads(first)["epoch"] == 1
        for path in tmp_path.glob("runs.db*"):
            path.unlink()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert err == (
        f"lrtui: error: database: {db} was deleted while lrtui was writing to it; nothing "
        "more can be stored\n"
    )
    assert not db.exists()


# -- a full disk ----------------------------------------------------------------------------------


def test_a_full_database_says_disk_full_and_keeps_the_committed_epochs(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with Store(db) as store:
        run_id = store.start_run(new_run())
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLITE_FULL soon
        big = StepsRecord(0, 0, tuple(0.1 for _ in range(4000)), None)  # 32 KB of step LRs
        store.record_epoch(run_id, epoch(0), steps(0))
        with pytest.raises(StoreFullError) as err:
            store.record_epoch(run_id, epoch(1), replace_epoch(big, 1))
        assert str(err.value) == (
            f"database: cannot write {db}: disk full (database or disk is full); the epochs "
            "committed before are kept"
        )
    with Store(db) as store:
        assert [e.epoch for e in store.epochs(run_id)] == [0]
        assert [s.epoch for s in store.steps(run_id)] == [0]


def replace_epoch(rec: StepsRecord, n: int) -> StepsRecord:
    return StepsRecord(n, n * len(rec.lr), rec.lr, rec.momentum)


def test_a_full_disk_mid_training_keeps_the_first_error(tmp_path: Path) -> None:
    """Training stops with the one StoreFullError; closing the runs does not hide it."""
    db = tmp_path / "runs.db"
    data = to_device(synthetic(n_train=2048, n_valid=64, seed=0))
    config = RunConfig(epochs=500, batch_size=8, hidden=(8,), device="cpu",
                       scheduler=parse_spec("StepLR:step_size=2"))  # fmt: skip
    with Store(db) as store:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages + 12}")
        with pytest.raises(StoreFullError, match="disk full"), Recorder(store) as recorder:
            train([config], recorder, data=data)
        done = len(store.epochs(1))
    with Store(db) as store:
        run = store.get_run(1)
        assert 0 < done == run.epochs_done < 500
        assert run.status == "interrupted"  # the end fitted in; never left `running`
        assert run.reason.startswith("the run history could not be written: database: ")


def _small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {exc}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


small_tmpfs = contextlib.contextmanager(_small_tmpfs)


@pytest.mark.slow
def test_lrtui_run_on_a_full_filesystem_says_disk_full_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with small_tmpfs(tmp_path / "mnt", "160k") as mnt:
        db = mnt / "runs.db"
        proc = subprocess.run(
            [
                sys.executable, "-m", "lrtui", "run", "-s", "StepLR:step_size=2", "--dataset",
                "mnist-sample", "--epochs", "100000", "--batch-size", "8", "--hidden", "8",
                "--device", "cpu", "--db", str(db), "--json",
            ],
            capture_output=True, text=True, env=ENV, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"lrtui: error: database: cannot write {db}: disk full (")
        printed = [json.loads(line) for line in proc.stdout.splitlines()]
        # Every epoch printed was committed first, and reads back on the full disk.
        rc, out, _ = lrtui(capsys, "runs", "show", "1", "--json", "--db", str(db))
        assert rc == 0
        stored = json.loads(out)
        assert [e["epoch"] for e in stored["epochs"]] == [p["epoch"] for p in printed]
        assert len(printed) >= 1 and stored["status"] == "interrupted"


# -- damage ---------------------------------------------------------------------------------------


def _populated(db: Path, n: int = 3) -> list[int]:
    with Store(db) as store:
        ids = []
        for i in range(n):
            run_id = store.start_run(new_run(f"run{i}"))
            store.record_epoch(run_id, epoch(0), steps(0), steps_per_epoch=4)
            store.end_run(run_id, "finished")
            ids.append(run_id)
    return ids


def test_a_malformed_page_is_one_damaged_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    _populated(db)
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    conn.close()
    with db.open("r+b") as fh:  # scribble over the runs table's page header
        fh.seek((root - 1) * page_size)
        fh.write(b"\xff" * 16)
    said = (
        f"database: {db} is damaged: database disk image is malformed; try `sqlite3 {db} .recover`"
    )
    for argv in (["list"], ["show", "1"], ["export"], ["delete", "1", "--yes"]):
        rc, out, err = lrtui(capsys, "runs", *argv, "--db", str(db))
        assert (rc, out, err) == (2, "", f"lrtui: error: {said}\n"), argv
    with pytest.raises(StoreDamagedError):
        Store(db).list_runs()


def test_one_damaged_run_does_not_hide_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    a, b, c = _populated(db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE runs SET config = '{\"lr\": 0.1, ' WHERE id = ?", (a,))
    conn.execute("UPDATE steps SET lr = x'0102030405' WHERE run_id = ?", (b,))
    conn.commit()
    conn.close()
    rc, out, err = lrtui(capsys, "runs", "list", "--json", "--db", str(db))
    runs = json.loads(out)
    assert (rc, err, [r["id"] for r in runs]) == (0, "", [a, b, c])
    assert runs[0]["damaged"].startswith("config: not readable JSON (")
    assert runs[0]["config"] == {} and runs[1]["damaged"] == runs[2]["damaged"] == ""
    rc, out, err = lrtui(capsys, "runs", "list", "--db", str(db))
    assert rc == 0 and "finished (damaged)" in out.splitlines()[1] and "run1" in out

    rc, out, err = lrtui(capsys, "runs", "show", str(a), "--db", str(db))
    assert rc == 1 and "  damaged    config: not readable JSON (" in out
    assert err.startswith(f"lrtui: error: run {a} in {db} is damaged: config: not readable JSON")
    assert err.count("\n") == 1
    assert lrtui(capsys, "runs", "show", str(b), "--db", str(db))[0] == 0

    rc, out, err = lrtui(capsys, "runs", "export", "--steps", "--format", "json", "--db", str(db))
    assert rc == 1 and sorted({r["run_id"] for r in json.loads(out)}) == [a, c]
    assert err == (
        f"lrtui: error: run {b} in {db} is damaged: steps of epoch 1: not a float64 array "
        "(5 bytes); its steps are left out\n"
    )
    rc, out, err = lrtui(capsys, "runs", "export", "--format", "json", "--db", str(db))
    assert rc == 1 and sorted({r["run_id"] for r in json.loads(out)}) == [a, b, c]
    assert err.startswith(f"lrtui: error: run {a} in {db} is damaged: config:")
    with Store(db) as store, pytest.raises(DamagedRunError, match=f"run {a} in .* is damaged"):
        store.get_config(a)
    rc, _, err = lrtui(capsys, "run", "--rerun", str(a), "--db", str(db))
    assert rc == 2 and err.startswith(f"lrtui: error: --rerun: run {a} in {db} is damaged")


def test_a_stored_config_with_values_of_the_wrong_type_is_listed_and_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Readable JSON, but a value this version does not write (another version's, or edited):
    `list` and `show` said it through a ValueError traceback; the optimizer's line now says it
    cannot read its settings, the config lists them, and the rest of the run shows."""
    db = tmp_path / "runs.db"
    a, _, _ = _populated(db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE runs SET config = json_set(config, '$.optimizer.momentum', '0.9') "
                 "WHERE id = ?", (a,))
    conn.commit()
    conn.close()
    rc, out, err = lrtui(capsys, "runs", "list", "--db", str(db))
    assert (rc, err) == (0, "") and "sgd (settings unreadable: see the config)" in out
    rc, out, err = lrtui(capsys, "runs", "show", str(a), "--db", str(db))
    assert (rc, err) == (0, "")
    assert "  optimizer  sgd (settings unreadable: see the config)" in out
    assert '  optimizer.momentum      "0.9"' in out
    assert ("# cannot generate the code for this run: ValueError: optimizer.momentum: must be a "
            "number (got '0.9')") in out
    rc, _, err = lrtui(capsys, "run", "--rerun", str(a), "--db", str(db))
    assert rc == 2 and err == ("lrtui: error: --rerun: this lrtui cannot read the stored config "
                               "(optimizer.momentum: must be a number (got '0.9'))\n")


# -- reading without writing ----------------------------------------------------------------------


def test_readers_never_turn_an_empty_or_foreign_file_into_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for argv in (["list"], ["export"]):
        rc, out, err = lrtui(capsys, "runs", *argv, "--db", str(empty))
        assert rc == 0 and err == "", argv
    rc, _, err = lrtui(capsys, "runs", "show", "1", "--db", str(empty))
    assert rc == 2 and "no run 1" in err
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    rc, out, err = lrtui(capsys, "runs", "list", "--db", str(foreign))
    assert (rc, out) == (2, "") and "is an SQLite file but not an lrtui database" in err
    assert foreign.read_bytes() == before


def test_readers_work_on_a_read_only_mount(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    a, _, _ = _populated(src / "runs.db")
    mnt = tmp_path / "ro"
    mnt.mkdir()
    try:
        subprocess.run(
            ["mount", "--bind", "-o", "ro", str(src), str(mnt)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot make a read-only bind mount here (needs root): {exc}")
    try:
        db = mnt / "runs.db"
        rc, out, err = lrtui(capsys, "runs", "list", "--json", "--db", str(db))
        assert (rc, err) == (0, "") and [r["label"] for r in json.loads(out)] == [
            "run0", "run1", "run2"
        ]  # fmt: skip
        assert lrtui(capsys, "runs", "show", str(a), "--db", str(db))[0] == 0
        rc, out, _ = lrtui(capsys, "runs", "export", "--steps", "--db", str(db))
        assert rc == 0 and len(out.splitlines()) == 1 + 3 * 4
        rc, _, err = lrtui(capsys, "runs", "delete", str(a), "--yes", "--db", str(db))
        assert rc == 2 and "read-only" in err
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30)


def test_a_reader_shows_a_dead_writers_run_as_interrupted_without_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    with Store(db) as store:
        run_id = store.start_run(new_run())
        store.record_epoch(run_id, epoch(0), steps(0), steps_per_epoch=4)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE runs SET pid = ?", (proc.pid,))
    conn.commit()
    conn.close()
    rc, out, _ = lrtui(capsys, "runs", "list", "--json", "--db", str(db))
    (run,) = json.loads(out)
    assert (rc, run["status"]) == (0, "interrupted")
    assert run["reason"] == "the lrtui process writing it ended before the run did"
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT status FROM runs").fetchone() == ("running",)  # not rewritten
    conn.close()


# -- a run deleted by another process while it trains ---------------------------------------------


def test_a_deleted_run_raises_run_deleted_and_the_recorder_lets_the_others_go_on(
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.db"
    with Store(db) as store:
        run_id = store.start_run(new_run())
        with Store(db) as other:
            other.delete_runs([run_id])
        with pytest.raises(RunDeletedError, match=f"run {run_id} was deleted from {db}"):
            store.record_epoch(run_id, epoch(0), steps(0))

    data = to_device(synthetic(n_train=256, n_valid=64, seed=0))
    configs = [
        RunConfig(epochs=4, batch_size=64, hidden=(8,), device="cpu", label=name,
                  scheduler=parse_spec("StepLR:step_size=2"))
        for name in ("kept", "deleted")
    ]  # fmt: skip
    heard: list[tuple[int, str]] = []
    with Store(db) as store:
        recorder = Recorder(store, on_deleted=lambda run, msg: heard.append((run, msg)))

        def on_event(event: object) -> None:
            recorder(event)  # type: ignore[arg-type]
            if isinstance(event, EpochEnd) and event.run == 1 and event.epoch == 0:
                with Store(db) as other:  # `lrtui runs delete --force` from elsewhere
                    other.delete_runs([recorder.run_ids[1]])

        with recorder:
            ended = train(configs, on_event, data=data)
        assert [e.status for e in ended] == ["finished", "finished"]
        (kept,) = store.list_runs()
        assert (kept.label, kept.status, kept.epochs_done) == ("kept", "finished", 4)
    assert heard and heard[0][0] == 1 and "was deleted from" in heard[0][1]
    assert len(heard) == 1


def test_a_reader_upgrades_an_older_schema_once_then_reads_read_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_store import make_v1

    db = tmp_path / "v1.db"
    make_v1(db)
    rc, out, err = lrtui(capsys, "runs", "list", "--json", "--db", str(db))
    assert (rc, err) == (0, "") and [r["label"] for r in json.loads(out)] == ["old"]
    with Store(db, read_only=True) as store:
        assert store.read_only and store.schema_version() == len(MIGRATIONS)
        with pytest.raises(StoreError, match="opened read-only"):
            store.start_run(new_run())


def test_a_relative_path_is_still_the_same_file_after_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    with Store("runs.db") as store:
        run_id = store.start_run(new_run())
        monkeypatch.chdir(tmp_path / "elsewhere")  # no runs.db here: not a vanished database
        store.record_epoch(run_id, epoch(0), steps(0))
        store.end_run(run_id, "finished")
    with Store(tmp_path / "runs.db") as store:
        assert store.get_run(run_id).epochs_done == 1
