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


async def test_runs_that_differ_in_more_than_their_schedule_say_so(tmp_path: Path) -> None:
    """Two runs of one schedule at two LRs (the range test's usual next step) read the same in
    the run column and the legends unless they name what differs: the LR here, on every row,
    under the table and in every legend, and for a stored run too (its config is read back from
    the store)."""
    app = make_app(tmp_path / "runs.db", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="run 1")
        await settle(pilot, app)
        assert app.runs_table.get_row_at(0)[1].plain.strip() == "StepLR 2/0.5"  # nothing differs
        app.sidebar.set_text("lr", "0.021")
        await settle(pilot, app)
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.jobs_started == 2 and app.job is None, what="run 2")
        await settle(pilot, app)
        cells = [app.runs_table.get_row_at(i)[1].plain.strip() for i in range(2)]
        assert cells == ["StepLR 2/0.5 lr=0.1", "StepLR 2/0.5 lr=0.021"]
        for chart in ("lr", "loss", "acc"):  # the legends too
            figure = app.chart(chart).figure
            assert "#1 StepLR lr=0.1" in figure and "#2 StepLR lr=0.021" in figure, figure
        app.runs_table.focus()
        app.runs_table.move_cursor(row=1)
        await pilot.pause(0.05)
        assert app.runs_table.border_subtitle == "#2 StepLR:step_size=2,gamma=0.5 · lr=0.021"
    reopened = make_app(tmp_path / "runs.db", epochs=2)
    async with reopened.run_test(size=(120, 40)) as pilot:
        await settle(pilot, reopened)
        assert [r.setup for r in reopened.runs_table.ordered()] == ["lr=0.1", "lr=0.021"]


def test_the_setup_parts_that_differ() -> None:
    from lrtui.model import OptimizerConfig, RunConfig
    from lrtui.report import differing_setup, setup_parts

    sgd = setup_parts(RunConfig().to_dict(), "784-64-32-10")
    assert sgd == {"model": "mlp", "shape": "784-64-32-10", "optimizer": "sgd", "lr": "lr=0.1",
                   "wd": "wd=0", "batch": "batch=32"}
    adam = setup_parts(RunConfig(optimizer=OptimizerConfig(name="adam", weight_decay=5e-4),
                                 lr=1e-3).to_dict(), "784-64-32-10")
    assert adam["optimizer"] == "adam" and adam["wd"] == "wd=0.0005"
    assert differing_setup([sgd, adam]) == ["optimizer", "lr", "wd"]
    assert differing_setup([sgd, dict(sgd)]) == []
    wide = {**sgd, "shape": "784-128-10"}
    assert differing_setup([sgd, wide]) == ["shape"]
    # another family: its name says it, not its (long) shape
    cnn = {**sgd, "model": "cnn", "shape": "LeNet-5: conv 6@5x5, pool, conv 16@5x5, pool"}
    assert differing_setup([sgd, cnn]) == ["model"]
    momentum = setup_parts(RunConfig(optimizer=OptimizerConfig(momentum=0.9)).to_dict())
    assert momentum["optimizer"] == "sgd m=0.9"
    # a stored config this version did not write: no parts, never an error
    assert setup_parts({"optimizer": "sgd"}) == {
        "model": "mlp", "shape": "", "optimizer": "?", "lr": "lr=-", "wd": "wd=0",
        "batch": "batch=?"}
    for odd in ({"optimizer": {"name": "sgd", "momentum": "0.9"}}, {"lr": [0.1]},
                {"optimizer": {"weight_decay": "x"}}):
        assert setup_parts(odd) == {}, odd
