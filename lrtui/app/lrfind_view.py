"""The range-test view as plain data: which points are drawn, where the cursor may go, what the
chart, the readout and the suggestion table show. No widgets and no torch here (the screen in
`lrfind_screen.py` only displays what these functions return), so all of it is unit-tested.

The chart is log-X: it plots log10(LR) and labels the decades. The cursor walks every finite point
of the sweep, to its very last one (its LR is what the title's "→ end" promises, or where the loss
blew up). Like `lrtui find-lr`, the Y range leaves the last `skip_end` points (the blow-up) out, and
what lies beyond it (a raw spike, the blow-up's smoothed tail) is drawn clipped to the edge, so the
descent stays readable. LRs are shown and applied to the form with 3 significant
digits (`lr_text`): adjacent points of the default sweep are 3.3 % apart, so a fourth digit would
be noise, and what the form gets is exactly what the screen said.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from lrtui.app.plotting import ChartData, Series, log_ticks
from lrtui.lrfind import METHODS, RangeTestResult, Suggestion, recommended
from lrtui.lrfind import lr_text as lr_text  # the view writes LRs as the log does

#: The letter that marks each method's suggestion on the chart (as `lrtui find-lr` prints them).
MARKERS: dict[str, str] = {"steepest": "S", "min_div_10": "M", "valley": "V", "min": "X"}
SMOOTHED_COLOR = (31, 119, 180)  # blue, the runs' first colour
RAW_COLOR = (120, 120, 120)  # faint: the noisy per-batch losses behind the curve
MARK_COLOR = (214, 39, 40)  # red letters
CURSOR_COLOR = (255, 127, 14)  # orange line


@dataclass(frozen=True)
class RangeView:
    """One curve of a finished range test, ready to draw."""

    title: str
    note: str  # how the sweep ended
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    points: tuple[int, ...]  # the curve's finite points: drawn, and walked by the cursor
    suggestions: tuple[Suggestion, ...]  # every method, METHODS order
    recommended: str | None  # the method `lrfind.recommended` picks
    y_lim: tuple[float, float]
    stored_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.points


@dataclass(frozen=True)
class Cursor:
    """Where the cursor is: a position in `RangeView.points`, and the suggestion it was jumped to
    (whose LR it then stands for: min_div_10's lies between points)."""

    pos: int
    method: str | None = None


def applied_lr(lr: float) -> float:
    """The value the form gets: exactly the number the view shows."""
    return float(lr_text(lr))


def drawn_points(lrs: Sequence[float], smoothed: Sequence[float], skip_end: int) -> list[int]:
    """Indexes of the finite points with a positive LR, without the last `skip_end` (the blow-up;
    at least the first point is kept; 0: every one)."""
    end = max(1, len(lrs) - skip_end)
    return [i for i in range(min(end, len(lrs)))
            if math.isfinite(smoothed[i]) and math.isfinite(lrs[i]) and lrs[i] > 0]


def y_limits(values: Sequence[float]) -> tuple[float, float]:
    """The smoothed curve's range plus 5 % each side (0.05 when it is flat)."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return (0.0, 1.0)
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.05 or 0.05
    return (lo - pad, hi + pad)


def range_view(result: RangeTestResult, ids: Sequence[int] = (), curve: int = 0) -> RangeView:
    """The view of one curve of a result (`ids`: what `lrfind.save` returned)."""
    c = result.curves[curve]
    s = result.settings
    points = drawn_points(c.lrs, c.smoothed, 0)  # to the last point: the cursor may go there
    kept = drawn_points(c.lrs, c.smoothed, s.skip_end)  # without the blow-up: the Y range
    stored = f"range test #{ids[curve]}" if len(ids) > curve else "not stored"
    title = (f"LR range test · {c.label} · {result.dataset} · batch {c.config.batch_size} · "
             f"{s.steps} steps, LR {s.start:g} → {s.end:g} · {stored}")
    if c.stopped_early:
        note = f"stopped early after {len(c.lrs)} steps: {c.stop_reason}"
    else:
        note = f"all {len(c.lrs)} steps ran (the loss never blew up)"
    best = recommended(c.suggestions)
    return RangeView(
        title=title, note=note, lrs=c.lrs, losses=c.losses, smoothed=c.smoothed,
        points=tuple(points),
        suggestions=tuple(c.suggestions[m] for m in METHODS if m in c.suggestions),
        recommended=best.method if best is not None else None,
        y_lim=y_limits([c.smoothed[i] for i in kept]),
        stored_ids=tuple(ids),
    )


# ------------------------------------------------------------------------------- the cursor


def suggestion(view: RangeView, method: str) -> Suggestion | None:
    """The method's suggestion when it has an LR."""
    return next((s for s in view.suggestions if s.method == method and s.ok), None)


def position_of(view: RangeView, index: int) -> int:
    """The cursor position of the drawn point nearest to curve index `index`."""
    pts = view.points
    k = bisect.bisect_left(pts, index)
    if k == len(pts):
        return len(pts) - 1
    if k > 0 and index - pts[k - 1] <= pts[k] - index:
        return k - 1
    return k


def start_cursor(view: RangeView) -> Cursor:
    """On the recommended suggestion, else on the middle point."""
    if view.recommended is not None:
        return jump_to(view, view.recommended) or Cursor(len(view.points) // 2)
    return Cursor(len(view.points) // 2)


def jump_to(view: RangeView, method: str) -> Cursor | None:
    """The cursor on a suggestion (None when that method has no LR)."""
    s = suggestion(view, method)
    if s is None or s.index is None or view.empty:
        return None
    return Cursor(position_of(view, s.index), method)


def move(view: RangeView, cursor: Cursor, delta: int) -> Cursor:
    """`delta` points left (<0) or right, clamped to the ends; leaves any suggestion."""
    if view.empty:
        return cursor
    return Cursor(min(max(cursor.pos + delta, 0), len(view.points) - 1))


def big_step(view: RangeView) -> int:
    """The jump of shift+arrows / page keys: a twentieth of the drawn points (at least 1)."""
    return max(1, len(view.points) // 20)


def cycle(view: RangeView, cursor: Cursor, step: int = 1) -> Cursor:
    """The next (step 1) or previous (-1) suggestion that has an LR, in METHODS order."""
    usable = [s.method for s in view.suggestions if s.ok and s.index is not None]
    if not usable or view.empty:
        return cursor
    if cursor.method in usable:
        k = (usable.index(cursor.method) + step) % len(usable)
    else:
        k = 0 if step > 0 else len(usable) - 1
    return jump_to(view, usable[k]) or cursor


def cursor_lr(view: RangeView, cursor: Cursor) -> float:
    """The LR the cursor stands for: its suggestion's, else its point's."""
    if cursor.method is not None:
        s = suggestion(view, cursor.method)
        if s is not None and s.lr is not None:
            return s.lr
    return view.lrs[view.points[cursor.pos]]


def readout(view: RangeView, cursor: Cursor) -> str:
    """The line under the chart: the cursor's LR and the losses at its point."""
    if view.empty:
        return "no finite loss to show: every point of the curve is NaN or infinite"
    i = view.points[cursor.pos]
    raw = view.losses[i]
    raw_text = f"{raw:.4f}" if math.isfinite(raw) else str(raw)
    where = f"step {i + 1}/{len(view.lrs)}"
    text = (f"cursor  LR {lr_text(cursor_lr(view, cursor))}  ·  smoothed loss "
            f"{view.smoothed[i]:.4f}  ·  raw {raw_text}  ·  {where}")
    if cursor.method is not None:
        text += f"  ·  {cursor.method}"
        if cursor.method == "min_div_10":  # its LR lies between points
            text += f" (losses at LR {lr_text(view.lrs[i])})"
    return text


TABLE_HEADER = f"  {'key':<4}{'method':<13}{'LR':>7}  {'loss':>7}  what it reads off the curve"


def suggestion_rows(view: RangeView, cursor: Cursor | None = None) -> list[str]:
    """A header, then one line per method: its key, chart letter, LR, loss and one-line doc.
    ▸ marks the suggestion the cursor is on, ★ the recommended one."""
    rows = [TABLE_HEADER + "  (★ recommended)" if view.recommended else TABLE_HEADER]
    for n, s in enumerate(view.suggestions, start=1):
        pointer = "▸" if cursor is not None and cursor.method == s.method else " "
        star = "★" if s.method == view.recommended else " "
        head = f"{pointer}{star}{n:<4}{MARKERS[s.method]} {s.method:<11}"
        if s.lr is None or s.loss is None:
            rows.append(f"{head}{'-':>7}  {'-':>7}  {s.reason}")
        else:
            rows.append(f"{head}{lr_text(s.lr):>7}  {s.loss:>7.4f}  {METHODS[s.method]}")
    return rows


# --------------------------------------------------------------------------------- the chart


def chart_data(view: RangeView, cursor: Cursor | None) -> ChartData:
    """The log-X chart: faint raw losses, the cursor's line, the smoothed curve (both clipped to
    the Y range) and the suggestions' letters (in that order: later series are drawn on top)."""
    if view.empty:
        return ChartData(empty_message="no finite loss to draw")
    lo, hi = view.y_lim
    pts = view.points
    raw = [i for i in pts if math.isfinite(view.losses[i])]
    series = [
        Series("", [math.log10(view.lrs[i]) for i in raw],
               [min(max(view.losses[i], lo), hi) for i in raw], RAW_COLOR, kind="points",
               marker="dot"),
    ]
    if cursor is not None:
        x = math.log10(cursor_lr(view, cursor))
        series.append(Series("", [x, x], [lo, hi], CURSOR_COLOR))
    series.append(Series("", [math.log10(view.lrs[i]) for i in pts],
                         [min(max(view.smoothed[i], lo), hi) for i in pts], SMOOTHED_COLOR))
    for s in view.suggestions:
        if s.lr is not None and s.loss is not None:
            series.append(Series("", [math.log10(s.lr)], [s.loss], MARK_COLOR, kind="points",
                                 marker=MARKERS[s.method]))
    x_lo, x_hi = math.log10(view.lrs[pts[0]]), math.log10(view.lrs[pts[-1]])
    ticks, labels = log_ticks(x_lo, x_hi, 8)
    return ChartData(tuple(series), x_ticks=tuple(ticks), x_tick_labels=tuple(labels),
                     y_lim=(lo, hi))
