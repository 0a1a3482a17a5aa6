"""Groups of seeds in the app: the form's seeds field, one table line per group (expanding to its
seeds), a group drawn as its mean over its min-max band, the compare screen, passes, and groups
another process writes."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from test_app_support import make_app, settle, train_tutorial, wait_for

import lrtui.engine as engine
from lrtui import runner
from lrtui.app.chartdata import aggregate, build_charts, faint
from lrtui.app.charts import chart_legend
from lrtui.app.compare_screen import CompareScreen
from lrtui.app.form import FormValues, evaluate
from lrtui.app.plotting import color_for
from lrtui.app.screens import ConfirmScreen
from lrtui.cli import main
from lrtui.compare import spread_text
from lrtui.model import RunConfig
from lrtui.session import RunTrace
from lrtui.stats import spread
from lrtui.store import EpochRecord, NewRun, Store

GROUP_LINES = ["StepLR 10/0.1", "MultiStep 10,30/0.1", "Exp 0.1", "Plateau 0.1/5"]


async def test_the_tutorial_is_four_group_lines_that_expand_to_their_seeds(
        tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_tutorial(pilot, app)
        runs = app.store.list_runs()
        assert len(runs) == 12 and all(r.status == "finished" for r in runs)
        table = app.runs_table
        rows = table.ordered()
        assert [r.label for r in rows] == GROUP_LINES
        assert [r.members for r in rows] == [(1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12)]
        assert [table.get_row_at(i)[-1].plain.strip() for i in range(4)] == [
            "1-3", "4-6", "7-9", "10-12"]
        # the line's numbers: mean ± std of its runs' best accuracy (`lrtui.stats.spread`)
        acc = spread([max(e.valid_acc for e in app.store.epochs(k)) for k in (4, 5, 6)])
        assert rows[1].best_acc == acc.mean and rows[1].acc_std == acc.std
        assert table.get_row_at(1)[4].plain.strip() == f"{100 * acc.mean:.1f}±{100 * acc.std:.1f}"

        table.focus()
        table.move_cursor(row=1)
        await pilot.press("plus")
        await pilot.pause(0.05)
        rows = table.ordered()
        assert [r.label for r in rows] == [GROUP_LINES[0], GROUP_LINES[1], "├ seed=0",
                                           "├ seed=1", "└ seed=2", *GROUP_LINES[2:]]
        assert [r.key for r in rows[2:5]] == [4, 5, 6]
        assert [r.parent for r in rows[2:5]] == [rows[1].group] * 3
        assert table.highlighted_key == 4 and table.highlighted_row == rows[1]  # still the line

        table.move_cursor(row=3)  # seed=1: space hides it alone, the line is partly shown
        await pilot.press("space")
        await pilot.pause(0.05)
        assert not app.traces[5].shown and table.ordered()[1].partly_shown
        await pilot.press("minus")  # from a seed's row: its group folds, the cursor on the line
        await pilot.pause(0.05)
        assert [r.label for r in table.ordered()] == GROUP_LINES
        assert table.highlighted_row is not None and table.highlighted_row.members == (4, 5, 6)
        await pilot.press("enter")  # enter on a group's line lists its seeds too
        await pilot.pause(0.05)
        assert len(table.ordered()) == 7

        table.move_cursor(row=0)
        await pilot.press("c")  # clone a group: its first seed's config, its number of seeds
        await wait_for(pilot, lambda: app.sidebar.values().scheduler == "StepLR"
                       and app.sidebar.values().seeds == "3", what="the form cloned")
        values = app.sidebar.values()
        assert (values.seed, values.label, values.params["step_size"]) == ("0", "", "10")

        table.focus()
        table.move_cursor(row=0)
        await pilot.press("d")  # a group's line deletes its runs, after asking
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(app.store.list_runs()) == 9, what="deleted")
        assert app.log_pane.entries[-1] == "deleted the 3 runs of group #1 StepLR"
        assert table.ordered()[0].label == GROUP_LINES[1]


async def test_a_group_draws_its_mean_over_its_min_max_band(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=3)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_tutorial(pilot, app)
        epochs = {k: app.store.epochs(k) for k in (1, 2, 3)}  # the StepLR group, by seed
        loss = [s for s in app.chart("loss").data.series if s.label.startswith("#1 ")]
        assert [(s.label, s.kind, s.legend) for s in loss] == [
            ("#1 StepLR train", "points", ""), ("#1 StepLR valid band", "band", ""),
            ("#1 StepLR valid", "line", "#1 StepLR")]
        xs = [1.0, 2.0, 3.0]
        per_epoch = [[epochs[k][i].valid_loss for k in (1, 2, 3)] for i in range(3)]
        train, band, mean = loss
        assert (list(band.xs), list(mean.xs), list(train.xs)) == (xs, xs, xs)
        assert list(mean.ys) == [statistics.fmean(v) for v in per_epoch]
        assert list(band.ys) == [max(v) for v in per_epoch]
        assert list(band.low) == [min(v) for v in per_epoch]
        assert list(train.ys) == [statistics.fmean(epochs[k][i].train_loss for k in (1, 2, 3))
                                  for i in range(3)]
        acc = [s for s in app.chart("acc").data.series if s.label.startswith("#1 ")]
        assert list(acc[-1].ys) == [statistics.fmean(100.0 * epochs[k][i].valid_acc
                                                     for k in (1, 2, 3)) for i in range(3)]
        # the LR: one mean line; every seed has the same schedule, so no band
        lr = [s for s in app.chart("lr").data.series if s.label.startswith("#1 ")]
        assert [s.kind for s in lr] == ["line"]
        # one legend entry per group
        for chart in ("loss", "acc"):
            entries = [s.legend_entry for s in app.chart(chart).data.series if s.legend_entry]
            assert entries == ["#1 StepLR", "#4 MultiStepLR", "#7 ExponentialLR",
                               "#10 ReduceLROnPlateau"]
            assert "░" in app.chart(chart).figure  # the bands are drawn


def _trace(key: int, losses: list[float | None], status: str = "finished") -> RunTrace:
    trace = RunTrace(key=key, label=f"StepLR seed={key}", scheduler="StepLR", dataset="d",
                     epochs_planned=3, status=status, group_id="c.1", group_label="StepLR",
                     seed_index=key - 1, seed=key - 1)
    trace.epochs = [EpochRecord(i, loss, loss, 0.5, 0.1, None, 1.0)
                    for i, loss in enumerate(losses)]
    return trace


def test_without_a_band_to_draw_a_group_is_its_lighter_seed_lines() -> None:
    # seed 2 diverged after one epoch: a mean of the others would hide it
    ended = [_trace(1, [1.0, 0.8, 0.6]), _trace(2, [1.2])]
    charts = build_charts(ended, None)
    valid = [s for s in charts.loss.series if s.label.endswith("valid")]
    assert [(s.label, s.color, s.legend_entry) for s in valid] == [
        ("#1 StepLR seed=1 valid", faint(color_for(1)), "#1 StepLR"),
        ("#2 StepLR seed=2 valid", faint(color_for(1)), "")]
    assert [list(s.ys) for s in valid] == [[1.0, 0.8, 0.6], [1.2]]
    # still running, a seed that is behind lags: the mean is over the seeds there
    running = [_trace(1, [1.0, 0.8], "running"), _trace(2, [1.2], "running")]
    [mean] = [s for s in build_charts(running, None).loss.series if s.label.endswith("valid")]
    assert (list(mean.xs), list(mean.ys)) == ([1.0, 2.0], [statistics.fmean([1.0, 1.2]), 0.8])
    assert aggregate([([1.0, 2.0], [1.0, 2.0]), ([2.0], [3.0])], [False, False]) is None
    assert chart_legend(tuple(build_charts(ended, None).loss.series), 40, 12)[0].plain == (
        "▬ #1 StepLR")


def test_the_seeds_field_is_checked_like_the_flag() -> None:
    assert evaluate(FormValues(dataset="mnist", seeds="3")).seeds == 3
    assert evaluate(FormValues(dataset="mnist", seeds="0")).errors == {
        "seeds": "must be an integer >= 1 (got 0)"}
    assert evaluate(FormValues(dataset="mnist", seed="4294967295", seeds="2")).errors == {
        "seeds": "the last seed SEED+1 must be at most 4294967295 (got 4294967296)"}


async def test_the_seeds_field_trains_n_runs_grouped_in_the_store(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    app = make_app(db, epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.sidebar.set_text("seed", "5")
        app.sidebar.set_text("seeds", "3")
        await settle(pilot, app)
        await pilot.press("escape", "a")
        app.sidebar.set_text("seeds", "2")
        await settle(pilot, app)
        await pilot.press("escape", "a")  # the batch's entries share their seeds
        assert app.log_pane.entries[-1] == (
            "not added: the batch trains 3 seeds per configuration, this one 2 "
            "(x empties the batch)")
        assert str(app.query_one("#batch").render()).startswith("batch (1 × 3 seeds;")
        await pilot.press("b")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="training")
        await settle(pilot, app)
        assert "training the batch (3 runs, 3 seeds each, 2 epochs, batch 32)" in \
            app.log_pane.entries
        assert "3 runs (1 group x 3 seeds) in 1 pass" in app.log_pane.entries
        assert [r.label for r in app.runs_table.ordered()] == ["StepLR 2/0.5"]
    with Store(db) as store:
        runs = store.list_runs()
        assert [(r.label, r.config["seed"], r.seed_index) for r in runs] == [
            ("StepLR 2/0.5 seed=5", 5, 0), ("StepLR 2/0.5 seed=6", 6, 1),
            ("StepLR 2/0.5 seed=7", 7, 2)]
        assert {(r.group_id, r.group_label) for r in runs} == {(runs[0].group_id, "StepLR 2/0.5")}
    assert main(["runs", "compare", "--last", "--json", "--db", str(db)]) == 0
    [group] = json.loads(capsys.readouterr().out)["groups"]
    assert (group["label"], group["n"], group["run_ids"]) == ("StepLR 2/0.5", 3, [1, 2, 3])


async def test_the_compare_screen_opens_on_a_group_line(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_tutorial(pilot, app)
        app.runs_table.focus()
        app.runs_table.move_cursor(row=2)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        table = app.screen.query_one("#compare-table")
        rows = [table.get_row_at(i) for i in range(table.row_count)]  # type: ignore[attr-defined]
        assert [r[1:3] for r in rows] == [["StepLR 10/0.1", "3"], ["MultiStep 10,30/0.1", "3"],
                                          ["Exp 0.1", "3"], ["Plateau 0.1/5", "3"]]
        vs = app.screen.query_one("#compare-vs")
        vs_rows = [vs.get_row_at(i) for i in range(vs.row_count)]  # type: ignore[attr-defined]
        assert vs_rows[0][3] == "baseline"
        assert all(r[3].endswith(("better", "worse", "within seed noise")) for r in vs_rows[1:])
        best_losses = [min(e.valid_loss for e in app.store.epochs(k)) for k in (7, 8, 9)]
        assert rows[2][6] == spread_text(spread(best_losses), False)
        await pilot.press("escape")


async def test_runs_that_do_not_fit_one_pass_train_pass_after_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    per_run = runner.run_bytes(RunConfig())  # the tutorial's MLP and batch
    monkeypatch.setattr(runner, "memory_budget", lambda device: 4 * per_run)  # 4 runs a pass
    app = make_app(tmp_path / "runs.db", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_tutorial(pilot, app)
        log = app.log_pane.entries
        assert ("12 runs (4 groups x 3 seeds) in 3 passes (split by batch size, model or "
                "memory): trained one after another") in log
        assert [e for e in log if e.startswith("pass ")] == [
            "pass 1 of 3: 4 runs", "pass 2 of 3: 4 runs", "pass 3 of 3: 4 runs"]
        runs = app.store.list_runs()
        assert [(r.status, r.seed_index) for r in runs] == [("finished", i % 3) for i in range(12)]
        assert [r.label for r in app.runs_table.ordered()] == GROUP_LINES
        # seed 1 trains alike in pass 1 (#2 StepLR) and in pass 2 (#5 MultiStepLR): the same
        # weights and data order, and the same LR in the first epoch
        assert app.store.epochs(5)[0].train_loss == pytest.approx(
            app.store.epochs(2)[0].train_loss, rel=1e-6)


class _StopAfterOnePass:
    """The real engine; the user stops the training as its first pass ends."""

    def train(self, configs: Any, on_event: Any, control: Any = None, **kw: Any) -> Any:
        ended = engine.train(configs, on_event, control, **kw)
        control.stop()
        return ended


async def test_a_stop_ends_the_passes_still_to_come(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    per_run = runner.run_bytes(RunConfig())
    monkeypatch.setattr(runner, "memory_budget", lambda device: 4 * per_run)
    app = make_app(tmp_path / "runs.db", epochs=2, engine=_StopAfterOnePass())
    async with app.run_test(size=(120, 40)) as pilot:
        await train_tutorial(pilot, app)
        assert [e for e in app.log_pane.entries if e.startswith("pass ")] == [
            "pass 1 of 3: 4 runs"]
        assert "training done · 4 finished, 8 not started" in app.log_pane.entries
        assert len(app.store.list_runs()) == 4


async def test_a_group_another_process_writes_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        with Store(db) as other:
            config = RunConfig(epochs=2, dataset="synthetic")
            ids = [other.start_run(NewRun(
                batch_id="b", batch_index=i, label=f"cos seed={i}", scheduler="CosineAnnealingLR",
                optimizer="SGD", lr=0.1, dataset="synthetic", device="cpu", epochs=2,
                config={**config.to_dict(), "seed": i}, torch_version="x", group_id="cmd.1",
                group_label="cos", seed_index=i)) for i in range(2)]
            await wait_for(pilot, lambda: app.runs_table.row_count == 1, timeout=2.0,
                           what="the other process's group")
            [row] = app.runs_table.ordered()
            assert (row.label, row.status, row.members) == ("cos", "running",
                                                            tuple(ids))
            for run_id, acc in zip(ids, (0.5, 0.7), strict=True):
                other.record_epoch(run_id, EpochRecord(0, 1.0, 1.0, acc, 0.1, None, 1.0), None)
            other.end_run(ids[0], "finished")
            await wait_for(pilot, lambda: app.runs_table.ordered()[0].epochs_done == 1,
                           timeout=2.0, what="its epochs")
            await wait_for(pilot, lambda: app.runs_table.ordered()[0].status == "running 1/2",
                           timeout=2.0, what="its statuses")
            row = app.runs_table.ordered()[0]
            assert row.status == "running 1/2"  # the one in flight, with its count
            assert row.best_acc == statistics.fmean([0.5, 0.7])
