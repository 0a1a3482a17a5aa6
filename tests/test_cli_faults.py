"""Commands under faults, through real subprocesses where an exit code or a signal is the point:
output that cannot be written (our own /dev/full-numbered node, a closed pipe, a broken stderr),
Ctrl+C while the imports load, `runs delete --force` of a run another process trains, and
corrupt data under an explicit --data-dir."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from idx import TRAIN_IMAGES, VALID_LABELS, write_dataset

from lrtui.cli import main
from lrtui.store import Store

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
FAST_RUN = [
    "run", "-s", "StepLR:step_size=2", "--dataset", "mnist-sample", "--batch-size", "1000",
    "--hidden", "8", "--device", "cpu",
]  # fmt: skip
NO_SPACE = "cannot write the output (stdout): No space left on device"


def lrtui_cmd(*argv: str) -> list[str]:
    return [sys.executable, "-m", "lrtui", *argv]


@pytest.fixture
def full(tmp_path: Path) -> Path:
    """Our own character device with /dev/full's numbers (every write: ENOSPC), never /dev."""
    node = tmp_path / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        os.close(os.open(node, os.O_WRONLY))
    except OSError as exc:
        pytest.skip(f"cannot make or open a device node here: {exc}")
    return node


def run_into(
    target: Path, argv: list[str], *, stream: str = "stdout"
) -> subprocess.CompletedProcess[str]:
    with target.open("w") as sink:
        kwargs = {"stdout": sink, "stderr": subprocess.PIPE} if stream == "stdout" else {
            "stdout": subprocess.PIPE, "stderr": sink}  # fmt: skip
        return subprocess.run(
            lrtui_cmd(*argv),
            text=True,
            env=ENV,
            timeout=300,
            **kwargs,  # type: ignore[call-overload]
        )


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("lrtui: error:")]


def stored_runs(db: Path) -> list[dict[str, object]]:
    with Store(db) as store:
        return [r.to_dict() for r in store.list_runs()]


# -- output that cannot be written ----------------------------------------------------------------


@pytest.mark.slow
def test_run_into_a_full_device_trains_on_says_one_line_and_exits_1(
    tmp_path: Path, full: Path
) -> None:
    db = tmp_path / "runs.db"
    proc = run_into(full, [*FAST_RUN, "--epochs", "3", "-s", "ConstantLR", "--db", str(db)])
    assert proc.returncode == 1
    assert error_lines(proc.stderr) == [
        f"lrtui: error: {NO_SPACE}; training goes on and every epoch is still stored in {db}"
    ]
    runs = stored_runs(db)
    assert [(r["status"], r["epochs_done"]) for r in runs] == [("finished", 3), ("finished", 3)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["preview", "-s", "StepLR:step_size=2", "--epochs", "4"],
        ["preview", "-s", "StepLR:step_size=2", "--epochs", "4", "--json"],
        ["runs", "list"],
        ["runs", "show", "1"],
        ["runs", "export"],
        ["--help"],
        ["--version"],
        ["runs", "list", "--help"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_every_printing_command_says_one_line_when_stdout_is_full(
    tmp_path: Path, full: Path, argv: list[str]
) -> None:
    db = tmp_path / "runs.db"
    with Store(db) as store:  # one stored run for `runs` to print
        from test_store_faults import epoch, new_run

        run_id = store.start_run(new_run())
        store.record_epoch(run_id, epoch(0))
        store.end_run(run_id, "finished")
    before = db.read_bytes()
    db_flag = ["--db", str(db)] if argv[0] == "runs" and "--help" not in argv else []
    proc = run_into(full, [*argv, *db_flag])
    assert (proc.returncode, error_lines(proc.stderr)) == (1, [f"lrtui: error: {NO_SPACE}"])
    assert proc.stderr == f"lrtui: error: {NO_SPACE}\n"
    assert db.read_bytes() == before


@pytest.mark.slow
def test_find_lr_into_a_full_device_keeps_its_stored_result(tmp_path: Path, full: Path) -> None:
    db = tmp_path / "runs.db"
    proc = run_into(full, [
        "find-lr", "--dataset", "mnist-sample", "--steps", "20", "--hidden", "8", "--device",
        "cpu", "--db", str(db),
    ])  # fmt: skip
    assert (proc.returncode, error_lines(proc.stderr)) == (1, [f"lrtui: error: {NO_SPACE}"])
    with Store(db) as store:
        assert len(store.list_range_tests()) == 1


@pytest.mark.slow
def test_a_closed_pipe_stops_the_runs_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = subprocess.Popen(
        lrtui_cmd(*FAST_RUN, "--epochs", "100000", "--json", "--db", str(db)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()  # `| head -1`: the reader goes away
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert error_lines(err) == []
    (run,) = stored_runs(db)
    assert run["status"] == "stopped" and first["epoch"] == 1  # the first epoch (numbered from 1)
    assert "because the reader of the output went away" in str(run["reason"])
    assert 1 <= int(str(run["epochs_done"])) < 100000


@pytest.mark.slow
def test_a_broken_stderr_only_loses_the_progress_line(tmp_path: Path, full: Path) -> None:
    db = tmp_path / "runs.db"
    proc = run_into(full, [*FAST_RUN, "--epochs", "2", "--json", "--db", str(db)], stream="stderr")
    assert proc.returncode == 0
    assert [json.loads(line)["event"] for line in proc.stdout.splitlines()] == ["epoch"] * 2 + [
        "end"
    ]
    assert [r["status"] for r in stored_runs(db)] == ["finished"]


# -- Ctrl+C while the imports load ----------------------------------------------------------------


def _wait_until_loading(proc: subprocess.Popen[str], marker: str, timeout: float = 60.0) -> None:
    """Until the process has mapped a shared library whose path holds `marker` (torch's own C++
    library: the slow part of the imports has begun)."""
    deadline = time.monotonic() + timeout
    maps = Path(f"/proc/{proc.pid}/maps")
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if marker in maps.read_text():
                return
        except OSError:
            pass
        time.sleep(0.002)
    raise AssertionError(f"{marker} was never loaded")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
@pytest.mark.parametrize("after", [0.0, 0.1, 0.3], ids=["torch-starts", "+0.1s", "+0.3s"])
def test_ctrl_c_while_the_imports_load_exits_130_quietly(tmp_path: Path, after: float) -> None:
    """SIGINT once torch's C++ library is mapped (the command modules are importing torch; lrtui's
    own code is running), and a little later, as a user's early Ctrl+C lands."""
    proc = subprocess.Popen(
        lrtui_cmd(*FAST_RUN, "--epochs", "3", "--db", str(tmp_path / "runs.db")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    _wait_until_loading(proc, "libtorch")
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # a fast machine finished 3 tiny epochs first: nothing to interrupt
        return
    assert (proc.returncode, err) == (130, ""), err
    assert "Traceback" not in out


def test_ctrl_c_while_the_command_modules_import_is_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lrtui.cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lrtui.cli, "build_parser", interrupted)
    assert main(["runs", "list"]) == 130
    assert capsys.readouterr() == ("", "")


def test_ctrl_c_that_breaks_an_import_is_130_and_other_import_errors_are_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SIGINT inside a C extension's import (numpy, under torch) surfaces as the ImportError of
    a retried import, not as KeyboardInterrupt: still Ctrl+C, 130, nothing printed."""
    import lrtui.cli

    def interrupted_import() -> None:
        # main's handler raises KeyboardInterrupt here; the extension's init swallows it
        with contextlib.suppress(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        raise ImportError("cannot load module more than once per process")

    monkeypatch.setattr(lrtui.cli, "build_parser", interrupted_import)
    assert main(["runs", "list"]) == 130
    assert capsys.readouterr() == ("", "")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back

    def broken_import() -> None:
        raise ImportError("no module named nowhere")

    monkeypatch.setattr(lrtui.cli, "build_parser", broken_import)
    with pytest.raises(ImportError, match="nowhere"):
        main(["runs", "list"])


# -- `runs delete --force` of a run another process trains ----------------------------------------


def _wait_for_epochs(db: Path, n: int, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            conn = sqlite3.connect(db, timeout=5)
            try:
                row = conn.execute(
                    "SELECT run_id, COUNT(*) FROM epochs GROUP BY run_id ORDER BY run_id"
                ).fetchone()
            except sqlite3.OperationalError:
                row = None
            conn.close()
            if row is not None and row[1] >= n:
                return int(row[0])
        time.sleep(0.05)
    raise AssertionError(f"no {n} epochs stored within 120 s")


@pytest.mark.slow
def test_delete_force_of_a_training_run_does_not_kill_its_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "runs.db"
    writer = subprocess.Popen(
        lrtui_cmd(*FAST_RUN, "-s", "ConstantLR", "--epochs", "300", "--db", str(db)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        run_id = _wait_for_epochs(db, 2, writer)
        # On this host a live writer is refused, --force or not.
        rc = main(["runs", "delete", str(run_id), "--yes", "--force", "--db", str(db)])
        _, err = capsys.readouterr()
        assert rc == 2 and f"run {run_id} is still training (pid {writer.pid})" in err
        # A run marked as written from another host cannot be checked: --force deletes it.
        conn = sqlite3.connect(db, timeout=5)
        conn.execute("UPDATE runs SET host = 'elsewhere' WHERE id = ?", (run_id,))
        conn.commit()
        conn.close()
        rc = main(["runs", "delete", str(run_id), "--yes", "--force", "--db", str(db)])
        assert (rc, capsys.readouterr().out) == (0, "Deleted 1 run.\n")
        _, err = writer.communicate(timeout=300)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == 0, err
    assert error_lines(err) == []
    warnings = [line for line in err.splitlines() if line.startswith("lrtui: warning:")]
    assert warnings == [
        f"lrtui: warning: run 0 (StepLR:step_size=2): run {run_id} was deleted from {db} by "
        "another process while it trained; its later epochs are not stored"
    ]
    (other,) = stored_runs(db)  # the other run of that call trained on and was stored whole
    assert (other["label"], other["status"], other["epochs_done"]) == (
        "ConstantLR",
        "finished",
        300,
    )


# -- corrupt data under an explicit --data-dir ----------------------------------------------------


def test_corrupt_data_dir_is_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = write_dataset(tmp_path / "data")
    bad = written.paths[TRAIN_IMAGES]
    bad.write_bytes(bad.read_bytes()[:1000])
    db = tmp_path / "runs.db"
    data_dir = ["--dataset", "mnist", "--data-dir", str(tmp_path / "data"), "--db", str(db)]
    for command in (
        ["run", "-s", "StepLR", "--epochs", "1", "--device", "cpu", *data_dir],
        ["find-lr", "--steps", "10", "--device", "cpu", *data_dir],
    ):
        rc = main(command)
        out, err = capsys.readouterr()
        assert (rc, out) == (2, ""), err
        assert err.startswith(f"lrtui: error: mnist: cannot use {bad}: truncated: 1,000 bytes")
        assert err.count("\n") == 1
    assert not db.exists() or stored_runs(db) == []


def test_missing_files_and_folders_under_data_dir_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets.mnist

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("no network in tests")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", offline)
    written = write_dataset(tmp_path / "data")
    written.paths[VALID_LABELS].unlink()
    base = ["run", "-s", "StepLR", "--dataset", "mnist", "--epochs", "1", "--device", "cpu",
            "--db", str(tmp_path / "runs.db")]  # fmt: skip
    rc = main([*base, "--data-dir", str(tmp_path / "data")])
    _, err = capsys.readouterr()
    assert rc == 2 and err.startswith(
        f"lrtui: error: mnist: {tmp_path / 'data'} lacks {VALID_LABELS} (plain or .gz"
    )
    rc = main([*base, "--data-dir", str(tmp_path / "nowhere")])
    _, err = capsys.readouterr()
    assert (rc, err) == (2, (
        f"lrtui: error: --data-dir: {tmp_path / 'nowhere'} does not exist (lrtui reads the "
        "dataset from it, or downloads into it, but does not create it)\n"
    ))  # fmt: skip
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["--version"], ["runs", "list"], ["preview", "-s", "StepLR"]])
def test_a_closed_stdout_is_one_line_too(tmp_path: Path, argv: list[str]) -> None:
    """`lrtui ... >&-`: Python starts with sys.stdout None."""
    proc = subprocess.run(
        lrtui_cmd(*argv), stderr=subprocess.PIPE, text=True, timeout=120,
        env={**ENV, "LRTUI_DB": str(tmp_path / "runs.db")}, preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (
        1, "lrtui: error: cannot write the output (stdout): standard output is closed\n"
    )  # fmt: skip


@pytest.mark.slow
def test_run_with_stderr_closed_trains_and_prints(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = subprocess.run(
        lrtui_cmd(*FAST_RUN, "--epochs", "2", "--json", "--db", str(db)),
        stdout=subprocess.PIPE, text=True, timeout=300, env=ENV, preexec_fn=lambda: os.close(2),
    )  # fmt: skip
    assert proc.returncode == 0
    assert [json.loads(line)["event"] for line in proc.stdout.splitlines()][-1] == "end"
    assert [r["status"] for r in stored_runs(db)] == ["finished"]


def test_find_lr_whose_database_vanished_during_the_sweep_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrtui.lrfind

    db = tmp_path / "runs.db"
    sweep = lrtui.lrfind.range_test

    def sweep_then_rm(*args: object, **kwargs: object) -> object:
        result = sweep(*args, **kwargs)  # type: ignore[arg-type]
        for path in tmp_path.glob("runs.db*"):  # `rm runs.db*` in another terminal meanwhile
            path.unlink()
        return result

    monkeypatch.setattr(lrtui.lrfind, "range_test", sweep_then_rm)
    rc = main(["find-lr", "--dataset", "mnist-sample", "--steps", "20", "--hidden", "8",
               "--device", "cpu", "--json", "--db", str(db)])  # fmt: skip
    out, err = capsys.readouterr()
    assert (rc, out) == (1, "")
    assert err == (
        f"lrtui: error: database: {db} was deleted while lrtui was writing to it; nothing "
        "more can be stored; the range test was not stored\n"
    )


def test_the_app_refuses_a_data_dir_that_does_not_exist_before_opening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    rc = main(["--data-dir", str(missing), "--db", str(tmp_path / "runs.db")])
    assert (rc, capsys.readouterr()) == (2, ("", (
        f"lrtui: error: --data-dir: {missing} does not exist (lrtui reads the dataset from it, or "
        "downloads into it, but does not create it)\n"
    )))  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no folder, no database
