"""The form with recipes and the interval toggle, driven by keyboard in the real app."""

from __future__ import annotations

from pathlib import Path

from test_app_support import make_app, settle, wait_for
from textual.widgets import Select

from lrtui import schedulers as S


async def test_pick_a_recipe_flip_its_interval_and_train_it(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter", *"WarmupCos", "enter")
        await wait_for(pilot, lambda: "param:warmup_steps" in app.sidebar.widgets, what="recipe")
        toggle = app.sidebar.widgets["interval"]
        assert isinstance(toggle, Select) and toggle.value == "step"  # recipes: per step
        spec = S.SchedulerSpec("WarmupCosine")
        exact = S.preview(spec, epochs=3, steps_per_epoch=8, base_lr=0.1).lr_per_step
        await wait_for(pilot, lambda: app.preview is not None
                       and list(app.preview.lr_per_step) == exact, what="per-step preview")
        assert len(set(exact[:8])) == 8  # the LR moves within the first epoch
        toggle.value = "epoch"  # as if chosen in the select
        per_epoch = S.SchedulerSpec("WarmupCosine", {"interval": "epoch"})
        await wait_for(pilot, lambda: app.form is not None and app.form.config is not None
                       and app.form.config.scheduler == per_epoch, what="interval=epoch")
        exact = S.preview(per_epoch, epochs=3, steps_per_epoch=8, base_lr=0.1).lr_per_step
        await wait_for(pilot, lambda: app.preview is not None
                       and list(app.preview.lr_per_step) == exact, what="per-epoch preview")
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: app.job is None and app.jobs_started == 1, what="trained")
        await settle(pilot, app)
        run = app.store.list_runs()[0]
        assert run.status == "finished"
        assert run.scheduler == S.format_spec(S.resolve(per_epoch, epochs=3, steps_per_epoch=8))


async def test_the_schedulers_line_counts_in_its_interval(tmp_path: Path) -> None:
    """StepLR per step decays every step_size optimizer steps, and its line says so."""
    from textual.widgets import Static

    app = make_app(tmp_path / "runs.db")  # StepLR
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        line = app.sidebar.query_one("#scheduler-help", Static)
        assert str(line.render()) == (
            "multiply the LR by gamma every step_size epochs (stepped once per epoch)")
        toggle = app.sidebar.widgets["interval"]
        assert isinstance(toggle, Select)
        toggle.value = "step"  # as if chosen in the select
        await wait_for(pilot, lambda: "optimizer steps" in str(line.render()), what="per step")
        assert str(line.render()) == ("multiply the LR by gamma every step_size optimizer steps"
                                      " (stepped after every optimizer step)")
        await settle(pilot, app)
        assert app.form is not None and app.form.config is not None
        assert app.form.config.scheduler.params["interval"] == "step"
