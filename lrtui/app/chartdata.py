"""The charts' and the table's data, built from the session's runs (`lrtui.session.RunTrace`).

Every number comes from an engine event or the store; colours are the app's (one per run id).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from lrtui.app.plotting import PREVIEW_COLOR, RGB, ChartData, Series, color_for
from lrtui.app.runs import RunRow
from lrtui.numbering import epoch_end_x, epoch_start_x, x_label
from lrtui.report import differing_setup
from lrtui.session import PreviewCurve, RunTrace, StoredSummary, TraceGroup, grouped
from lrtui.stats import spread


def run_row(trace: RunTrace, summary: StoredSummary | None = None, *, paused: bool = False,
            setup_keys: Sequence[str] = ()) -> RunRow:
    """The table row of a run: from its trace, or from its store summary when not loaded
    (`paused`: its training is paused, said instead of `running`; `setup_keys`: the parts of
    its setup to show, those in which the listed runs differ)."""
    if summary is not None and not trace.loaded:
        best_acc, best_loss, done = summary.best_acc, summary.best_loss, summary.epochs_done
    else:
        best_acc, best_loss, done = trace.best_acc, trace.best_loss, len(trace.epochs)
    return RunRow(key=trace.key, label=trace.label or trace.short, scheduler=trace.scheduler,
                  status="paused" if paused and trace.status == "running" else trace.status,
                  epochs_done=done, epochs=trace.epochs_planned,
                  best_acc=best_acc, best_loss=best_loss, dataset=trace.dataset,
                  shown=trace.shown, color=color_for(trace.key), session=trace.session,
                  seed=trace.seed, setup=setup_text(trace, setup_keys).strip())


#: Which status a group's line names when its seeds differ: the first of these they have.
STATUS_ORDER = ("running", "paused", "failed", "diverged", "interrupted", "stopped", "finished")


def group_row(group: TraceGroup, runs: Sequence[RunRow], *, expanded: bool = False) -> RunRow:
    """A group's line from its runs' rows: its label (the table adds "×N"), the runs' statuses, and
    the mean ± std of their best accuracy and loss (lrtui.stats.spread, as `runs compare`)."""
    acc = spread([r.best_acc for r in runs])
    loss = spread([r.best_loss for r in runs])
    statuses = [r.status for r in runs]
    counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
    # Mixed statuses: the one that matters most now, with its count ("running 2/3"); the line
    # must fit beside the log at 120 columns, and `+` lists every seed's own.
    top = min(counts, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 99)
    status = top if len(counts) == 1 else f"{top} {counts[top]}/{len(statuses)}"
    first = runs[0]
    shown = [r.shown for r in runs]
    return RunRow(key=group.key, label=group.label,
                  scheduler=first.scheduler, status=status,
                  epochs_done=max(r.epochs_done for r in runs), epochs=first.epochs,
                  best_acc=acc.mean, best_loss=loss.mean, dataset=first.dataset,
                  shown=any(shown), color=color_for(group.key), session=first.session,
                  members=tuple(r.key for r in runs), group=group.id,
                  partly_shown=any(shown) and not all(shown),
                  epochs_low=min(r.epochs_done for r in runs),
                  acc_std=acc.std if acc.n > 1 else None,
                  loss_std=loss.std if loss.n > 1 else None, expanded=expanded,
                  setup=first.setup)


def table_rows(traces: Sequence[RunTrace], summaries: Mapping[int, StoredSummary], *,
               paused: frozenset[int] = frozenset(), expanded: frozenset[str] = frozenset()
               ) -> list[RunRow]:
    """Every row of the runs table: a run alone, or a group's line, followed by a row per
    seed (`├ seed=N`, in the group's colour) when the group is `expanded`. Each row names the
    parts of its setup in which the runs listed differ (`lr=0.021`, `adam`)."""
    keys = differing_setup([t.setup for t in traces])
    rows: list[RunRow] = []
    for item in grouped(traces):
        if isinstance(item, RunTrace):
            rows.append(run_row(item, summaries.get(item.key), paused=item.key in paused,
                                setup_keys=keys))
            continue
        runs = [run_row(t, summaries.get(t.key), paused=t.key in paused, setup_keys=keys)
                for t in item.runs]
        open_ = item.id in expanded
        rows.append(group_row(item, runs, expanded=open_))
        if open_:
            color = color_for(item.key)
            for i, r in enumerate(runs):
                branch = "└" if i == len(runs) - 1 else "├"
                what = f"seed={r.seed}" if r.seed is not None else r.label
                rows.append(replace(r, label=f"{branch} {what}", color=color, parent=item.id))
    return rows


@dataclass(frozen=True)
class AllCharts:
    """The data of the four charts."""

    lr: ChartData
    loss: ChartData
    acc: ChartData
    aux: ChartData
    aux_title: str


# With more runs shown than this, per-step LRs are drawn as dense points (two per column, which
# reads as a curve) instead of interpolated lines: plotext's lines cost ~2 ms per run per redraw.
MAX_LINES = 6


@dataclass(frozen=True)
class Part:
    """One curve of a run on one chart before it is drawn: alone as a Series, or with the same
    curve of the other seeds of its group as their mean and min-max band."""

    chart: Literal["lr", "loss", "acc", "aux"]
    suffix: str  # after the run's name in the series label (" train", " valid")
    xs: Sequence[float]
    ys: Sequence[float]
    kind: Literal["line", "points"] = "line"
    marker: str = "braille"
    legend: bool = True  # names the run in the legend (the train loss dots do not)
    band: bool = True  # a group draws its band (not for the train loss dots)


def run_parts(t: RunTrace, *, plateau_mode: bool, lines: bool) -> list[Part]:
    """Every curve of a run: the LR per step (per epoch until its steps arrive; `lines`: as a
    line, else dense points), train and valid loss, valid accuracy, and the plateau count or
    the momentum."""
    parts: list[Part] = []
    if t.step_lr:
        parts.append(Part("lr", "", t.step_x(), t.step_lr, "line" if lines else "points"))
    elif t.epochs:
        parts.append(Part("lr", "", [epoch_start_x(e.epoch) for e in t.epochs],
                          [e.lr for e in t.epochs], "points", "dot"))
    ex = [epoch_end_x(e.epoch) for e in t.epochs]
    tl = [(x, e.train_loss) for x, e in zip(ex, t.epochs, strict=True)
          if e.train_loss is not None]
    vl = [(x, e.valid_loss) for x, e in zip(ex, t.epochs, strict=True)
          if e.valid_loss is not None]
    va = [(x, 100.0 * e.valid_acc) for x, e in zip(ex, t.epochs, strict=True)
          if e.valid_acc is not None]
    if tl:  # points: cheap to draw, and tell train from valid at a glance
        parts.append(Part("loss", " train", [p[0] for p in tl], [p[1] for p in tl], "points",
                          "dot", legend=False, band=False))
    if vl:
        parts.append(Part("loss", " valid", [p[0] for p in vl], [p[1] for p in vl]))
    if va:
        parts.append(Part("acc", "", [p[0] for p in va], [p[1] for p in va]))
    if plateau_mode:
        pb = [(x, e.plateau_num_bad_epochs) for x, e in zip(ex, t.epochs, strict=True)
              if e.plateau_num_bad_epochs is not None]
        if pb:
            parts.append(Part("aux", "", [p[0] for p in pb], [float(p[1]) for p in pb],
                              marker="dot"))
    elif t.step_momentum and len(t.step_momentum) == len(t.step_index):
        parts.append(Part("aux", "", t.step_x(), t.step_momentum))
    else:
        mo = [(epoch_start_x(e.epoch), e.momentum) for e in t.epochs if e.momentum is not None]
        if mo:
            parts.append(Part("aux", "", [p[0] for p in mo], [p[1] for p in mo], "points", "dot"))
    return parts


def _series(part: Part, name: str, color: RGB, legend: str | None = None) -> Series:
    """A part drawn alone; the legend names `name` (or `legend`) unless the part stays out."""
    if not part.legend:
        entry: str | None = ""
    elif legend is not None:
        entry = legend
    else:
        entry = name if part.suffix else None
    return Series(f"{name}{part.suffix}", part.xs, part.ys, color, kind=part.kind,
                  marker=part.marker, legend=entry)


@dataclass(frozen=True)
class Aggregate:
    """A group's curve: at each x, the mean, min and max over the seeds that have a value."""

    xs: list[float]
    mean: list[float]
    low: list[float]
    high: list[float]

    @property
    def flat(self) -> bool:
        """Every seed has the same value everywhere (no band to draw)."""
        return self.low == self.high


def aggregate(curves: Sequence[tuple[Sequence[float], Sequence[float]]],
              running: Sequence[bool]) -> Aggregate | None:
    """The mean and min-max band of the seeds' curves, or None when they cannot be drawn
    honestly: a seed that has ended lacks a value the others have (it diverged, its loss was
    NaN), so a mean of the rest would hide it. A seed still running may lag behind: its
    values past its last one are not missing yet."""
    xs0 = list(curves[0][0])
    ys_all = [list(ys) for _, ys in curves]
    if all(list(xs) == xs0 for xs, _ in curves[1:]) and all(
            math.isfinite(y) for ys in ys_all for y in ys):
        if all(ys == ys_all[0] for ys in ys_all[1:]):  # e.g. the LR of an epoch schedule
            return Aggregate(xs0, ys_all[0], ys_all[0], ys_all[0])
        columns = list(zip(*ys_all, strict=True))
        return Aggregate(xs0, [math.fsum(c) / len(c) for c in columns],
                         [min(c) for c in columns], [max(c) for c in columns])
    values = [{x: y for x, y in zip(xs, ys, strict=False) if math.isfinite(y)}
              for xs, ys in curves]
    last = [max(v) if v else -math.inf for v in values]
    out = Aggregate([], [], [], [])
    for x in sorted(set().union(*values)):
        have = [v[x] for v in values if x in v]
        if any(x not in v and not (run and x > end)
               for v, run, end in zip(values, running, last, strict=True)):
            return None
        out.xs.append(x)
        out.mean.append(math.fsum(have) / len(have))
        out.low.append(min(have))
        out.high.append(max(have))
    return out


def faint(color: RGB) -> RGB:
    """A group's colour for its seed lines when no band can be drawn: halfway to grey, so the
    lines read as one group's and lighter than a run's own."""
    r, g, b = color
    return ((r + 128) // 2, (g + 128) // 2, (b + 128) // 2)


def setup_text(trace: RunTrace, keys: Sequence[str]) -> str:
    """` lr=0.021`: the parts of a run's setup named by `keys` (those in which the runs listed
    or shown differ, `lrtui.report.differing_setup`), after its name."""
    parts = [trace.setup[k] for k in keys if trace.setup.get(k)]
    return " " + " ".join(parts) if parts else ""


def group_series(group: TraceGroup, shown: Sequence[RunTrace], parts: Sequence[list[Part]],
                 setup_keys: Sequence[str] = ()) -> list[tuple[str, Series]]:
    """A group's curves, as (chart, series): per curve its mean in the group's colour over its
    min-max band, one legend entry (the group's name, with what sets it apart: `setup_keys`);
    lighter seed lines instead where a band cannot be drawn (`aggregate`). `parts[i]`: the
    curves of `shown[i]`."""
    color = color_for(group.key)
    name = group.name + setup_text(shown[0], setup_keys)
    running = [t.status == "running" for t in shown]
    out: list[tuple[str, Series]] = []
    for chart, suffix in dict.fromkeys((p.chart, p.suffix) for ps in parts for p in ps):
        mine = [next((p for p in ps if (p.chart, p.suffix) == (chart, suffix)), None)
                for ps in parts]
        present = [(t, p) for t, p in zip(shown, mine, strict=True) if p is not None]
        first = present[0][1]
        agg = aggregate([(p.xs, p.ys) if p is not None else ((), ()) for p in mine], running)
        if agg is None:
            out += [(chart, _series(p, t.name, faint(color), legend=name if k == 0 else ""))
                    for k, (t, p) in enumerate(present)]
            continue
        if first.band and not agg.flat:
            out.append((chart, Series(f"{name}{suffix} band", agg.xs, agg.high, color,
                                      kind="band", low=agg.low, legend="")))
        mean = Part(first.chart, suffix, agg.xs, agg.mean, first.kind, first.marker,
                    first.legend, first.band)
        out.append((chart, _series(mean, name, color)))
    return out


def build_charts(traces: Sequence[RunTrace], preview: PreviewCurve | None, *,
                 no_preview: str | None = None) -> AllCharts:
    """The four charts' series for the shown runs plus the form's preview (`no_preview`: why
    there is none, shown on the empty LR chart). A group of seeds with two or more runs shown
    draws as one: its mean over its min-max band (`group_series`)."""
    shown = [t for t in traces if t.shown]
    items: list[tuple[TraceGroup | None, list[RunTrace]]] = []
    for item in grouped(traces):
        if isinstance(item, RunTrace):
            if item.shown:
                items.append((None, [item]))
            continue
        runs = [t for t in item.runs if t.shown]
        if runs:
            items.append((item, runs))
    lines = len(items) <= MAX_LINES
    # Legends name what sets the shown runs apart besides their schedules (two LRs of one).
    setup_keys = differing_setup([t.setup for t in shown])
    series: dict[str, list[Series]] = {"lr": [], "loss": [], "acc": [], "aux": []}
    plateau_mode = any(
        e.plateau_num_bad_epochs is not None for t in shown for e in t.epochs
    ) or (preview is not None and preview.plateau)
    per_step: list[bool] = []  # each schedule on the LR chart: stepped every step, or per epoch
    epochs = max((t.epochs_planned for t in shown), default=0)
    if preview is not None:
        epochs = max(epochs, preview.epochs)
    per_step += [t.per_step for t in shown if t.step_lr or t.epochs]
    if preview is not None and preview.lr_per_step:
        per_step.append(preview.per_step)
        xs = preview.x
        series["lr"].append(Series(f"preview {preview.label}", xs, preview.lr_per_step,
                                   PREVIEW_COLOR))
        if preview.momentum_per_step and not plateau_mode:
            series["aux"].append(Series("preview", xs, preview.momentum_per_step, PREVIEW_COLOR))
    for group, runs in items:
        parts = [run_parts(t, plateau_mode=plateau_mode, lines=lines) for t in runs]
        if group is None or len(runs) == 1:  # every chart's legend names every shown run
            t = runs[0]
            color = color_for(t.key if group is None else group.key)  # a seed: its group's
            for p in parts[0]:
                series[p.chart].append(_series(p, t.name + setup_text(t, setup_keys), color))
            continue
        for chart, one in group_series(group, runs, parts, setup_keys):
            series[chart].append(one)
    aux_title = "plateau: epochs without improvement" if plateau_mode else "momentum / beta1"
    return AllCharts(
        lr=ChartData(tuple(series["lr"]),
                     empty_message=no_preview or "the form is not valid yet: no preview",
                     x_label=x_label(per_step), epoch_axis=epochs),
        loss=ChartData(tuple(series["loss"]),
                       empty_message="train (dots) and valid (lines) loss per epoch",
                       x_label=x_label(), epoch_axis=epochs),
        acc=ChartData(tuple(series["acc"]), empty_message="valid accuracy (%) per epoch",
                      x_label=x_label(), epoch_axis=epochs),
        aux=ChartData(tuple(series["aux"]), integer_y=plateau_mode,
                      empty_message="momentum (or ReduceLROnPlateau's patience count)",
                      x_label=x_label(), epoch_axis=epochs),
        aux_title=aux_title,
    )
