"""The charts' and the table's data, built from the session's runs (`lrtui.session.RunTrace`).

Every number comes from an engine event or the store; colours are the app's (one per run id).
Every chart's x axis is in epochs trained (`lrtui.numbering`): 0 to the longest run shown, so the
tick labelled N is where epoch N ends on all four charts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lrtui.app.plotting import PREVIEW_COLOR, ChartData, Series, color_for
from lrtui.app.runs import RunRow
from lrtui.numbering import epoch_end_x, epoch_start_x, x_label
from lrtui.session import PreviewCurve, RunTrace, StoredSummary


def run_row(trace: RunTrace, summary: StoredSummary | None = None, *, paused: bool = False
            ) -> RunRow:
    """The table row of a run: from its trace, or from its store summary when not loaded
    (`paused`: its training is paused, said instead of `running`)."""
    if summary is not None and not trace.loaded:
        best_acc, best_loss, done = summary.best_acc, summary.best_loss, summary.epochs_done
    else:
        best_acc, best_loss, done = trace.best_acc, trace.best_loss, len(trace.epochs)
    return RunRow(key=trace.key, label=trace.label or trace.short, scheduler=trace.scheduler,
                  status="paused" if paused and trace.status == "running" else trace.status,
                  epochs_done=done, epochs=trace.epochs_planned,
                  best_acc=best_acc, best_loss=best_loss, dataset=trace.dataset,
                  shown=trace.shown, color=color_for(trace.key), session=trace.session)


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


def build_charts(traces: Sequence[RunTrace], preview: PreviewCurve | None, *,
                 no_preview: str | None = None) -> AllCharts:
    """The four charts' series for the shown runs plus the form's preview (`no_preview`: why
    there is none, shown on the empty LR chart)."""
    shown = [t for t in traces if t.shown]
    lr_series: list[Series] = []
    aux_series: list[Series] = []
    plateau_mode = any(
        e.plateau_num_bad_epochs is not None for t in shown for e in t.epochs
    ) or (preview is not None and preview.plateau)
    per_step: list[bool] = []  # each schedule on the LR chart: stepped every step, or per epoch
    epochs = max((t.epochs_planned for t in shown), default=0)
    if preview is not None:
        epochs = max(epochs, preview.epochs)
    if preview is not None and preview.lr_per_step:
        per_step.append(preview.per_step)
        xs = preview.x
        lr_series.append(Series(f"preview {preview.label}", xs, preview.lr_per_step, PREVIEW_COLOR))
        if preview.momentum_per_step and not plateau_mode:
            aux_series.append(Series("preview", xs, preview.momentum_per_step, PREVIEW_COLOR))
    loss: list[Series] = []
    acc: list[Series] = []
    for t in shown:
        color = color_for(t.key)
        if t.step_lr or t.epochs:
            per_step.append(t.per_step)
        if t.step_lr:
            lr_series.append(Series(t.name, t.step_x(), t.step_lr, color,
                                    kind="line" if len(shown) <= MAX_LINES else "points"))
        elif t.epochs:
            lr_series.append(Series(t.name, [epoch_start_x(e.epoch) for e in t.epochs],
                                    [e.lr for e in t.epochs], color, kind="points", marker="dot"))
        ex = [epoch_end_x(e.epoch) for e in t.epochs]
        name = t.name  # every chart's legend names every shown run
        tl = [(x, e.train_loss) for x, e in zip(ex, t.epochs, strict=True)
              if e.train_loss is not None]
        vl = [(x, e.valid_loss) for x, e in zip(ex, t.epochs, strict=True)
              if e.valid_loss is not None]
        va = [(x, 100.0 * e.valid_acc) for x, e in zip(ex, t.epochs, strict=True)
              if e.valid_acc is not None]
        if tl:  # points: cheap to draw, and tell train from valid at a glance
            loss.append(Series(f"{name} train", [p[0] for p in tl], [p[1] for p in tl], color,
                               kind="points", marker="dot", legend=""))
        if vl:
            loss.append(Series(f"{name} valid", [p[0] for p in vl], [p[1] for p in vl], color,
                               marker="braille", legend=name))
        if va:
            acc.append(Series(name, [p[0] for p in va], [p[1] for p in va], color))
        if plateau_mode:
            pb = [(x, e.plateau_num_bad_epochs) for x, e in zip(ex, t.epochs, strict=True)
                  if e.plateau_num_bad_epochs is not None]
            if pb:
                aux_series.append(Series(name, [p[0] for p in pb], [float(p[1]) for p in pb],
                                         color, marker="dot"))
        elif t.step_momentum and len(t.step_momentum) == len(t.step_index):
            aux_series.append(Series(name, t.step_x(), t.step_momentum, color))
        else:
            mo = [(epoch_start_x(e.epoch), e.momentum) for e in t.epochs
                  if e.momentum is not None]
            if mo:
                aux_series.append(Series(name, [p[0] for p in mo], [p[1] for p in mo], color,
                                         kind="points", marker="dot"))
    aux_title = "plateau: epochs without improvement" if plateau_mode else "momentum / beta1"
    return AllCharts(
        lr=ChartData(tuple(lr_series),
                     empty_message=no_preview or "the form is not valid yet: no preview",
                     x_label=x_label(per_step), epoch_axis=epochs),
        loss=ChartData(tuple(loss), empty_message="train (dots) and valid (lines) loss per epoch",
                       x_label=x_label(), epoch_axis=epochs),
        acc=ChartData(tuple(acc), empty_message="valid accuracy (%) per epoch",
                      x_label=x_label(), epoch_axis=epochs),
        aux=ChartData(tuple(aux_series), integer_y=plateau_mode,
                      empty_message="momentum (or ReduceLROnPlateau's patience count)",
                      x_label=x_label(), epoch_axis=epochs),
        aux_title=aux_title,
    )
