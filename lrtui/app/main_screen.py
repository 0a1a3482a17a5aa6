"""The main screen: the form on the left; the charts, the batch line, the runs table beside the
log on the right; the progress line and the footer at the bottom.

It owns the layout and how the session's plain data are drawn (charts, table, batch, progress);
it holds no state of the session and never calls torch. The App decides what to draw and when.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from lrtui.app.chartdata import AllCharts
from lrtui.app.charts import Chart
from lrtui.app.form import TUTORIAL_SEEDS, FormValues
from lrtui.app.runs import RunRow, RunsTable
from lrtui.app.sidebar import Sidebar, widget_id
from lrtui.app.status import LogPane, ProgressLine
from lrtui.engine import EpochEnd
from lrtui.model import RunConfig
from lrtui.schedulers import short_spec
from lrtui.session import ProgressShown

BANNER_SHORT = "New here? [b]t[/b] trains the tutorial's four schedulers · [b]?[/b] keys"
BANNER = (
    "New here? Press [b]t[/b] to train the tutorial's four schedulers together "
    "(StepLR, MultiStepLR, ExponentialLR, ReduceLROnPlateau), {seeds} seeds each, on {dataset}, "
    "or pick a scheduler in the form and press [b]r[/b].  [b]?[/b] lists every key."
)


class MainScreen(Screen[None]):
    """The layout of the app's main view and the drawing of what the session holds."""

    class Ready(Message):
        """The layout is mounted: the App can load the history and draw."""

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
