"""The run core: the app's path and the command line's path train a config the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_app_support import settle, wait_for

from lrtui import runner
from lrtui.app.app import LrtuiApp
from lrtui.app.form import FormValues
from lrtui.cli import main
from lrtui.data import synthetic
from lrtui.engine import Event, Progress, RunStarted
from lrtui.model import RunConfig
from lrtui.schedulers import parse_spec
from lrtui.store import Store


async def test_app_and_cli_store_identical_losses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_db, app_db = tmp_path / "cli.db", tmp_path / "app.db"
    code = main(["run", "-s", "StepLR:step_size=1,gamma=0.5", "--dataset", "mnist-sample",
                 "--epochs", "1", "--device", "cpu", "--db", str(cli_db), "--json"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    initial = FormValues(dataset="mnist-sample", epochs="1", device="cpu", scheduler="StepLR",
                         params={"step_size": "1", "gamma": "0.5"})  # fmt: skip
    app = LrtuiApp(store=Store(app_db), default_dataset="mnist-sample", initial=initial,
                   device_info=lambda c: ("cpu (no CUDA)", True), form_debounce_s=0)  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, timeout=120)
    with Store(cli_db) as cli, Store(app_db) as gui:
        [cli_run], [app_run] = cli.list_runs(), gui.list_runs()
        assert (cli_run.status, app_run.status) == ("finished", "finished")
        assert cli_run.config == app_run.config | {"label": cli_run.config["label"]}
        mine, theirs = cli.epochs(cli_run.id), gui.epochs(app_run.id)
        assert [(e.train_loss, e.valid_loss, e.valid_acc) for e in mine] == [
            (e.train_loss, e.valid_loss, e.valid_acc) for e in theirs
        ]
        assert [s.lr for s in cli.steps(cli_run.id)] == [s.lr for s in gui.steps(app_run.id)]


def test_prepare_checks_against_the_real_dataset() -> None:
    raw = synthetic(100, 20, seed=1)  # 4 steps per epoch at batch 32
    config = RunConfig(dataset="synthetic", device="cpu", epochs=2,
                       scheduler=parse_spec("OneCycleLR:total_steps=5"))  # fmt: skip
    with pytest.raises(runner.RunInputError, match=r"^run 0: OneCycleLR\.total_steps: "):
        runner.prepare([config], raw=raw)
    long = RunConfig(dataset="synthetic", device="cpu", epochs=2, label="long",
                     scheduler=parse_spec("CosineAnnealingLR:T_max=50"))  # fmt: skip
    prepared = runner.prepare([long], raw=raw)
    assert prepared.steps_per_epoch == 4 and prepared.loaded.notice is None
    assert prepared.warnings and str(prepared.warnings[0]).startswith("run 0 (long): ")
    assert prepared.threads == 1  # one small MLP on the CPU: one thread, as the CLI had it
    with pytest.raises(runner.RunInputError, match=r"^dataset: must be one of"):
        runner.prepare([RunConfig(dataset="nope", device="cpu")])
    with pytest.raises(runner.RunInputError, match="must share epochs"):
        runner.prepare([long, RunConfig(dataset="synthetic", device="cpu")], raw=raw)


def test_train_records_then_hands_on_each_event_with_its_store_id(tmp_path: Path) -> None:
    raw = synthetic(64, 16, seed=2)
    configs = [RunConfig(dataset="synthetic", device="cpu", epochs=1, batch_size=16,
                         scheduler=parse_spec(s)) for s in ("StepLR", "ConstantLR")]  # fmt: skip
    prepared = runner.prepare(configs, raw=raw)
    seen: list[tuple[Event, int | None]] = []
    with Store(tmp_path / "r.db") as store:

        def on_event(event: Event, run_id: int | None) -> None:
            if not isinstance(event, Progress):  # on disk before it is handed on
                assert run_id is not None and store.get_run(run_id).id == run_id
            seen.append((event, run_id))

        ended = runner.train(prepared, store, on_event, dtype=torch.float64)
        assert [e.status for e in ended] == ["finished", "finished"]
        started = [(e.run, rid) for e, rid in seen if isinstance(e, RunStarted)]
        assert sorted(rid for _, rid in started) == sorted(r.id for r in store.list_runs())
        assert [run for run, _ in started] == [0, 1]
        assert all(e.steps_per_epoch == 4 for e, _ in seen if isinstance(e, RunStarted))


def test_cli_trains_cnn_runs_in_one_pass_and_stores_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cnn.db"
    code = main(["run", "--model", "cnn", "-s", "StepLR:step_size=2,gamma=0.5",
                 "-s", "CosineAnnealingLR", "--dataset", "mnist-sample", "--epochs", "2",
                 "--batch-size", "500", "--device", "cpu", "--json", "--db", str(db)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["run"], r["epoch"]) for r in records if r["event"] == "epoch"] == [
        (0, 1), (1, 1), (0, 2), (1, 2)
    ]  # fmt: skip  (epochs numbered from 1)
    with Store(db) as store:
        runs = store.list_runs()
    assert [(r.model, r.status) for r in runs] == [("cnn", "finished")] * 2
    assert runs[0].batch_id == runs[1].batch_id  # one pass
    assert runs[0].model_shape is not None and runs[0].model_shape.startswith("LeNet-5")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "resnet"], "--model: must be mlp or cnn (got resnet)"),
        (["--diverge-loss", "-1"], "--diverge-loss: must be > 0 (got -1)"),
        (["--diverge-checks", "0"], "must be an integer >= 1 (got 0)"),
    ],
)
def test_bad_model_and_divergence_flags_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "-s", "StepLR", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lrtui: error: ") and message in err
