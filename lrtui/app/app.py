"""The lrtui terminal app: form on the left, live charts, runs table, log and progress on the right.

Threads: training runs in one thread worker (`_train_worker`, harlequin-style: group "train",
exclusive, errors handled once in `on_worker_state_changed`) that records every engine event to the
store (Recorder) and posts one dataclass message per event; the LR range test (`f`) runs the same
way in a "lrfind" worker (never beside a training: both would fight for the same cores), stores its
result and opens the range-test view (`lrfind_screen.py`); the form's exact preview is computed in
a "preview" worker; charts are built by the chart builder thread (`charts.py`). The UI thread only
updates plain data (`session.py`) and redraws, throttled, so it never waits on torch.

The first frame comes before torch: the form needs only the catalog's data. Once that frame is
drawn, a "torch" worker imports torch (seconds) with the engine and the run core, and the preview
worker starts; the preview appears when torch's scheduler has been stepped. Until torch is there
the device line (CUDA detection) shows "…" and the form is checked without stepping torch's
scheduler; then both checks run, and what they find shows as it always did.

The engine and the store are injected (`LrtuiApp(engine=..., store=..., dataset=...)`), so tests run
the real app against tiny data and a temporary database.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Protocol

from rich.console import RenderableType
from textual import on, work
from textual.app import App
from textual.binding import BindingType
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from lrtui import schedulers as S
from lrtui.app.chartdata import build_charts, table_rows
from lrtui.app.charts import Chart
from lrtui.app.form import (
    TUTORIAL_SEEDS,
    FormResult,
    FormValues,
    describe_device,
    evaluate,
    field_label,
    format_number,
    tutorial_configs,
)
from lrtui.app.keys import bindings
from lrtui.app.lrfind_screen import RangeTestScreen
from lrtui.app.lrfind_view import range_view
from lrtui.app.main_screen import MainScreen
from lrtui.app.messages import (
    EngineEvent,
    LrApplied,
    LrChosen,
    PassStarted,
    PreviewReady,
    RangeTestProgressed,
    RunDropped,
    TrainingNotice,
)
from lrtui.app.palette import LrtuiCommands
from lrtui.app.report import export_problem, export_run
from lrtui.app.runs import RunsTable
from lrtui.app.screens import ConfirmScreen, ExportScreen, HelpScreen
from lrtui.app.sidebar import Sidebar
from lrtui.app.status import LogPane, ProgressLine
from lrtui.app.threads import pause_full_gc, settle_gc, yield_cpu_to_ui
from lrtui.data import DATASETS, DeviceDataset, RawDataset
from lrtui.distributed import choice as ray_choice
from lrtui.engine import Control, Event, RunEnded
from lrtui.lrfind import RangeTestProgress, SweepSettings
from lrtui.model import RunConfig
from lrtui.schedulers import short_spec
from lrtui.session import (
    Applied,
    Job,
    PreviewCurve,
    RangeJob,
    RangeOutcome,
    RunTrace,
    Session,
    StoredSummary,
)
from lrtui.store import Store, StoreError


class Engine(Protocol):
    """What the app needs of the engine: `lrtui.engine` itself, or a test double."""

    def train(self, configs: Sequence[RunConfig], on_event: Callable[[Event], None],
              control: Control | None = ..., *, data: DeviceDataset | None = ...,
              notice: str | None = ..., independent_seeds: bool = ...,
              threads: int | None = ...) -> list[RunEnded]: ...


#: The device line until torch has loaded and can say which devices this machine has.
DEVICE_PENDING = "…"


class LrtuiApp(App[None]):
    """The terminal lab. See the module docstring for the threading model."""

    CSS_PATH = "app.tcss"
    TITLE = "lrtui"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings())
    COMMANDS = App.COMMANDS | {LrtuiCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 (Textual's own)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012
    # Data-driven redraws happen at most this often (a key's redraw is immediate). Engine events
    # that change the charts arrive at epoch ends, so a second loses nothing and leaves the chart
    # builder free for keys.
    CHART_INTERVAL_S: ClassVar[float] = 1.0
    TABLE_INTERVAL_S: ClassVar[float] = 0.25
    # How often the store's change counter is read for runs other processes write (live history).
    STORE_POLL_S: ClassVar[float] = 1.0

    def __init__(
        self,
        *,
        store: Store,
        engine: Engine | None = None,
        dataset: RawDataset | None = None,
        default_dataset: str = "mnist",
        data_dir: str | None = None,
        train_kwargs: dict[str, Any] | None = None,
        initial: FormValues | None = None,
        device_info: Callable[[str], tuple[str, bool]] | None = None,
        form_debounce_s: float = 0.15,
        tutorial_epochs: int = 25,
        sweep: SweepSettings | None = None,
    ) -> None:
        """Args:
            store: the run history (every run is written to it as it trains).
            engine: anything with `train(configs, on_event, control, **kw)`; `lrtui.engine` when
                None.
            dataset: train on this dataset (tests: `lrtui.data.synthetic(...)`) instead of loading
                the one the form names; the form then offers only it.
            default_dataset: the form's and the tutorial's dataset when none is injected.
            data_dir: where datasets are read or downloaded (`--data-dir`).
            train_kwargs: extra keyword arguments for `engine.train`.
            initial: the form's starting values.
            device_info: `choice -> (text, exists)` for the device line (tests fix it); None:
                the engine's own, asked once torch has loaded (it needs torch).
            form_debounce_s: quiet time after a keystroke before the form is re-evaluated.
            tutorial_epochs: epochs of the first-minute comparison (the tutorial's 25).
            sweep: how `f`'s range test sweeps (lrtui.lrfind's defaults when None).
        """
        super().__init__()
        if engine is None:
            import lrtui.engine as engine_module

            engine = engine_module
        self.engine = engine
        self.store = store
        self.dataset = dataset
        self.default_dataset = dataset.name if dataset is not None else default_dataset
        self.data_dir = data_dir
        self.train_kwargs = dict(train_kwargs or {})
        self.device_info = device_info or describe_device
        self._own_device_info = device_info is None  # the engine's: asked once torch is there
        # Whether torch is imported: else the "torch" worker imports it after the first frame.
        self.torch_loaded = "torch" in sys.modules
        self._drawn = False  # the first frame is on screen
        self._preview_held = False  # the form's preview waits for the first frame
        self._pending_action: str | None = None  # a key's action waiting for torch
        self.form_debounce_s = form_debounce_s
        self.tutorial_epochs = tutorial_epochs
        self.sweep = sweep or SweepSettings()
        self.injected_sizes = {dataset.name: dataset.n_train} if dataset is not None else None
        self.initial = initial or FormValues(dataset=self.default_dataset)
        self.session = Session(store)
        self.form: FormResult | None = None
        self.log_y = False
        self._eval_timer: Timer | None = None
        self._charts_dirty = False
        self._table_dirty = False
        self._quit_when_idle = False
        self._cursor_to: int | None = None  # the table's cursor goes to this run at next redraw

    # ---- the session's state, by the names the app and its tests have always used

    @property
    def traces(self) -> dict[int, RunTrace]:
        return self.session.traces

    @property
    def summaries(self) -> dict[int, StoredSummary]:
        return self.session.summaries

    @property
    def batch(self) -> list[RunConfig]:
        return self.session.batch

    @property
    def job(self) -> Job | None:
        return self.session.training.job

    @property
    def jobs_started(self) -> int:
        return self.session.training.started

    @property
    def finder(self) -> RangeJob | None:
        """The range test in flight."""
        return self.session.range_tests.job

    @property
    def range_tests_started(self) -> int:
        return self.session.range_tests.started

    @property
    def last_range_test(self) -> RangeOutcome | None:
        return self.session.range_tests.last

    @property
    def preview(self) -> PreviewCurve | None:
        return self.session.previews.curve

    # ------------------------------------------------------------------------------- layout

    def get_default_screen(self) -> MainScreen:
        names = [self.dataset.name] if self.dataset is not None else list(DATASETS)
        self.main = MainScreen(datasets=names, initial=self.initial,
                               dataset_name=self.default_dataset)
        return self.main

    @on(MainScreen.Ready)
    def _main_ready(self) -> None:
        self.log_pane.add(f"lrtui · run history in {self._db_name()}")
        try:
            stored = self.session.load_history()
        except StoreError as exc:
            stored = 0
            self.log_pane.add(str(exc), "error")
        if stored:
            self.main.hide_banner()
            self.log_pane.add(f"{stored} stored run{'s' if stored != 1 else ''}: "
                              "space shows one on the charts, enter opens it")
        self._table_dirty = True
        self.set_interval(self.CHART_INTERVAL_S, self._tick_charts)
        self.set_interval(self.TABLE_INTERVAL_S, self._tick_table)
        self.set_interval(self.STORE_POLL_S, self._poll_store)
        self._update_device_line()
        self._redraw_charts()
        self._evaluate_form()
        self._tick()
        self.focus_field("scheduler")
        settle_gc()
        self.call_after_refresh(self._first_frame_drawn)

    def _first_frame_drawn(self) -> None:
        """Start what needs torch once the first frame is drawn: a thread importing torch before
        would hold that frame back (both want the one interpreter lock)."""
        self._drawn = True
        if not self.torch_loaded:
            self._load_torch(self.sidebar.values().device)
        if self._preview_held and self._eval_timer is None:
            self._evaluate_form()  # starts the preview held back

    def _db_name(self) -> str:
        return self.store.path.name

    # ------------------------------------------------------------------------------- widgets

    @property
    def alive(self) -> bool:
        """The main screen is up (late worker messages during shutdown find nothing to update)."""
        main: MainScreen | None = getattr(self, "main", None)  # None before the first screen
        return self.is_running and main is not None and main.alive

    @property
    def log_pane(self) -> LogPane:
        return self.main.log_pane

    @property
    def sidebar(self) -> Sidebar:
        return self.main.sidebar

    @property
    def runs_table(self) -> RunsTable:
        return self.main.runs_table

    @property
    def progress(self) -> ProgressLine:
        return self.main.progress

    def chart(self, name: str) -> Chart:
        return self.main.charts[name]

    # ------------------------------------------------------------------------------- form

    @on(Sidebar.Changed)
    def _form_changed(self) -> None:
        if self._eval_timer is not None:
            self._eval_timer.stop()
        if self.form_debounce_s <= 0:
            self._evaluate_form()
        else:
            self._eval_timer = self.set_timer(self.form_debounce_s, self._evaluate_form)

    def _evaluate_form(self, *, if_changed: bool = False) -> None:
        """Validate the form now and start its preview in a worker. Before torch has loaded, the
        checks that need it wait (see the module docstring; the keys that act on the form wait
        for torch too, `_after_torch`). `if_changed`: keep the form's result and its preview when
        this evaluation finds the same."""
        self._eval_timer = None
        values = self.sidebar.values()
        result = evaluate(values, injected_sizes=self.injected_sizes,
                          dry_run=None if self.torch_loaded else False)
        device_text, device_ok = self._device(values.device)
        if not device_ok:
            result = replace(result, config=None, errors={**result.errors, "device": device_text})
        unchanged = if_changed and result == self.form
        if not unchanged:
            self.form = result
            self.sidebar.show_result(result)
        self._update_device_line(device_text if device_ok else None)
        if unchanged:
            return
        token = self.session.previews.next()
        cfg = result.config
        self._preview_held = False
        if cfg is not None and result.steps_per_epoch and not result.too_long_to_preview:
            if self._drawn or self.torch_loaded:
                self._preview_worker(token, cfg, result.steps_per_epoch, result.defaults)
            else:  # its worker would import torch before the first frame
                self._preview_held = True
        else:
            # A newer form supersedes a preview still being computed: stop it now.
            self.workers.cancel_group(self, "preview")
            self.session.previews.none(f"no preview: {result.too_long_to_preview}"
                                       if result.too_long_to_preview else None)
            self._charts_dirty = True

    @property
    def settled(self) -> bool:
        """No training or range test, the preview is of the form as it is now, and every chart is
        drawn."""
        return (self.job is None and self.finder is None and self._eval_timer is None
                and not self._charts_dirty and not self._table_dirty
                and self.session.previews.current and self.main.drawn)

    def _update_device_line(self, text: str | None = None) -> None:
        if text is None:
            text, ok = self._device(self.sidebar.values().device)
            if not ok:
                text = ""
        self.sidebar.set_device_line(f"→ {text}" if text else "")

    def _device(self, choice: str) -> tuple[str, bool]:
        """`device_info(choice)`; the engine's own answers ("…", True) before torch has loaded."""
        needs_torch = ray_choice.address_of(choice) is None  # a Ray choice is said at once
        if self._own_device_info and needs_torch and not self.torch_loaded:
            return DEVICE_PENDING, True
        return self.device_info(choice)

    @work(thread=True, group="torch", exit_on_error=False)
    def _load_torch(self, device: str) -> None:
        """Import torch off the UI thread once the first frame is drawn (the form needs none of
        it), with what its first use imports (torch.optim's first optimizer pulls in
        torch._dynamo: seconds), then the engine and the run core, and ask the device line's
        question (CUDA detection; cached): the UI thread never waits on any of it."""
        S.preview(S.SchedulerSpec("ConstantLR", {}), epochs=1)  # torch.optim and lr_scheduler
        from lrtui import runner  # noqa: F401  (the engine, the data's tensors)

        self.device_info(device)

    def _torch_ready(self) -> None:
        """torch is loaded: the form gets the checks that need it (the device line, the dry run
        of torch's scheduler); what they find shows, and the preview under way stays when they
        find nothing new."""
        self.torch_loaded = True
        if self._eval_timer is None and not self._preview_held:
            self._evaluate_form(if_changed=True)
        settle_gc()  # torch's objects join the frozen ones (see settle_gc)
        pending, self._pending_action = self._pending_action, None
        if pending is not None:
            self.call_later(self.run_action, pending)

    def _after_torch(self, action: str) -> bool:
        """True (and `action` kept for when torch is there) while the "torch" worker still
        loads it: an action that trains or checks with torch runs then, so the UI thread never
        waits seconds on an import (and Ctrl+C or q still act at once)."""
        if self.torch_loaded:
            return False
        self._pending_action = action
        self.log_pane.add("torch is still loading: that starts as soon as it is ready", "notice")
        return True

    @work(thread=True, group="preview", exclusive=True, exit_on_error=False)
    def _preview_worker(self, token: int, config: RunConfig, steps_per_epoch: int,
                        defaults: dict[str, str]) -> None:
        """The form's exact schedule off the UI thread (`Previews.compute`), dropped when a newer
        form's preview or quitting cancels this worker."""
        worker = get_current_worker()
        try:
            curve = self.session.previews.compute(config, steps_per_epoch, defaults,
                                                  lambda: worker.is_cancelled)
        except Exception as exc:  # a spec validate() let through but torch refuses
            self.post_message(PreviewReady(token, None, f"{type(exc).__name__}: {exc}"))
            return
        if curve is not None and not worker.is_cancelled:
            self.post_message(PreviewReady(token, curve))

    @on(PreviewReady)
    def _preview_ready(self, message: PreviewReady) -> None:
        if not self.alive:
            return
        if not self.session.previews.arrived(message.token, message.curve):
            return  # the form changed since
        if message.error:
            self.log_pane.add(f"preview: {message.error}", "error")
        self._redraw_charts(urgent=True)

    # ------------------------------------------------------------------------------- drawing

    def _tick(self) -> None:
        """Redraw now whatever changed."""
        self._tick_charts()
        self._tick_table()

    def _tick_charts(self) -> None:
        if self.alive and self._charts_dirty:
            self._redraw_charts()

    def _tick_table(self) -> None:
        if self.alive and self._table_dirty:
            self._redraw_table()

    def _redraw_charts(self, *, urgent: bool = False) -> None:
        """All four charts from the current traces and preview (urgent: a key asked for it)."""
        self._charts_dirty = False
        data = build_charts(list(self.traces.values()), self.preview,
                            no_preview=self.session.previews.unavailable)
        self.main.draw_charts(data, log_y=self.log_y, urgent=urgent)

    def _redraw_table(self) -> None:
        self._table_dirty = False
        job = self.job
        paused = set(job.run_ids.values()) if job is not None and job.control.paused else set()
        rows = table_rows(list(self.traces.values()), self.summaries, paused=frozenset(paused),
                          expanded=frozenset(self.session.expanded))
        self.main.draw_table(rows, cursor_to=self._cursor_to)
        self._cursor_to = None

    # ------------------------------------------------------------------------------- training

    @property
    def training(self) -> bool:
        return self.job is not None

    @property
    def writing(self) -> bool:
        """A training or range test was in flight: its thread still writes its end to the store
        (worth a moment's wait when quitting; a preview is not)."""
        return self.session.writing

    def _busy(self) -> bool:
        """Say why a new job cannot start now, if it cannot."""
        reason = self.session.busy_reason()
        if reason is not None:
            self.log_pane.add(reason, "warning")
        return reason is not None

    def _start(self, configs: list[RunConfig], what: str, seeds: int = 1, *,
               ray: str | None = None) -> None:
        """Train `configs`, each with `seeds` seeds, as `lrtui run --seeds` would (planned by
        the session: one group per configuration), here or on the Ray cluster at `ray`."""
        if self._busy():
            return
        from lrtui.engine import check_batch  # torch: loaded by now, or waited for here

        try:
            check_batch(configs)
            job = self.session.training.start(configs, seeds=seeds, ray=ray)
        except ValueError as exc:
            self.log_pane.add(f"cannot train: {exc}", "error")
            return
        self.main.hide_banner()
        each = f", {seeds} seeds each" if seeds > 1 else ""
        where = f", on Ray ({ray})" if ray is not None else ""
        self.log_pane.add(f"training {what} ({job.title}{each}, {configs[0].epochs} epochs, "
                          f"batch {configs[0].batch_size}{where})", "notice")
        self.progress.idle(f"starting {job.title} …")
        self.runs_table.focus()  # space / enter / c now act on runs right away
        pause_full_gc()
        self._train_worker(job)

    @work(thread=True, group="train", exclusive=True, exit_on_error=False)
    def _train_worker(self, job: Job) -> list[RunEnded]:
        """Train on this thread (`TrainingJobs.run`); each event, recorded there, reaches the UI
        as one EngineEvent message."""
        yield_cpu_to_ui()
        number = job.number

        def on_event(run_id: int | None, event: Event) -> None:
            self.post_message(EngineEvent(number, run_id, event))

        def on_dropped(run_id: int, text: str) -> None:
            self.post_message(RunDropped(number, run_id, text))

        def on_notice(text: str) -> None:
            self.post_message(TrainingNotice(number, text))

        def on_pass(index: int, passes: int, runs: int) -> None:
            self.post_message(PassStarted(number, index, passes, runs))

        return self.session.training.run(
            job, self.store, raw=self.dataset, data_dir=self.data_dir,
            train_fn=self.engine.train, on_event=on_event, on_dropped=on_dropped,
            on_notice=on_notice, on_pass=on_pass, **self.train_kwargs,
        )  # fmt: skip

    @on(PassStarted)
    def _pass_started(self, message: PassStarted) -> None:
        if self.alive:
            self._show(self.session.training.pass_started(message.job, message.index,
                                                          message.passes, message.runs))

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        if self.alive:
            self._show(self.session.training.apply(message.job, message.run_id, message.event))

    def _show(self, applied: Applied) -> None:
        """Draw what the session changed: log lines, progress, and (throttled) table and charts."""
        for text, level in applied.log:
            self.log_pane.add(text, level)
        if applied.cursor_to is not None:
            self._cursor_to = applied.cursor_to
        if applied.dataset_fallback is not None:
            asked, used = applied.dataset_fallback
            if self.sidebar.values().dataset == asked and used in self.sidebar.datasets:
                # Preview what will really be trained: the dataset that is there.
                self.sidebar.set_dataset(used)
                self.log_pane.add(f"form: dataset → {used} (the one available here)", "notice")
        if applied.progress is not None:
            self.main.draw_progress(applied.progress)
        self._table_dirty = self._table_dirty or applied.table
        self._charts_dirty = self._charts_dirty or applied.charts

    @on(TrainingNotice)
    def _training_notice(self, message: TrainingNotice) -> None:
        if self.alive:
            self.log_pane.add(message.text, "notice")

    @on(RunDropped)
    def _run_dropped(self, message: RunDropped) -> None:
        if self.alive:
            self.session.deleted_elsewhere(message.run_id)
            self.log_pane.add(f"#{message.run_id}: {message.text}", "warning")

    def _poll_store(self, *, force: bool = False) -> None:
        """Live history: take in what other processes wrote to the database."""
        if not self.alive:
            return
        try:
            applied = self.session.poll_store(force=force)
        except StoreError as exc:
            if force:
                self.log_pane.add(str(exc), "error")
            return
        self._show(applied)

    def action_refresh(self) -> None:
        """R: read the run history again now (other processes' runs and epochs)."""
        self._poll_store(force=True)
        self._tick()
        self.log_pane.add(f"run history read again from {self._db_name()}")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker outcomes are handled (harlequin-style)."""
        if not self.alive:
            return
        worker = event.worker
        if worker.group == "preview" and event.state == WorkerState.ERROR:
            self.log_pane.add(f"preview failed: {worker.error}", "error")
            return
        if worker.group == "torch":
            if event.state == WorkerState.SUCCESS:
                self._torch_ready()
            elif event.state == WorkerState.ERROR:
                self.log_pane.add(f"cannot load torch: {type(worker.error).__name__}: "
                                  f"{worker.error}", "error")
            return
        if worker.group == "lrfind" and event.state in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._range_ended(worker, event.state)
            settle_gc()
            return
        if worker.group != "train" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        error = worker.error if event.state == WorkerState.ERROR else None
        applied, outcome = self.session.training.finish(error)
        if outcome is not None:
            self.progress.idle(outcome.status_line, fraction=outcome.fraction)
        self._show(applied)
        self._tick()
        settle_gc()
        if self._quit_when_idle:
            self.exit()

    # ------------------------------------------------------------------------------- actions

    def _form_config(self) -> RunConfig | None:
        """The form's config, or None after saying why (log + focus on the first bad field)."""
        if self._eval_timer is not None:
            self._eval_timer.stop()
            self._eval_timer = None
        self._evaluate_form()
        form = self.form
        if form is None or not form.ok or form.config is None:
            self._say_form_problem(form.errors if form is not None else {}, "cannot run")
            return None
        return form.config

    def _say_form_problem(self, errors: dict[str, str], prefix: str) -> None:
        """Log the first problem in the form's own top-to-bottom order and focus its field."""
        if not errors:
            self.log_pane.add(f"{prefix}: the form is not ready", "error")
            return
        order = list(self.sidebar.widgets)
        key = min(errors, key=lambda k: order.index(k) if k in order else len(order))
        n = len(errors)
        more = f" (and {n - 1} more)" if n > 1 else ""
        self.log_pane.add(f"{prefix}: {field_label(key)}: {errors[key]}{more}", "error")
        target = self.sidebar.widgets.get(key)
        if target is not None and self.sidebar.display:
            target.focus()

    def _range_config(self) -> RunConfig | None:
        """The form's model, data and optimizer for a range test, or None after saying why.

        Only the fields the sweep uses must be valid (dataset, hidden, optimizer, batch size,
        seed, device): the LR, epochs and scheduler are the sweep's own, so a half-typed
        schedule does not stand in the way of finding its LR."""
        values = self.sidebar.values()
        probe = replace(values, lr="0.1", epochs="1", scheduler="ConstantLR", params={},
                        spec_text="", warmup="0", warmup_start="0.1", label="")
        result = evaluate(probe, injected_sizes=self.injected_sizes)
        errors = dict(result.errors)
        device_text, device_ok = self._device(values.device)
        if not device_ok:
            errors["device"] = device_text
        if errors or result.config is None:
            self._say_form_problem(errors, "cannot find LR")
            return None
        return result.config

    def action_run_form(self) -> None:
        """r: train the form's configuration."""
        if self._busy() or self._after_torch("run_form"):
            return
        config = self._form_config()
        if config is not None:
            self._start([config], str(config.scheduler), self._form_seeds(), ray=self._form_ray())

    def _form_seeds(self) -> int:
        """The form's number of seeds (valid whenever the form gave a config)."""
        return self.form.seeds if self.form is not None else 1

    def _form_ray(self) -> str | None:
        """Where the form's device choice trains: the Ray address of `ray:...`, None: here."""
        return self.form.ray if self.form is not None and self.form.ok else None

    def action_add_to_batch(self) -> None:
        """a: add the form's configuration to the batch (with the form's seeds, which every
        entry of the batch shares)."""
        if self._after_torch("add_to_batch"):
            return
        config = self._form_config()
        if config is None:
            return
        from lrtui.engine import check_batch  # torch: loaded by now, or waited for here

        seeds = self._form_seeds()
        try:
            problem = self.session.batch_problem(seeds)
            if problem:
                raise ValueError(problem)
            check_batch([*self.batch, config])
        except ValueError as exc:
            self.log_pane.add(f"not added: {exc}", "error")
            return
        self.session.batch.append(config)
        self.session.batch_seeds = seeds
        self._show_batch()
        n = len(self.batch)
        each = f", {seeds} seeds each" if seeds > 1 else ""
        self.log_pane.add(f"batch: {n} configuration{'s' if n != 1 else ''}{each} "
                          f"(+ {config.scheduler}) · b trains them together, x empties it",
                          "notice")

    def action_run_batch(self) -> None:
        """b: train the batch in one vectorized pass."""
        if self.batch and self.job is None and self._after_torch("run_batch"):
            return
        if not self.batch:
            self.log_pane.add("the batch is empty: a adds the form's configuration", "warning")
            return
        if self.job is not None:
            self.log_pane.add("a training is running: s stops it, p pauses it", "warning")
            return
        configs = list(self.batch)
        seeds = self.session.batch_seeds
        self.batch.clear()
        self._show_batch()
        # The form's device choice says where the batch trains (its configs ask for "auto").
        self._start(configs, "the batch", seeds, ray=self._form_ray())

    def action_clear_batch(self) -> None:
        self.batch.clear()
        self._show_batch()
        self.log_pane.add("batch emptied", "notice")

    def action_drop_from_batch(self) -> None:
        """X: take the last configuration added back out of the batch."""
        dropped = self.session.remove_from_batch(len(self.batch) - 1)
        if dropped is None:
            self.log_pane.add("the batch is empty: a adds the form's configuration", "warning")
            return
        self._show_batch()
        self.log_pane.add(f"batch: removed {dropped.label or short_spec(dropped.scheduler)} "
                          f"({len(self.batch)} left)", "notice")

    def _show_batch(self) -> None:
        self.main.draw_batch(self.batch, seeds=self.session.batch_seeds)

    def action_tutorial(self) -> None:
        """t: the tutorial's four schedulers together, each with TUTORIAL_SEEDS seeds (the
        first-minute comparison, with the noise shown)."""
        if self.session.busy_reason() is None and self._after_torch("tutorial"):
            return
        configs = tutorial_configs(self.default_dataset, epochs=self.tutorial_epochs)
        self._start(configs, "the tutorial's four schedulers", TUTORIAL_SEEDS)

    def action_stop(self) -> None:
        if self.finder is not None:
            self.finder.control.stop()
            self.log_pane.add("stopping the range test …", "notice")
            return
        if self.job is None:
            self.log_pane.add("nothing is training", "warning")
            return
        self.job.control.stop()
        self.log_pane.add("stopping (within one step) …", "notice")

    def action_pause(self) -> None:
        job = self.job
        if job is None:
            self.log_pane.add("a range test does not pause: s stops it" if self.finder is not None
                              else "nothing is training", "warning")
            return
        if job.control.paused:
            job.control.resume()
            self.log_pane.add("resumed", "notice")
        else:
            job.control.pause()
            self.log_pane.add("paused · p resumes", "notice")
            self.progress.say(f"paused · {job.title} · p resumes")
        self._redraw_table()  # its running runs say `paused` (or no longer)

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.chart("lr").set_log_y(self.log_y)

    def action_toggle_sidebar(self) -> None:
        self.main.toggle_sidebar()

    def action_pick_scheduler(self) -> None:
        if not self.sidebar.display:
            self.action_toggle_sidebar()
        self.focus_field("scheduler")

    def action_leave_form(self) -> None:
        self.runs_table.focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_find_lr(self) -> None:
        """f: the LR range test of the form's model, data and optimizer; its view opens when
        done."""
        if self.job is None and self.finder is None and self._after_torch("find_lr"):
            return
        if self.job is not None:
            self.log_pane.add("a training is running: the range test needs the CPU to itself "
                              "(s stops the training)", "warning")
            return
        if self.finder is not None:
            self.log_pane.add("a range test is running already: s stops it", "warning")
            return
        config = self._range_config()
        if config is None:
            return
        job = self.session.range_tests.start(config, self.sweep)
        st = job.settings
        self.log_pane.add(f"range test: {config.optimizer.name}, batch {config.batch_size}, "
                          f"LR {st.start:g} → {st.end:g} over at most {st.steps} steps · "
                          "s stops it", "notice")
        self.progress.idle("range test starting …")
        self._range_worker(job)

    @work(thread=True, group="lrfind", exclusive=True, exit_on_error=False)
    def _range_worker(self, job: RangeJob) -> RangeOutcome:
        """Sweep on this thread (`RangeTests.run`), hand the stored result to the UI."""
        yield_cpu_to_ui()
        number = job.number

        def on_progress(progress: RangeTestProgress) -> None:
            self.post_message(RangeTestProgressed(number, progress))

        return self.session.range_tests.run(job, self.store, raw=self.dataset,
                                            data_dir=self.data_dir, on_progress=on_progress)

    @on(RangeTestProgressed)
    def _range_progress(self, message: RangeTestProgressed) -> None:
        if not self.alive or self.finder is None or self.finder.number != message.job:
            return
        p = message.progress
        smoothed = p.smoothed[0] if p.smoothed else ()
        loss = smoothed[-1] if smoothed and math.isfinite(smoothed[-1]) else None
        self.progress.show_sweep(step=p.step, steps=p.steps, lr=p.lrs[-1] if p.lrs else 0.0,
                                 loss=loss, elapsed_s=p.elapsed_s)

    def _range_ended(self, worker: Worker[Any], state: WorkerState) -> None:
        """The range test ended (`RangeTests.conclude`): logged; shown when it ran to its end."""
        outcome = worker.result if isinstance(worker.result, RangeOutcome) else None
        ended = self.session.range_tests.conclude(
            outcome if state == WorkerState.SUCCESS else None,
            worker.error if state == WorkerState.ERROR else None,
        )  # fmt: skip
        self._show(ended.applied)
        self.progress.idle(ended.status_line, fraction=ended.fraction)
        if ended.shown is not None:
            view = range_view(ended.shown.result, ended.shown.ids)
            self.push_screen(RangeTestScreen(view, self.scheduler_name()))

    # ---- the range-test view's way into the form (messages.LrChosen)

    @on(LrChosen)
    async def _lr_chosen(self, message: LrChosen) -> None:
        line = await self.put_lr(message.key, message.value, switch_to=message.switch_to,
                                 source=message.source)
        message.reply_to.post_message(LrApplied(line, self.scheduler_name()))

    def scheduler_name(self) -> str:
        return self.sidebar.values().scheduler

    async def put_lr(self, key: str, value: float, *, switch_to: str | None = None,
                     source: str = "") -> str:
        """Fill one LR field of the form (after switching the scheduler if asked): the form
        re-evaluates and its preview redraws as after any edit."""
        text = format_number(value)
        if switch_to is not None:
            await self.sidebar.switch_scheduler(switch_to, {key.removeprefix("param:"): text})
        elif not self.sidebar.set_text(key, text):
            return f"not applied: the form has no field {key}"
        name = {"lr": "base LR"}.get(key, key.removeprefix("param:"))
        owner = "" if key == "lr" else f"{switch_to or self.scheduler_name()} "
        line = f"form: {owner}{name} ← {text}" + (f" (range test: {source})" if source else "")
        self.log_pane.add(line, "notice")
        return line

    def action_quit_app(self) -> None:
        if self.job is None:
            self.exit()
            return

        def answer(yes: bool | None) -> None:
            if yes and self.job is not None:
                self._quit_when_idle = True
                self.job.control.stop()
                self.job.control.resume()
                self.log_pane.add("stopping the training, then quitting …", "notice")
                self.set_timer(10.0, self.exit)  # never hang on a stuck device
            elif yes:
                self.exit()

        self.push_screen(ConfirmScreen("A training is running. Stop it and quit?"), answer)

    def exit(self, result: None = None, return_code: int = 0,
             message: RenderableType | None = None) -> None:
        """Every way out (q, ctrl+q, ctrl+c) stops the training and any range test first: the
        process cannot end while their threads run, and the Recorder closes its runs as stopped."""
        if self.job is not None:
            self.job.control.stop()
            self.job.control.resume()
        if self.finder is not None:
            self.finder.control.stop()
        super().exit(result, return_code, message)

    # ---- run actions: MainScreen handles the runs table's keys; the App writes exports

    @on(MainScreen.RunsChanged)
    def _runs_changed(self, message: MainScreen.RunsChanged) -> None:
        self._redraw_table()
        if message.charts:
            self._redraw_charts(urgent=message.urgent)

    @on(ExportScreen.Chosen)
    def _export_chosen(self, message: ExportScreen.Chosen) -> None:
        """Write the CSV where the export screen says; a failure is said on that screen."""
        try:
            where, rows = export_run(self.store, message.run_id, message.path)
        except (OSError, ValueError, StoreError) as exc:
            message.screen.show_error(export_problem(exc))
            return
        message.screen.dismiss(None)
        self.log_pane.add(f"exported run #{message.run_id} ({rows} epochs) to {where}", "notice")

    def focus_field(self, key: str) -> None:
        """Focus a form field by its key (tests and the palette use it)."""
        self.main.focus_field(key)
