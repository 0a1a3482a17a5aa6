"""The session core: what the terminal app knows and does, without any widget (no Textual here).

A `Session` holds the runs of this session and of the store (`RunTrace`), the batch being
assembled, and one controller per kind of background job: `TrainingJobs` (one train() call at a
time), `RangeTests` (one LR range test at a time) and `Previews` (the form's exact schedule, newest
wins). Each controller owns its job's state and turns its events and outcome into plain
`Applied` results (what to log, what to redraw); the app only runs the workers and draws.
`busy_reason()` is the one answer to "can a new job start now?".

Groups: the runs of one configuration over seeds (`lrtui.sweeps.plan_seeds`, as `lrtui run
--seeds N` plans them) carry their group; `grouped()` gathers them into one `TraceGroup`, which the
table shows as one line and the charts draw as one mean with its min-max band.

Live history: `Session.poll_store()` asks the store whether another process committed anything
since the last look (SQLite's `PRAGMA data_version`, a counter read in microseconds) and, only
then, reads the runs and epochs again, so runs trained by a headless `lrtui run` on the same
database appear and stream in while the app is open.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from lrtui import schedulers as S
from lrtui.engine.control import Control
from lrtui.engine.events import EpochEnd, Event, Progress, RunEnded, RunStarted, StepChunk
from lrtui.lrfind import (
    RangeTestProgress,
    RangeTestResult,
    SweepSettings,
    lr_text,
    recommended,
)
from lrtui.model import RunConfig
from lrtui.numbering import epoch_number, steps_x
from lrtui.report import setup_parts
from lrtui.store import EpochRecord, RunGroup, RunRecord, StepsRecord, Store, StoreError
from lrtui.sweeps import GroupPoint, check_run_count, plan_note, plan_seeds

if TYPE_CHECKING:
    from lrtui.data import RawDataset
    from lrtui.runner import TrainFn

Level = Literal["info", "notice", "warning", "error"]


# ------------------------------------------------------------------------------------ runs


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
    group_id: str | None = None  # its group of seeds (lrtui.store.RunGroup); None: none
    group_label: str | None = None
    seed_index: int | None = None  # i of seed SEED+i in its group
    seed: int | None = None  # the seed it trained from
    # What it trains with besides its schedule (lrtui.report.setup_parts): the table shows the
    # parts in which the runs it lists differ (the LR the range test found, another optimizer).
    setup: dict[str, str] = field(default_factory=dict)
    _x: list[float] = field(default_factory=list, repr=False, compare=False)
    _x_key: tuple[int, int] = field(default=(0, -1), repr=False, compare=False)

    @property
    def name(self) -> str:
        """How legends and logs name the run: '#7 StepLR' (label when given; a composite shows
        all its members, '#7 LinearLR 5 → Cosine')."""
        return f"#{self.key} {self.label or self.title}"

    @functools.cached_property
    def title(self) -> str:
        """The scheduler's name, or a composite's members in short form."""
        try:
            spec = S.parse_spec(self.scheduler)
        except S.SpecError:
            return self.scheduler.split(":")[0]
        return S.short_spec(spec) if spec.children else spec.name

    @functools.cached_property
    def per_step(self) -> bool:
        """The run's schedule steps after every optimizer step (interval=step), not per epoch."""
        try:
            return S.cadence_of(S.parse_spec(self.scheduler)) == "batch"
        except S.SpecError:
            return False

    @functools.cached_property
    def short(self) -> str:
        """The scheduler spec in short form (`StepLR 10/0.1`): what tells runs apart."""
        return S.short_spec(self.scheduler)

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
        """Step positions on the charts' epoch axis (`lrtui.numbering.step_x`). The same list
        comes back until steps arrive, so unchanged charts compare equal at once."""
        spe = self.steps_per_epoch or 1
        key = (spe, len(self.step_index))
        if self._x_key != key:
            self._x = steps_x(self.step_index, spe)
            self._x_key = key
        return self._x


@dataclass
class StoredSummary:
    """Table numbers of a stored run not loaded into a trace (read from its RunRecord)."""

    best_acc: float | None
    best_loss: float | None
    epochs_done: int


def _model_shape(config: RunConfig) -> str:
    """The shape the model family gives a run, as the store records it (torch is loaded by the
    time a run starts)."""
    from lrtui.engine.models import family_of

    return family_of(config).shape(config)


def trace_from_record(rec: RunRecord) -> RunTrace:
    """A stored run, not yet loaded (its epochs are read when it is first shown)."""
    config = rec.config if isinstance(rec.config, dict) else {}
    seed = config.get("seed")
    return RunTrace(key=rec.id, label=rec.label, scheduler=rec.scheduler, dataset=rec.dataset,
                    epochs_planned=rec.epochs, status=rec.status, session=False, shown=False,
                    steps_per_epoch=rec.steps_per_epoch, loaded=False, group_id=rec.group_id,
                    group_label=rec.group_label, seed_index=rec.seed_index,
                    seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
                    setup=setup_parts(config, rec.model_shape))


@dataclass(frozen=True)
class TraceGroup:
    """The runs of one group of seeds (two or more), as one table line and one curve."""

    id: str
    label: str
    runs: tuple[RunTrace, ...]  # by seed index

    @property
    def key(self) -> int:
        """Its first run's id: the group's colour and name, and the run `v` and `c` act on."""
        return min(t.key for t in self.runs)

    @property
    def name(self) -> str:
        """How legends name the group, as a run's name says it: '#1 StepLR' (its first run's
        id, and its label when not just its spec in short form). Its band and the table's
        "×3 seeds" say it is a group; legends have no room to spare."""
        first = self.runs[0]
        label = first.title if self.label == first.short else self.label
        return f"#{self.key} {label}"


def grouped(traces: Iterable[RunTrace]) -> list[RunTrace | TraceGroup]:
    """The runs by id, those of a group of two or more gathered into one TraceGroup where its
    first run is (a group whose other runs were deleted is a run again)."""
    traces = list(traces)
    members: dict[str, list[RunTrace]] = {}
    for t in traces:
        if t.group_id is not None:
            members.setdefault(t.group_id, []).append(t)
    out: list[RunTrace | TraceGroup] = []
    done: set[str] = set()
    for t in sorted(traces, key=lambda t: t.key):
        gid = t.group_id
        runs = members.get(gid) if gid is not None else None
        if gid is None or runs is None or len(runs) < 2:
            out.append(t)
        elif gid not in done:
            done.add(gid)
            ordered = sorted(runs, key=lambda r: (r.seed_index or 0, r.key))
            first = min(runs, key=lambda r: r.key)
            out.append(TraceGroup(gid, first.group_label or first.label or first.title,
                                  tuple(ordered)))
    return out


def summary_from_record(rec: RunRecord) -> StoredSummary:
    return StoredSummary(rec.best_valid_acc, rec.best_valid_loss, rec.epochs_done)


def epoch_record(event: EpochEnd) -> EpochRecord:
    """The store's row for an epoch-end event (the same rows the Recorder writes)."""
    plateau = event.plateau
    return EpochRecord(
        epoch=event.epoch, train_loss=event.train_loss, valid_loss=event.valid_loss,
        valid_acc=event.valid_acc, lr=event.lr, momentum=event.momentum, seconds=event.seconds,
        plateau_best=None if plateau is None else plateau.best,
        plateau_num_bad_epochs=None if plateau is None else plateau.num_bad_epochs,
        plateau_cooldown_counter=None if plateau is None else plateau.cooldown_counter,
    )


def loss_text(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else str(value)


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class ProgressShown:
    """What the progress line shows after an event (the app draws it)."""

    kind: Literal["steps", "epoch"]
    event: Progress | EpochEnd
    label: str
    epochs: int
    paused: bool
    epochs_done: int = 0


@dataclass
class Applied:
    """What applying an event changed: lines for the log, what to redraw, and the rest the
    app's widgets must follow (the session never touches a widget)."""

    log: list[tuple[str, Level]] = field(default_factory=list)
    table: bool = False
    charts: bool = False
    progress: ProgressShown | None = None
    cursor_to: int | None = None  # the table's cursor goes to this run
    dataset_fallback: tuple[str, str] | None = None  # (asked, used) when the data fell back

    def say(self, text: str, level: Level = "info") -> None:
        self.log.append((text, level))


# ------------------------------------------------------------------------------------ training


@dataclass
class Job:
    """One training in flight: its planned runs (every configuration x its seeds) and groups,
    trained in one or more passes."""

    number: int
    configs: list[RunConfig]
    control: Control
    groups: list[RunGroup] = field(default_factory=list)  # run i's group (plan_seeds)
    run_ids: dict[int, int] = field(default_factory=dict)  # planned run index -> store id
    steps_per_epoch: int | None = None
    ended: dict[int, str] = field(default_factory=dict)  # store id -> status
    notice_logged: bool = False
    epochs_done: int = 0  # the furthest any run of the current pass got
    passes: int = 1  # passes planned (runner.plan_passes); known once the worker planned them
    pass_index: int = 0  # the pass training now
    ray: str | None = None  # trained on the Ray cluster at this address (`lrtui.distributed`)

    @property
    def title(self) -> str:
        n = len(self.configs)
        runs = f"{n} run{'s' if n != 1 else ''}"
        return f"{runs} · pass {self.pass_index + 1}/{self.passes}" if self.passes > 1 else runs

    @property
    def epochs(self) -> int:
        return self.configs[0].epochs


@dataclass(frozen=True)
class TrainingOutcome:
    """How a train() call ended, as the progress line and the log say it."""

    summary: str
    status_line: str
    fraction: float


class TrainingJobs:
    """The training controller: at most one train() call; its engine events become trace
    updates and log lines; its end becomes a summary."""

    def __init__(self, traces: dict[int, RunTrace]) -> None:
        self.traces = traces
        self.job: Job | None = None
        self.started = 0

    @staticmethod
    def plan(configs: Sequence[RunConfig], seeds: int = 1
             ) -> tuple[list[RunConfig], list[RunGroup]]:
        """Every configuration x `seeds` seeds, one group each, planned as `lrtui run --seeds`
        plans them (lrtui.sweeps.plan_seeds); a group is named by the run's label, else its
        spec in short form. ValueError when that is more runs than one command may plan."""
        check_run_count(len(configs) * seeds)
        points = [GroupPoint(c, c.label or S.short_spec(c.scheduler)) for c in configs]
        return plan_seeds(points, seeds)

    def start(self, configs: Sequence[RunConfig], *, seeds: int = 1, ray: str | None = None
              ) -> Job:
        """A new job: the configurations, each with `seeds` seeds (`plan`), trained here or on
        the Ray cluster at address `ray`."""
        planned, groups = self.plan(configs, seeds)
        self.started += 1
        self.job = Job(self.started, planned, Control(), groups, ray=ray)
        return self.job

    def run(self, job: Job, store: Store, *, on_event: Callable[[int | None, Event], None],
            on_dropped: Callable[[int, str], None], on_notice: Callable[[str], None],
            on_pass: Callable[[int, int, int], None] | None = None,
            raw: RawDataset | None = None, data_dir: str | None = None,
            train_fn: TrainFn | None = None, **kwargs: Any) -> list[RunEnded]:
        """Train `job` through the run core as `lrtui run` does (runner.plan_passes, then each
        pass in turn, its runs recorded with their groups), on the calling (worker) thread:
        `on_pass(pass index, passes, runs in it)` as each pass starts; each event is recorded,
        then handed to `on_event(store id, event)` with its run numbered in the whole job (no id
        for Progress); `on_dropped(store id, text)` when another process deleted one of its
        runs; `on_notice(line)` for what the log should say besides (where Ray trains). A stop
        ends the job: later passes do not start. On Ray every pass is a task of one sweep."""
        from lrtui import runner  # torch: loaded by the first training, not by the first frame

        if job.ray is not None:
            return _train_on_ray(job, store, on_event, on_dropped, on_notice, on_pass, raw=raw,
                                 data_dir=data_dir)
        plans = runner.plan_passes(job.configs)
        ended: list[RunEnded] = []
        store_ids: dict[int, int] = {}  # planned run index -> store id, for on_dropped
        for index, plan in enumerate(plans):
            if job.control.stopped:
                break
            if on_pass is not None:
                on_pass(index, len(plans), len(plan.runs))
            prepared = runner.prepare([job.configs[i] for i in plan.runs], raw=raw,
                                      data_dir=data_dir, independent_seeds=plan.independent_seeds)
            runs = plan.runs

            def recorded(event: Event, run_id: int | None, runs: tuple[int, ...] = runs) -> None:
                if not isinstance(event, Progress):
                    event = replace(event, run=runs[event.run])
                    if run_id is not None:
                        store_ids[event.run] = run_id
                on_event(run_id, event)

            def dropped(run: int, text: str, runs: tuple[int, ...] = runs) -> None:
                on_dropped(store_ids[runs[run]], text)

            ended += runner.train(
                prepared, store, recorded, job.control, train_fn=train_fn, on_deleted=dropped,
                groups=[job.groups[i] for i in plan.runs], **kwargs,
            )  # fmt: skip
        return ended

    def pass_started(self, number: int, index: int, passes: int, runs: int) -> Applied:
        """Pass `index` of job `number` starts (`runs` runs in it): said in the log when the job
        is more than one group or pass, as `lrtui run` says it."""
        out = Applied()
        job = self.current(number)
        if job is None:
            return out
        job.passes, job.pass_index, job.epochs_done = passes, index, 0
        if index == 0:
            note = plan_note(len(job.configs), job.groups, passes)
            if note:
                out.say(note + (": trained one after another" if passes > 1 else ""), "notice")
        if passes > 1:
            out.say(f"pass {index + 1} of {passes}: {runs} run{'s' if runs != 1 else ''}",
                    "notice")
        return out

    def current(self, number: int) -> Job | None:
        """The job an event belongs to while it is still the one in flight."""
        return self.job if self.job is not None and self.job.number == number else None

    def owns(self, run_id: int) -> bool:
        return self.job is not None and run_id in self.job.run_ids.values()

    def apply(self, number: int, run_id: int | None, event: Event) -> Applied:
        """Apply one engine event of job `number` (late events of an older job change only
        their own run's trace)."""
        out = Applied()
        job = self.current(number)
        if isinstance(event, Progress):
            if job is not None:
                self._progress(job, event, out)
            return out
        if run_id is None:
            return out
        if isinstance(event, RunStarted):
            if job is not None:
                self._began(job, run_id, event, out)
        elif isinstance(event, StepChunk):
            trace = self.traces.get(run_id)
            if trace is not None and job is not None:
                spe = trace.steps_per_epoch or 1
                trace.add_steps(event.epoch * spe + event.first_step, event.lr, event.momentum)
                out.charts = True
        elif isinstance(event, EpochEnd):
            self._epoch(job, run_id, event, out)
        elif isinstance(event, RunEnded):
            self._ended(job, run_id, event, out)
        return out

    def _began(self, job: Job, run_id: int, ev: RunStarted, out: Applied) -> None:
        job.run_ids[ev.run] = run_id
        spe = ev.steps_per_epoch or job.steps_per_epoch
        group = job.groups[ev.run] if ev.run < len(job.groups) else None
        trace = RunTrace(key=run_id, label=ev.config.label, scheduler=str(ev.config.scheduler),
                         dataset=ev.dataset, epochs_planned=ev.config.epochs, steps_per_epoch=spe,
                         group_id=group.id if group else None,
                         group_label=group.label if group else None,
                         seed_index=group.seed_index if group else None, seed=ev.config.seed,
                         setup=setup_parts(ev.config.to_dict(), _model_shape(ev.config)))
        self.traces[run_id] = trace
        if ev.run == 0:
            out.cursor_to = run_id  # space / enter now act on the new training
        if ev.notice and not job.notice_logged:
            job.notice_logged = True
            out.say(ev.notice, "warning")
            asked = job.configs[ev.run].dataset
            if ev.dataset != asked:
                out.dataset_fallback = (asked, ev.dataset)
        out.say(f"{trace.name} started · {trace.scheduler} · {ev.dataset} on {ev.device}")
        out.table = out.charts = True

    def _epoch(self, job: Job | None, run_id: int, ev: EpochEnd, out: Applied) -> None:
        trace = self.traces.get(run_id)
        if trace is None:
            return
        trace.epochs.append(epoch_record(ev))
        if job is not None and ev.epoch + 1 > job.epochs_done:
            job.epochs_done = ev.epoch + 1
            out.progress = ProgressShown("epoch", ev, job.title, job.epochs, job.control.paused,
                                         epochs_done=job.epochs_done)
        out.say(f"{trace.name} {epoch_number(ev.epoch)}/{trace.epochs_planned}"
                f" · lr {_lr_text(ev.lr)} · train {loss_text(ev.train_loss)}"
                f" · valid {loss_text(ev.valid_loss)}"
                f" · {100 * ev.valid_acc:.2f}%")
        out.table = out.charts = True

    def _ended(self, job: Job | None, run_id: int, ev: RunEnded, out: Applied) -> None:
        if job is not None:
            job.ended[run_id] = ev.status
        trace = self.traces.get(run_id)
        if trace is None:
            return
        trace.status = ev.status
        level: Level = "info" if ev.status == "finished" else (
            "notice" if ev.status == "stopped" else "warning")
        why = f": {ev.reason}" if ev.reason and ev.status != "finished" else ""
        out.say(f"{trace.name} {ev.status} after {ev.epochs_done} "
                f"epoch{'s' if ev.epochs_done != 1 else ''}{why}", level)
        out.table = out.charts = True

    def _progress(self, job: Job, ev: Progress, out: Applied) -> None:
        if job.steps_per_epoch is None:
            job.steps_per_epoch = ev.steps_per_epoch
            for run_id in job.run_ids.values():
                trace = self.traces.get(run_id)
                if trace is not None and trace.steps_per_epoch != ev.steps_per_epoch:
                    trace.steps_per_epoch = ev.steps_per_epoch
        out.progress = ProgressShown("steps", ev, job.title, job.epochs, job.control.paused)

    def finish(self, error: BaseException | None) -> tuple[Applied, TrainingOutcome | None]:
        """The worker ended (error: why it failed): the job is over."""
        job, self.job = self.job, None
        out = Applied(table=True, charts=True)
        history_lost = ""  # the store could not be written: said in the log and the status line
        if error is not None:
            if isinstance(error, StoreError):
                history_lost = str(error)
                out.say(f"training stopped: {error}", "error")
            else:
                out.say(f"training failed: {type(error).__name__}: {error}", "error")
            if job is not None:
                for run_id in job.run_ids.values():
                    trace = self.traces.get(run_id)
                    if trace is not None and trace.status == "running":
                        trace.status = "failed"
        if job is None:
            return out, None
        counts: dict[str, int] = {}
        for status in job.ended.values():
            counts[status] = counts.get(status, 0) + 1
        if job.ended and len(job.run_ids) < len(job.configs):  # stopped before a later pass
            counts["not started"] = len(job.configs) - len(job.run_ids)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no run ended"
        out.say(f"training done · {summary}", "notice")
        epochs = job.epochs
        return out, TrainingOutcome(
            summary=summary,
            status_line=f"✗ {history_lost}" if history_lost else f"done · {job.title}: {summary}",
            fraction=job.epochs_done / epochs if epochs else 0.0)


def _lr_text(value: float) -> str:
    """An LR as people read it: 0.1, 0.001, 3.2e-05 (as the app's charts write it)."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.3g}"


def _train_on_ray(job: Job, store: Store, on_event: Callable[[int | None, Event], None],
                  on_dropped: Callable[[int, str], None], on_notice: Callable[[str], None],
                  on_pass: Callable[[int, int, int], None] | None, *,
                  raw: RawDataset | None, data_dir: str | None) -> list[RunEnded]:
    """The job's passes (runner.plan_passes) as the tasks of one Ray sweep
    (`lrtui.distributed`), checked here first on the CPU as `lrtui run --ray` checks them; this
    process records every event, with its group. Each worker loads the dataset by its name, so
    data injected into the app cannot travel (ValueError)."""
    from lrtui import runner
    from lrtui.distributed import ClusterLostError, PassPlaced, connect, disconnect, train_passes
    from lrtui.distributed.choice import checked_here

    if raw is not None:
        raise ValueError("Ray workers load the dataset by its name; this app trains on data "
                         "given to it directly, which cannot travel to them")
    plans = runner.plan_passes(job.configs)
    prepared = [runner.prepare(checked_here([job.configs[i] for i in plan.runs]),
                               data_dir=data_dir, independent_seeds=plan.independent_seeds)
                for plan in plans]  # fmt: skip
    if on_pass is not None:
        on_pass(0, len(plans), len(plans[0].runs))
    on_notice(f"training on {connect(job.ray or 'auto')}")
    # The sweep numbers its runs pass after pass; the job numbers them as planned.
    order = [i for plan in plans for i in plan.runs]
    store_ids: dict[int, int] = {}

    def recorded(event: Event, run_id: int | None) -> None:
        if not isinstance(event, Progress):
            event = replace(event, run=order[event.run])
            if run_id is not None:
                store_ids[event.run] = run_id
        on_event(run_id, event)

    def placed(where: PassPlaced) -> None:
        runs = len(plans[where.index].runs)
        what = f"pass {where.index + 1} of {len(plans)} ({runs} run{'s' * (runs != 1)})"
        on_notice(f"{what}: training on Ray node {where.node} ({where.ip}, pid {where.pid})")

    try:
        return train_passes(
            [[job.configs[i] for i in plan.runs] for plan in plans], store, recorded,
            job.control, data_dir=data_dir,
            independent_seeds=[p.independent_seeds for p in prepared],
            steps_per_epoch=[p.steps_per_epoch for p in prepared],
            groups=[[job.groups[i] for i in plan.runs] for plan in plans],
            on_deleted=lambda run, text: on_dropped(store_ids[order[run]], text),
            on_placed=placed,
        )  # fmt: skip
    except ClusterLostError as exc:
        raise ConnectionError(f"{exc}; what was recorded is kept in {store.path}") from None
    finally:
        disconnect()


# ------------------------------------------------------------------------------------ range test


@dataclass
class RangeJob:
    """One LR range test in flight."""

    number: int
    config: RunConfig
    settings: SweepSettings
    control: Control


@dataclass(frozen=True)
class RangeOutcome:
    """What the range-test worker hands back: the result and its store ids (none if stopped)."""

    number: int
    result: RangeTestResult
    ids: list[int]


@dataclass(frozen=True)
class RangeEnded:
    """How a range test ended: log lines, the progress line, and the outcome to show (None when
    there is nothing to show: failed, cancelled or stopped)."""

    applied: Applied
    status_line: str
    fraction: float
    shown: RangeOutcome | None


class RangeTests:
    """The range-test controller: at most one sweep; keeps the last finished outcome."""

    def __init__(self) -> None:
        self.job: RangeJob | None = None
        self.started = 0
        self.last: RangeOutcome | None = None

    def start(self, config: RunConfig, settings: SweepSettings) -> RangeJob:
        self.started += 1
        self.job = RangeJob(self.started, config, settings, Control())
        return self.job

    def current(self, number: int) -> RangeJob | None:
        return self.job if self.job is not None and self.job.number == number else None

    def run(self, job: RangeJob, store: Store, *,
            on_progress: Callable[[RangeTestProgress], None], raw: RawDataset | None = None,
            data_dir: str | None = None) -> RangeOutcome:
        """Sweep on the calling (worker) thread (lrtui.lrfind) and store the result unless it
        was stopped."""
        from lrtui import runner
        from lrtui.lrfind import range_test, save

        loaded = runner.load([job.config], raw=raw, data_dir=data_dir)
        result = range_test([job.config], job.settings, on_progress=on_progress,
                            control=job.control, data=loaded.data, notice=loaded.notice)
        ids = [] if result.stopped else save(store, result)
        return RangeOutcome(job.number, result, ids)

    def finish(self) -> RangeJob | None:
        job, self.job = self.job, None
        return job

    def conclude(self, outcome: RangeOutcome | None, error: BaseException | None
                 ) -> RangeEnded:
        """The range test in flight ended (`outcome` None: it failed with `error`, or it was
        cancelled): what the log and the progress line say; the view opens when it ran to its
        end (kept as `last`)."""
        job = self.finish()
        steps = job.settings.steps if job is not None else 0
        out = Applied()
        if error is not None:
            out.say(f"range test failed: {type(error).__name__}: {error}", "error")
            return RangeEnded(out, "range test failed", 0.0, None)
        if outcome is None:
            return RangeEnded(out, "range test cancelled", 0.0, None)
        result = outcome.result
        if result.notice:
            out.say(result.notice, "warning")
        if result.stopped:
            out.say(f"range test stopped after {result.steps_done}/{steps} steps; nothing stored",
                    "notice")
            return RangeEnded(out, "range test stopped",
                              result.steps_done / steps if steps else 0.0, None)
        self.last = outcome
        curve = result.curves[0]
        best = recommended(curve.suggestions)
        others = " · ".join(f"{s.method} {lr_text(s.lr)}" for s in curve.suggestions.values()
                            if s.lr is not None and (best is None or s.method != best.method))
        pick = f"{best.method} {lr_text(best.lr)}" if best is not None and best.lr else "none"
        where = f"range test #{outcome.ids[0]}" if outcome.ids else "range test"
        out.say(f"{where} on {result.dataset} ({len(curve.lrs)} steps, "
                f"{result.seconds:.1f} s): recommended {pick}"
                + (f" · also {others}" if others else ""), "notice")
        return RangeEnded(out, f"range test done · recommended LR {pick}", 1.0, outcome)


# ------------------------------------------------------------------------------------ preview


@dataclass(frozen=True)
class PreviewCurve:
    """The form's exact schedule before training (from schedulers.preview)."""

    label: str
    steps_per_epoch: int
    lr_per_step: Sequence[float]
    momentum_per_step: Sequence[float] | None
    plateau: bool = False
    per_step: bool = False  # the schedule steps after every optimizer step (interval=step)

    @functools.cached_property
    def x(self) -> list[float]:
        """Step positions on the charts' epoch axis, computed once."""
        return steps_x(range(len(self.lr_per_step)), self.steps_per_epoch)

    @property
    def epochs(self) -> int:
        """Epochs the preview spans."""
        spe = max(1, self.steps_per_epoch)
        return -(-len(self.lr_per_step) // spe)


#: The metric a preview steps ReduceLROnPlateau with: constant, as `schedulers.preview` does
#: without metrics (the form has no validation losses before training).
PREVIEW_METRIC = 1.0


class Previews:
    """The preview controller: each form evaluation gets a token; only the newest one's curve
    is kept (older threads' results are dropped)."""

    def __init__(self) -> None:
        self.token = 0
        self.drawn = 0  # token of the last preview applied (tests wait for the two to meet)
        self.curve: PreviewCurve | None = None
        self.unavailable: str | None = None  # why the LR chart shows no preview (too long)

    def next(self) -> int:
        self.token += 1
        return self.token

    @staticmethod
    def compute(config: RunConfig, steps_per_epoch: int, defaults: dict[str, str],
                cancelled: Callable[[], bool]) -> PreviewCurve | None:
        """The exact schedule of `config`: torch's scheduler stepped epoch by epoch (as
        `schedulers.preview` does) on the calling (worker) thread, given up (None) as soon as
        `cancelled()` says a newer form or quitting made it useless, so a long run never keeps
        stepping for nothing. A spec that validate() let through but torch refuses raises."""
        driver = S.ScheduleDriver(config.scheduler, epochs=config.epochs,
                                  steps_per_epoch=steps_per_epoch, base_lr=config.lr,
                                  optimizer=config.optimizer.shape())  # fmt: skip
        lrs: list[float] = []
        momenta: list[float] = []
        metric = PREVIEW_METRIC if driver.cadence == "metric" else None
        for _ in range(config.epochs):
            if cancelled():
                return None
            lr, momentum = driver.plan_epoch()
            lrs.extend(lr)
            if driver.cycles_momentum:  # else not drawn: 2 million floats not kept
                momenta.extend(momentum)
            driver.end_epoch(metric)
        spec = config.scheduler  # a composite reads as its members ("LinearLR 2 → StepLR 10/0.1")
        name = S.short_spec(spec) if spec.children else spec.name
        given = ", ".join(f"{k} {v}" for k, v in defaults.items())
        curve = PreviewCurve(label=f"{name} ({'default ' + given})" if given else name,
                             steps_per_epoch=steps_per_epoch, lr_per_step=lrs,
                             momentum_per_step=momenta if driver.cycles_momentum else None,
                             plateau=driver.cadence == "metric",
                             per_step=driver.cadence == "batch")  # fmt: skip
        _ = curve.x  # the x positions of a long run are computed here, not on the UI thread
        return curve

    def none(self, why: str | None) -> None:
        """The form has no preview (invalid, or too long to compute)."""
        self.curve = None
        self.unavailable = why
        self.drawn = self.token

    def arrived(self, token: int, curve: PreviewCurve | None) -> bool:
        """A worker's curve for `token`; False when the form changed since."""
        if token != self.token:
            return False
        self.drawn = token
        self.unavailable = None
        self.curve = curve
        return True

    @property
    def current(self) -> bool:
        return self.drawn == self.token


# ------------------------------------------------------------------------------------ session


class Session:
    """Everything the app shows and decides, without widgets: see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.traces: dict[int, RunTrace] = {}
        self.summaries: dict[int, StoredSummary] = {}
        self.batch: list[RunConfig] = []
        self.batch_seeds = 1  # seeds of every batch entry: `lrtui run -s A -s B --seeds N`
        self.expanded: set[str] = set()  # groups the table shows seed by seed
        self.training = TrainingJobs(self.traces)
        self.range_tests = RangeTests()
        self.previews = Previews()
        self._data_version: int | None = None
        self._said_deleted: set[int] = set()  # runs whose deletion the training said already

    # ---- what is busy

    def busy_reason(self) -> str | None:
        """Why a new training or range test cannot start now (None: it can)."""
        if self.training.job is not None:
            return "a training is running: s stops it, p pauses it"
        if self.range_tests.job is not None:
            return "a range test is running (seconds): s stops it"
        return None

    @property
    def writing(self) -> bool:
        """A training or range test is in flight (its thread still writes its end)."""
        return self.training.job is not None or self.range_tests.job is not None

    # ---- groups

    def groups(self) -> list[RunTrace | TraceGroup]:
        """The runs as the table lists them: a group of seeds is one item (`grouped`)."""
        return grouped(self.traces.values())

    def group(self, group_id: str) -> TraceGroup | None:
        return next((g for g in self.groups() if isinstance(g, TraceGroup) and g.id == group_id),
                    None)

    # ---- the batch

    def batch_problem(self, seeds: int) -> str | None:
        """Why a configuration with `seeds` seeds cannot join the batch: its entries share
        their number of seeds, as the specs of one `lrtui run --seeds N` do (so seed i pairs
        across all of them)."""
        if self.batch and seeds != self.batch_seeds:
            n = self.batch_seeds
            return (f"the batch trains {n} seed{'s' if n != 1 else ''} per configuration, "
                    f"this one {seeds} (x empties the batch)")
        return None

    def remove_from_batch(self, index: int) -> RunConfig | None:
        if 0 <= index < len(self.batch):
            return self.batch.pop(index)
        return None

    # ---- the store

    def load_history(self) -> int:
        """Read the stored runs (not their epochs); returns how many there are."""
        records = self.store.list_runs()
        for rec in records:
            self.traces[rec.id] = trace_from_record(rec)
            self.summaries[rec.id] = summary_from_record(rec)
        self._data_version = self.store.data_version()
        return len(records)

    def load(self, trace: RunTrace) -> None:
        """Read a stored run's epochs and steps (StoreError when it cannot)."""
        trace.load(self.store.epochs(trace.key), self.store.steps(trace.key))

    def deleted_elsewhere(self, key: int) -> None:
        """The training found its run `key` deleted by another process (and said so)."""
        self._said_deleted.add(key)

    def delete(self, key: int) -> None:
        self.store.delete_runs([key])
        self.traces.pop(key, None)
        self.summaries.pop(key, None)

    def poll_store(self, *, force: bool = False) -> Applied:
        """Take in what other processes wrote since the last look: new runs (shown on the charts
        when they start while the app is open), new epochs of runs they train, status changes
        and deletions. Costs one `PRAGMA data_version` when nothing changed."""
        out = Applied()
        version = self.store.data_version()
        if not force and version == self._data_version:
            return out
        known_before = self._data_version is not None
        self._data_version = version
        records = {rec.id: rec for rec in self.store.list_runs()}
        for key in [k for k in self.traces if k not in records]:
            if self.training.owns(key):
                continue  # the training says so itself (RunDropped)
            trace = self.traces.pop(key)
            self.summaries.pop(key, None)
            if key not in self._said_deleted:
                out.say(f"{trace.name} was deleted by another process", "notice")
            out.table = out.charts = True
        for key, rec in records.items():
            if self.training.owns(key):
                continue  # this session's own training: its events keep it current
            known = self.traces.get(key)
            if known is not None:
                trace = known
            else:
                trace = trace_from_record(rec)
                trace.shown = known_before and rec.status == "running"
                self.traces[key] = trace
                out.say(f"{trace.name} appeared ({rec.status}, {rec.dataset}, pid {rec.pid})",
                        "notice")
                out.table = True
            summary = summary_from_record(rec)
            changed = (self.summaries.get(key) != summary or trace.status != rec.status
                       or trace.steps_per_epoch != rec.steps_per_epoch)
            self.summaries[key] = summary
            trace.status = rec.status
            trace.steps_per_epoch = rec.steps_per_epoch
            if changed:
                out.table = True
            if trace.shown and (changed or not trace.loaded):
                self.load(trace)
                out.charts = True
        return out
