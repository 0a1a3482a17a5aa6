"""Training from the app: the keys that train (r, a, b, x, X, t, s, p), the "train" worker and the
messages it posts.

The training runs in one thread worker (group "train", exclusive; its end is handled once, in
`LrtuiApp.on_worker_state_changed`) that records every engine event to the store
(`TrainingJobs.run`) and posts one dataclass message per event; the session applies each
(`TrainingJobs.apply`) and the app draws what it changed.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from lrtui.app.form import TUTORIAL_SEEDS, tutorial_configs
from lrtui.app.messages import EngineEvent, PassStarted, RunDropped, TrainingNotice
from lrtui.app.threads import pause_full_gc, yield_cpu_to_ui
from lrtui.engine import Event, RunEnded
from lrtui.model import RunConfig
from lrtui.numbering import counted
from lrtui.schedulers import short_spec
from lrtui.session import Job

if TYPE_CHECKING:
    from lrtui.app.app import LrtuiApp


class TrainingFlow:
    """Starts, steers and shows the app's trainings; the session holds their state."""

    def __init__(self, app: LrtuiApp) -> None:
        self.app = app
        self.session = app.session

    def busy(self) -> bool:
        """Say why a new job cannot start now, if it cannot."""
        reason = self.session.busy_reason()
        if reason is not None:
            self.app.log_pane.add(reason, "warning")
        return reason is not None

    def start(self, configs: list[RunConfig], what: str, seeds: int = 1, *,
              ray: str | None = None) -> None:
        """Train `configs`, each with `seeds` seeds, as `lrtui run --seeds` would (planned by
        the session: one group per configuration), here or on the Ray cluster at `ray`."""
        if self.busy():
            return
        from lrtui.engine import check_batch  # torch: loaded by now (the keys wait for it)

        app = self.app
        try:
            check_batch(configs)
            job = self.session.training.start(configs, seeds=seeds, ray=ray)
        except ValueError as exc:
            app.log_pane.add(f"cannot train: {exc}", "error")
            return
        app.main.hide_banner()
        each = f", {seeds} seeds each" if seeds > 1 else ""
        where = f", on Ray ({ray})" if ray is not None else ""
        epochs = counted(configs[0].epochs, "epoch")
        app.log_pane.add(f"training {what} ({job.title}{each}, {epochs}, "
                         f"batch {configs[0].batch_size}{where})", "notice")
        app.progress.idle(f"starting {job.title} …")
        app.runs_table.focus()  # space / enter / c now act on runs right away
        pause_full_gc()
        app.run_worker(partial(self._train, job), group="train", exclusive=True, thread=True,
                       exit_on_error=False)

    def _train(self, job: Job) -> list[RunEnded]:
        """Train on the "train" worker's thread (`TrainingJobs.run`); each event, recorded
        there, reaches the UI as one EngineEvent message."""
        yield_cpu_to_ui()
        app, number = self.app, job.number

        def on_event(run_id: int | None, event: Event) -> None:
            app.post_message(EngineEvent(number, run_id, event))

        def on_dropped(run_id: int, text: str) -> None:
            app.post_message(RunDropped(number, run_id, text))

        def on_notice(text: str) -> None:
            app.post_message(TrainingNotice(number, text))

        def on_pass(index: int, passes: int, runs: int) -> None:
            app.post_message(PassStarted(number, index, passes, runs))

        return self.session.training.run(
            job, app.store, raw=app.dataset, data_dir=app.data_dir,
            train_fn=app.engine.train, on_event=on_event, on_dropped=on_dropped,
            on_notice=on_notice, on_pass=on_pass, **app.train_kwargs,
        )  # fmt: skip

    # ---- the worker's messages (the app routes them here while its screen is up)

    def pass_started(self, message: PassStarted) -> None:
        self.app.show(self.session.training.pass_started(message.job, message.index,
                                                         message.passes, message.runs))

    def engine_event(self, message: EngineEvent) -> None:
        self.app.show(self.session.training.apply(message.job, message.run_id, message.event))

    def notice(self, message: TrainingNotice) -> None:
        self.app.log_pane.add(message.text, "notice")

    def dropped(self, message: RunDropped) -> None:
        self.session.deleted_elsewhere(message.run_id)
        self.app.log_pane.add(f"#{message.run_id}: {message.text}", "warning")

    def finished(self, error: BaseException | None) -> None:
        """The "train" worker ended (error: what it raised)."""
        applied, outcome = self.session.training.finish(error)
        if outcome is not None:
            self.app.progress.idle(outcome.status_line, fraction=outcome.fraction)
        self.app.show(applied)

    # ---- keys

    def run_form(self) -> None:
        """r: train the form's configuration."""
        forms = self.app.forms
        if self.busy() or forms.after_torch("run_form"):
            return
        config = forms.config()
        if config is not None:
            self.start([config], str(config.scheduler), forms.seeds, ray=forms.ray)

    def add_to_batch(self) -> None:
        """a: add the form's configuration to the batch (with the form's seeds, which every
        entry of the batch shares)."""
        app, forms = self.app, self.app.forms
        if forms.after_torch("add_to_batch"):
            return
        config = forms.config()
        if config is None:
            return
        from lrtui.engine import check_batch  # torch: loaded by now (the keys wait for it)

        batch, seeds = self.session.batch, forms.seeds
        try:
            problem = self.session.batch_problem(seeds)
            if problem:
                raise ValueError(problem)
            check_batch([*batch, config])
        except ValueError as exc:
            app.log_pane.add(f"not added: {exc}", "error")
            return
        batch.append(config)
        self.session.batch_seeds = seeds
        self.show_batch()
        n = len(batch)
        each = f", {seeds} seeds each" if seeds > 1 else ""
        app.log_pane.add(f"batch: {n} configuration{'s' if n != 1 else ''}{each} "
                         f"(+ {config.scheduler}) · b trains them together, x empties it",
                         "notice")

    def run_batch(self) -> None:
        """b: train the batch in one vectorized pass."""
        app, batch = self.app, self.session.batch
        if batch and app.job is None and app.forms.after_torch("run_batch"):
            return
        if not batch:
            app.log_pane.add("the batch is empty: a adds the form's configuration", "warning")
            return
        if app.job is not None:
            app.log_pane.add("a training is running: s stops it, p pauses it", "warning")
            return
        configs = list(batch)
        seeds = self.session.batch_seeds
        batch.clear()
        self.show_batch()
        # The form's device choice says where the batch trains (its configs ask for "auto").
        self.start(configs, "the batch", seeds, ray=app.forms.ray)

    def clear_batch(self) -> None:
        """x: empty the batch."""
        self.session.batch.clear()
        self.show_batch()
        self.app.log_pane.add("batch emptied", "notice")

    def drop_from_batch(self) -> None:
        """X: take the last configuration added back out of the batch."""
        batch = self.session.batch
        dropped = self.session.remove_from_batch(len(batch) - 1)
        if dropped is None:
            self.app.log_pane.add("the batch is empty: a adds the form's configuration",
                                  "warning")
            return
        self.show_batch()
        self.app.log_pane.add(f"batch: removed {dropped.label or short_spec(dropped.scheduler)} "
                              f"({len(batch)} left)", "notice")

    def show_batch(self) -> None:
        self.app.main.draw_batch(self.session.batch, seeds=self.session.batch_seeds)

    def tutorial(self) -> None:
        """t: the tutorial's four schedulers together, each with TUTORIAL_SEEDS seeds (the
        first-minute comparison, with the noise shown)."""
        app = self.app
        if self.session.busy_reason() is None and app.forms.after_torch("tutorial"):
            return
        configs = tutorial_configs(app.default_dataset, epochs=app.tutorial_epochs)
        self.start(configs, "the tutorial's four schedulers", TUTORIAL_SEEDS)

    def stop(self) -> None:
        """s: stop the training (or the range test) within one step."""
        app = self.app
        if app.finder is not None:
            app.finder.control.stop()
            app.log_pane.add("stopping the range test …", "notice")
            return
        if app.job is None:
            app.log_pane.add("nothing is training", "warning")
            return
        app.job.control.stop()
        app.log_pane.add("stopping (within one step) …", "notice")

    def pause(self) -> None:
        """p: pause or resume the training."""
        app, job = self.app, self.app.job
        if job is None:
            app.log_pane.add("a range test does not pause: s stops it" if app.finder is not None
                             else "nothing is training", "warning")
            return
        if job.control.paused:
            job.control.resume()
            app.log_pane.add("resumed", "notice")
        else:
            job.control.pause()
            app.log_pane.add("paused · p resumes", "notice")
            app.progress.say(f"paused · {job.title} · p resumes")
        app.redraw_table()  # its running runs say `paused` (or no longer)
