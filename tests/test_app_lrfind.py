"""The LR range test in the app: `f`, its view (chart, cursor, suggestions) and the keys that put
an LR into the form. The view's data functions are tested alone on a hand-made curve; the pilot
tests run the real app, the real sweep (lrtui.lrfind) and a temporary store on tiny data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from test_app_support import make_app, settle, tiny_data, wait_for
from textual.widgets import Input, Select, Static

from lrtui import schedulers as S
from lrtui.app.form import format_number
from lrtui.app.lrfind_screen import VIEW_KEYS, RangeTestScreen, help_line
from lrtui.app.lrfind_view import (
    CURSOR_COLOR,
    MARKERS,
    RAW_COLOR,
    SMOOTHED_COLOR,
    TABLE_HEADER,
    Cursor,
    RangeView,
    applied_lr,
    big_step,
    chart_data,
    cursor_lr,
    cycle,
    drawn_points,
    jump_to,
    lr_text,
    move,
    position_of,
    range_view,
    readout,
    start_cursor,
    suggestion_rows,
    y_limits,
)
from lrtui.app.palette import _palette_actions
from lrtui.app.screens import ConfirmScreen
from lrtui.lrfind import (
    METHODS,
    Curve,
    RangeTestResult,
    SweepSettings,
    smooth,
    suggest,
)
from lrtui.model import RunConfig

# ------------------------------------------------------------------ the view's data, alone

SETTINGS = SweepSettings(start=1e-4, end=1.0, steps=50)  # skip 5 points at each end


def _result() -> RangeTestResult:
    """A 50-point sweep whose loss falls from 2.3, bottoms out, then blows up (NaN at the end)."""
    lrs = SETTINGS.lrs()
    losses = [2.3 - 2.0 / (1 + math.exp(-(i - 25) / 3)) + (0.05 * (i - 38) ** 2 if i > 38 else 0)
              for i in range(50)]
    losses[7] = 40.0  # a spike: its raw dot is clipped to the chart
    losses[-1] = math.nan
    smoothed = smooth(losses, SETTINGS.beta)
    curve = Curve(run=0, label="sgd", config=RunConfig(dataset="synthetic"), lrs=tuple(lrs),
                  losses=tuple(losses), smoothed=tuple(smoothed), stopped_early=True,
                  stop_reason="loss became nan at LR 1 (step 49)",
                  suggestions=suggest(lrs, smoothed, skip_start=SETTINGS.skip_start,
                                      skip_end=SETTINGS.skip_end))
    return RangeTestResult(settings=SETTINGS, curves=(curve,), dataset="synthetic", notice=None,
                           device="cpu", steps_done=50, stopped=False, seconds=0.1)


def _view() -> RangeView:
    return range_view(_result(), [7])


def test_drawn_points_leave_out_the_blow_up_and_non_finite_points() -> None:
    assert drawn_points([1e-3, 1e-2, 1e-1, 1.0, 10.0], [2.0, math.nan, 1.0, 1.5, 9.0], 2) == [0, 2]
    assert drawn_points([1e-3, 1e-2], [2.0, 1.0], 5) == [0]  # the first point stays
    assert drawn_points([0.0, 1e-2, 1e-1], [2.0, 1.0, 1.0], 0) == [1, 2]  # log-X: LR > 0 only
    view = _view()
    assert view.points == tuple(range(49))  # every finite point, to the last (step 50 is NaN)
    assert y_limits([1.0, 3.0]) == (0.9, 3.1)
    assert y_limits([2.0, 2.0]) == (1.95, 2.05)


def test_the_view_of_a_result() -> None:
    result = _result()
    view = range_view(result, [7])
    assert view.title == ("LR range test · sgd · synthetic · batch 32 · 50 steps, "
                          "LR 0.0001 → 1 · range test #7")
    assert view.note == "stopped early after 50 steps: loss became nan at LR 1 (step 49)"
    assert [s.method for s in view.suggestions] == list(METHODS)
    assert view.recommended == "valley"
    assert range_view(result).title.endswith("· not stored")


def test_cursor_moves_are_clamped_and_leave_the_suggestion() -> None:
    view = _view()
    start = start_cursor(view)
    valley = result_suggestion("valley")
    assert start == Cursor(valley.index, "valley")  # type: ignore[arg-type]
    right = move(view, start, 1)
    assert right == Cursor(start.pos + 1)
    assert cursor_lr(view, right) == view.lrs[start.pos + 1]
    assert move(view, Cursor(0), -1) == Cursor(0)
    assert move(view, Cursor(0), 10_000) == Cursor(48)  # the sweep's last finite point
    assert big_step(view) == 2  # 49 points // 20
    assert position_of(view, 1000) == 48 and position_of(view, 3) == 3


def result_suggestion(method: str) -> Any:
    return _result().curves[0].suggestions[method]


def test_jumps_to_suggestions_and_their_lrs() -> None:
    view = _view()
    mdiv = result_suggestion("min_div_10")
    cursor = jump_to(view, "min_div_10")
    assert cursor == Cursor(mdiv.index, "min_div_10")
    # Its LR (a tenth of the lowest loss's) lies between points: the cursor stands for it exactly.
    assert cursor_lr(view, cursor) == mdiv.lr != view.lrs[mdiv.index]
    order = [s.method for s in view.suggestions if s.ok]
    walked, c = [], Cursor(0)
    for _ in range(len(order) + 1):
        c = cycle(view, c)
        walked.append(c.method)
    assert walked == [*order, order[0]]
    assert cycle(view, Cursor(0), -1).method == order[-1]


def test_readout_rows_and_lr_text() -> None:
    view = _view()
    valley = result_suggestion("valley")
    i = valley.index
    assert readout(view, Cursor(i, "valley")) == (
        f"cursor  LR {lr_text(valley.lr)}  ·  smoothed loss {view.smoothed[i]:.4f}  ·  "
        f"raw {view.losses[i]:.4f}  ·  step {i + 1}/50  ·  valley")
    rows = suggestion_rows(view, Cursor(i, "valley"))
    assert rows[0] == TABLE_HEADER + "  (★ recommended)"
    assert rows[3] == (f"▸★3   V valley     {lr_text(valley.lr):>7}  {valley.loss:>7.4f}  "
                       f"{METHODS['valley']}")
    assert rows[1].startswith("  1   S steepest ")
    assert lr_text(0.021020608831301583) == "0.021" and applied_lr(0.0409123) == 0.0409
    assert lr_text(1.2345e-5) == "1.23e-05" and format_number(applied_lr(1.2345e-5)) == "1.23e-05"


def test_chart_data_is_log_x_with_clipped_raw_points_cursor_and_letters() -> None:
    view = _view()
    cursor = Cursor(10)
    data = chart_data(view, cursor)
    raw, line, smoothed, *marks = data.series
    assert (raw.kind, raw.color, smoothed.color, line.color) == (
        "points", RAW_COLOR, SMOOTHED_COLOR, CURSOR_COLOR)
    lo, hi = data.y_lim  # type: ignore[misc]
    assert list(smoothed.xs) == [math.log10(view.lrs[i]) for i in range(49)]
    # the Y range is the curve's without the blow-up (the last 5 points): beyond it, clipped
    assert (lo, hi) == y_limits([view.smoothed[i] for i in range(44)])
    assert list(smoothed.ys) == [min(max(view.smoothed[i], lo), hi) for i in range(49)]
    assert max(raw.ys) == hi and raw.ys[7] == hi  # the spike is clipped to the chart
    assert list(line.xs) == [math.log10(view.lrs[10])] * 2 and list(line.ys) == [lo, hi]
    ok = [s for s in view.suggestions if s.ok]
    assert [m.marker for m in marks] == [MARKERS[s.method] for s in ok]
    assert [(m.xs[0], m.ys[0]) for m in marks] == [(math.log10(s.lr or 0), s.loss) for s in ok]
    assert data.x_ticks == (-4.0, -3.0, -2.0, -1.0, 0.0)
    assert data.x_tick_labels == ("1e-04", "1e-03", "1e-02", "1e-01", "1e+00")


def test_the_view_lists_every_key_and_f_is_in_the_palette() -> None:
    text = help_line()
    for key in VIEW_KEYS:
        if key.listed:
            assert f"{key.display_key or key.key} {key.help}" in text
    assert "Find LR" in [a.title for a in _palette_actions()]


# ------------------------------------------------------------------------ the app, by keys


def _onecycle_app(db: Path, **kwargs: Any) -> Any:
    # 5 epochs x 8 steps: OneCycleLR's peak falls on a step (0.3 x 40 = 12), so max = max_lr.
    return make_app(db, epochs=5, scheduler="OneCycleLR", params={"cycle_momentum": False},
                    **kwargs)


async def _open_view(pilot: Any, app: Any) -> RangeTestScreen:
    await settle(pilot, app)
    await pilot.press("escape", "f")
    await wait_for(pilot, lambda: isinstance(app.screen, RangeTestScreen), what="range test view")
    screen = app.screen
    assert isinstance(screen, RangeTestScreen)
    return screen


def _readout(screen: RangeTestScreen) -> str:
    return str(screen.query_one("#lrfind-readout", Static).render())


async def test_f_then_m_fills_onecycle_max_lr_and_the_preview_peaks_there(tmp_path: Path) -> None:
    app = _onecycle_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_view(pilot, app)
        # Stored: one curve, the same as the view shows.
        [rec] = app.store.list_range_tests()
        view = screen.view
        assert view.stored_ids == (rec.id,)
        assert (rec.dataset, rec.optimizer, rec.label) == ("synthetic", "sgd", "sgd")
        assert rec.lrs == view.lrs and rec.config["batch_size"] == 32
        assert rec.suggestions["valley"]["lr"] == next(
            s.lr for s in view.suggestions if s.method == "valley")
        assert any(x.startswith(f"range test #{rec.id} on synthetic (500 steps")
                   for x in app.log_pane.entries)
        assert app.progress.text.startswith("range test done · recommended LR valley")
        # The cursor starts on the recommended suggestion; 1 jumps to steepest.
        assert screen.cursor.method == view.recommended == "valley"
        await pilot.press("1")
        steepest = next(s for s in view.suggestions if s.method == "steepest")
        assert screen.cursor.method == "steepest" and steepest.lr is not None
        assert f"LR {lr_text(steepest.lr)} " in _readout(screen)
        await pilot.press("m")
        expected = format_number(applied_lr(steepest.lr))
        max_lr = app.sidebar.widgets["param:max_lr"]
        assert isinstance(max_lr, Input) and max_lr.value == expected
        assert screen.status == f"form: OneCycleLR max_lr ← {expected} (range test: steepest)"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RangeTestScreen))
        await settle(pilot, app)
        assert app.form is not None and app.form.config is not None
        assert app.form.config.scheduler.params["max_lr"] == float(expected)
        assert app.preview is not None and max(app.preview.lr_per_step) == float(expected)
        exact = S.preview(app.form.config.scheduler, epochs=5, steps_per_epoch=8,
                          base_lr=0.1).lr_per_step
        assert list(app.preview.lr_per_step) == exact


async def test_moving_right_reaches_the_last_point_of_the_sweep(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_view(pilot, app)
        view = screen.view
        last = len(view.lrs) - 1
        assert math.isfinite(view.smoothed[last])  # the synthetic sweep ran all its steps
        await pilot.press(*["pagedown"] * 21)  # 21 twentieths: past the end, clamped
        assert screen.cursor == Cursor(len(view.points) - 1)
        await pilot.press("left", "right")  # and arrows walk onto it too
        assert view.points[screen.cursor.pos] == last
        assert _readout(screen).startswith(f"cursor  LR {lr_text(view.lrs[last])} ")
        assert f"step {last + 1}/{last + 1}" in _readout(screen)
        assert lr_text(view.lrs[last]) == "10"  # the sweep's end, as its title says
        await wait_for(pilot, lambda: screen.chart.drawn, what="chart drawn")
        [cursor_line] = [s for s in screen.chart.data.series if s.color == CURSOR_COLOR]
        assert list(cursor_line.xs) == [1.0, 1.0]  # log10(10): on the chart's last point
        await pilot.press("b")
        assert app.sidebar.values().lr == format_number(10.0)


async def test_cursor_keys_change_the_lr_shown_and_b_sets_the_base_lr(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_view(pilot, app)
        view = screen.view
        start = screen.cursor.pos

        def shown_lr() -> str:
            return _readout(screen).split("  LR ")[1].split(" ")[0]

        await pilot.press("right")
        assert screen.cursor == Cursor(start + 1)
        assert shown_lr() == lr_text(view.lrs[view.points[start + 1]])
        await pilot.press("shift+left")
        assert screen.cursor == Cursor(start + 1 - big_step(view))
        await pilot.press("pagedown", "left")
        assert screen.cursor == Cursor(start)
        await pilot.press("home")
        assert shown_lr() == lr_text(view.lrs[0]) == "1e-07"
        await pilot.press("end")
        assert screen.cursor.pos == len(view.points) - 1
        await pilot.press("tab")
        assert screen.cursor.method == "steepest"
        await wait_for(pilot, lambda: screen.chart.drawn, what="chart drawn")
        [cursor_line] = [s for s in screen.chart.data.series if s.color == CURSOR_COLOR]
        assert list(cursor_line.xs) == [math.log10(cursor_lr(view, screen.cursor))] * 2
        await pilot.press("left", "b")  # the point left of steepest, as the base LR
        lr = format_number(applied_lr(view.lrs[view.points[screen.cursor.pos]]))
        assert app.sidebar.values().lr == lr
        assert screen.status == f"form: base LR ← {lr} (range test: cursor)"
        await pilot.press("3", "enter")  # valley as the base LR, and close
        await wait_for(pilot, lambda: not isinstance(app.screen, RangeTestScreen))
        valley = next(s for s in view.suggestions if s.method == "valley")
        assert valley.lr is not None
        assert app.sidebar.values().lr == format_number(applied_lr(valley.lr))
        await settle(pilot, app)
        assert app.form is not None and app.form.config is not None
        assert app.form.config.lr == applied_lr(valley.lr)
        assert app.preview is not None and app.preview.lr_per_step[0] == applied_lr(valley.lr)


async def test_m_and_n_offer_to_switch_a_scheduler_without_that_field(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")  # StepLR: neither max_lr nor base_lr
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_view(pilot, app)
        lr = format_number(applied_lr(cursor_lr(screen.view, screen.cursor)))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="question")
        assert str(app.screen.query_one("#question").render()) == (
            f"The form's scheduler is StepLR, which has no base_lr. Switch it to CyclicLR with "
            f"base_lr = {lr}?")
        await pilot.press("n")  # no
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.status == "not applied: StepLR has no base_lr"
        assert app.sidebar.values().scheduler == "StepLR"
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="question")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.sidebar.values().scheduler == "OneCycleLR",
                       what="scheduler switched")
        select = app.sidebar.widgets["scheduler"]
        assert isinstance(select, Select) and select.value == "OneCycleLR"
        assert app.sidebar.values().params["max_lr"] == lr
        # The catalog's default, as on the command line (plain SGD: a warning, the form valid).
        assert app.sidebar.values().params["cycle_momentum"] is True
        assert screen.status == f"form: OneCycleLR max_lr ← {lr} (range test: valley)"
        await pilot.press("escape")
        await settle(pilot, app)
        assert app.form is not None and app.form.config is not None
        assert app.form.config.scheduler == S.SchedulerSpec("OneCycleLR", {"max_lr": float(lr)})
        # 3 x 8 steps: the peak (at step 0.3 x 24 - 1 = 6.2) falls between steps, just below.
        assert app.preview is not None
        assert 0.99 * float(lr) < max(app.preview.lr_per_step) < float(lr)


async def test_f_needs_only_the_fields_the_sweep_uses(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        for key, text in (("lr", "-1"), ("param:step_size", "0"), ("batch_size", "0")):
            app.focus_field(key)
            await pilot.press(*text)
        await wait_for(pilot, lambda: app.form is not None
                       and {"lr", "batch_size"} <= set(app.form.errors))
        await pilot.press("escape", "f")
        assert app.range_tests_started == 0 and app.finder is None
        # Only the batch size counts: the LR and the schedule are not the sweep's business.
        assert app.log_pane.entries[-1] == (
            "cannot find LR: batch size: must be an integer >= 1 (got 0)")
        assert app.focused is app.sidebar.widgets["batch_size"]
        await pilot.press(*"16", "escape", "f")
        await wait_for(pilot, lambda: isinstance(app.screen, RangeTestScreen), what="view")
        [rec] = app.store.list_range_tests()
        assert rec.config["batch_size"] == 16
        assert app.form is not None
        assert {"lr", "param:step_size"} <= set(app.form.errors)


async def test_s_stops_a_range_test_and_nothing_is_stored(tmp_path: Path) -> None:
    long = SweepSettings(steps=100_000, diverge_factor=math.inf)  # a minute of sweeping
    app = make_app(tmp_path / "runs.db", sweep=long)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.simulate_key("escape")
        app.simulate_key("f")
        await wait_for(pilot, lambda: "range test · step" in app.progress.text,
                       what="first progress")
        assert app.progress.text.endswith("· s stops it")
        app.simulate_key("r")  # no training beside a range test
        await wait_for(pilot, lambda: any("a range test is running" in x
                                          for x in app.log_pane.entries[-3:]))
        assert app.jobs_started == 0
        app.simulate_key("s")
        await wait_for(pilot, lambda: app.finder is None, timeout=5, what="stopped")
        assert app.store.list_range_tests() == []
        stopped = [x for x in app.log_pane.entries if x.startswith("range test stopped after ")]
        assert len(stopped) == 1 and stopped[0].endswith("/100000 steps; nothing stored")
        assert not isinstance(app.screen, RangeTestScreen)
        assert app.progress.text == "range test stopped"


async def test_no_range_test_while_a_training_runs(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", epochs=100, batch_size=1, data=tiny_data(1024, 64))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.simulate_key("escape")
        app.simulate_key("r")
        # an epoch here can end before any mid-epoch progress is due: wait for either line
        await wait_for(pilot, lambda: app.job is not None and app.progress.text.startswith("1 run"),
                       what="training")
        app.simulate_key("f")
        await wait_for(pilot, lambda: any("range test needs the CPU" in x
                                          for x in app.log_pane.entries[-3:]))
        assert app.finder is None and app.range_tests_started == 0
        app.simulate_key("s")
        await wait_for(pilot, lambda: app.job is None, what="training stopped")
