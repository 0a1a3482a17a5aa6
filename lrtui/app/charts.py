"""The chart widgets: one `replot()` per chart that clears, plots and refreshes.

Each chart is a `PlotextPlot` fed a `ChartData` (plain series computed elsewhere). Data are
downsampled to the widget's width (never smoothed). plotext is pure Python and a chart with 17 runs
takes tens of milliseconds to build, so figures are built off the UI thread by one builder thread,
one figure at a time, newest request per chart only, and a redraw asked for by a key (log-Y,
show/hide a run, resize, theme) goes before redraws asked for by arriving data. `render()` only
returns the finished text, so keys are handled at once while charts rebuild. A build error shows a
message inside the chart instead of crashing the app.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import RenderResult
from textual.events import Resize
from textual.message import Message
from textual.theme import Theme
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from lrtui.app.plotting import (
    FRAME_ROWS,
    PLOT_LIMIT,
    RGB,
    ChartData,
    Series,
    downsample,
    downsample_band,
    fit_ticks,
    log_range,
    log_ticks,
    nice_ticks,
    plottable,
    rich_color,
    to_log10,
)
from lrtui.numbering import epoch_ticks


@dataclass(frozen=True)
class FigureJob:
    """Everything one build needs, captured on the UI thread."""

    version: int
    data: ChartData
    title: str
    x_label: str
    log_y: bool
    width: int
    height: int
    theme: str


def legend_lines(entries: list[tuple[str, RGB]], width: int, max_lines: int) -> list[Text]:
    """The legend as lines of coloured "▬ label" entries under the plot, wrapped to the width.

    plotext draws its legend inside the plot, over the curves (five runs hid most of the LR
    chart); under the plot it hides nothing. Entries that do not fit become "+N more"."""
    lines: list[Text] = []
    line = Text()
    for i, (label, color) in enumerate(entries):
        entry = Text.assemble(("▬ ", rich_color(color)), label)
        rest = len(entries) - i - 1
        last_line = len(lines) + 1 == max_lines
        room = width - (len(f"  +{rest} more") if last_line and rest else 0)
        if line.plain and line.cell_len + 2 + entry.cell_len > room:
            if last_line:
                line.append("  ")
                line.append(f"+{rest + 1} more", style="dim")
                lines.append(line)
                return lines
            lines.append(line)
            line = Text()
        if line.plain:
            line.append("  ")
        line.append_text(entry)
    if line.plain:
        lines.append(line)
    return lines


def chart_legend(series: Sequence[Series], width: int, height: int) -> list[Text]:
    """One entry per run (and the preview) on at most a quarter of the chart's rows; when the
    names do not fit, each is cut to its first word (`#7`, the table's ● tells which is which)
    before anything becomes "+N more"."""
    if height < 8:
        return []
    entries = list({s.legend_entry: s.color for s in series if s.legend_entry}.items())
    max_lines = max(1, height // 4)
    lines = legend_lines(entries, width, max_lines)
    if lines and lines[-1].plain.endswith(" more"):
        short = list({label.split(" ")[0]: color for label, color in entries}.items())
        lines = legend_lines(short, width, max_lines)
    return lines


#: How a band (a group's min-max over its seeds) is filled: a light shade in the group's colour,
#: under every line.
BAND_MARKER = "░"


def _band(series: Series, width: int, log_y: bool
          ) -> tuple[list[float], list[float], list[float]]:
    """A band's x, low and high edges, one position per column, in log10 on a log axis (only
    where both edges are > 0)."""
    xs, lo, hi = downsample_band(series.xs, series.low, series.ys, max(8, width))
    if log_y:
        kept = [(x, math.log10(a), math.log10(b)) for x, a, b in zip(xs, lo, hi, strict=True)
                if a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)]
    else:
        kept = [(x, a, b) for x, a, b in zip(xs, lo, hi, strict=True)
                if math.isfinite(a) and math.isfinite(b)]
    return [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept]


def build_figure(job: FigureJob) -> Text:
    """The chart as text: plot every series (downsampled to the width), then the legend.
    Bands are filled first (plotext fills a closed outline column by column), so every line
    is drawn over them.

    Y ticks sit on the rows of their values: the limits are set to the outer ticks (round values
    on a linear axis, whole decades on a log axis, at most MAX_LOG_DECADES of them; a line under
    the legend says when lower values were cut off)."""
    legend = chart_legend(job.data.series, job.width, job.height)
    # Braille markers give two dots per cell: about that many points per series.
    budget = max(16, 2 * max(job.width, 8))
    curves: list[tuple[Series, list[float], list[float]]] = []
    bands: list[tuple[Series, list[float], list[float], list[float]]] = []
    for series in job.data.series:
        if series.kind == "band":
            band = _band(series, job.width, job.log_y)
            if band[0]:
                bands.append((series, *band))
            continue
        xs, ys = downsample(series.xs, series.ys, budget)
        if job.log_y:
            xs, ys, _ = to_log10(xs, ys)
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
        if pts:
            curves.append((series, [p[0] for p in pts], [p[1] for p in pts]))
    if not job.log_y:  # log10 values are always in plotext's range
        beyond = False
        for i, (series, xs, ys) in enumerate(curves):
            ys, far = plottable(ys)
            curves[i], beyond = (series, xs, ys), beyond or far
        for i, (series, xs, lo, hi) in enumerate(bands):
            (lo, far_lo), (hi, far_hi) = plottable(lo), plottable(hi)
            bands[i], beyond = (series, xs, lo, hi), beyond or far_lo or far_hi
        if beyond:
            legend.append(Text(f"values beyond {PLOT_LIMIT:.0e} drawn at {PLOT_LIMIT:.0e}",
                               style="dim"))
    y_lo = min([*(min(ys) for _, _, ys in curves), *(min(lo) for _, _, lo, _ in bands)],
               default=math.inf)
    y_hi = max([*(max(ys) for _, _, ys in curves), *(max(hi) for _, _, _, hi in bands)],
               default=-math.inf)
    y_ticks: tuple[list[float], list[str]] = ([], [])
    y_lim = job.data.y_lim
    if math.isfinite(y_lo) and job.log_y:
        decades = log_range(y_lo, y_hi)
        if decades.clipped:
            legend.append(Text(f"values below 1e{decades.bottom:+03d} not shown", style="dim"))
            curves = [(s, *_above(xs, ys, decades.bottom)) for s, xs, ys in curves]
            bands = [(s, *_band_above(xs, lo, hi, decades.bottom)) for s, xs, lo, hi in bands]
        y_lim = (float(decades.bottom), float(decades.top))
        y_ticks = fit_ticks(lambda count: log_ticks(decades.bottom, decades.top, count),
                            max(2, job.height // 3), job.height - len(legend) - FRAME_ROWS)
    elif math.isfinite(y_lo) and job.data.integer_y:
        top = max(1, math.ceil(y_hi))
        spaces = min(job.height // 3, job.height - len(legend) - FRAME_ROWS - 1)
        stride = max(1, math.ceil(top / max(1, spaces)))
        y_ticks = ([float(t) for t in range(0, top + 1, stride)], [])
    elif math.isfinite(y_lo) and y_lim is None:
        y_ticks = fit_ticks(lambda count: nice_ticks(y_lo, y_hi, count),
                            max(2, min(6, job.height // 2)), job.height - len(legend) - FRAME_ROWS)
        if y_ticks[0]:
            y_lim = (y_ticks[0][0], y_ticks[0][-1])
    plt = Plot()
    plt.plotsize(job.width, job.height - len(legend))
    plt.theme(job.theme)
    plt.title(job.title + ("  (log)" if job.log_y else ""))
    plt.xlabel(job.data.x_label or job.x_label)
    for series, xs, lo, hi in bands:
        if xs:
            plt.plot(xs + xs[::-1], hi + lo[::-1], marker=BAND_MARKER, color=series.color,
                     fillx="internal")
    for series, xs, ys in curves:
        if not xs:
            continue
        if series.kind == "points":
            plt.scatter(xs, ys, marker=series.marker, color=series.color)
        else:
            plt.plot(xs, ys, marker=series.marker, color=series.color)
    if job.data.x_ticks:
        plt.xticks(list(job.data.x_ticks), list(job.data.x_tick_labels) or None)
    elif job.data.epoch_axis > 0:
        plt.xlim(0, job.data.epoch_axis)
        plt.xticks(*epoch_ticks(job.data.epoch_axis, job.width - Y_LABEL_CELLS))
    if y_lim is not None:
        plt.ylim(*y_lim)
    if y_ticks[0]:
        plt.yticks(y_ticks[0], y_ticks[1] or None)
    return Text("\n").join([Text.from_ansi(plt.build().rstrip("\n")), *legend])


def _above(xs: list[float], ys: list[float], floor: float) -> tuple[list[float], list[float]]:
    """The points of a curve at or above `floor` (a clipped log axis draws nothing below it)."""
    kept = [(x, y) for x, y in zip(xs, ys, strict=True) if y >= floor]
    return [p[0] for p in kept], [p[1] for p in kept]


def _band_above(xs: list[float], lo: list[float], hi: list[float], floor: float
                ) -> tuple[list[float], list[float], list[float]]:
    """The part of a band at or above `floor`, its low edge cut at the floor."""
    kept = [(x, max(a, floor), b) for x, a, b in zip(xs, lo, hi, strict=True) if b >= floor]
    return [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept]


Y_LABEL_CELLS = 8  # about what the Y tick labels and the frame take of a chart's width

_FIGURES_KEPT = 4  # recent figures per chart, reused when asked for again unchanged


def _key(job: FigureJob) -> tuple[object, ...]:
    """What a figure depends on (everything but the request's version)."""
    return (job.data, job.title, job.x_label, job.log_y, job.width, job.height, job.theme)


class _Builder:
    """One daemon thread that builds figures: urgent requests first, then oldest; a chart's newer
    request replaces its queued one. A key therefore waits for at most the build in progress."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: dict[int, tuple[bool, int, FigureJob, Callable[[FigureJob], None]]] = {}
        self._seq = 0
        self._thread: threading.Thread | None = None

    def submit(self, owner: int, job: FigureJob, urgent: bool,
               run: Callable[[FigureJob], None]) -> None:
        with self._cond:
            queued = self._queue.get(owner)
            urgent = urgent or (queued is not None and queued[0])
            self._seq += 1
            self._queue[owner] = (urgent, self._seq, job, run)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="lrtui-charts",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                owner = min(self._queue, key=lambda k: (not self._queue[k][0], self._queue[k][1]))
                _, _, job, run = self._queue.pop(owner)
            # A chart of an app that has closed cannot take its figure (its event loop is gone);
            # that must not stop the thread that serves the charts still open.
            with contextlib.suppress(Exception):
                run(job)


_BUILDER = _Builder()


class Chart(PlotextPlot):
    """A titled chart whose whole content is replaced by `show(data)`."""

    DEFAULT_CSS = """
    Chart { height: 1fr; width: 1fr; min-height: 5; }
    """

    @dataclass
    class Built(Message):
        """A figure finished building (or failed) in the build thread."""

        version: int
        key: tuple[object, ...]
        text: Text | None
        error: str | None

    def __init__(self, title: str, *, x_label: str = "epoch", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.x_label = x_label
        self.log_y = False
        self.data = ChartData()
        self.error: str | None = None
        self.replots = 0  # replot requests (tests and the latency bench read it)
        self.builds = 0  # figures actually built
        self._version = 0
        self._pending = False
        self._text: Text | None = None
        self._text_version = -1
        self._figures: list[tuple[tuple[object, ...], Text]] = []  # newest first

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, theme: Theme) -> None:
        self.replot(urgent=True)

    def show(self, data: ChartData, *, urgent: bool = False) -> None:
        """Replace what the chart shows and redraw it (urgent: a user action asked for it)."""
        if data == self.data and self._text_version == self._version and not self._pending:
            return  # nothing changed: no build
        self.data = data
        self.replot(urgent=urgent)

    def set_log_y(self, log_y: bool) -> None:
        """Switch the Y axis between linear and log10 (LR charts only)."""
        if log_y != self.log_y:
            self.log_y = log_y
            self.replot(urgent=True)

    def on_resize(self, event: Resize) -> None:
        """The figure is built for one size: rebuild at the new one."""
        self.replot(urgent=True)

    @property
    def figure(self) -> str:
        """The figure on screen as plain text (plot, axes and legend)."""
        return self._text.plain if self._text is not None else ""

    @property
    def drawn(self) -> bool:
        """The text on screen is the latest requested figure (no build pending)."""
        return not self._pending and self._text_version == self._version

    def replot(self, *, urgent: bool = False) -> None:
        """Ask for a new figure of the current data (queued; a newer request replaces it)."""
        self.replots += 1
        self._version += 1
        if not self.data.series:
            self._text, self._text_version, self.error = None, self._version, None
            self._pending = False
            self.refresh()
            return
        if not self.is_mounted or self.size.width < 4 or self.size.height < 3:
            # Nothing to draw at this size (hidden, or before layout); on_resize asks again.
            self._text, self._text_version, self._pending = None, self._version, False
            return
        job = FigureJob(self._version, self.data, self.title, self.x_label, self.log_y,
                        self.size.width, self.size.height,
                        self._get_plotext_theme_name(self.app.theme))
        cached = next((text for key, text in self._figures if key == _key(job)), None)
        if cached is not None:  # e.g. log-Y toggled back: this exact figure was built already
            self._text, self._text_version, self.error, self._pending = (
                cached, self._version, None, False)
            self.refresh()
            return
        self._pending = True
        self.builds += 1
        _BUILDER.submit(id(self), job, urgent, self._build_in_thread)

    def _build_in_thread(self, job: FigureJob) -> None:
        try:
            text = build_figure(job)
        except Exception as exc:  # plotext raises plain exceptions on odd data: say it in the chart
            self.post_message(self.Built(job.version, _key(job), None,
                                         f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Built(job.version, _key(job), text, None))

    @on(Built)
    def _built(self, message: Built) -> None:
        message.stop()
        if message.text is not None:
            self._figures = [(message.key, message.text), *self._figures[: _FIGURES_KEPT - 1]]
        if message.version >= self._text_version:
            self._text, self.error = message.text, message.error
            self._text_version = message.version
            self.refresh()
        if message.version == self._version:
            self._pending = False

    def render(self) -> RenderResult:
        """The last built figure; an empty chart or a failure shows a line of text instead."""
        if self.error is not None:
            return Text(f"{self.title}: cannot draw ({self.error})", style="bold red")
        if not any(len(s.xs) for s in self.data.series):
            return Text(f"{self.title}\n\n{self.data.empty_message}", style="dim")
        if self._text is None:
            return Text(f"{self.title}\n\ndrawing…", style="dim")
        return self._text
