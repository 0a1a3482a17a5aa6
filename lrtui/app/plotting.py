"""Pure helpers for the charts: colours, width-bounded downsampling, log-scale ticks.

Kept free of Textual so they are easy to test and cheap to call from a replot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

RGB = tuple[int, int, int]


def rich_color(rgb: RGB) -> str:
    """A Rich colour for an RGB triple (Rich refuses the spaces of `f"rgb{rgb}"`)."""
    return "rgb({},{},{})".format(*rgb)

# Distinguishable on dark and light themes; a run keeps its colour for the session (by run id).
PALETTE: tuple[RGB, ...] = (
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (44, 160, 44),  # green
    (214, 39, 40),  # red
    (148, 103, 189),  # purple
    (23, 190, 207),  # cyan
    (227, 119, 194),  # pink
    (188, 189, 34),  # olive
)
PREVIEW_COLOR: RGB = (150, 150, 150)


def color_for(run_key: int) -> RGB:
    """The stable colour of a run: the same id always gets the same colour."""
    return PALETTE[run_key % len(PALETTE)]


@dataclass(frozen=True)
class Series:
    """One line (or set of points) on a chart, already in chart coordinates."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: RGB
    kind: Literal["line", "points", "band"] = "line"  # band: filled from `low` up to `ys`
    marker: str = "braille"
    legend: str | None = None  # the legend's entry (None: the label; "": not in the legend)
    low: Sequence[float] = ()  # a band's lower edge (its upper edge is `ys`)

    @property
    def legend_entry(self) -> str:
        return self.label if self.legend is None else self.legend


@dataclass(frozen=True)
class ChartData:
    """What one chart shows: its series plus the message when there is nothing to draw."""

    series: tuple[Series, ...] = ()
    empty_message: str = "no data yet"
    y_label: str = ""
    integer_y: bool = False
    notes: tuple[str, ...] = field(default=())
    # Fixed X ticks (positions in chart coordinates, with their labels: a log-X chart plots log10
    # of its values and labels the decades) and fixed Y limits; empty / None: plotext's own.
    x_ticks: tuple[float, ...] = ()
    x_tick_labels: tuple[str, ...] = ()
    y_lim: tuple[float, float] | None = None
    x_label: str = ""  # the x axis's label ("": the chart's own)
    # > 0: x is in epochs trained (lrtui.numbering), drawn from 0 to this many with whole-epoch
    # ticks, the same on every chart of the run.
    epoch_axis: int = 0


def downsample(
    xs: Sequence[float], ys: Sequence[float], max_points: int
) -> tuple[list[float], list[float]]:
    """Reduce a series to about `max_points` points without smoothing.

    Each bucket keeps its first point plus its minimum and maximum (in x order), so steps, spikes
    and the exact extreme values survive; values are never averaged. Short series come back
    unchanged. The per-bucket work is done by C builtins on slices, so a 50,000-step run costs
    about a millisecond.
    """
    n = min(len(xs), len(ys))
    max_points = max(max_points, 4)
    if n <= max_points:
        return list(xs[:n]), list(ys[:n])
    y_list = ys if isinstance(ys, list) else list(ys[:n])
    buckets = max(1, max_points // 3)
    out_x: list[float] = []
    out_y: list[float] = []
    for b in range(buckets):
        lo = b * n // buckets
        hi = (b + 1) * n // buckets
        if hi <= lo:
            continue
        seg = y_list[lo:hi]
        i_min = lo + seg.index(min(seg))
        i_max = lo + seg.index(max(seg))
        for i in sorted({lo, i_min, i_max}):
            out_x.append(xs[i])
            out_y.append(y_list[i])
    if out_x[-1] != xs[n - 1]:
        out_x.append(xs[n - 1])
        out_y.append(y_list[n - 1])
    return out_x, out_y


def downsample_band(
    xs: Sequence[float], low: Sequence[float], high: Sequence[float], max_points: int
) -> tuple[list[float], list[float], list[float]]:
    """A band reduced to about `max_points` x positions: each bucket keeps its first x with the
    lowest low and the highest high in it, so the band still covers every value."""
    n = min(len(xs), len(low), len(high))
    max_points = max(max_points, 2)
    if n <= max_points:
        return list(xs[:n]), list(low[:n]), list(high[:n])
    out_x: list[float] = []
    out_lo: list[float] = []
    out_hi: list[float] = []
    for b in range(max_points):
        lo_i = b * n // max_points
        hi_i = (b + 1) * n // max_points
        if hi_i <= lo_i:
            continue
        out_x.append(xs[lo_i])
        out_lo.append(min(low[lo_i:hi_i]))
        out_hi.append(max(high[lo_i:hi_i]))
    return out_x, out_lo, out_hi


#: plotext scales a linear axis in floats, and its arithmetic overflows (OverflowError) for values
#: past about 1e306. A value beyond this bound is drawn at it: an LR of 1e307 (ExponentialLR with
#: gamma=1e308, still finite) is off any useful scale anyway, and its chart still draws.
PLOT_LIMIT = 1e300
#: The narrowest Y span a linear chart resolves: below it (subnormal values), ticks span 0 to 1.
PLOT_TINY = 1e-300


def plottable(ys: Sequence[float]) -> tuple[list[float], bool]:
    """Values a linear plotext axis can draw: finite ones beyond +-PLOT_LIMIT at that bound (the
    others unchanged), and whether any was."""
    beyond = [math.isfinite(y) and abs(y) > PLOT_LIMIT for y in ys]
    out = [math.copysign(PLOT_LIMIT, y) if far else y for y, far in zip(ys, beyond, strict=True)]
    return out, any(beyond)


def to_log10(
    xs: Sequence[float], ys: Sequence[float]
) -> tuple[list[float], list[float], int]:
    """Points for a log-Y chart: log10 of the positive values, and how many were dropped (<= 0)."""
    out_x: list[float] = []
    out_y: list[float] = []
    dropped = 0
    for x, y in zip(xs, ys, strict=False):
        if y > 0 and math.isfinite(y):
            out_x.append(x)
            out_y.append(math.log10(y))
        else:
            dropped += 1
    return out_x, out_y, dropped


#: A log-Y chart spans at most this many decades: below that, a fast-falling schedule (ExponentialLR
#: 0.1 falls 25 decades in 25 epochs) would squash every other curve into the top rows.
MAX_LOG_DECADES = 6


@dataclass(frozen=True)
class LogRange:
    """The decades a log-Y chart shows (log10 units), and whether lower values were cut off."""

    bottom: int
    top: int
    clipped: bool


def log_range(lo: float, hi: float, max_decades: int = MAX_LOG_DECADES) -> LogRange:
    """Whole decades around [lo, hi] (log10 values), at most `max_decades` below the top."""
    top = math.ceil(hi)
    bottom = math.floor(lo)
    if bottom == top:
        bottom = top - 1
    clipped = top - bottom > max_decades
    return LogRange(top - max_decades if clipped else bottom, top, clipped)


def log_ticks(lo: float, hi: float, max_ticks: int = 6) -> tuple[list[float], list[str]]:
    """Decade ticks (log10 units) and labels like '1e-03' covering [lo, hi] (log10 values).

    Counted down from the top decade, so the highest LR row is always labelled, and every label
    sits on the row of its own value."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [], []
    first = math.floor(lo)
    last = math.ceil(hi)
    if first == last:
        first = last - 1
    stride = max(1, math.ceil((last - first + 1) / max(1, max_ticks)))
    ticks = [float(e) for e in range(last, first - 1, -stride)][::-1]
    return ticks, [f"1e{int(t):+03d}" for t in ticks]


def nice_ticks(lo: float, hi: float, max_ticks: int = 6) -> tuple[list[float], list[str]]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi].

    The first and last ticks enclose the data, so a chart whose Y limits are set to them puts each
    label on the row of its value; labels share one number of decimals (0.02 0.04 ... 0.10), or
    one number of mantissa digits in scientific notation (1.05e+300), so no two are the same.
    Each tick is the float nearest its decimal value (`6e-2`, not 3 * 0.02), at any magnitude."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [], []
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo <= abs(hi) * 1e-9:  # a flat line: show a band around it
        pad = abs(hi) * 0.1
        lo, hi = lo - pad, hi + pad
    if not hi - lo >= PLOT_TINY:  # a span below what floats resolve well (subnormal LRs)
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        if not hi - lo >= PLOT_TINY:
            lo, hi = (-1.0 if lo < 0 else 0.0), (1.0 if hi > 0 or lo >= 0 else 0.0)
    raw_step = (hi - lo) / max(1, max_ticks - 1)
    exponent = math.floor(math.log10(raw_step))
    mantissa = next(m for m in (1, 2, 5, 10) if m * 10.0**exponent >= raw_step * (1 - 1e-9))
    step = float(f"{mantissa}e{exponent}")
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    ticks = [float(f"{i * mantissa}e{exponent}") for i in range(first, last + 1)]
    step_exponent = exponent + (1 if mantissa == 10 else 0)
    if step < 1e-4 or max(abs(ticks[0]), abs(ticks[-1])) >= 1e5:
        top = max(abs(ticks[0]), abs(ticks[-1]))
        digits = max(0, math.floor(math.log10(top)) - step_exponent)
        return ticks, [f"{t:.{digits}e}" if t else "0" for t in ticks]
    decimals = max(0, -step_exponent)
    return ticks, [f"{t:.{decimals}f}" for t in ticks]


Ticks = tuple[list[float], list[str]]

# Rows of a plotext figure that are not plot rows: the title, the frame's top and bottom, the
# x tick labels and the x label.
FRAME_ROWS = 5


def fit_ticks(make: Callable[[int], Ticks], most: int, rows: int) -> Ticks:
    """The ticks `make(count)` gives for the largest count up to `most` that fit one per row.

    `make`'s count is a hint (nice_ticks may return one more), and plotext prints one label per
    row: two ticks on one row leave one of them drawn where the other belongs, which one depending
    on the last bits of the data. Ticks at most one per row never share one."""
    for count in range(min(most, rows), 1, -1):
        ticks = make(count)
        if len(ticks[0]) <= rows:
            return ticks
    return [], []


def fmt_duration(seconds: float) -> str:
    """Seconds as h:mm:ss (or m:ss under an hour)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
