"""The app on small and ordinary terminals: nothing a person needs is cut off at 80x24 or 120x40
(the log wraps its lines, the progress line keeps its ETA, the runs table shows its numbers)."""

from __future__ import annotations

from pathlib import Path

from test_app_support import make_app, settle, train_tutorial, wait_for
from textual.widgets import Select, Static

from lrtui.app.app import LrtuiApp
from lrtui.app.form import FormValues
from lrtui.data import DATASETS
from lrtui.schedulers import CATALOG
from lrtui.store import Store

LONG = ("range test #3 on synthetic (45 steps, 0.3 s): recommended valley 0.0123 · also "
        "steepest 0.19 · min_div_10 0.056")


def _wrapped(lines: list[str], message: str) -> bool:
    """The last lines of the log read `message` whole (wrapped at spaces)."""
    return any(" ".join(lines[-n:]) == message for n in range(1, len(lines) + 1))


def _starts(lines: list[str], message: str) -> bool:
    """The first lines of the log read `message` whole (wrapped at spaces)."""
    return any(" ".join(lines[:n]) == message for n in range(1, len(lines) + 1))


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
        assert _starts(lines, "lrtui · run history in runs.db")
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
        await train_tutorial(pilot, app)
        table = app.runs_table
        visible = table.scrollable_content_region.width
        header = table.render_line(0).text
        assert len(header) == visible
        assert header.split()[:5] == ["run", "status", "ep", "acc%", "loss"]
        for y, run in enumerate(table.ordered(), 1):  # the tutorial's 4 groups of 3 seeds
            shown = " ".join(table.render_line(y).text.split())  # the row as far as it shows
            assert run.best_acc is not None and run.acc_std is not None
            assert run.best_loss is not None and run.loss_std is not None
            numbers = (f"{100 * run.best_acc:.1f}±{100 * run.acc_std:.1f} "
                       f"{run.best_loss:.3f}±{run.loss_std:.3f}")
            assert f"×3 finished 2/2 {numbers}" in shown, shown
        # with more runs than rows a scrollbar takes a column: the loss still fits
        loss_end = sum(c.get_render_width(table) for c in table.ordered_columns[:6])
        assert [c.key.value for c in table.ordered_columns[:6]][-1] == "loss"
        assert loss_end <= visible - 1


def _form_app(tmp_path: Path, dataset: str, scheduler: str = "OneCycleLR") -> LrtuiApp:
    """The app with the real dataset choices (nothing is loaded or trained); SGD with momentum,
    so OneCycleLR's form has nothing to warn about."""
    return LrtuiApp(store=Store(tmp_path / "runs.db"), default_dataset=dataset,
                    initial=FormValues(dataset=dataset, device="cpu", scheduler=scheduler,
                                       momentum="0.9"),
                    device_info=lambda choice: ("cpu (no CUDA)", True), form_debounce_s=0)


async def test_dataset_names_are_not_wrapped_at_80x24(tmp_path: Path) -> None:
    app = _form_app(tmp_path, "fashion-mnist")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        select = app.sidebar.widgets["dataset"]
        assert isinstance(select, Select)
        label = select.query_one("SelectCurrent").query_one("#label", Static)
        for name in DATASETS:
            select.value = name
            await pilot.pause(0.05)
            assert (label.region.height, label.render_line(0).text.strip()) == (1, name)


async def test_an_open_choice_list_is_as_wide_as_its_longest_name_at_80x24(
    tmp_path: Path,
) -> None:
    """The scheduler list in the narrow sidebar wrapped names mid-word ("CosineAnnealin" /
    "gWarmRestarts"); it now opens over the charts, one line per name."""
    app = _form_app(tmp_path, "mnist")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.focus_field("scheduler")
        await pilot.press("enter")
        await pilot.pause(0.2)
        overlay = app.screen.query_one("SelectOverlay:focus")
        longest = max(len(name) for name in CATALOG)
        assert longest == len("CosineAnnealingWarmRestarts")
        assert overlay.content_region.width >= longest + 2  # the option's padding
        sidebar = app.sidebar.widgets["scheduler"].region
        assert overlay.content_region.width > sidebar.width
        await pilot.press("escape")


async def test_scheduler_parameters_show_beside_the_charts_at_80x24(tmp_path: Path) -> None:
    app = _form_app(tmp_path, "mnist")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.pause(0.1)
        sidebar = app.sidebar
        assert app.focused is sidebar.widgets["scheduler"]  # where the app starts
        params = [key for key in sidebar.widgets if key.startswith("param:")]
        assert len(params) >= 8  # OneCycleLR's
        visible = sidebar.content_region
        shown = [k for k in params if visible.contains_region(sidebar.widgets[k].region)]
        assert shown[:6] == params[:6]  # max_lr, total_steps, ... under the scheduler
        assert app.chart("lr").region.width >= 40 and app.chart("lr").display
        # the rest are a tab away: focusing one scrolls it into view, the charts stay
        await pilot.press(*["tab"] * len(params))
        await pilot.pause(0.1)
        last = sidebar.widgets[params[-1]]
        assert app.focused is last or visible.contains_region(last.region)
        assert app.chart("lr").region.width >= 40
        # g (jump to the scheduler) brings the Schedule section back to the top
        await pilot.press("escape", "g")
        await pilot.pause(0.1)
        assert visible.contains_region(sidebar.widgets[params[0]].region)


async def test_a_checkbox_looks_different_on_and_off_without_colour(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", scheduler="OneCycleLR",
                   params={"cycle_momentum": True, "three_phase": False})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        on = app.sidebar.widgets["param:cycle_momentum"]
        off = app.sidebar.widgets["param:three_phase"]
        nesterov = app.sidebar.widgets["optimizer.nesterov"]
        assert (on.value, off.value, nesterov.value) == (True, False, False)

        def mark(box: object) -> str:  # the characters drawn, colours left out
            return box.render_line(0).text.strip()  # type: ignore[attr-defined, no-any-return]

        assert (mark(on), mark(off), mark(nesterov)) == ("▐X▌", "▐ ▌", "▐ ▌")
        off.focus()
        await pilot.press("space")  # ticked by the keyboard: the mark follows the value
        await wait_for(pilot, lambda: off.value is True, what="ticked")
        await pilot.pause(0.05)
        assert mark(off) == "▐X▌"
        await pilot.press("space")
        await wait_for(pilot, lambda: off.value is False, what="unticked")
        await pilot.pause(0.05)
        assert mark(off) == "▐ ▌"
