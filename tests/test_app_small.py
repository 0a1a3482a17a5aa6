"""The app on small and ordinary terminals: nothing a person needs is cut off at 80x24 or 120x40
(the log wraps its lines, the progress line keeps its ETA, the runs table shows its numbers)."""

from __future__ import annotations

from pathlib import Path

from test_app_support import make_app, settle, wait_for

LONG = ("range test #3 on synthetic (45 steps, 0.3 s): recommended valley 0.0123 · also "
        "steepest 0.19 · min_div_10 0.056")


def _wrapped(lines: list[str], message: str) -> bool:
    """The last lines of the log read `message` whole (wrapped at spaces)."""
    return any(" ".join(lines[-n:]) == message for n in range(1, len(lines) + 1))


async def test_the_log_wraps_long_lines_to_its_width_at_80x24(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        log = app.log_pane
        log.add(LONG, "notice")
        await pilot.pause(0.1)
        width = log.scrollable_content_region.width
        lines = [strip.text.rstrip() for strip in log.lines]
        assert width < len(LONG) // 3  # a narrow pane: the line needs several rows
        assert max(len(line) for line in lines) <= width  # nothing past the pane's edge
        assert log.virtual_size.width <= width  # so nothing to scroll sideways to
        assert _wrapped(lines, "» " + LONG)
        # the first lines, written before the pane had its final size, were wrapped again too
        assert _wrapped(lines[:2], "lrtui · run history in runs.db")
        # hiding the form widens the pane: every line is wrapped again to the new width
        await pilot.press("escape", "ctrl+b")
        await wait_for(pilot, lambda: log.scrollable_content_region.width > width,
                       what="a wider log")
        await pilot.pause(0.1)
        wider = log.scrollable_content_region.width
        lines = [strip.text.rstrip() for strip in log.lines]
        assert max(len(line) for line in lines) <= wider
        assert max(len(line) for line in lines) > width  # really rewrapped, not kept narrow
        assert _wrapped(lines, "» " + LONG)


async def test_the_progress_line_keeps_its_eta_at_80x24(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        text = app.progress.query_one("#progress-text")
        app.progress.show(label="4 runs", epoch=11, epochs=25, step=1234, steps_per_epoch=1875,
                          global_step=11 * 1875 + 1234, total_steps=25 * 1875,
                          samples_per_s=12345.0, elapsed_s=3000.0)
        await pilot.pause(0.05)
        shown = text.render_line(0).text  # what the row shows, cut to its width
        assert "ETA 57:13 · epoch 12/25" in shown
        app.progress.show_epoch(label="4 runs", epochs_done=12, epochs=25, epoch_seconds=240.0)
        await pilot.pause(0.05)
        assert "ETA 52:00 · epoch 12/25 done" in text.render_line(0).text
        app.progress.show_sweep(step=120, steps=500, lr=0.00123, loss=2.3026, elapsed_s=3.0)
        await pilot.pause(0.05)
        assert "range test · step 120/500 · ETA 0:10" in text.render_line(0).text


async def test_the_runs_table_shows_status_epochs_acc_and_loss_at_120x40(
        tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("t")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="tutorial")
        await settle(pilot, app)
        table = app.runs_table
        visible = table.scrollable_content_region.width
        header = table.render_line(0).text
        assert len(header) == visible
        assert header.split()[:5] == ["run", "status", "ep", "acc%", "loss"]
        for y, run in enumerate(table.ordered(), 1):
            shown = " ".join(table.render_line(y).text.split())  # the row as far as it shows
            numbers = f"{100 * (run.best_acc or 0):.2f} {run.best_loss:.4f}"
            assert f"{run.label} finished 2/2 {numbers}" in shown, shown
        # with more runs than rows a scrollbar takes a column: the loss still fits
        loss_end = sum(c.get_render_width(table) for c in table.ordered_columns[:6])
        assert [c.key.value for c in table.ordered_columns[:6]][-1] == "loss"
        assert loss_end <= visible - 1
