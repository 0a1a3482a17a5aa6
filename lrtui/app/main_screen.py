"""The main screen: the form on the left; the charts, the batch line, the runs table beside the
log on the right; the progress line and the footer at the bottom.

It owns the layout and how the session's plain data are drawn (charts, table, batch, progress);
it holds no state of the session and never calls torch. The App decides what to draw and when.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from lrtui.app.chartdata import AllCharts
from lrtui.app.charts import Chart
from lrtui.app.form import TUTORIAL_SEEDS, FormValues, own_label, values_from_config
from lrtui.app.keys import bindings
from lrtui.app.report import default_export_path, run_details
from lrtui.app.runs import RunRow, RunsTable
from lrtui.app.screens import ConfirmScreen, DetailsScreen, ExportScreen
from lrtui.app.sidebar import Sidebar, widget_id
from lrtui.app.status import LogPane, ProgressLine
from lrtui.engine import EpochEnd
from lrtui.model import RunConfig
from lrtui.schedulers import short_spec
from lrtui.session import ProgressShown, RunTrace, TraceGroup
from lrtui.store import StoreError, still_training

if TYPE_CHECKING:
    from lrtui.app.app import LrtuiApp

BANNER_SHORT = "New here? [b]t[/b] trains the tutorial's four schedulers · [b]?[/b] keys"
BANNER = (
    "New here? Press [b]t[/b] to train the tutorial's four schedulers together "
    "(StepLR, MultiStepLR, ExponentialLR, ReduceLROnPlateau), {seeds} seeds each, on {dataset}, "
    "or pick a scheduler in the form and press [b]r[/b].  [b]?[/b] lists every key."
)


class MainScreen(Screen[None]):
    """The layout of the app's main view and the drawing of what the session holds."""

    # The runs table's keys act on its highlighted row, on this screen only (keys.py: "main").
    BINDINGS: ClassVar[list[BindingType]] = list(bindings("main"))

    class Ready(Message):
        """The layout is mounted: the App can load the history and draw."""

    @dataclass
    class RunsChanged(Message):
        """A run action changed what the table (and maybe the charts) show: the App redraws."""

        charts: bool = False
        urgent: bool = False

    def __init__(self, *, datasets: Iterable[str], initial: FormValues, dataset_name: str) -> None:
        super().__init__()
        # The widgets the app updates, kept by reference: handlers run for every engine event, and
        # a DOM query per call (CSS matching over the whole screen) showed up as 10% of the UI time.
        self.sidebar = Sidebar(datasets=datasets, initial=initial, id="sidebar")
        self.charts = {
            "lr": Chart("learning rate", x_label="epoch", id="chart-lr"),
            "loss": Chart("loss (dots: train, line: valid)", x_label="epoch", id="chart-loss"),
            "acc": Chart("valid accuracy %", x_label="epoch", id="chart-acc",
                         classes="secondary"),
            "aux": Chart("momentum / beta1", x_label="epoch", id="chart-aux",
                         classes="secondary"),
        }  # fmt: skip
        self.runs_table = RunsTable(id="runs")
        self.log_pane = LogPane(id="log")
        self.progress = ProgressLine(id="progress")
        self._banner = Vertical(id="banner")
        self._batch = Static("", id="batch")
        self._dataset_name = dataset_name

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield self.sidebar
            with Vertical(id="main"):
                with self._banner:
                    yield Static(BANNER.format(dataset=self._dataset_name, seeds=TUTORIAL_SEEDS),
                                 classes="long")
                    yield Static(BANNER_SHORT, classes="short")
                with Grid(id="charts"):
                    yield from self.charts.values()
                yield self._batch
                with Horizontal(id="bottom"):
                    yield self.runs_table
                    yield self.log_pane
        yield self.progress
        yield Footer()

    def on_mount(self) -> None:
        # After the first layout: text set before it would keep the height of an unsized line.
        self.call_after_refresh(self.post_message, self.Ready())

    @property
    def _lab(self) -> LrtuiApp:
        """The App, for the session and the store its run actions read and change."""
        return cast("LrtuiApp", self.app)

    @property
    def alive(self) -> bool:
        """The layout is mounted (late worker messages during shutdown find nothing to update)."""
        return self.log_pane.is_attached

    @property
    def drawn(self) -> bool:
        """Every chart shows its latest data."""
        return all(chart.drawn for chart in self.charts.values())

    def hide_banner(self) -> None:
        self._banner.display = False

    def focus_field(self, key: str) -> None:
        """Focus a form field by its key."""
        self.query_one(f"#{widget_id(key)}").focus()

    def draw_charts(self, data: AllCharts, *, log_y: bool, urgent: bool) -> None:
        """All four charts (urgent: a key asked for it, so it goes before data-driven redraws)."""
        lr = self.charts["lr"]
        lr.log_y = log_y
        lr.show(data.lr, urgent=urgent)
        self.charts["loss"].show(data.loss, urgent=urgent)
        self.charts["acc"].show(data.acc, urgent=urgent)
        aux = self.charts["aux"]
        if aux.title != data.aux_title:
            aux.title = data.aux_title
            aux.replot(urgent=urgent)
        aux.show(data.aux, urgent=urgent)

    def draw_table(self, rows: Sequence[RunRow], *, cursor_to: int | None) -> None:
        self.runs_table.set_rows(rows, cursor_to=cursor_to)

    def draw_batch(self, batch: Sequence[RunConfig], *, seeds: int = 1) -> None:
        """The batch being assembled, on a line over the runs table while it has entries (and
        the seeds each entry trains with, when more than one)."""
        entries = " · ".join(f"{i}. {c.label or short_spec(c.scheduler)}"
                             for i, c in enumerate(batch, 1))  # fmt: skip
        each = f" × {seeds} seeds" if seeds > 1 else ""
        self._batch.update(f"batch ({len(batch)}{each}; b trains it, X removes the last, "
                           f"x empties it): {entries}" if batch else "")  # fmt: skip
        self._batch.set_class(bool(batch), "-filled")

    def draw_progress(self, shown: ProgressShown) -> None:
        """The progress line from the training's newest event (an epoch end or a Progress)."""
        ev = shown.event
        if isinstance(ev, EpochEnd):
            self.progress.show_epoch(label=shown.label, epochs_done=shown.epochs_done,
                                     epochs=shown.epochs, epoch_seconds=ev.seconds,
                                     paused=shown.paused)  # fmt: skip
        else:
            self.progress.show(label=shown.label, epoch=ev.epoch, epochs=shown.epochs,
                               step=ev.step, steps_per_epoch=ev.steps_per_epoch,
                               global_step=ev.global_step, total_steps=ev.total_steps,
                               samples_per_s=ev.samples_per_s, elapsed_s=ev.elapsed_s,
                               paused=shown.paused)  # fmt: skip

    def toggle_sidebar(self) -> None:
        """Hide the form (the charts take its room) or bring it back."""
        sidebar = self.sidebar
        if sidebar.display and self.focused is not None and sidebar in self.focused.ancestors:
            self.runs_table.focus()
        sidebar.display = not sidebar.display
        self.set_class(not sidebar.display, "-no-sidebar")

    # ---- the runs table's keys: actions on its highlighted row

    def action_sort(self) -> None:
        header = self.runs_table.sort_next()
        self.log_pane.add(f"runs sorted by {header}")

    def _highlighted(self) -> RunTrace | None:
        key = self.runs_table.highlighted_key
        if key is None:
            self.log_pane.add("no run selected: the runs table is empty", "warning")
            return None
        return self._lab.traces.get(key)

    def _highlighted_group(self) -> TraceGroup | None:
        """The group whose line is highlighted (None on a run's row)."""
        row = self.runs_table.highlighted_row
        return self._lab.session.group(row.group) if row is not None and row.group else None

    def action_toggle_run(self) -> None:
        """space: show or hide the highlighted run (a group's line: all its runs) on the
        charts."""
        trace = self._highlighted()
        if trace is None:
            return
        group = self._highlighted_group()
        traces = list(group.runs) if group is not None else [trace]
        show = not any(t.shown for t in traces)
        for t in traces:
            if show and not t.loaded:
                try:
                    t.load(self._lab.store.epochs(t.key), self._lab.store.steps(t.key))
                except StoreError as exc:
                    self.log_pane.add(str(exc), "error")
                    return
        for t in traces:
            t.shown = show
        self.post_message(self.RunsChanged(charts=True, urgent=True))

    def action_expand_group(self) -> None:
        """+: list the highlighted group's runs under its line, one row per seed."""
        row = self.runs_table.highlighted_row
        if row is None:
            self.log_pane.add("no run selected: the runs table is empty", "warning")
        elif row.group is not None:
            self._lab.session.expanded.add(row.group)
            self.post_message(self.RunsChanged())
        elif row.parent is None:
            self.log_pane.add(f"run #{row.key} is not a group of seeds (the form's seeds field "
                              "trains one)", "warning")

    def action_collapse_group(self) -> None:
        """-: fold the highlighted group (or the group of the highlighted seed) back into one
        line."""
        row = self.runs_table.highlighted_row
        group = row.group or row.parent if row is not None else None
        if group is None:
            self.log_pane.add("no group of seeds selected", "warning")
            return
        self._lab.session.expanded.discard(group)
        self.post_message(self.RunsChanged())

    def action_details(self) -> None:
        trace = self._highlighted()
        if trace is None:
            return
        try:
            details = run_details(self._lab.store, trace.key)
        except StoreError as exc:
            self.log_pane.add(str(exc), "error")
            return
        self.app.push_screen(DetailsScreen(details))

    def action_compare(self) -> None:
        """v: the compare screen of the highlighted run's groups (lrtui.app.compare_screen)."""
        from lrtui.app.compare_screen import CompareScreen, comparison_for
        from lrtui.compare import CompareError

        trace = self._highlighted()
        if trace is None:
            return
        try:
            comparison = comparison_for(self._lab.store, trace.key)
        except (StoreError, CompareError) as exc:
            self.log_pane.add(str(exc), "error")
            return
        self.app.push_screen(CompareScreen(comparison))

    @on(DataTable.RowSelected, "#runs")
    def _row_selected(self) -> None:
        """enter: a run's details; on a group's line, its seeds listed under it (or folded)."""
        row = self.runs_table.highlighted_row
        if row is not None and row.group is not None:
            if row.group in self._lab.session.expanded:
                self.action_collapse_group()
            else:
                self.action_expand_group()
            return
        self.action_details()

    async def action_clone(self) -> None:
        trace = self._highlighted()
        if trace is None:
            return
        try:
            config = RunConfig.from_dict(self._lab.store.get_config(trace.key))
        except (StoreError, ValueError) as exc:
            self.log_pane.add(f"cannot clone run #{trace.key}: {exc}", "error")
            return
        dataset = self._lab.dataset
        values = values_from_config(
            config, {dataset.name: dataset.n_train} if dataset is not None else None)
        values.label = own_label(config, trace.group_label if trace.group_id else None)
        group = self._highlighted_group()
        if group is not None:  # the group's line: its first seed, with the group's seeds
            values.seeds = str(len(group.runs))
        if dataset is not None:
            values.dataset = dataset.name
        if not self.sidebar.display:
            self.toggle_sidebar()
        await self.sidebar.load(values)
        self.log_pane.add(f"form ← run #{trace.key} ({config.scheduler})", "notice")

    def action_export(self) -> None:
        """e: ask where to write the highlighted run's CSV (ExportScreen), then write it."""
        trace = self._highlighted()
        if trace is None:
            return
        if self._highlighted_group() is not None:
            self.log_pane.add("a group's line: + lists its seeds, e exports one "
                              "(`lrtui runs export ID ...` writes several)", "warning")
            return
        self.app.push_screen(ExportScreen(trace.key, str(default_export_path(trace.key))))

    def action_delete(self) -> None:
        """d: delete the highlighted run (a group's line: all its runs), after asking."""
        trace = self._highlighted()
        if trace is None:
            return
        group = self._highlighted_group()
        traces = list(group.runs) if group is not None else [trace]
        for t in traces:
            key = t.key
            if self._lab.job is not None and key in self._lab.job.run_ids.values() and \
                    t.status == "running":
                self.log_pane.add(f"run #{key} is training: stop it first (s)", "warning")
                return
            try:  # a run another lrtui process is training: deleting it would cut it short
                busy = still_training(self._lab.store.get_run(key))
            except StoreError:
                busy = None  # gone already: the delete below says so
            if busy is not None:
                self.log_pane.add(f"cannot delete: {busy}; stop it there first", "warning")
                return
        keys = [t.key for t in traces]
        what = (f"run #{trace.key} ({trace.label or trace.scheduler})" if group is None
                else f"the {len(keys)} runs of group {group.name}")

        def confirm(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self._lab.store.delete_runs(keys)
            except StoreError as exc:
                self.log_pane.add(f"delete failed: {exc}", "error")
                return
            for key in keys:
                self._lab.session.traces.pop(key, None)
                self._lab.session.summaries.pop(key, None)
            self.log_pane.add(f"deleted {what}" if group is not None
                              else f"deleted run #{trace.key}", "notice")
            self.post_message(self.RunsChanged(charts=True))

        self.app.push_screen(ConfirmScreen(f"Delete {what} and {'their' if group else 'its'} "
                                       "epochs?"), confirm)
