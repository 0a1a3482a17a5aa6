"""The LR range test from the app (`f`): the "lrfind" worker, its progress, and the range-test view
it opens, whose chosen LR reaches the form as a message (`LrChosen`, answered by `LrApplied`).

The sweep never runs beside a training: both would fight for the same cores.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

from lrtui.app.lrfind_screen import RangeTestScreen
from lrtui.app.lrfind_view import range_view
from lrtui.app.messages import LrApplied, LrChosen, RangeTestProgressed
from lrtui.app.threads import yield_cpu_to_ui
from lrtui.lrfind import RangeTestProgress
from lrtui.session import RangeJob, RangeOutcome

if TYPE_CHECKING:
    from lrtui.app.app import LrtuiApp


class RangeTestFlow:
    """Starts the range test of the form's model, data and optimizer, and shows its end."""

    def __init__(self, app: LrtuiApp) -> None:
        self.app = app
        self.session = app.session

    def find_lr(self) -> None:
        """f: the LR range test of the form's model, data and optimizer; its view opens when
        done."""
        app = self.app
        if app.job is None and app.finder is None and app.forms.after_torch("find_lr"):
            return
        if app.job is not None:
            app.log_pane.add("a training is running: the range test needs the CPU to itself "
                             "(s stops the training)", "warning")
            return
        if app.finder is not None:
            app.log_pane.add("a range test is running already: s stops it", "warning")
            return
        config = app.forms.range_config()
        if config is None:
            return
        job = self.session.range_tests.start(config, app.sweep)
        sweep = job.settings
        app.log_pane.add(f"range test: {config.optimizer.name}, batch {config.batch_size}, "
                         f"LR {sweep.start:g} → {sweep.end:g} over at most {sweep.steps} steps · "
                         "s stops it", "notice")
        app.progress.idle("range test starting …")
        app.run_worker(partial(self._sweep, job), group="lrfind", exclusive=True, thread=True,
                       exit_on_error=False)

    def _sweep(self, job: RangeJob) -> RangeOutcome:
        """Sweep on the "lrfind" worker's thread (`RangeTests.run`); the stored result goes to
        the UI as the worker's result."""
        yield_cpu_to_ui()
        app, number = self.app, job.number

        def on_progress(progress: RangeTestProgress) -> None:
            app.post_message(RangeTestProgressed(number, progress))

        return self.session.range_tests.run(job, app.store, raw=app.dataset,
                                            data_dir=app.data_dir, on_progress=on_progress)

    def progressed(self, message: RangeTestProgressed) -> None:
        finder = self.app.finder
        if finder is None or finder.number != message.job:
            return
        p = message.progress
        smoothed = p.smoothed[0] if p.smoothed else ()
        loss = smoothed[-1] if smoothed and math.isfinite(smoothed[-1]) else None
        self.app.progress.show_sweep(step=p.step, steps=p.steps, lr=p.lrs[-1] if p.lrs else 0.0,
                                     loss=loss, elapsed_s=p.elapsed_s)

    def ended(self, outcome: RangeOutcome | None, error: BaseException | None) -> None:
        """The range test ended (`RangeTests.conclude`; outcome: the worker's result when it
        ran to its end): logged; its view shown when it found a curve."""
        app = self.app
        ended = self.session.range_tests.conclude(outcome, error)
        app.show(ended.applied)
        app.progress.idle(ended.status_line, fraction=ended.fraction)
        if ended.shown is not None:
            view = range_view(ended.shown.result, ended.shown.ids)
            app.push_screen(RangeTestScreen(view, app.forms.scheduler_name))

    async def lr_chosen(self, message: LrChosen) -> None:
        """The range-test view chose an LR for the form: fill it in and answer the view."""
        forms = self.app.forms
        line = await forms.put_lr(message.key, message.value, switch_to=message.switch_to,
                                  source=message.source)
        message.reply_to.post_message(LrApplied(line, forms.scheduler_name))
