"""What the app knows about runs, outside any widget.

One `RunTrace` per run (from engine events or the store), and the chart and table data built from
them. Every number comes from an event or the store.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lrtui.app.plotting import PREVIEW_COLOR, ChartData, Series, color_for
from lrtui.app.runs import RunRow
from lrtui.store import EpochRecord, RunRecord, StepsRecord


@dataclass
class RunTrace:
    """One run as the charts and the table see it."""

    key: int  # store id
    label: str
    scheduler: str
    dataset: str
    epochs_planned: int
    status: str = "running"
    session: bool = True
    shown: bool = True
    steps_per_epoch: int | None = None
    epochs: list[EpochRecord] = field(default_factory=list)
    step_index: list[int] = field(default_factory=list)  # global optimizer step of each LR below
    step_lr: list[float] = field(default_factory=list)
    step_momentum: list[float] = field(default_factory=list)
    loaded: bool = True  # False for a stored run whose epochs and steps are not read yet
    _x: list[float] = field(default_factory=list, repr=False, compare=False)
    _x_key: tuple[int, int] = field(default=(0, -1), repr=False, compare=False)

    @property
    def color(self) -> tuple[int, int, int]:
        return color_for(self.key)

    @property
    def name(self) -> str:
        """How legends and logs name the run: '#7 StepLR' (label when given)."""
        return f"#{self.key} {self.label or self.scheduler.split(':')[0]}"

    def add_steps(self, first_step: int, lr: Sequence[float], momentum: Sequence[float] | None
                  ) -> None:
        """Append a chunk of per-step LRs (and momentum) as the engine reports them."""
        self.step_index.extend(range(first_step, first_step + len(lr)))
        self.step_lr.extend(lr)
        if momentum is not None:
            self.step_momentum.extend(momentum)

    def load(self, epochs: Iterable[EpochRecord], steps: Iterable[StepsRecord]) -> None:
        """Fill a stored run's series from the store."""
        self.epochs = list(epochs)
        self.step_index, self.step_lr, self.step_momentum = [], [], []
        for s in steps:
            self.add_steps(s.first_step, s.lr, s.momentum)
        self.loaded = True

    @property
    def best_acc(self) -> float | None:
        vals = [e.valid_acc for e in self.epochs if e.valid_acc is not None]
        return max(vals) if vals else None

    @property
    def best_loss(self) -> float | None:
        vals = [e.valid_loss for e in self.epochs
                if e.valid_loss is not None and math.isfinite(e.valid_loss)]
        return min(vals) if vals else None

    def step_x(self) -> list[float]:
        """Step positions in epochs (step i of an epoch of n steps sits at epoch + i/n). The same
        list comes back until steps arrive, so unchanged charts compare equal at once."""
        spe = self.steps_per_epoch or 1
        key = (spe, len(self.step_index))
        if self._x_key != key:
            self._x = [i / spe for i in self.step_index]
            self._x_key = key
        return self._x


@dataclass
class StoredSummary:
    """Table numbers of a stored run not loaded into a trace (read from its RunRecord)."""

    best_acc: float | None
    best_loss: float | None
    epochs_done: int


def trace_from_record(rec: RunRecord) -> RunTrace:
    """A stored run, not yet loaded (its epochs are read when it is first shown)."""
    return RunTrace(key=rec.id, label=rec.label, scheduler=rec.scheduler, dataset=rec.dataset,
                    epochs_planned=rec.epochs, status=rec.status, session=False, shown=False,
                    steps_per_epoch=rec.steps_per_epoch, loaded=False)


def run_row(trace: RunTrace, summary: StoredSummary | None = None) -> RunRow:
    """The table row of a run: from its trace, or from its store summary when not loaded."""
    if summary is not None and not trace.loaded:
        best_acc, best_loss, done = summary.best_acc, summary.best_loss, summary.epochs_done
    else:
        best_acc, best_loss, done = trace.best_acc, trace.best_loss, len(trace.epochs)
    return RunRow(key=trace.key, label=trace.label or trace.scheduler, scheduler=trace.scheduler,
                  status=trace.status, epochs_done=done, epochs=trace.epochs_planned,
                  best_acc=best_acc, best_loss=best_loss, dataset=trace.dataset,
                  shown=trace.shown, color=trace.color, session=trace.session)


@dataclass(frozen=True)
class PreviewCurve:
    """The form's exact schedule before training (from schedulers.preview)."""

    label: str
    steps_per_epoch: int
    lr_per_step: Sequence[float]
    momentum_per_step: Sequence[float] | None
    plateau: bool = False

    @functools.cached_property
    def x(self) -> list[float]:
        """Step positions in epochs, computed once."""
        spe = max(1, self.steps_per_epoch)
        return [i / spe for i in range(len(self.lr_per_step))]


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
MAX_LEGEND = 1  # with more runs shown, only the LR chart has a legend (the table's ● is the key)


def build_charts(traces: Sequence[RunTrace], preview: PreviewCurve | None, *,
                 no_preview: str | None = None) -> AllCharts:
    """The four charts' series for the shown runs plus the form's preview (`no_preview`: why
    there is none, shown on the empty LR chart)."""
    shown = [t for t in traces if t.shown]
    label_all = len(shown) <= MAX_LEGEND
    lr_series: list[Series] = []
    aux_series: list[Series] = []
    plateau_mode = any(
        e.plateau_num_bad_epochs is not None for t in shown for e in t.epochs
    ) or (preview is not None and preview.plateau)
    if preview is not None and preview.lr_per_step:
        xs = preview.x
        lr_series.append(Series(f"preview {preview.label}", xs, preview.lr_per_step, PREVIEW_COLOR))
        if preview.momentum_per_step and not plateau_mode:
            aux_series.append(Series("preview", xs, preview.momentum_per_step, PREVIEW_COLOR))
    loss: list[Series] = []
    acc: list[Series] = []
    for t in shown:
        if t.step_lr:
            lr_series.append(Series(t.name, t.step_x(), t.step_lr, t.color,
                                    kind="line" if len(shown) <= MAX_LINES else "points"))
        elif t.epochs:
            lr_series.append(Series(t.name, [float(e.epoch) for e in t.epochs],
                                    [e.lr for e in t.epochs], t.color, kind="points", marker="dot"))
        ex = [float(e.epoch + 1) for e in t.epochs]
        name = t.name if label_all else ""
        tl = [(x, e.train_loss) for x, e in zip(ex, t.epochs, strict=True)
              if e.train_loss is not None]
        vl = [(x, e.valid_loss) for x, e in zip(ex, t.epochs, strict=True)
              if e.valid_loss is not None]
        va = [(x, 100.0 * e.valid_acc) for x, e in zip(ex, t.epochs, strict=True)
              if e.valid_acc is not None]
        if tl:  # points: cheap to draw, and tell train from valid at a glance
            loss.append(Series(f"{name} train" if name else "", [p[0] for p in tl],
                               [p[1] for p in tl], t.color, kind="points", marker="dot"))
        if vl:
            loss.append(Series(f"{name} valid" if name else "", [p[0] for p in vl],
                               [p[1] for p in vl], t.color, marker="braille"))
        if va:
            acc.append(Series(name, [p[0] for p in va], [p[1] for p in va], t.color))
        if plateau_mode:
            pb = [(x, e.plateau_num_bad_epochs) for x, e in zip(ex, t.epochs, strict=True)
                  if e.plateau_num_bad_epochs is not None]
            if pb:
                aux_series.append(Series(name, [p[0] for p in pb], [float(p[1]) for p in pb],
                                         t.color, marker="dot"))
        elif t.step_momentum and len(t.step_momentum) == len(t.step_index):
            aux_series.append(Series(name, t.step_x(), t.step_momentum, t.color))
        else:
            mo = [(float(e.epoch), e.momentum) for e in t.epochs if e.momentum is not None]
            if mo:
                aux_series.append(Series(name, [p[0] for p in mo], [p[1] for p in mo], t.color,
                                         kind="points", marker="dot"))
    aux_title = "plateau: epochs without improvement" if plateau_mode else "momentum / beta1"
    return AllCharts(
        lr=ChartData(tuple(lr_series),
                     empty_message=no_preview or "the form is not valid yet: no preview"),
        loss=ChartData(tuple(loss), empty_message="train (dots) and valid (lines) loss per epoch"),
        acc=ChartData(tuple(acc), empty_message="valid accuracy (%) per epoch"),
        aux=ChartData(tuple(aux_series), integer_y=plateau_mode,
                      empty_message="momentum (or ReduceLROnPlateau's patience count)"),
        aux_title=aux_title,
    )
