"""The lrtui terminal app: the shell that wires the session core to the screen.

Form on the left, live charts, runs table, log and progress on the right (`MainScreen`, which
also handles the runs table's keys). The state lives in the session core (`lrtui.session`, no
Textual); each kind of work has its flow, which starts its thread worker and shows its messages:
the form, its preview and torch's import after the first frame (`form_flow.py`), training
(`training_flow.py`), the LR range test (`range_flow.py`). The app routes messages to them,
handles every worker's end in one place (`on_worker_state_changed`, harlequin-style), polls the
store for other processes' runs, and redraws, throttled: the UI thread only updates plain data,
so it never waits on torch. Charts are built on the chart builder thread (`charts.py`).

The engine and the store are injected (`LrtuiApp(engine=..., store=..., dataset=...)`), so tests run
the real app against tiny data and a temporary database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

from rich.console import RenderableType
from textual import on
from textual.app import App
from textual.binding import BindingType
from textual.worker import Worker, WorkerState

from lrtui.app.chartdata import build_charts, table_rows
from lrtui.app.charts import Chart
from lrtui.app.form import FormResult, FormValues, describe_device
from lrtui.app.form_flow import FormFlow
from lrtui.app.keys import bindings
from lrtui.app.main_screen import MainScreen
from lrtui.app.messages import (
    EngineEvent,
    LrChosen,
    PassStarted,
    PreviewReady,
    RangeTestProgressed,
    RunDropped,
    TrainingNotice,
)
from lrtui.app.palette import LrtuiCommands
from lrtui.app.range_flow import RangeTestFlow
from lrtui.app.report import export_problem, export_run
from lrtui.app.runs import RunsTable
from lrtui.app.screens import ConfirmScreen, ExportScreen, HelpScreen
from lrtui.app.sidebar import Sidebar
from lrtui.app.status import LogPane, ProgressLine
from lrtui.app.threads import settle_gc
from lrtui.app.training_flow import TrainingFlow
from lrtui.data import DATASETS, DeviceDataset, RawDataset
from lrtui.engine import Control, Event, RunEnded
from lrtui.lrfind import SweepSettings
from lrtui.model import RunConfig
from lrtui.numbering import counted
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
        self.tutorial_epochs = tutorial_epochs
        self.sweep = sweep or SweepSettings()
        self.initial = initial or FormValues(dataset=self.default_dataset)
        self.session = Session(store)
        self.forms = FormFlow(
            self, debounce_s=form_debounce_s, device_info=device_info or describe_device,
            own_device_info=device_info is None,
            injected_sizes={dataset.name: dataset.n_train} if dataset is not None else None,
        )  # fmt: skip
        self.trainings = TrainingFlow(self)
        self.range_tests = RangeTestFlow(self)
        self.log_y = False
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

    @property
    def writing(self) -> bool:
        """A training or range test was in flight: its thread still writes its end to the store
        (worth a moment's wait when quitting; a preview is not)."""
        return self.session.writing

    @property
    def form(self) -> FormResult | None:
        """The form as last checked (`FormFlow.evaluate`)."""
        return self.forms.form

    @property
    def torch_loaded(self) -> bool:
        return self.forms.torch_loaded

    @torch_loaded.setter
    def torch_loaded(self, loaded: bool) -> None:
        self.forms.torch_loaded = loaded

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
        self.forms.update_device_line()
        self.redraw_charts()
        self.forms.evaluate()
        self._tick()
        self.focus_field("scheduler")
        settle_gc()
        self.call_after_refresh(self._first_frame_drawn)

    def _first_frame_drawn(self) -> None:
        self.forms.first_frame_drawn()

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

    # ------------------------------------------------------------------------------- drawing

    def _tick(self) -> None:
        """Redraw now whatever changed."""
        self._tick_charts()
        self._tick_table()

    def _tick_charts(self) -> None:
        if self.alive and self._charts_dirty:
            self.redraw_charts()

    def _tick_table(self) -> None:
        if self.alive and self._table_dirty:
            self.redraw_table()

    def redraw_charts(self, *, urgent: bool = False) -> None:
        """All four charts from the current traces and preview (urgent: a key asked for it)."""
        self._charts_dirty = False
        data = build_charts(list(self.traces.values()), self.preview,
                            no_preview=self.session.previews.unavailable)
        self.main.draw_charts(data, log_y=self.log_y, urgent=urgent)

    def redraw_table(self) -> None:
        self._table_dirty = False
        job = self.job
        paused = set(job.run_ids.values()) if job is not None and job.control.paused else set()
        rows = table_rows(list(self.traces.values()), self.summaries, paused=frozenset(paused),
                          expanded=frozenset(self.session.expanded))
        self.main.draw_table(rows, cursor_to=self._cursor_to)
        self._cursor_to = None

    def charts_changed(self) -> None:
        """Redraw the charts at the next tick (data-driven redraws are throttled)."""
        self._charts_dirty = True

    @property
    def settled(self) -> bool:
        """No training or range test, the preview is of the form as it is now, and every chart is
        drawn."""
        return (self.job is None and self.finder is None and self.forms.quiet
                and not self._charts_dirty and not self._table_dirty and self.main.drawn)

    def show(self, applied: Applied) -> None:
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

    # ------------------------------------------------------------------------------- messages

    @on(Sidebar.Changed)
    def _form_changed(self) -> None:
        self.forms.changed()

    @on(PreviewReady)
    def _preview_ready(self, message: PreviewReady) -> None:
        if self.alive:
            self.forms.preview_ready(message)

    @on(PassStarted)
    def _pass_started(self, message: PassStarted) -> None:
        if self.alive:
            self.trainings.pass_started(message)

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        if self.alive:
            self.trainings.engine_event(message)

    @on(TrainingNotice)
    def _training_notice(self, message: TrainingNotice) -> None:
        if self.alive:
            self.trainings.notice(message)

    @on(RunDropped)
    def _run_dropped(self, message: RunDropped) -> None:
        if self.alive:
            self.trainings.dropped(message)

    @on(RangeTestProgressed)
    def _range_progress(self, message: RangeTestProgressed) -> None:
        if self.alive:
            self.range_tests.progressed(message)

    @on(LrChosen)
    async def _lr_chosen(self, message: LrChosen) -> None:
        await self.range_tests.lr_chosen(message)

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
        self.show(applied)

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
                self.forms.torch_ready()
            elif event.state == WorkerState.ERROR:
                self.log_pane.add(f"cannot load torch: {type(worker.error).__name__}: "
                                  f"{worker.error}", "error")
            return
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        error = worker.error if event.state == WorkerState.ERROR else None
        if worker.group == "lrfind":
            result = worker.result if event.state == WorkerState.SUCCESS else None
            self.range_tests.ended(result if isinstance(result, RangeOutcome) else None, error)
            settle_gc()
            return
        if worker.group != "train":
            return
        self.trainings.finished(error)
        self._tick()
        settle_gc()
        if self._quit_when_idle:
            self.exit()

    # ------------------------------------------------------------------------------- keys

    def action_run_form(self) -> None:
        self.trainings.run_form()

    def action_add_to_batch(self) -> None:
        self.trainings.add_to_batch()

    def action_run_batch(self) -> None:
        self.trainings.run_batch()

    def action_clear_batch(self) -> None:
        self.trainings.clear_batch()

    def action_drop_from_batch(self) -> None:
        self.trainings.drop_from_batch()

    def action_tutorial(self) -> None:
        self.trainings.tutorial()

    def action_stop(self) -> None:
        self.trainings.stop()

    def action_pause(self) -> None:
        self.trainings.pause()

    def action_find_lr(self) -> None:
        self.range_tests.find_lr()

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
        self.redraw_table()
        if message.charts:
            self.redraw_charts(urgent=message.urgent)

    @on(ExportScreen.Chosen)
    def _export_chosen(self, message: ExportScreen.Chosen) -> None:
        """Write the CSV where the export screen says; a failure is said on that screen."""
        try:
            where, rows = export_run(self.store, message.run_id, message.path)
        except (OSError, ValueError, StoreError) as exc:
            message.screen.show_error(export_problem(exc))
            return
        message.screen.dismiss(None)
        self.log_pane.add(
            f"exported run #{message.run_id} ({counted(rows, 'epoch')}) to {where}", "notice")

    def focus_field(self, key: str) -> None:
        """Focus a form field by its key (tests and the palette use it)."""
        self.main.focus_field(key)
