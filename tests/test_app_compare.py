"""Telling runs apart: the runs table's first columns, every chart's legend, the cursor row's full
spec, `paused` in the table, and the batch being assembled."""

from __future__ import annotations

from pathlib import Path

from test_app_support import make_app, settle, train_tutorial, wait_for

from lrtui.app.runs import COLUMNS

# The tutorial trains each scheduler with 3 seeds: a group is named by its first run.
TUTORIAL = ["#1 StepLR", "#4 MultiStepLR", "#7 ExponentialLR", "#10 ReduceLROnPlateau"]


async def test_four_runs_are_named_in_the_table_and_every_legend(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_tutorial(pilot, app)
        assert [c.key for c in COLUMNS][:6] == ["shown", "label", "status", "epochs", "acc",
                                                "loss"]
        rows = app.runs_table.ordered()
        assert [r.label for r in rows] == ["StepLR 10/0.1", "MultiStep 10,30/0.1", "Exp 0.1",
                                           "Plateau 0.1/5"]
        assert [r.status for r in rows] == ["finished"] * 4
        first_cells = [app.runs_table.get_row_at(i)[1] for i in range(4)]
        assert [c.plain.strip() for c in first_cells] == [  # Text cells; the count always shows
            "StepLR 10/0.1 ×3", "MultiStep 10,… ×3", "Exp 0.1 ×3", "Plateau 0.1/5 ×3"]
        for chart in ("lr", "loss", "acc"):
            figure = app.chart(chart).figure
            assert all(name in figure for name in TUTORIAL), (chart, figure)
            assert "more" not in figure
        app.runs_table.focus()
        app.runs_table.move_cursor(row=1)
        await pilot.pause(0.05)
        assert app.runs_table.border_subtitle == (
            "#4-6 MultiStepLR:milestones=[10,30],gamma=0.1 · + lists its seeds")


async def test_pause_keeps_the_bar_and_the_table_says_paused(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=200)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "r")
        try:
            await wait_for(pilot, lambda: bool(app.traces) and len(next(iter(
                app.traces.values())).epochs) >= 2, what="two epochs")
            await pilot.press("p")
            await wait_for(pilot, lambda: app.runs_table.rows_by_key[1].status == "paused",
                           timeout=2.0, what="paused in the table")
            bar = app.progress.query_one("ProgressBar")
            assert bar.progress > 0  # where the training got, not reset
            await pilot.pause(0.3)  # an epoch that ended as p was pressed is drawn, paused
            assert app.progress.text.startswith("paused · 1 run · ")
            await pilot.press("p")
            await wait_for(pilot, lambda: app.runs_table.rows_by_key[1].status != "paused",
                           timeout=2.0, what="no longer paused")
        finally:  # a failed check must not leave the training thread paused at teardown
            if app.job is not None:
                app.job.control.stop()
                app.job.control.resume()
        await wait_for(pilot, lambda: app.job is None, what="stopped")
        assert app.runs_table.rows_by_key[1].status in ("stopped", "finished")


async def test_the_batch_is_listed_and_X_takes_the_last_entry_out(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        batch_line = app.query_one("#batch")
        assert not batch_line.display
        await pilot.press("escape", "a")
        app.sidebar.set_text("label", "second")
        await settle(pilot, app)
        await pilot.press("escape", "a")
        assert batch_line.display
        assert str(batch_line.render()) == (
            "batch (2; b trains it, X removes the last, x empties it): 1. StepLR 2/0.5 · "
            "2. second")
        await pilot.press("X")
        assert [c.label for c in app.batch] == [""]
        assert app.log_pane.entries[-1] == "batch: removed second (1 left)"
        assert str(batch_line.render()).endswith(": 1. StepLR 2/0.5")
        await pilot.press("x")
        assert app.batch == [] and not batch_line.display
