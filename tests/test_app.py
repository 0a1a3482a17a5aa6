"""Pilot tests of the terminal app: the real app, engine, recorder and store on tiny data."""

from __future__ import annotations

import csv
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from test_app_support import make_app, series_labels, settle, tiny_data, wait_for
from textual.command import CommandPalette
from textual.widgets import Input, Static

import lrtui.engine as engine
from lrtui import schedulers as S
from lrtui.app.keys import ACTIONS
from lrtui.app.screens import ConfirmScreen, DetailsScreen, ExportScreen, HelpScreen
from lrtui.data import to_device
from lrtui.model import RunConfig
from lrtui.recorder import Recorder
from lrtui.store import Store

STEP_LR = [0.1] * 16 + [0.05] * 8  # StepLR(step_size=2, gamma=0.5), 3 epochs x 8 steps, lr 0.1


def _err_text(app: Any, key: str) -> str:
    line = app.sidebar.query_one(f"#err-f-{key.replace(':', '-').replace('.', '-')}", Static)
    return str(line.render()) if line.has_class("-shown") else ""


async def test_pick_scheduler_and_edit_its_parameters_by_keyboard(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.focused is app.sidebar.widgets["scheduler"]  # the first thing to choose
        await pilot.press("enter", *"OneCycle", "enter")
        await wait_for(pilot, lambda: "param:max_lr" in app.sidebar.widgets, what="OneCycle form")
        # Its own fields, generated from the catalog, with the catalog's defaults.
        params = [k for k in app.sidebar.widgets if k.startswith("param:")]
        assert params == [f"param:{p.name}" for p in S.CATALOG["OneCycleLR"].params]
        max_lr = app.sidebar.widgets["param:max_lr"]
        assert isinstance(max_lr, Input) and max_lr.value == "0.1"
        # The catalog's defaults, as on the command line: with plain SGD torch's cycle_momentum
        # (on), and the scheduler entry's warning under it (the form is valid).
        assert app.sidebar.widgets["param:cycle_momentum"].value is True
        assert _err_text(app, "param:cycle_momentum").startswith("SGD has momentum 0")
        await pilot.press("tab", "tab", "tab")  # warm-up epochs, warm-up factor, max_lr
        assert app.focused is max_lr
        await pilot.press(*"0.5")  # the field's text is selected on focus: typing replaces it
        expected = S.SchedulerSpec("OneCycleLR", {"max_lr": 0.5})
        await wait_for(pilot, lambda: app.form is not None and app.form.config is not None
                       and app.form.config.scheduler == expected, what="max_lr=0.5 in the form")
        exact = S.preview(expected, epochs=3, steps_per_epoch=8, base_lr=0.1).lr_per_step
        await wait_for(pilot, lambda: app.preview is not None
                       and list(app.preview.lr_per_step) == exact, what="preview redrawn")
        lr_chart = app.chart("lr").data.series
        assert lr_chart[0].label == "preview OneCycleLR" and list(lr_chart[0].ys) == exact
        assert "help" not in app.sidebar.query_one("#field-help", Static).render().__str__()


async def test_a_bad_value_shows_its_error_and_blocks_run(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.focus_field("param:step_size")
        await pilot.press("0")
        await wait_for(pilot, lambda: app.form is not None and "param:step_size" in app.form.errors)
        assert _err_text(app, "param:step_size") == "must be an integer >= 1 (got 0)"
        app.focus_field("lr")
        await pilot.press(*"-1")
        await wait_for(pilot, lambda: app.form is not None and "lr" in app.form.errors)
        assert _err_text(app, "lr") == "must be > 0 (got -1)"
        assert _err_text(app, "param:step_size") != ""  # both errors at once
        await pilot.press("escape", "r")
        await pilot.pause()
        assert app.jobs_started == 0 and app.job is None
        # The log names the first problem in form order; the focus goes to it.
        assert app.log_pane.entries[-1] == "cannot run: base LR: must be > 0 (got -1) (and 1 more)"
        assert app.focused is app.sidebar.widgets["lr"]
        assert app.store.list_runs() == []
        await pilot.press("escape", "a")
        assert app.batch == []


async def test_a_run_streams_into_charts_table_log_and_store(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="run end")
        await pilot.pause(0.3)
        [rec] = app.store.list_runs()
        assert (rec.status, rec.epochs_done, rec.dataset) == ("finished", 3, "synthetic")
        epochs = app.store.epochs(rec.id)
        trace = app.traces[rec.id]
        assert [e.valid_loss for e in trace.epochs] == [e.valid_loss for e in epochs]
        assert [e.train_loss for e in trace.epochs] == [e.train_loss for e in epochs]
        # LR chart: the preview, then the run's exact per-step LR (equal to what the store holds).
        lr = {s.label: s for s in app.chart("lr").data.series}
        assert list(lr["#1 StepLR"].ys) == STEP_LR
        assert [x for s in app.store.steps(rec.id) for x in s.lr] == STEP_LR
        assert list(lr["#1 StepLR"].xs) == [i / 8 for i in range(24)]
        loss = {s.label: s for s in app.chart("loss").data.series}
        assert list(loss["#1 StepLR train"].ys) == [e.train_loss for e in epochs]
        assert list(loss["#1 StepLR valid"].ys) == [e.valid_loss for e in epochs]
        assert list(loss["#1 StepLR valid"].xs) == [1.0, 2.0, 3.0]
        [acc] = app.chart("acc").data.series
        assert list(acc.ys) == [100 * e.valid_acc for e in epochs]  # type: ignore[operator]
        # Table row, log lines.
        row = app.runs_table.rows_by_key[rec.id]
        assert (row.status, row.epochs_done, row.epochs) == ("finished", 3, 3)
        assert row.best_acc == max(e.valid_acc for e in epochs)  # type: ignore[type-var]
        lines = [x for x in app.log_pane.entries if x.startswith("#1 StepLR ")]
        assert [x.split(" · ")[0] for x in lines[1:4]] == [f"#1 StepLR {i}/3" for i in (1, 2, 3)]
        assert f"valid {epochs[2].valid_loss:.4f}" in lines[3]
        assert lines[-1] == "#1 StepLR finished after 3 epochs"
        assert app.progress.text.startswith("done · 1 run: 1 finished")


LONG_EPOCHS, LONG_STEPS = 100, 1024


def _long_app(db: Path, **kwargs: Any) -> Any:
    # 1024 steps per epoch x 100 epochs: minutes of training, far longer than these tests last.
    return make_app(db, epochs=LONG_EPOCHS, batch_size=1, data=tiny_data(LONG_STEPS, 64), **kwargs)


async def _wait_training(pilot: Any, app: Any) -> None:
    """Wait for the run's first progress line: mid-epoch or epoch end, whichever comes first (a
    fast machine can end an epoch before any mid-epoch line is due)."""
    await wait_for(pilot, lambda: app.job is not None and app.progress.text.startswith("1 run"),
                   what="first progress")


async def _key_mid_run(pilot: Any, app: Any, key: str, effect: Any) -> float:
    """Send one key as the terminal would and wait for its effect; returns the seconds it took.
    (Pilot.press waits for the process to go idle, which never happens while torch trains.)"""
    start = time.monotonic()
    app.simulate_key(key)
    await wait_for(pilot, effect, timeout=5, what=f"effect of {key!r}")
    return time.monotonic() - start


async def test_stop_ends_the_run_within_a_step(tmp_path: Path) -> None:
    app = _long_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await _wait_training(pilot, app)
        took = await _key_mid_run(pilot, app, "s", lambda: app.job is None)
        [rec] = app.store.list_runs()
        assert rec.status == "stopped" and rec.epochs_done < LONG_EPOCHS
        steps = sum(len(s.lr) for s in app.store.steps(rec.id))
        assert 0 < steps < LONG_EPOCHS * LONG_STEPS  # the LRs it really used, up to the stop
        assert took < 2.0
        assert app.traces[rec.id].status == "stopped"
        assert any(x.startswith("#1 StepLR stopped after") for x in app.log_pane.entries)


async def test_keys_act_while_a_run_trains(tmp_path: Path) -> None:
    app = _long_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await _wait_training(pilot, app)
        replots = app.chart("lr").replots
        took = await _key_mid_run(pilot, app, "l", lambda: app.chart("lr").log_y)
        assert app.chart("lr").replots > replots and took < 1.0
        assert app.job is not None and not app.job.control.stopped  # the run is still going
        await _key_mid_run(pilot, app, "p", lambda: app.job is not None and app.job.control.paused)
        await _key_mid_run(pilot, app, "p", lambda: app.job is not None
                           and not app.job.control.paused)
        # Quitting asks while a run is active; "n" keeps it going.
        await _key_mid_run(pilot, app, "q", lambda: isinstance(app.screen, ConfirmScreen))
        await _key_mid_run(pilot, app, "n", lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.job is not None and app.is_running
        await _key_mid_run(pilot, app, "s", lambda: app.job is None)
        [rec] = app.store.list_runs()
        assert rec.status == "stopped"


async def test_a_batch_of_two_runs_shows_two_series(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "a")
        app.focus_field("param:gamma")
        await pilot.press(*"0.2")
        await wait_for(pilot, lambda: app.form is not None and app.form.config is not None
                       and app.form.config.scheduler.params.get("gamma") == 0.2)
        await pilot.press("escape", "a")
        assert len(app.batch) == 2
        await pilot.press("b")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="batch")
        await pilot.pause(0.3)
        runs = app.store.list_runs()
        assert [r.status for r in runs] == ["finished", "finished"]
        assert runs[0].batch_id == runs[1].batch_id  # one vectorized train() call
        lr = {s.label: list(s.ys) for s in app.chart("lr").data.series}
        assert lr["#1 StepLR"] == STEP_LR
        assert lr["#2 StepLR"] == [0.1] * 16 + [0.1 * 0.2] * 8
        assert sorted(app.runs_table.rows_by_key) == [1, 2]
        assert len(app.chart("loss").data.series) == 4  # train + valid per run
        assert app.batch == []


def _store_one_run(db: Path, spec: str = "ExponentialLR:gamma=0.5") -> int:
    """A run recorded by a headless training (as `lrtui run` would), before the app opens."""
    config = RunConfig(dataset="synthetic", epochs=3, batch_size=32, device="cpu",
                       scheduler=S.parse_spec(spec), label="stored")
    with Store(db) as store, Recorder(store) as rec:
        engine.train([config], rec, data=to_device(tiny_data()))
        return rec.run_ids[0]


async def test_space_toggles_a_stored_run_on_the_charts(tmp_path: Path) -> None:
    run_id = _store_one_run(tmp_path / "runs.db")
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert not app.query_one("#banner").display  # not a first launch
        assert list(app.runs_table.rows_by_key) == [run_id]
        assert series_labels(app, "lr") == ["preview StepLR"]
        await pilot.press("escape")  # leave the form: the runs table has the focus
        assert app.focused is app.runs_table
        await pilot.press("space")
        expected = [0.1 * 0.5**e for e in range(3) for _ in range(8)]
        lr = {s.label: list(s.ys) for s in app.chart("lr").data.series}
        assert lr[f"#{run_id} stored"] == expected
        epochs = app.store.epochs(run_id)
        [acc] = app.chart("acc").data.series
        assert list(acc.ys) == [100 * e.valid_acc for e in epochs]  # type: ignore[operator]
        assert app.runs_table.rows_by_key[run_id].shown
        await pilot.press("space")
        assert series_labels(app, "lr") == ["preview StepLR"]
        assert app.chart("acc").data.series == ()


async def test_details_clone_export_delete(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("platformdirs.user_documents_dir", lambda: str(tmp_path / "none"))
    run_id = _store_one_run(tmp_path / "runs.db")
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), what="details")
        details = app.screen.details  # type: ignore[attr-defined]
        epochs = app.store.epochs(run_id)
        assert [r[0] for r in details.epoch_rows] == ["1", "2", "3"]  # numbered from 1
        assert [r[4] for r in details.epoch_rows] == [f"{e.valid_loss:.4f}" for e in epochs]
        assert "ExponentialLR(optimizer, gamma=0.5)" in details.code
        assert "torch.optim.SGD(model.parameters(), lr=0.1" in details.code
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DetailsScreen))
        await pilot.press("c")
        await wait_for(pilot, lambda: app.sidebar.values().scheduler == "ExponentialLR")
        assert app.sidebar.values().params["gamma"] == "0.5"
        assert app.sidebar.values().label == "stored"
        await pilot.press("escape", "e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="export")
        field = app.screen.query_one(Input)
        # an absolute path, shown before anything is written (no documents folder here: the
        # current one)
        assert field.value == str(tmp_path.resolve() / f"lrtui-run-{run_id}.csv")
        field.value = str(tmp_path / "out.csv")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "out.csv").exists(), what="csv")
        rows = list(csv.DictReader((tmp_path / "out.csv").open()))
        assert [float(r["valid_loss"]) for r in rows] == [e.valid_loss for e in epochs]
        assert app.log_pane.entries[-1] == (
            f"exported run #{run_id} (3 epochs) to {tmp_path / 'out.csv'}")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.store.list_runs() == [], what="deleted")
        assert app.runs_table.row_count == 0 and run_id not in app.traces


async def test_clone_unwraps_a_warmup_stepped_per_step(tmp_path: Path) -> None:
    """The injected data's size (256 / 32 = 8 steps per epoch) turns the ramp's 8 optimizer
    steps back into the form's 1 warm-up epoch."""
    _store_one_run(tmp_path / "runs.db", "LinearLR:interval=step,start_factor=0.1,total_iters=8"
                                         " -> @8 CosineAnnealingLR:interval=step")
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "c")
        await wait_for(pilot, lambda: app.sidebar.values().scheduler == "CosineAnnealingLR")
        values = app.sidebar.values()
        assert (values.warmup, values.warmup_start, values.interval) == ("1", "0.1", "step")
        await settle(pilot, app)
        assert app.form is not None and app.form.ok and app.form.config is not None
        assert S.format_spec(app.form.config.scheduler) == (  # as stored: T_max resolved
            "LinearLR:interval=step,start_factor=0.1,total_iters=8"
            " -> @8 CosineAnnealingLR:T_max=16,interval=step")


async def test_first_launch_offers_the_tutorial_comparison(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        banner = app.query_one("#banner")
        assert banner.display and "Press t" in str(banner.query_one(".long", Static).render())
        await pilot.press("t")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="tutorial")
        await pilot.pause(0.3)
        assert not banner.display
        runs = app.store.list_runs()  # each scheduler with 3 seeds: 4 groups of 3 runs
        assert [r.scheduler.split(":")[0] for r in runs] == [
            name for name in ("StepLR", "MultiStepLR", "ExponentialLR", "ReduceLROnPlateau")
            for _ in range(3)]
        assert [r.seed_index for r in runs] == [0, 1, 2] * 4
        assert len({r.group_id for r in runs}) == 4
        assert {s.label for s in app.chart("lr").data.series} >= {
            "#1 StepLR", "#4 MultiStepLR", "#7 ExponentialLR", "#10 ReduceLROnPlateau"}
        assert app.chart("aux").title == "plateau: epochs without improvement"
        counts = [[float(e.plateau_num_bad_epochs or 0) for e in app.store.epochs(k)]
                  for k in (10, 11, 12)]  # the plateau group's mean count
        assert [list(s.ys) for s in app.chart("aux").data.series if s.kind != "band"] == [
            [statistics.fmean(c) for c in zip(*counts, strict=True)]]


class _FallbackEngine:
    """The real engine, reporting a dataset fallback as it does when MNIST is missing offline."""

    def train(self, configs: Any, on_event: Any, control: Any = None, **kw: Any) -> Any:
        def relay(event: engine.Event) -> None:
            if isinstance(event, engine.RunStarted):
                event = replace(event, notice="mnist: not found offline; using mnist-sample")
            on_event(event)

        return engine.train(configs, relay, control, **kw)


async def test_a_dataset_fallback_is_said_in_the_log(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", engine=_FallbackEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("t")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None)
        notices = [x for x in app.log_pane.entries if "not found offline" in x]
        assert notices == ["mnist: not found offline; using mnist-sample"]  # once per training


async def test_help_palette_sidebar_and_themes(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        assert not app.chart("acc").display or app.chart("acc").region.height == 0
        await pilot.press("ctrl+b")
        assert not app.sidebar.display
        await pilot.pause()
        assert app.chart("acc").region.height > 0 and app.chart("aux").region.height > 0
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = str(app.screen.query_one("#help-keys", Static).render())
        for action in [a for a in ACTIONS if a.listed]:
            assert (action.display_key or action.key) in text and action.help in text
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"Log-Y")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.log_y, what="palette action")
        await pilot.press("ctrl+b")
        assert app.sidebar.display
        app.theme = "textual-light"
        await pilot.pause()
        assert app.chart("lr").error is None


async def test_a_chart_that_cannot_be_drawn_says_so(tmp_path: Path, monkeypatch: Any) -> None:
    from lrtui.app import charts

    def broken(job: charts.FigureJob) -> Any:
        raise ValueError("no room for the y axis")

    monkeypatch.setattr(charts, "build_figure", broken)
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        lr = app.chart("lr")
        assert lr.error == "ValueError: no room for the y axis"
        assert str(lr.render()) == "learning rate: cannot draw (ValueError: no room for the y axis)"
        await pilot.press("l")  # the app carries on
        assert app.log_y


async def test_divergence_and_engine_failures_are_said_not_raised(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.focus_field("lr")
        await pilot.press(*"1e6", "escape", "r")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None)
        [rec] = app.store.list_runs()
        assert rec.status == "diverged"
        assert app.log_pane.entries[-2] == (
            f"#1 StepLR diverged after 0 epochs: {rec.reason}")
        assert app.runs_table.rows_by_key[rec.id].status == "diverged"


class _BrokenEngine:
    def train(self, configs: Any, on_event: Any, control: Any = None, **kw: Any) -> Any:
        raise RuntimeError("CUDA error: device-side assert triggered")


async def test_an_engine_crash_is_logged_and_the_app_carries_on(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", engine=_BrokenEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None)
        assert "training failed: RuntimeError: CUDA error: device-side assert triggered" in (
            app.log_pane.entries)
        await pilot.press("l")  # still responsive
        assert app.log_y and app.is_running


class _DeletesTheDatabase:
    """The real engine; the database file is deleted once the first epoch is stored (what
    `rm runs.db*` in another terminal does mid-run)."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def train(self, configs: Any, on_event: Any, control: Any = None, **kw: Any) -> Any:
        def deleting(event: Any) -> None:
            on_event(event)
            if isinstance(event, engine.EpochEnd):
                for path in self.db.parent.glob(self.db.name + "*"):
                    path.unlink()

        return engine.train(configs, deleting, control, **kw)


async def test_a_database_deleted_mid_run_is_said_in_the_log_and_the_status_line(
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.db"
    app = make_app(db, engine=_DeletesTheDatabase(db))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None)
        said = f"database: {db} was deleted while lrtui was writing to it; nothing more"
        assert any(e.startswith(f"training stopped: {said}") for e in app.log_pane.entries)
        assert app.progress.text.startswith(f"✗ {said}")
        await pilot.press("l")  # the app carries on
        assert app.log_y and app.is_running


async def test_delete_refuses_a_run_another_process_is_training(tmp_path: Path) -> None:
    run_id = _store_one_run(tmp_path / "runs.db")
    writer = os.getpid()  # a live process on this host plays the other lrtui training it
    with Store(tmp_path / "runs.db") as store:
        store._conn.execute("UPDATE runs SET status = 'running', pid = ?, started_at = ?",
                            (writer, time.time()))
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "d")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.log_pane.entries[-1] == (
            f"cannot delete: run {run_id} is still training (pid {writer}); stop it there first")
        assert [r.id for r in app.store.list_runs()] == [run_id]


class _AnotherProcessDeletesTheRun:
    """The real engine; once the first epoch is stored, the run is deleted through a second
    connection, as `lrtui runs delete --force` in another terminal would."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def train(self, configs: Any, on_event: Any, control: Any = None, **kw: Any) -> Any:
        def deleting(event: Any) -> None:
            on_event(event)
            if isinstance(event, engine.EpochEnd) and event.epoch == 0:
                with Store(self.db) as other:
                    other.delete_runs([r.id for r in other.list_runs()])

        return engine.train(configs, deleting, control, **kw)


async def test_a_run_deleted_by_another_process_is_said_and_training_goes_on(
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.db"
    app = make_app(db, engine=_AnotherProcessDeletesTheRun(db))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None)
        said = [e for e in app.log_pane.entries if "by another process" in e]
        assert said == [f"#1: run 1 was deleted from {db} by another process while it trained; "
                        "its later epochs are not stored"]
        assert any(e.startswith("training done · 1 finished") for e in app.log_pane.entries)
        assert app.store.list_runs() == []


async def test_the_palette_runs_a_runs_table_action_on_the_main_screen(tmp_path: Path) -> None:
    """Row actions are the main screen's bindings (keys.py scope "main"); the palette runs
    them there, as their keys do."""
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "o")
        await wait_for(pilot, lambda: app.runs_table.sort_column == "acc", what="sorted by o")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"Sort (o)")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.runs_table.sort_column == "loss", what="palette sort")
        assert app.log_pane.entries[-1] == "runs sorted by best loss"
