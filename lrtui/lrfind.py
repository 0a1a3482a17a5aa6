"""The LR range test (Leslie Smith's; what fastai's `lr_find` and pytorch-lr-finder run).

Fresh weights train for `steps` optimizer steps, one batch each, while the LR grows exponentially
from `start` to `end` (LR_i = start * (end / start) ** (i / (steps - 1))). Each step's mean batch
loss is kept raw and smoothed (a moving average with bias correction, beta 0.98, as fastai's
AvgSmoothLoss); a curve stops once its smoothed loss exceeds `diverge_factor` times its best so
far (or turns NaN). Several curves (one per optimizer or weight decay, say) sweep together in one
vectorized pass: the engine's stacked step and optimizers (`lrtui.engine.train_steps`) with this
module's LR table. The host reads the losses every `check_every` steps, not every step; a curve
that diverged is frozen on the device and the pass ends when every curve has.

The suggestions read an LR off the smoothed curve in several ways, side by side (`METHODS`).
Non-finite points are dropped first, then the first and last few points are skipped (the start
is flat noise, the end the blow-up); a method that cannot answer says why instead.

From a thread (the TUI's worker), with `lrtui.engine.Control` to stop it:

    control = Control()
    result = range_test([config], SweepSettings(), on_progress=callback, control=control)
    save(store, result)          # lrtui.store.Store; returns the stored ids

`on_progress` runs on the calling thread with immutable snapshots (`RangeTestProgress`).
torch (and the engine's torch parts) load when a sweep runs or a suggestion is computed, not with
this module: the app's screens read its types before torch has loaded.
"""

from __future__ import annotations

import bisect
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lrtui import engine
from lrtui.data import DeviceDataset, load_with_fallback, to_device
from lrtui.engine import Control
from lrtui.fields import MAX_FIND_LR_STEPS, MIN_FIND_LR_STEPS
from lrtui.model import OptimizerConfig, RunConfig
from lrtui.optimizers import OPTIMIZER_KINDS
from lrtui.store import NewRangeTest, Store

if TYPE_CHECKING:
    import torch

__all__ = [
    "METHODS",
    "PREFERRED",
    "Curve",
    "RangeTestProgress",
    "RangeTestResult",
    "Suggestion",
    "SweepSettings",
    "describe_optimizer",
    "range_test",
    "recommended",
    "save",
    "smooth",
    "stop_index",
    "suggest",
    "sweep_lrs",
    "validate_settings",
]

#: Fewest and most steps a sweep may have (fewer leave nothing to read once the ends are skipped).
MIN_STEPS = MIN_FIND_LR_STEPS
MAX_STEPS = MAX_FIND_LR_STEPS

#: Suggestion methods, in display order, each with its one-line description.
METHODS: dict[str, str] = {
    "steepest": "steepest descent: where the smoothed loss falls fastest per decade of LR",
    "min_div_10": "a tenth of the LR at the lowest smoothed loss: a step back from the edge",
    "valley": "fastai's valley: part-way down the longest descending stretch of the loss",
    "min": "the LR at the lowest smoothed loss: too high to train with, for reference",
}
#: Which suggestion to use when one LR is wanted (fastai's default first), in order of preference.
PREFERRED: tuple[str, ...] = ("valley", "steepest", "min_div_10")
#: Points a method needs once non-finite points are dropped and the ends skipped.
_NEEDS = {"steepest": 3, "min_div_10": 1, "valley": 3, "min": 1}


# -------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class SweepSettings:
    """How one range test sweeps; shared by every curve of the pass."""

    start: float = 1e-7  # LR of the first step
    end: float = 10.0  # LR of the last step
    # Optimizer steps (one batch each) when no curve stops early. fastai and pytorch-lr-finder
    # use 100, but from 1e-7 at batch 32 SGD barely moves in 100 steps (on mnist-sample the
    # smoothed loss falls 2.30 -> 2.25 and the suggestions sit on noise); 500 show the descent
    # and the blow-up and cost 0.2 s on a 2-core CPU.
    steps: int = 500
    diverge_factor: float = 4.0  # stop a curve once smoothed loss > factor x its best (inf: never)
    beta: float = 0.98  # smoothing: weight of the running average (fastai, pytorch-lr-finder)
    check_every: int = 10  # steps between the host's looks at the losses (early stop, progress)

    def lrs(self) -> list[float]:
        """The LR of every step of the full sweep."""
        return sweep_lrs(self.start, self.end, self.steps)

    @property
    def skip_start(self) -> int:
        """Points the suggestions skip at the start: a tenth of the sweep (fastai: num_it // 10)."""
        return self.steps // 10

    @property
    def skip_end(self) -> int:
        """Points ignored at the end of a curve: fastai's 5, fewer for short sweeps."""
        return min(5, self.steps // 10)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "steps": self.steps,
            "diverge_factor": None if math.isinf(self.diverge_factor) else self.diverge_factor,
            "beta": self.beta,
            "check_every": self.check_every,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepSettings:
        """Inverse of `to_dict` (a null diverge_factor means never stop)."""
        values = dict(d)
        if values.get("diverge_factor", 4.0) is None:
            values["diverge_factor"] = math.inf
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"settings: unknown field {unknown[0]!r}")
        return cls(**values)


def validate_settings(settings: SweepSettings) -> dict[str, str]:
    """Field -> message for every rule the sweep needs; empty when valid."""
    s = settings
    errors: dict[str, str] = {}
    if not (math.isfinite(s.start) and s.start > 0):
        errors["start"] = f"must be > 0 (got {s.start:g})"
    if not (math.isfinite(s.end) and s.end > s.start):
        errors["end"] = f"must be > start ({s.start:g}) (got {s.end:g})"
    if isinstance(s.steps, bool) or not isinstance(s.steps, int) or s.steps < MIN_STEPS:
        errors["steps"] = f"must be an integer >= {MIN_STEPS} (got {s.steps})"
    elif s.steps > MAX_STEPS:
        errors["steps"] = f"must be at most {MAX_STEPS} (got {s.steps})"
    if not (s.diverge_factor > 1):  # NaN fails too
        errors["diverge_factor"] = f"must be > 1 (got {s.diverge_factor:g})"
    if not (0 <= s.beta < 1):
        errors["beta"] = f"must be in [0, 1) (got {s.beta:g})"
    if isinstance(s.check_every, bool) or not isinstance(s.check_every, int) or s.check_every < 1:
        errors["check_every"] = f"must be an integer >= 1 (got {s.check_every})"
    return errors


def sweep_lrs(start: float, end: float, steps: int) -> list[float]:
    """LR_i = start * (end / start) ** (i / (steps - 1)): exactly start first and end last."""
    if steps < 2:
        raise ValueError(f"steps: must be an integer >= 2 (got {steps})")
    ratio = end / start
    lrs = [start * ratio ** (i / (steps - 1)) for i in range(steps)]
    lrs[-1] = end  # start * (end / start) can be one rounding away from end
    return lrs


# ---------------------------------------------------------------------------- curve maths


def smooth(losses: Sequence[float], beta: float = 0.98) -> list[float]:
    """Exponential moving average with bias correction: avg = beta * avg + (1 - beta) * loss,
    smoothed_i = avg / (1 - beta ** (i + 1)). A NaN stays NaN from there on."""
    out: list[float] = []
    avg = 0.0
    for i, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta**i))
    return out


def stop_index(smoothed: Sequence[float], diverge_factor: float) -> int | None:
    """The first point where the smoothed loss is not finite or exceeds diverge_factor times the
    best smoothed loss so far (the point itself is kept in the curve), or None."""
    best = math.inf
    for i, value in enumerate(smoothed):
        if not math.isfinite(value):
            return i
        best = min(best, value)
        if value > diverge_factor * best:
            return i
    return None


@dataclass(frozen=True)
class Suggestion:
    """One method's suggested LR, or (lr None) the reason it has none."""

    method: str  # a key of METHODS
    lr: float | None
    loss: float | None  # the smoothed loss at `index`
    index: int | None  # the point of the curve the suggestion reads (nearest one for min_div_10)
    reason: str = ""  # why there is no suggestion

    @property
    def doc(self) -> str:
        return METHODS[self.method]

    @property
    def usable(self) -> bool:
        """False for `min`: the lowest loss sits right before the blow-up, too high to train at."""
        return self.method != "min"

    @property
    def ok(self) -> bool:
        return self.lr is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "lr": self.lr,
            "loss": self.loss,
            "index": self.index,
            "reason": self.reason,
            "usable": self.usable,
            "doc": self.doc,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Suggestion:
        """Inverse of `to_dict` (what the store keeps)."""
        return cls(
            method=str(d["method"]),
            lr=d.get("lr"),
            loss=d.get("loss"),
            index=d.get("index"),
            reason=str(d.get("reason", "")),
        )


def suggest(
    lrs: Sequence[float],
    smoothed: Sequence[float],
    *,
    skip_start: int = 10,
    skip_end: int = 5,
) -> dict[str, Suggestion]:
    """Every method of METHODS on one curve, keyed by method, in METHODS' order.

    Points whose LR or loss is not finite (or LR <= 0) are dropped, then the first `skip_start`
    and last `skip_end` of the rest are skipped (pytorch-lr-finder's skip_start/skip_end, fastai's
    num_it // 10 and 5). Indexes in the answers point into the curve as given.
    """
    if len(lrs) != len(smoothed):
        raise ValueError(f"lrs and smoothed differ in length ({len(lrs)}, {len(smoothed)})")
    if skip_start < 0 or skip_end < 0:
        raise ValueError("skip_start and skip_end must be >= 0")
    finite = [
        i
        for i, (lr, loss) in enumerate(zip(lrs, smoothed, strict=True))
        if math.isfinite(lr) and lr > 0 and math.isfinite(loss)
    ]
    kept = finite[skip_start : max(skip_start, len(finite) - skip_end)]
    out: dict[str, Suggestion] = {}
    for method, need in _NEEDS.items():
        if not finite:
            reason = "no finite loss to read: every point is NaN or infinite"
        elif len(kept) < need:
            reason = (
                f"too short: {len(finite)} finite points, {len(kept)} left after skipping the "
                f"first {skip_start} and last {skip_end} (needs {need})"
            )
        else:
            reason = ""
        if reason:
            out[method] = Suggestion(method, None, None, None, reason)
            continue
        out[method] = _METHOD_FUNCS[method](lrs, smoothed, kept, finite)
    return out


def _at(method: str, lrs: Sequence[float], smoothed: Sequence[float], i: int) -> Suggestion:
    return Suggestion(method, float(lrs[i]), float(smoothed[i]), i)


def _steepest(
    lrs: Sequence[float], smoothed: Sequence[float], kept: list[int], finite: list[int]
) -> Suggestion:
    """Minimum of d(smoothed loss) / d(log10 LR), by torch.gradient (second-order central
    differences that allow the uneven spacing left where points were dropped), among the points
    up to the lowest loss: past it the loss is blowing up, and a fall back from a spike there is
    no place to train at."""
    import torch

    lowest = kept.index(_lowest(smoothed, kept))
    down = kept[: max(lowest + 1, min(3, len(kept)))]
    x = torch.tensor([math.log10(lrs[i]) for i in down], dtype=torch.float64)
    y = torch.tensor([smoothed[i] for i in down], dtype=torch.float64)
    (grad,) = torch.gradient(y, spacing=(x,))
    j = int(torch.argmin(grad))
    if not float(grad[j]) < 0:
        return Suggestion("steepest", None, None, None, "the smoothed loss never falls")
    return _at("steepest", lrs, smoothed, down[j])


def _lowest(smoothed: Sequence[float], kept: list[int]) -> int:
    return min(kept, key=lambda i: smoothed[i])  # the first of equal minima


def _min(
    lrs: Sequence[float], smoothed: Sequence[float], kept: list[int], finite: list[int]
) -> Suggestion:
    return _at("min", lrs, smoothed, _lowest(smoothed, kept))


def _min_div_10(
    lrs: Sequence[float], smoothed: Sequence[float], kept: list[int], finite: list[int]
) -> Suggestion:
    """A tenth of the LR at the lowest loss; loss and index of the finite point nearest that LR
    (in log scale)."""
    lr = lrs[_lowest(smoothed, kept)] / 10
    target = math.log10(lr)
    near = min(finite, key=lambda i: abs(math.log10(lrs[i]) - target))
    return Suggestion("min_div_10", float(lr), float(smoothed[near]), near)


def _valley(
    lrs: Sequence[float], smoothed: Sequence[float], kept: list[int], finite: list[int]
) -> Suggestion:
    """fastai's valley: for every point, the longest strictly decreasing run of earlier points
    ending there (a subsequence, so a small bump does not end it); the first point with the
    longest one ends the valley, which spans that many points back. The suggestion sits a third
    plus a sixth of the way along (fastai's arithmetic: `start + int(L/3) + int(L/3/2)`)."""
    values = [smoothed[i] for i in kept]
    # Longest strictly decreasing subsequence ending at each point, in O(n log n): on the
    # negated values it is the longest strictly increasing one (patience sorting).
    tails: list[float] = []
    lds: list[int] = []
    for v in values:
        pos = bisect.bisect_left(tails, -v)
        if pos == len(tails):
            tails.append(-v)
        else:
            tails[pos] = -v
        lds.append(pos + 1)
    length = max(lds)
    if length < 3:
        return Suggestion("valley", None, None, None, "the smoothed loss never falls for long")
    end = lds.index(length)
    start = end - length
    third = length / 3
    j = start + int(third) + int(third / 2)
    return _at("valley", lrs, smoothed, kept[j])


_METHOD_FUNCS: dict[
    str, Callable[[Sequence[float], Sequence[float], list[int], list[int]], Suggestion]
] = {
    "steepest": _steepest,
    "min_div_10": _min_div_10,
    "valley": _valley,
    "min": _min,
}


def lr_text(lr: float) -> str:
    """An LR of a sweep with 3 significant digits, as the range-test view and the log write it
    (0.021, 1e-05, 0.562); the LR a user applies is exactly this number."""
    return f"{lr:.3g}"


def recommended(suggestions: dict[str, Suggestion]) -> Suggestion | None:
    """The suggestion to use when one LR is wanted: the first of PREFERRED that has an answer."""
    for method in PREFERRED:
        found = suggestions.get(method)
        if found is not None and found.ok:
            return found
    return None


# --------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Curve:
    """One swept configuration: what each step's LR did to the loss, and what that suggests."""

    run: int  # index into the configs given to range_test
    label: str
    config: RunConfig  # as given (its lr, epochs and scheduler play no part in the sweep)
    lrs: tuple[float, ...]  # LR of each step taken
    losses: tuple[float, ...]  # raw: mean loss over the step's batch (before the update)
    smoothed: tuple[float, ...]  # smooth(losses, beta)
    stopped_early: bool  # the loss diverged before the last step
    stop_reason: str  # why it stopped early ("" otherwise)
    suggestions: dict[str, Suggestion] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN and infinite losses become None)."""
        return {
            "run": self.run,
            "label": self.label,
            "optimizer": self.config.optimizer.to_dict(),
            "lrs": list(self.lrs),
            "losses": [_finite(x) for x in self.losses],
            "smoothed": [_finite(x) for x in self.smoothed],
            "stopped_early": self.stopped_early,
            "stop_reason": self.stop_reason,
            "suggestions": {m: s.to_dict() for m, s in self.suggestions.items()},
        }


@dataclass(frozen=True)
class RangeTestProgress:
    """A snapshot during the sweep for on_progress (see range_test's progress_every_s)."""

    step: int  # steps done
    steps: int  # steps planned
    lrs: tuple[float, ...]  # the sweep's LR of each step done
    losses: tuple[tuple[float, ...], ...]  # per curve: raw losses so far (up to its stop)
    smoothed: tuple[tuple[float, ...], ...]
    done: tuple[bool, ...]  # per curve: stopped (diverged)
    elapsed_s: float


@dataclass(frozen=True)
class RangeTestResult:
    """Everything one range test produced."""

    settings: SweepSettings
    curves: tuple[Curve, ...]
    dataset: str  # the dataset actually used (after any fallback)
    notice: str | None  # why it differs from the one asked for
    device: str
    steps_done: int  # steps the pass ran: up to the first look after every curve stopped
    stopped: bool  # control.stop() ended the pass before every curve was done
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "notice": self.notice,
            "device": self.device,
            "settings": self.settings.to_dict(),
            "steps_done": self.steps_done,
            "stopped": self.stopped,
            "seconds": self.seconds,
            "curves": [c.to_dict() for c in self.curves],
        }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def describe_optimizer(opt: OptimizerConfig) -> str:
    """A short label: the optimizer and whichever of its settings differ from torch's defaults."""
    parts: list[str] = [opt.name, *OPTIMIZER_KINDS[opt.name].label_parts(opt)]
    if opt.weight_decay:
        parts.append(f"wd={opt.weight_decay:g}")
    return " ".join(parts)


# ------------------------------------------------------------------------------- the sweep


class _Tracker:
    """Per-curve raw/smoothed losses as they arrive, with the early-stop rule."""

    def __init__(self, k: int, settings: SweepSettings) -> None:
        self.settings = settings
        self.lrs = settings.lrs()
        self.losses: list[list[float]] = [[] for _ in range(k)]
        self.smoothed: list[list[float]] = [[] for _ in range(k)]
        self.avg = [0.0] * k
        self.best = [math.inf] * k
        self.reason = [""] * k
        self.done = [False] * k

    def add(self, first_step: int, rows: list[list[float]]) -> list[int]:
        """Take a chunk of raw losses; return the curves that stopped in it."""
        beta, factor, lrs = self.settings.beta, self.settings.diverge_factor, self.lrs
        stopped: list[int] = []
        for run, row in enumerate(rows):
            if self.done[run]:
                continue
            losses, smoothed = self.losses[run], self.smoothed[run]
            for offset, loss in enumerate(row):
                step = first_step + offset
                # Same arithmetic as smooth(), one point at a time.
                self.avg[run] = beta * self.avg[run] + (1 - beta) * loss
                value = self.avg[run] / (1 - beta ** (step + 1))
                losses.append(loss)
                smoothed.append(value)
                if math.isfinite(value):
                    self.best[run] = min(self.best[run], value)
                    if value <= factor * self.best[run]:
                        continue
                    why = (
                        f"smoothed loss {value:.4g} > {factor:g} x best {self.best[run]:.4g} "
                        f"at LR {lrs[step]:.3g} (step {step})"
                    )
                else:
                    why = f"loss became {loss} at LR {lrs[step]:.3g} (step {step})"
                self.reason[run] = why
                self.done[run] = True
                stopped.append(run)
                break
        return stopped


def _label(config: RunConfig) -> str:
    return config.label or describe_optimizer(config.optimizer)


def _prepare(configs: Sequence[RunConfig], settings: SweepSettings) -> list[RunConfig]:
    """The configs as the engine trains them (one pass, LR from the table); ValueError if bad."""
    problems = validate_settings(settings)
    if problems:
        key, message = next(iter(problems.items()))
        raise ValueError(f"{key}: {message}")
    if not configs:
        raise ValueError("range test: no configs given")
    base = RunConfig()
    internal = [
        replace(c, lr=settings.start, epochs=1, scheduler=base.scheduler, label="") for c in configs
    ]
    engine.check_batch(internal)  # valid, and sharing dataset, hidden, batch size, seed and device
    return internal


def range_test(
    configs: RunConfig | Sequence[RunConfig],
    settings: SweepSettings | None = None,
    *,
    on_progress: Callable[[RangeTestProgress], None] | None = None,
    control: Control | None = None,
    data: DeviceDataset | None = None,
    data_dir: str | None = None,
    notice: str | None = None,
    dtype: torch.dtype | None = None,
    threads: int | None = None,
    progress_every_s: float = 0.25,
) -> RangeTestResult:
    """Sweep the LR for each config in one vectorized pass; blocks until done or stopped.

    The configs share dataset, hidden, batch_size, seed and device (ValueError otherwise, and for
    invalid settings); each brings its own optimizer (name, momentum or betas, weight decay...).
    Every curve starts from `init_params(hidden, seed)` and sees the engine's data order.
    data=None loads configs[0].dataset with the mnist-sample fallback (lrtui.data.DatasetError
    when nothing can be loaded); `notice` is reported as the fallback reason when the caller
    loaded `data` itself. dtype=None is float32. threads=None picks `cpu_threads` for the CPU.
    `on_progress` gets a snapshot at a look at the losses (every `check_every` steps) once
    `progress_every_s` seconds have passed since the last one, and always after the last step (0:
    at every look). It runs on the calling thread, like the whole call; `control` may be used
    from any thread.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    given = [configs] if isinstance(configs, RunConfig) else list(configs)
    settings = settings if settings is not None else SweepSettings()
    internal = _prepare(given, settings)
    device = engine.resolve_device(internal[0].device)
    if data is None:
        raw, notice = load_with_fallback(internal[0].dataset, data_dir=data_dir)
        data = to_device(raw, device, dtype)
    if threads is None:
        threads = engine.cpu_threads(len(internal), internal[0].hidden, internal[0].model)
    k = len(internal)
    lrs = settings.lrs()
    tracker = _Tracker(k, settings)
    control = control if control is not None else Control()
    t0 = time.perf_counter()
    last_progress = -math.inf

    def on_losses(first_step: int, rows: list[list[float]]) -> list[int]:
        nonlocal last_progress
        stopped = tracker.add(first_step, rows)
        done = first_step + len(rows[0])
        now = time.perf_counter()
        last = done == settings.steps or all(tracker.done) or control.stopped
        # Snapshots copy every curve so far: a time limit keeps long sweeps linear.
        if on_progress is not None and (last or now - last_progress >= progress_every_s):
            last_progress = now
            on_progress(
                RangeTestProgress(
                    step=done,
                    steps=settings.steps,
                    lrs=tuple(lrs[:done]),
                    losses=tuple(tuple(x) for x in tracker.losses),
                    smoothed=tuple(tuple(x) for x in tracker.smoothed),
                    done=tuple(tracker.done),
                    elapsed_s=time.perf_counter() - t0,
                )
            )
        return stopped

    steps_done = engine.train_steps(
        internal,
        [lrs] * k,
        on_losses,
        control,
        data=data,
        report_every=settings.check_every,
        dtype=dtype,
        threads=threads,
    )
    seconds = time.perf_counter() - t0
    curves = []
    for run, config in enumerate(given):
        losses = tuple(tracker.losses[run])
        curve_lrs = tuple(lrs[: len(losses)])
        smoothed = tuple(tracker.smoothed[run])
        curves.append(
            Curve(
                run=run,
                label=_label(config),
                config=config,
                lrs=curve_lrs,
                losses=losses,
                smoothed=smoothed,
                stopped_early=tracker.done[run],
                stop_reason=tracker.reason[run],
                suggestions=suggest(
                    curve_lrs,
                    smoothed,
                    skip_start=settings.skip_start,
                    skip_end=settings.skip_end,
                ),
            )
        )
    return RangeTestResult(
        settings=settings,
        curves=tuple(curves),
        dataset=data.name,
        notice=notice,
        device=str(device),
        steps_done=steps_done,
        stopped=control.stopped and not all(tracker.done) and steps_done < settings.steps,
        seconds=seconds,
    )


# --------------------------------------------------------------------------------- storage


def save(store: Store, result: RangeTestResult) -> list[int]:
    """Write every curve of the result (one transaction); returns their ids, in curve order."""
    import torch

    batch_id = uuid.uuid4().hex
    records = [
        NewRangeTest(
            batch_id=batch_id,
            batch_index=curve.run,
            label=curve.label,
            optimizer=curve.config.optimizer.name,
            dataset=result.dataset,
            device=result.device,
            config=curve.config.to_dict(),
            settings=result.settings.to_dict(),
            lrs=curve.lrs,
            losses=curve.losses,
            smoothed=curve.smoothed,
            suggestions={m: s.to_dict() for m, s in curve.suggestions.items()},
            stopped_early=curve.stopped_early,
            stop_reason=curve.stop_reason,
            seconds=result.seconds,
            torch_version=torch.__version__,
            notice=result.notice,
        )
        for curve in result.curves
    ]
    return store.save_range_tests(records)
