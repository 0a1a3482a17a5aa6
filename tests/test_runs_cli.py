"""`lrtui runs list/show/export/delete`, bad databases, two processes at once, SIGKILL mid-run."""

from __future__ import annotations

import csv
import inspect
import io
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrtui.cli import main
from lrtui.store import EpochRecord, NewRun, StepsRecord, Store

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

EPOCHS_A = [
    EpochRecord(0, 2.302585092994046, 0.6931471805599453, 0.8125, 0.1, 0.9, 1.5),
    EpochRecord(1, 0.5772156649015329, 0.4142135623730951, 0.90625, 0.1, 0.9, 1.25),
    EpochRecord(2, 0.3183098861837907, 0.4472135954999579, 0.9375, 0.010000000000000002, 0.9, 1.0),
]
STEPS_A = [
    StepsRecord(e, 4 * e, (0.1, 0.1, 0.1, 0.1) if e < 2 else (0.010000000000000002,) * 4, None)
    for e in range(3)
]
EPOCH_B = EpochRecord(0, 1.75, 1.5, 0.5, 0.004, 0.95, 2.0, 1.5, 0, 0)
STEPS_B = StepsRecord(0, 0, (0.004, 0.0052, 0.0064, 0.0076), (0.95, 0.94, 0.93, 0.92))


def run_config(**over: object) -> dict[str, object]:
    """A RunConfig dict as the engine writes it."""
    from lrtui.model import OptimizerConfig, RunConfig
    from lrtui.schedulers import parse_spec

    spec = str(over.pop("scheduler", "StepLR:step_size=2,gamma=0.1"))
    optimizer = over.pop("optimizer", OptimizerConfig(name="sgd", momentum=0.9))
    cfg = RunConfig(scheduler=parse_spec(spec), optimizer=optimizer, **over)  # type: ignore[arg-type]
    return cfg.to_dict()


def populate(path: Path) -> tuple[int, int]:
    """Two runs with exact numbers: A finished 3 epochs (4 steps each), B stopped after 1."""
    from lrtui.model import OptimizerConfig

    with Store(path) as store:
        a = store.start_run(
            NewRun(
                batch_id="batch-1",
                batch_index=0,
                label="step",
                scheduler="StepLR:step_size=2,gamma=0.1",
                optimizer="sgd",
                lr=0.1,
                dataset="mnist-sample",
                device="cpu",
                epochs=3,
                config=run_config(label="step", epochs=3, dataset="mnist-sample"),
                torch_version="2.x",
            ),
            started_at=1_700_000_000.0,
        )
        for epoch, steps in zip(EPOCHS_A, STEPS_A, strict=True):
            store.record_epoch(a, epoch, steps, steps_per_epoch=4)
        store.end_run(a, "finished", "", ended_at=1_700_000_004.0)
        b = store.start_run(
            NewRun(
                batch_id="batch-1",
                batch_index=1,
                label="",
                scheduler="ReduceLROnPlateau:patience=1",
                optimizer="adamw",
                lr=0.004,
                dataset="mnist-sample",
                device="cpu",
                epochs=5,
                config=run_config(
                    scheduler="ReduceLROnPlateau:patience=1",
                    optimizer=OptimizerConfig(name="adamw", weight_decay=0.01),
                    lr=0.004,
                    epochs=5,
                ),
                torch_version="2.x",
            ),
            started_at=1_700_000_000.0,
        )
        store.record_epoch(b, EPOCH_B, STEPS_B, steps_per_epoch=4)
        store.end_run(b, "stopped", "stopped by the user", ended_at=1_700_000_002.0)
    return a, b


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "runs.db"
    populate(path)
    return path


def lrtui(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, *parts: str) -> None:
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("lrtui: error: "), err
    for part in parts:
        assert part in err, err


# -- list ----------------------------------------------------------------------------------------


def test_list_on_a_missing_database_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nowhere" / "runs.db"
    rc, out, _ = lrtui(capsys, "runs", "list", "--db", str(path))
    assert rc == 0 and out == f"No runs in {path} (no database there yet).\n"
    assert lrtui(capsys, "runs", "list", "--json", "--db", str(path))[:2] == (0, "[]\n")
    assert list(tmp_path.iterdir()) == []


def test_list_table(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = lrtui(capsys, "runs", "list", "--db", str(db))
    assert rc == 0
    header, row_a, row_b = out.splitlines()
    assert header.split() == [
        "ID", "LABEL", "SCHEDULER", "OPTIMIZER", "DATASET", "EPOCHS", "BEST", "VLOSS", "BEST",
        "VACC", "STATUS", "STARTED",
    ]  # fmt: skip
    assert row_a.split()[:7] == [
        "1", "step", "StepLR:step_size=2,gamma=0.1", "sgd", "lr=0.1", "m=0.9", "mnist-sample",
    ]  # fmt: skip
    assert row_a.split()[7:11] == ["3/3", "0.4142", "93.75%", "finished"]
    assert row_b.split()[:7] == [
        "2", "-", "ReduceLROnPlateau:patience=1", "adamw", "lr=0.004", "wd=0.01", "mnist-sample",
    ]  # fmt: skip
    assert row_b.split()[7:11] == ["1/5", "1.5000", "50.00%", "stopped"]


def test_list_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = lrtui(capsys, "runs", "list", "--json", "--db", str(db))
    runs = json.loads(out)
    assert rc == 0 and [r["id"] for r in runs] == [1, 2]
    a = runs[0]
    assert (a["label"], a["status"], a["epochs_done"], a["epochs"]) == ("step", "finished", 3, 3)
    assert (a["best_valid_loss"], a["best_valid_acc"]) == (0.4142135623730951, 0.9375)
    assert (a["dataset"], a["batch_id"], a["steps_per_epoch"]) == ("mnist-sample", "batch-1", 4)
    assert a["config"]["label"] == "step"
    assert (runs[1]["status"], runs[1]["reason"]) == ("stopped", "stopped by the user")


def test_db_given_before_the_subcommand_or_through_the_environment(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, out, _ = lrtui(capsys, "--db", str(db), "runs", "list", "--json")
    assert rc == 0 and len(json.loads(out)) == 2
    monkeypatch.setenv("LRTUI_DB", str(db))
    rc, out, _ = lrtui(capsys, "runs", "list", "--json")
    assert rc == 0 and len(json.loads(out)) == 2


# -- show ----------------------------------------------------------------------------------------


def test_show_text(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = lrtui(capsys, "runs", "show", "1", "--db", str(db))
    assert rc == 0
    assert "  status     finished\n" in out
    assert "  epochs     3 of 3 done, 4 steps each\n" in out
    assert "  optimizer  sgd lr=0.1 m=0.9\n" in out
    epochs = out.split("\nEpochs\n")[1].split("\n\n")[0].splitlines()
    # epochs numbered from 1 (lrtui.numbering)
    assert epochs[1].split() == ["1", "0.1", "0.9", "2.3026", "0.6931", "81.25%", "1.50"]
    assert epochs[3].split() == ["3", "0.01", "0.9", "0.3183", "0.4472", "93.75%", "1.00"]
    code = out.split("\nPyTorch code\n")[1]
    assert "optimizer = torch.optim.SGD(\n" in code
    assert "    model.parameters(), lr=0.1, momentum=0.9, dampening=0.0,\n" in code
    assert '  optimizer.name          "sgd"\n' in out
    assert "scheduler = StepLR(optimizer, step_size=2, gamma=0.1)" in code


def test_show_json_has_the_code_that_rebuilds_the_schedule(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = lrtui(capsys, "runs", "show", "2", "--json", "--db", str(db))
    shown = json.loads(out)
    assert rc == 0 and shown["id"] == 2 and shown["status"] == "stopped"
    assert shown["epochs"] == [
        {"run_id": 2, "label": "", **EPOCH_B.__dict__, "epoch": EPOCH_B.epoch + 1},
    ]  # the epoch numbered from 1
    code = shown["code"]
    assert "optimizer = torch.optim.AdamW(\n" in code
    assert "model.parameters(), lr=0.004, betas=(0.9, 0.999), eps=1e-08," in code
    assert "weight_decay=0.01" in code
    assert "ReduceLROnPlateau(optimizer, patience=1)" in code
    assert "scheduler.step(valid_loss)" in code
    # The snippet runs as plain PyTorch.
    namespace: dict[str, object] = {}
    exec(compile(code, "<snippet>", "exec"), namespace)
    assert type(namespace["scheduler"]).__name__ == "ReduceLROnPlateau"


def test_unknown_id(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = lrtui(capsys, "runs", "show", "9", "--db", str(db))
    assert_one_line_error(rc, err, "run id: no run 9 in")
    rc, _, err = lrtui(capsys, "runs", "show", "1", "--db", str(tmp_path / "none.db"))
    assert_one_line_error(rc, err, "no run 1", "no database there yet")
    assert not (tmp_path / "none.db").exists()


# -- export --------------------------------------------------------------------------------------


def _epoch_rows_expected() -> list[dict[str, object]]:
    rows = [(1, "step", e) for e in EPOCHS_A] + [(2, "", EPOCH_B)]
    return [
        {
            "run_id": rid,
            "label": label,
            "epoch": e.epoch + 1,  # exports number epochs from 1
            "lr": e.lr,
            "momentum": e.momentum,
            "train_loss": e.train_loss,
            "valid_loss": e.valid_loss,
            "valid_acc": e.valid_acc,
            "seconds": e.seconds,
        }
        for rid, label, e in rows
    ]


def _from_csv(text: str) -> list[dict[str, object]]:
    ints = {"run_id", "epoch", "step"}
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        out.append(
            {
                k: (int(v) if k in ints else v if k == "label" else float(v) if v else None)
                for k, v in row.items()
            }
        )
    return out


def test_export_csv_and_json_parse_back_to_the_stored_numbers(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = _epoch_rows_expected()
    rc, out, _ = lrtui(capsys, "runs", "export", "--format", "csv", "--db", str(db))
    assert rc == 0 and _from_csv(out) == expected
    assert (
        out.splitlines()[0]
        == "run_id,label,epoch,lr,momentum,train_loss,valid_loss,valid_acc,seconds"
    )
    rc, out, _ = lrtui(capsys, "runs", "export", "--format", "json", "--db", str(db))
    assert rc == 0 and json.loads(out) == expected

    target = tmp_path / "out.json"  # format from the suffix
    rc, out, err = lrtui(capsys, "runs", "export", "2", "-o", str(target), "--db", str(db))
    assert rc == 0 and out == "" and "Wrote 1 epoch rows" in err
    assert json.loads(target.read_text()) == expected[3:]


def test_export_steps(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "steps.csv"
    rc, _, _ = lrtui(
        capsys, "runs", "export", "2", "1", "--steps", "-o", str(target), "--db", str(db)
    )
    rows = _from_csv(target.read_text())
    assert rc == 0 and len(rows) == 4 + 12
    assert rows[:4] == [
        {"run_id": 2, "epoch": 1, "step": i, "lr": lr, "momentum": m}  # numbered from 1
        for i, (lr, m) in enumerate(zip(STEPS_B.lr, STEPS_B.momentum or (), strict=True), 1)
    ]
    assert rows[4 + 11] == {
        "run_id": 1, "epoch": 3, "step": 12, "lr": 0.010000000000000002, "momentum": None,
    }  # fmt: skip
    rc, out, _ = lrtui(
        capsys, "runs", "export", "1", "--steps", "--format", "json", "--db", str(db)
    )
    assert [r["step"] for r in json.loads(out)] == list(range(1, 13))


def test_export_writes_atomically_and_refuses_bad_targets(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "e.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    assert lrtui(capsys, "runs", "export", "-o", str(target), "--db", str(db))[0] == 0
    assert len(_from_csv(target.read_text())) == 4
    assert target.stat().st_mode & 0o777 == 0o640  # the replaced file keeps its mode
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []

    rc, _, err = lrtui(
        capsys, "runs", "export", "7", "-o", str(tmp_path / "x.csv"), "--db", str(db)
    )
    assert_one_line_error(rc, err, "no run 7")
    rc, _, err = lrtui(
        capsys, "runs", "export", "-o", str(tmp_path / "no" / "x.csv"), "--db", str(db)
    )
    assert_one_line_error(rc, err, "-o: the folder", "does not exist")
    rc, _, err = lrtui(capsys, "runs", "export", "-o", str(tmp_path), "--db", str(db))
    assert_one_line_error(rc, err, "is a folder")
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "no").exists()


def test_export_writes_through_devices_fifos_and_symlinks(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    null = tmp_path / "null"  # our own node with /dev/null's numbers, never the real /dev
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.close(os.open(null, os.O_WRONLY))
    except OSError as exc:
        pytest.skip(f"cannot make or open a device node here: {exc}")
    rc, out, err = lrtui(capsys, "runs", "export", "-o", str(null), "--db", str(db))
    assert (rc, out, err) == (0, "", f"Wrote 4 epoch rows to {null}.\n")
    assert stat.S_ISCHR(null.stat().st_mode) and null.stat().st_rdev == os.makedev(1, 3)

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    rc, _, _ = lrtui(capsys, "runs", "export", "--format", "json", "-o", str(fifo), "--db", str(db))
    out_bytes, _ = reader.communicate(timeout=30)
    assert rc == 0 and len(json.loads(out_bytes)) == 4 and stat.S_ISFIFO(fifo.stat().st_mode)

    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert lrtui(capsys, "runs", "export", "-o", str(link), "--db", str(db))[0] == 0
    assert link.is_symlink() and len(_from_csv(real.read_text())) == 4

    full = tmp_path / "full"  # /dev/full's numbers: every write fails with ENOSPC
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    rc, _, err = lrtui(capsys, "runs", "export", "-o", str(full), "--db", str(db))
    assert (rc, err) == (1, f"lrtui: error: -o: cannot write {full}: No space left on device\n")
    assert stat.S_ISCHR(full.stat().st_mode)


def test_export_never_writes_over_the_database(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = db.read_bytes()
    link = tmp_path / "alias.csv"
    link.symlink_to(db)
    for target in (db, link):
        rc, _, err = lrtui(capsys, "runs", "export", "-o", str(target), "--db", str(db))
        assert_one_line_error(rc, err, f"-o: {target} is the run database runs.db")
    assert db.read_bytes() == before
    rc, out, _ = lrtui(capsys, "runs", "list", "--json", "--db", str(db))
    assert rc == 0 and len(json.loads(out)) == 2


# -- delete --------------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_delete_asks_refuses_without_a_terminal_and_deletes_with_yes(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # not a terminal
    rc, _, err = lrtui(capsys, "runs", "delete", "1", "--db", str(db))
    assert_one_line_error(rc, err, "stdin is not a terminal", "--yes")

    monkeypatch.setattr(sys, "stdin", _Tty("n\n"))
    rc, _, err = lrtui(capsys, "runs", "delete", "1", "2", "--db", str(db))
    assert rc == 1 and "Delete 2 runs: 1 (step), 2? [y/N] " in err and "Nothing deleted." in err

    rc, _, err = lrtui(capsys, "runs", "delete", "1", "5", "--yes", "--db", str(db))
    assert_one_line_error(rc, err, "no run 5")
    with Store(db) as store:
        assert len(store.list_runs()) == 2

    monkeypatch.setattr(sys, "stdin", _Tty("y\n"))
    assert lrtui(capsys, "runs", "delete", "1", "--db", str(db))[:2] == (0, "Deleted 1 run.\n")
    rc, out, _ = lrtui(capsys, "runs", "delete", "2", "--yes", "--db", str(db))
    assert (rc, out) == (0, "Deleted 1 run.\n")
    with Store(db) as store:
        assert store.list_runs() == []
        assert store.epochs(1) == [] and store.steps(2) == []


def test_delete_refuses_a_run_that_is_still_training(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(db) as store:
        live = store.start_run(
            NewRun("b", 0, "live", "StepLR", "sgd", 0.1, "mnist", "cpu", 3, {}, "2.x")
        )
    rc, _, err = lrtui(capsys, "runs", "delete", str(live), "--yes", "--db", str(db))
    assert_one_line_error(rc, err, f"run {live} is still training (pid {os.getpid()})")


# -- bad databases -------------------------------------------------------------------------------


def test_bad_databases_give_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE photos (id)")
    conn.commit()
    conn.close()
    newer = tmp_path / "newer.db"
    Store(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE meta SET value = '99'")
    conn.commit()
    conn.close()
    cases = [
        (text, "is not an lrtui database (not an SQLite file)"),
        (other, "is an SQLite file but not an lrtui database (tables: photos)"),
        (newer, "has schema version 99, newer than this lrtui"),
        (tmp_path, "is a directory"),
        (
            text / "sub" / "runs.db",
            f"cannot use {text}/sub/runs.db: {text} is a file, not a folder",
        ),
    ]
    before = sorted(p.name for p in tmp_path.iterdir())
    for path, message in cases:
        for argv in (["list"], ["show", "1"], ["export"], ["delete", "1", "--yes"]):
            rc, out, err = lrtui(capsys, "runs", *argv, "--db", str(path))
            assert_one_line_error(rc, err, "database: ", message)
            assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert text.read_text() == "not a database"


def _without_write_permission() -> list[str] | None:
    """A command prefix under which file permissions bind (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_read_only_database_and_folder(tmp_path: Path) -> None:
    prefix = _without_write_permission()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only for us")
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "runs.db"
    populate(db)
    with Store(db):
        pass
    db.chmod(0o444)
    python = [*prefix, sys.executable]
    before = db.read_bytes()
    for reading in (["list"], ["show", "1"], ["export", "--format", "json"]):
        proc = subprocess.run(
            [*python, "-m", "lrtui", "runs", *reading, "--db", str(db)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
        assert (proc.returncode, proc.stderr) == (0, ""), reading  # reading needs no write access
    assert "step" in proc.stdout and db.read_bytes() == before
    proc = subprocess.run(
        [*python, "-m", "lrtui", "runs", "delete", "1", "--yes", "--db", str(db)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"lrtui: error: database: {db} is read-only; lrtui needs to write to it "
        "(fix its permissions, or copy it and pass --db COPY)\n"
    )
    db.chmod(0o644)
    folder.chmod(0o555)
    new = folder / "new.db"
    try:
        proc = subprocess.run(
            [*python, "-c", f"from lrtui.store import Store; Store({str(new)!r})"],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
        assert f"StoreError: database: cannot create {new}: the folder {folder} is read-only" in (
            proc.stderr
        )
    finally:
        folder.chmod(0o755)
    # Nothing was created for new.db (SQLite's mode=ro readers of the 444 file leave its WAL files).
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("runs.db-")) == [
        "runs.db"
    ]


# -- two processes at once -----------------------------------------------------------------------

WRITER = """
import sys, time
from lrtui.store import EpochRecord, NewRun, StepsRecord, Store
path, label, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Store(path) as store:
    rid = store.start_run(NewRun("b", 0, label, "StepLR", "sgd", 0.1, "mnist", "cpu", n, {}, "2.x"))
    lrs = tuple(0.1 * 0.999 ** i for i in range(500))
    for e in range(n):
        store.record_epoch(rid, EpochRecord(e, 1.0, 1.0 / (e + 1), 0.5, 0.1, None, 0.01),
                           StepsRecord(e, 500 * e, lrs, lrs))
    store.end_run(rid, "finished")
"""

READER = """
import argparse, contextlib, io, json, sys, time
from lrtui.commands import runs
path = sys.argv[1]
parser = argparse.ArgumentParser()
runs.add_arguments(parser)
seen, deadline = [], time.monotonic() + 60
while time.monotonic() < deadline:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        runs.main(parser.parse_args(["list", "--json", "--db", path]))
    listed = json.loads(buf.getvalue())
    seen.append(sum(r["epochs_done"] for r in listed))
    if len(listed) == 2 and all(r["status"] == "finished" for r in listed):
        break
assert seen == sorted(seen), seen
print(len(seen), seen[-1])
"""


def test_two_writers_and_a_reader_share_the_database(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    Store(path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for script, extra in (
            (WRITER, ["w1", "600"]),
            (WRITER, ["w2", "600"]),
            (READER, []),
        )
    ]
    results = [p.communicate(timeout=90) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    reads, total = map(int, results[2][0].split())
    assert total == 1200 and reads > 1
    with Store(path) as store:
        assert [r.epochs_done for r in store.list_runs()] == [600, 600]


# -- SIGKILL in the middle of training ---------------------------------------------------------

TRAINER = """
import sys
from lrtui.data import synthetic, to_device
from lrtui.engine import train
from lrtui.model import RunConfig
from lrtui.recorder import Recorder
from lrtui.schedulers import parse_spec
from lrtui.store import Store
data = to_device(synthetic(n_train=640, n_valid=64, seed=0))
config = RunConfig(epochs=100000, batch_size=32, device="cpu",
                   scheduler=parse_spec("StepLR:step_size=2,gamma=0.5"))
with Store(sys.argv[1]) as store, Recorder(store) as recorder:
    train([config], recorder, data=data)
"""


def _kill_after_epochs(cmd: list[str], db: Path, log: Path, epochs: int) -> None:
    """Start cmd, wait until `epochs` epochs are committed to db, then SIGKILL it."""
    with log.open("w") as out:  # a file, not a pipe: a full pipe would block the run
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=ENV)
    try:
        deadline = time.monotonic() + 60
        done = 0
        while done < epochs:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no {epochs} epochs recorded within 60 s"
            time.sleep(0.05)
            if db.exists():
                conn = sqlite3.connect(db, timeout=5)
                try:
                    done = conn.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0  # tables not created yet
                conn.close()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _check_interrupted(db: Path, capsys: pytest.CaptureFixture[str], at_least: int) -> None:
    rc, out, _ = lrtui(capsys, "runs", "list", "--json", "--db", str(db))
    (run,) = json.loads(out)
    assert rc == 0 and run["status"] == "interrupted"
    assert run["epochs_done"] >= at_least
    assert run["ended_at"] is not None and run["ended_at"] >= run["started_at"]
    rc, out, _ = lrtui(capsys, "runs", "show", str(run["id"]), "--json", "--db", str(db))
    epochs = json.loads(out)["epochs"]
    assert [e["epoch"] for e in epochs] == list(range(1, run["epochs_done"] + 1))
    assert [e["lr"] for e in epochs[:3]] == [0.1, 0.1, 0.05]
    with Store(db) as store:
        steps = store.steps(run["id"])
        # Every finished epoch has its steps; the epoch in progress left nothing half-written.
        assert [s.epoch for s in steps] == list(range(run["epochs_done"]))
        assert steps[0].lr == (0.1,) * len(steps[0].lr) and steps[2].lr[0] == 0.05


def test_sigkill_mid_training_keeps_finished_epochs_and_reads_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    _kill_after_epochs([sys.executable, "-c", TRAINER, str(db)], db, tmp_path / "log", 3)
    _check_interrupted(db, capsys, 3)


# -- the same through `lrtui run` -----------------------------------------------------------------


def _run_records() -> bool:
    import lrtui.commands.run as run_cmd

    return "Recorder" in inspect.getsource(run_cmd)


@pytest.mark.slow
def test_lrtui_run_killed_mid_training_reads_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not _run_records():
        pytest.skip(
            "`lrtui run` does not write to the store yet (lrtui.commands.run lacks Recorder)"
        )
    db = tmp_path / "runs.db"
    cmd = [
        sys.executable, "-m", "lrtui", "run", "-s", "StepLR:step_size=2,gamma=0.5",
        "--dataset", "mnist-sample", "--epochs", "200", "--device", "cpu", "--db", str(db),
    ]  # fmt: skip
    _kill_after_epochs(cmd, db, tmp_path / "run.log", 3)
    _check_interrupted(db, capsys, 3)
