"""Live history: runs another process writes to the same database appear in the open app."""

from __future__ import annotations

import time
from pathlib import Path

from test_app_support import make_app, settle, wait_for

from lrtui.model import RunConfig
from lrtui.store import EpochRecord, NewRun, StepsRecord, Store

STEPS = 4  # optimizer steps per epoch of the other process's run


def _start(other: Store) -> int:
    config = RunConfig(epochs=3, dataset="synthetic", label="elsewhere")
    return other.start_run(NewRun(
        batch_id="b", batch_index=0, label="elsewhere", scheduler=str(config.scheduler),
        optimizer="SGD", lr=0.1, dataset="synthetic", device="cpu", epochs=3,
        config=config.to_dict(), torch_version="x"))


def _epoch(other: Store, run_id: int, epoch: int, acc: float) -> None:
    lr = 0.1 * 0.5 ** (epoch // 2)
    other.record_epoch(
        run_id,
        EpochRecord(epoch=epoch, train_loss=1.0 / (epoch + 1), valid_loss=1.1 / (epoch + 1),
                    valid_acc=acc, lr=lr, momentum=None, seconds=0.5),
        StepsRecord(epoch=epoch, first_step=epoch * STEPS, lr=(lr,) * STEPS, momentum=None),
        steps_per_epoch=STEPS)


async def test_another_process_run_appears_and_streams_within_two_seconds(
        tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.runs_table.row_count == 0
        with Store(db) as other:  # a second connection, as a headless `lrtui run` would hold
            run_id = _start(other)
            began = time.monotonic()
            await wait_for(pilot, lambda: run_id in app.runs_table.rows_by_key, timeout=2.0,
                           what="the other process's run in the table")
            assert time.monotonic() - began <= 2.0
            row = app.runs_table.rows_by_key[run_id]
            assert (row.status, row.epochs_done, row.session) == ("running", 0, False)
            assert app.traces[run_id].shown  # it started while the app was open: on the charts
            assert any("#1 elsewhere appeared (running" in e for e in app.log_pane.entries)

            _epoch(other, run_id, 0, 0.5)
            _epoch(other, run_id, 1, 0.75)
            await wait_for(pilot, lambda: app.runs_table.rows_by_key[run_id].epochs_done == 2,
                           timeout=2.0, what="its epochs streaming in")
            trace = app.traces[run_id]
            assert [e.valid_acc for e in trace.epochs] == [0.5, 0.75]
            assert trace.step_lr == [0.1] * 2 * STEPS
            await wait_for(pilot, lambda: any(
                s.label == "#1 elsewhere" for s in app.chart("acc").data.series),
                timeout=2.0, what="its accuracy on the chart")
            [acc] = [s for s in app.chart("acc").data.series if s.label == "#1 elsewhere"]
            assert list(acc.ys) == [50.0, 75.0]

            other.end_run(run_id, "finished")
            await wait_for(pilot, lambda: app.runs_table.rows_by_key[run_id].status == "finished",
                           timeout=2.0, what="its end")


async def test_R_reads_the_history_again_at_once(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    app = make_app(db)
    app.STORE_POLL_S = 3600.0  # no poll on its own: only the key can bring the run in
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        with Store(db) as other:
            run_id = _start(other)
            _epoch(other, run_id, 0, 0.25)
        app.runs_table.focus()
        await pilot.press("R")
        await wait_for(pilot, lambda: run_id in app.runs_table.rows_by_key, timeout=1.0)
        assert app.runs_table.rows_by_key[run_id].epochs_done == 1
        assert any(e.startswith("run history read again") for e in app.log_pane.entries)


async def test_a_run_deleted_elsewhere_leaves_the_table(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with Store(db) as first:
        run_id = _start(first)
        first.end_run(run_id, "finished")
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert run_id in app.runs_table.rows_by_key
        with Store(db) as other:
            other.delete_runs([run_id])
        await wait_for(pilot, lambda: run_id not in app.runs_table.rows_by_key, timeout=2.0)
        assert any(e == "#1 elsewhere was deleted by another process"
                   for e in app.log_pane.entries)
