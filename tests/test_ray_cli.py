"""`lrtui run --ray`: bad values and a missing Ray are one line (exit 2, nothing written), an
address nobody answers at is one line (exit 1), and a sweep on a local Ray prints and stores what
the same command prints and stores without it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lrtui.cli import main
from lrtui.store import Store

RUN = ["run", "-s", "StepLR", "-s", "CosineAnnealingLR", "--dataset", "mnist-sample",
       "--epochs", "2", "--device", "cpu", "--json"]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("nowhere", "'nowhere'"),
        ("host:0", "'host:0'"),
        ("http://h:1", "'http://h:1'"),
        ("", "''"),
    ],
)
def test_a_bad_ray_address_is_one_line(
    value: str, shown: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    assert main([*RUN, "--db", str(db), f"--ray={value}"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "lrtui: error: --ray: must be local, auto, HOST:PORT or "
                              f"ray://HOST:PORT (got {shown})\n")  # fmt: skip
    assert not db.exists()


def test_without_ray_installed_the_flag_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    db = tmp_path / "r.db"
    assert main([*RUN, "--db", str(db), "--ray", "auto"]) == 2
    assert capsys.readouterr().err == (
        "lrtui: error: --ray: Ray is not installed: pip install 'lrtui[ray]'\n"
    )
    assert not db.exists()


@pytest.mark.ray
def test_an_address_nobody_answers_at_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray", reason="needs the `ray` extra: pip install 'lrtui[ray]'")
    db = tmp_path / "r.db"
    assert main([*RUN, "--db", str(db), "--ray", "127.0.0.1:1"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "lrtui: error: cannot reach the Ray cluster at 127.0.0.1:1: Connection refused\n"
    assert not db.exists()


@pytest.mark.ray
def test_a_sweep_on_a_local_ray_prints_and_stores_what_it_does_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray", reason="needs the `ray` extra: pip install 'lrtui[ray]'")
    on_ray, here = tmp_path / "ray.db", tmp_path / "here.db"
    assert main([*RUN, "--db", str(on_ray), "--ray", "local"]) == 0
    ray_out, ray_err = capsys.readouterr()
    assert main([*RUN, "--db", str(here)]) == 0
    out, _ = capsys.readouterr()
    assert "lrtui: training on a local Ray: 1 node" in ray_err
    assert "lrtui: pass 1 of 1 (runs 0-1) trains on " in ray_err

    def lines(text: str) -> list[dict[str, object]]:
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                for line in text.splitlines()]  # fmt: skip

    assert lines(ray_out) == lines(out) and len(lines(out)) == 6
    with Store(on_ray) as ray_store, Store(here) as store:
        ray_runs, runs = ray_store.list_runs(), store.list_runs()
        assert [r.status for r in ray_runs] == ["finished", "finished"]
        assert [r.config for r in ray_runs] == [r.config for r in runs]
        for mine, theirs in zip(ray_runs, runs, strict=True):
            ray_epochs, epochs = ray_store.epochs(mine.id), store.epochs(theirs.id)
            assert [(e.train_loss, e.valid_loss, e.valid_acc) for e in ray_epochs] == [
                (e.train_loss, e.valid_loss, e.valid_acc) for e in epochs
            ]
    import ray

    assert not ray.is_initialized()  # the command left its Ray


def test_every_engine_event_crosses_a_process_boundary_whole() -> None:
    """Ray pickles the events a worker sends its driver: each kind comes back equal."""
    import pickle

    from lrtui.engine import EpochEnd, Progress, RunEnded, RunStarted, StepChunk
    from lrtui.model import RunConfig
    from lrtui.schedulers import PlateauState, parse_spec

    config = RunConfig(scheduler=parse_spec("ReduceLROnPlateau:patience=2"), label="p")
    events = [
        RunStarted(0, config, "cpu (ray node vm)", "mnist", "a notice", 125),
        StepChunk(0, 1, 0, (0.1, 0.1), (0.9, 0.9)),
        Progress(1, 5, 125, 130, 250, 1234.5, (2.3, float("inf")), 1.5),
        EpochEnd(0, 1, 2.1, 2.2, 0.5, 0.1, None, 0.3, PlateauState(2.2, 1, 0)),
        RunEnded(0, "finished", "2 epochs", 2),
    ]
    assert [pickle.loads(pickle.dumps(e)) for e in events] == events
