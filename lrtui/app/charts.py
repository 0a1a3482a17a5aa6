"""The chart widgets: one `replot()` per chart that clears, plots and refreshes.

Each chart is a `PlotextPlot` fed a `ChartData` (plain series computed elsewhere). Data are
downsampled to the widget's width (never smoothed); a render error shows a message inside the chart
instead of crashing the app.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import RenderResult
from textual.events import Resize
from textual_plotext import PlotextPlot

from lrtui.app.plotting import ChartData, Series, downsample, log_ticks, to_log10


class Chart(PlotextPlot):
    """A titled chart whose whole content is replaced by `show(data)`."""

    DEFAULT_CSS = """
    Chart { height: 1fr; width: 1fr; min-height: 5; }
    """

    def __init__(self, title: str, *, x_label: str = "epoch", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.x_label = x_label
        self.log_y = False
        self.data = ChartData()
        self.error: str | None = None
        self.replots = 0  # times the chart was rebuilt (tests and the latency bench read it)

    def show(self, data: ChartData) -> None:
        """Replace what the chart shows and redraw it."""
        self.data = data
        self.replot()

    def set_log_y(self, log_y: bool) -> None:
        """Switch the Y axis between linear and log10 (LR charts only)."""
        if log_y != self.log_y:
            self.log_y = log_y
            self.replot()

    def on_resize(self, event: Resize) -> None:
        """The point budget depends on the width: rebuild at the new size."""
        self.replot()

    def _points_budget(self) -> int:
        # Braille markers give two dots per cell; keep about that many points per series.
        return max(16, 2 * max(self.size.width, 8))

    def replot(self) -> None:
        """Clear the figure, plot every series, refresh. Any plotext error becomes a message."""
        self.replots += 1
        try:
            self._build()
            self.error = None
        except Exception as exc:  # plotext raises plain exceptions on odd data; never crash the app
            self.error = f"{type(exc).__name__}: {exc}"
        self.refresh()

    def _build(self) -> None:
        plt = self.plt
        plt.clear_figure()
        title = self.title + ("  (log)" if self.log_y else "")
        plt.title(title)
        plt.xlabel(self.x_label)
        budget = self._points_budget()
        drawn = 0
        y_lo, y_hi = math.inf, -math.inf
        for series in self.data.series:
            xs, ys = downsample(series.xs, series.ys, budget)
            if self.log_y:
                xs, ys, _ = to_log10(xs, ys)
            ys_f = [y for y in ys if math.isfinite(y)]
            if not ys_f:
                continue
            xs = [x for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
            y_lo, y_hi = min(y_lo, *ys_f), max(y_hi, *ys_f)
            self._draw(series, xs, ys_f)
            drawn += 1
        if drawn == 0:
            return
        if self.log_y:
            ticks, labels = log_ticks(y_lo, y_hi, max(2, self.size.height // 3))
            if ticks:
                plt.yticks(ticks, labels)
        elif self.data.integer_y:
            top = max(1, math.ceil(y_hi))
            stride = max(1, math.ceil(top / max(1, self.size.height // 3)))
            plt.yticks(list(range(0, top + 1, stride)))

    def _draw(self, series: Series, xs: list[float], ys: list[float]) -> None:
        if series.kind == "points":
            self.plt.scatter(xs, ys, marker=series.marker, color=series.color, label=series.label)
        else:
            self.plt.plot(xs, ys, marker=series.marker, color=series.color, label=series.label)

    def render(self) -> RenderResult:
        """Draw the plot; an empty chart or a failure shows a line of text instead."""
        if self.error is not None:
            return Text(f"{self.title}: cannot draw ({self.error})", style="bold red")
        if not any(len(s.xs) for s in self.data.series):
            return Text(f"{self.title}\n\n{self.data.empty_message}", style="dim")
        try:
            return super().render()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            return Text(f"{self.title}: cannot draw ({self.error})", style="bold red")
