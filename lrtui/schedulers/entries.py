"""The catalog: every torch scheduler class and every recipe, each entry owning its rules.

Like each class of torch's `lr_scheduler.py`, an entry owns its arguments (`params`), how values
that depend on the run are derived (`derive`), how long it lasts inside `A -> B`
(`length_params`), its run-dependent checks (`advise`), whether it cycles momentum
(`momentum_switch`), which parameters are learning rates (`lr_params`) and an example. A recipe
(`WarmupCosine`, `WSD`, ...) is an entry whose `expand` says which torch class it builds with which
arguments, or which visible safe formula its LambdaLR computes. Callers ask the entry; nothing
outside this package tests a scheduler's name.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from lrtui.expr import Formula, compile_formula
from lrtui.optimizers import OPTIMIZER_KINDS
from lrtui.schedulers.errors import Severity, SpecError
from lrtui.schedulers.params import (
    FORMULA_ALIASES,
    FORMULA_VARIABLES,
    INTERVALS,
    Cadence,
    Interval,
    OptimizerShape,
    Param,
    Run,
)


def torch_class(name: str) -> type:
    """The class `name` of torch.optim.lr_scheduler, imported on first use: the catalog is plain
    data, so the form and the parsers load without torch (its import takes seconds); only building
    a scheduler needs it."""
    from torch.optim import lr_scheduler

    return cast(type, getattr(lr_scheduler, name))


@dataclass(frozen=True)
class Advice:
    """A run-dependent problem an entry finds with its own values (validate() reports it)."""

    param: str
    message: str
    severity: Severity = "error"


@dataclass(frozen=True)
class TorchCall:
    """What a recipe builds: a torch class with its arguments, and for LambdaLR the formula text
    with the named constants it uses (shown as such in the code snippet)."""

    torch_class: str  # the class's name in torch.optim.lr_scheduler
    kwargs: dict[str, Any] = field(default_factory=dict)
    formula: str = ""
    constants: dict[str, int | float] = field(default_factory=dict)
    note: str = ""  # one comment line for the snippet
    limits: bool = False  # a user's formula keeps the evaluator's size limits

    @property
    def cls(self) -> type:
        """The torch class itself (imports torch)."""
        return torch_class(self.torch_class)

    def lr_lambda(self) -> Formula:
        """The formula as the callable torch's LambdaLR / MultiplicativeLR gets (safe evaluator)."""
        return compile_formula(
            self.formula,
            FORMULA_VARIABLES,
            aliases=FORMULA_ALIASES,
            constants=self.constants,
            limits=self.limits,
        )


Derive = Callable[[str, Run, Mapping[str, Any]], Any]
Advise = Callable[[Mapping[str, Any], Run, OptimizerShape, frozenset[str]], list[Advice]]
"""(every value, defaults filled; the run; the optimizer; the names the user gave) -> problems"""
Expand = Callable[[Mapping[str, Any], Run], TorchCall]


@dataclass(frozen=True)
class SchedulerInfo:
    """A catalog entry: a torch scheduler class (or a recipe built from one) and its rules."""

    name: str
    torch_class: str  # the class's name in torch.optim.lr_scheduler (a recipe: the one it builds)
    cadence: Cadence  # natural cadence (the default interval)
    params: tuple[Param, ...]  # the torch class's constructor arguments (a recipe: its own)
    help: str
    composite: bool = False
    extra: tuple[Param, ...] = ()  # lrtui's own settings of the entry (interval)
    example: str = ""  # a spec that shows the entry off
    source: str = ""  # recipes: where the published definition is
    length_params: tuple[str, ...] = ()  # how long it runs, for `A -> B` without `@N`
    lr_params: tuple[str, ...] = ()  # parameters that are learning rates (range test targets)
    momentum_switch: str = ""  # the bool parameter that turns momentum cycling on
    replaces: tuple[tuple[str, str], ...] = ()  # (derived, source): resolve drops the source
    derive: Derive | None = None
    advise: Advise | None = None
    expand: Expand | None = None  # recipes only
    #: How tables and legends name a spec of this entry in a few characters: a template over its
    #: parameters ("StepLR {step_size}/{gamma}"); a parameter not given and without a default
    #: leaves the bare name ("Cosine"). Composites join their members (`short`).
    short_form: str = ""

    @property
    def cls(self) -> type:
        """The torch class itself (imports torch)."""
        return torch_class(self.torch_class)

    @property
    def every_param(self) -> tuple[Param, ...]:
        """Everything a spec may set: the parameters, then the extra settings (interval)."""
        return self.params + self.extra

    def param(self, name: str) -> Param | None:
        """The parameter (or extra setting) called `name`, or None."""
        return next((p for p in self.every_param if p.name == name), None)

    @property
    def recipe(self) -> bool:
        """Built from torch classes by `expand` rather than being one itself."""
        return self.expand is not None

    @property
    def natural_interval(self) -> Interval:
        return "step" if self.cadence == "batch" else "epoch"

    @property
    def warmup_params(self) -> tuple[str, ...]:
        """The parameters of a warm-up of the entry's own (a recipe's warmup_steps / _ratio)."""
        return tuple(p.name for p in self.params if p.name.startswith("warmup_"))

    @property
    def has_interval(self) -> bool:
        """Whether `interval=epoch|step` applies (every scheduler whose step() takes no metric)."""
        return self.param("interval") is not None

    def text(self, interval: Interval | None = None) -> str:
        """The help line in the unit the scheduler counts at `interval` (its natural one when
        None): the help's `{epoch}` / `{epochs}` read 'optimizer step(s)' with interval=step."""
        per_step = (interval or self.natural_interval) == "step" and self.cadence != "metric"
        unit = "optimizer step" if per_step else "epoch"
        return self.help.replace("{epochs}", f"{unit}s").replace("{epoch}", unit)

    def describe(self, interval: Interval | None = None) -> str:
        """One line for the form: what it does, when it steps (at `interval`, its natural one
        when None), and where it comes from."""
        cadence: Cadence = self.cadence
        if cadence != "metric" and interval is not None:
            cadence = "batch" if interval == "step" else "epoch"
        when = {
            "epoch": "stepped once per epoch",
            "batch": "stepped after every optimizer step",
            "metric": "stepped with the valid loss",
        }[cadence]
        source = f"; {self.source}" if self.source else ""
        return f"{self.text(interval)} ({when}{source})"

    def short(self, params: Mapping[str, Any], children: Sequence[str] = ()) -> str:
        """The spec in short form, e.g. `StepLR 10/0.1`, `Cosine T=25`, `1cycle 0.5`; a composite
        joins its members' short forms (`children`): `LinearLR 5 → Cosine`."""
        if self.composite:
            return (" → " if self.param("milestones") else " + ").join(children) or self.name
        template = self.short_form or self.name
        values: dict[str, str] = {}
        for param in self.params:
            value = params.get(param.name, param.default)
            if value is not None:
                values[param.name] = _short_value(value)
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):  # a value not given: the name alone
            head = template.split("{", 1)[0]
            return head.strip() if head.endswith(" ") else head.rsplit(" ", 1)[0]

    def cycles_momentum(self, params: Mapping[str, Any]) -> bool:
        """Whether these values make the entry change momentum / beta1 during the run."""
        if not self.momentum_switch:
            return False
        param = self.param(self.momentum_switch)
        default = param.default if param else False
        return bool(params.get(self.momentum_switch, default))


_FACTOR_HELP = "multiplies the LR"
_FORMULA_HELP = (
    "formula of step (the scheduler's step count; epoch is the same value) and the run's "
    "total_steps, steps_per_epoch, epochs: numbers, + - * / // % **, comparisons, x if c else y, "
    "exp log sqrt sin cos tanh floor ceil min max abs, pi e"
)


def _interval_param(cadence: Cadence) -> Param:
    natural = "step" if cadence == "batch" else "epoch"
    return Param(
        "interval",
        "choice",
        natural,
        "when scheduler.step() is called: once per epoch, or after every optimizer step "
        f"(default {natural}); lengths such as T_max count in that unit",
        choices=INTERVALS,
        torch_arg=False,
    )


def _short_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(_short_value(v) for v in value)
    return str(value)


#: Each entry's short form (see SchedulerInfo.short_form): read where runs are told apart.
_SHORT_FORMS: dict[str, str] = {
    "LambdaLR": "Lambda {lr_lambda}",
    "MultiplicativeLR": "Multiplicative {lr_lambda}",
    "StepLR": "StepLR {step_size}/{gamma}",
    "MultiStepLR": "MultiStep {milestones}/{gamma}",
    "ConstantLR": "Constant {factor}×{total_iters}",
    "LinearLR": "LinearLR {total_iters}",
    "ExponentialLR": "Exp {gamma}",
    "PolynomialLR": "Poly {total_iters}^{power}",
    "CosineAnnealingLR": "Cosine T={T_max}",
    "CosineAnnealingWarmRestarts": "CosineWR T0={T_0}×{T_mult}",
    "CyclicLR": "Cyclic {base_lr}–{max_lr}",
    "OneCycleLR": "1cycle {max_lr}",
    "ReduceLROnPlateau": "Plateau {factor}/{patience}",
    "WarmupLinear": "WarmupLinear {warmup_steps}",
    "WarmupCosine": "WarmupCosine {warmup_steps}",
    "WarmupCosineRestarts": "WarmupCosineR {warmup_steps}",
    "InverseSqrt": "InvSqrt {warmup_steps}",
    "WSD": "WSD {warmup_steps}/{decay_type}",
    "FastaiOneCycle": "fastai 1cycle {max_lr}",
}


def _info(
    torch_name: str,
    cadence: Cadence,
    help: str,
    *params: Param,
    composite: bool = False,
    name: str = "",
    **rules: Any,
) -> SchedulerInfo:
    extra = (_interval_param(cadence),) if cadence != "metric" and not composite else ()
    names = {p.name for p in params}
    replaces = tuple((d, src) for d, src in _DERIVED_FROM.items() if d in names)
    return SchedulerInfo(
        name or torch_name,
        torch_name,
        cadence,
        tuple(params),
        help,
        composite,
        extra,
        replaces=replaces,
        short_form=_SHORT_FORMS.get(name or torch_name, ""),
        **rules,
    )


_DERIVED_FROM = {"warmup_steps": "warmup_ratio", "decay_steps": "decay_ratio"}
"""Derived lengths given as a ratio: resolve() keeps the count and drops the ratio it came from."""


# ---- rules shared by several entries


def _run_length(name: str, run: Run, values: Mapping[str, Any]) -> Any:
    return run.length


def _length_advice(param: str, *, must_cover: bool) -> Advise:
    """T_max / total_steps against the run: shorter is an error (torch raises) or a warning."""

    def advise(
        values: Mapping[str, Any], run: Run, optimizer: OptimizerShape, given: frozenset[str]
    ) -> list[Advice]:
        value, length, unit = values[param], run.length, run.unit
        if value < length:
            if must_cover:
                return [
                    Advice(
                        param,
                        f"must cover the run's {run.length_text} (got {value}): "
                        f"torch raises after {unit[:-1]} {value}",
                    )
                ]
            return [
                Advice(
                    param,
                    f"{value} is shorter than the run ({run.length_text}): the LR climbs back up "
                    f"after {unit[:-1]} {value}",
                    "warning",
                )
            ]
        if value > length:
            tail = "the cycle is cut short" if must_cover else "the LR never reaches eta_min"
            return [
                Advice(
                    param, f"{value} is longer than the run ({run.length_text}): {tail}", "warning"
                )
            ]
        return []

    return advise


def _momentum_advice(
    values: Mapping[str, Any], run: Run, optimizer: OptimizerShape, given: frozenset[str]
) -> list[Advice]:
    kind = OPTIMIZER_KINDS.get(optimizer.name)
    plain_sgd = kind is not None and kind.momentum_field == "momentum" and not optimizer.momentum
    if values["cycle_momentum"] is not True or not plain_sgd:
        return []
    return [
        Advice(
            "cycle_momentum",
            "SGD has momentum 0, so torch switches momentum on and cycles it between "
            "base_momentum and max_momentum: set cycle_momentum=false to keep plain SGD",
            "warning",
        )
    ]


def _both(*advisers: Advise) -> Advise:
    def advise(
        values: Mapping[str, Any], run: Run, optimizer: OptimizerShape, given: frozenset[str]
    ) -> list[Advice]:
        return [a for adviser in advisers for a in adviser(values, run, optimizer, given)]

    return advise


def _cyclic_derive(name: str, run: Run, values: Mapping[str, Any]) -> Any:
    if name == "step_size_up":
        return max(1, 2 * run.per_epoch)  # two epochs of steps, as the paper suggests
    return values.get("step_size_up")


def _warm_restarts_derive(name: str, run: Run, values: Mapping[str, Any]) -> Any:
    return max(1, run.length // 4)


CATALOG: dict[str, SchedulerInfo] = {  # every public scheduler class of torch
    info.name: info
    for info in [
        _info(
            "LambdaLR",
            "epoch",
            "LR = base LR x lr_lambda(step)",
            Param(
                "lr_lambda",
                "formula",
                "0.95 ** epoch",
                "factor of the base LR; " + _FORMULA_HELP,
                required=True,
            ),
            example='LambdaLR:lr_lambda="0.95 ** step"',
        ),
        _info(
            "MultiplicativeLR",
            "epoch",
            "LR *= lr_lambda(step) at every scheduler step",
            Param(
                "lr_lambda",
                "formula",
                "0.95",
                "factor applied at each scheduler step; " + _FORMULA_HELP,
                required=True,
            ),
            example='MultiplicativeLR:lr_lambda="0.95"',
        ),
        _info(
            "StepLR",
            "epoch",
            "multiply the LR by gamma every step_size {epochs}",
            Param(
                "step_size", "int", 10, "scheduler steps between two decays", min=1, required=True
            ),
            Param("gamma", "float", 0.1, "decay factor", min=0, min_inclusive=False),
            example="StepLR:step_size=10,gamma=0.1",
        ),
        _info(
            "MultiStepLR",
            "epoch",
            "multiply the LR by gamma at each milestone {epoch}",
            Param(
                "milestones",
                "int_list",
                [10, 30],
                "scheduler steps where the LR decays, increasing",
                required=True,
            ),
            Param("gamma", "float", 0.1, "decay factor", min=0, min_inclusive=False),
            example="MultiStepLR:milestones=[10,30],gamma=0.1",
        ),
        _info(
            "ConstantLR",
            "epoch",
            "LR x factor until total_iters, then the base LR",
            Param(
                "factor",
                "float",
                1.0 / 3,
                _FACTOR_HELP + " until total_iters",
                min=0,
                min_inclusive=False,
                max=1,
            ),
            Param("total_iters", "int", 5, "scheduler steps with the reduced LR", min=1),
            example="ConstantLR:factor=0.5,total_iters=5",
            length_params=("total_iters",),
        ),
        _info(
            "LinearLR",
            "epoch",
            "LR ramps linearly from start_factor to end_factor",
            Param(
                "start_factor",
                "float",
                1.0 / 3,
                "factor at the first epoch",
                min=0,
                min_inclusive=False,
                max=1,
            ),
            Param("end_factor", "float", 1.0, "factor reached at total_iters", min=0, max=1),
            Param("total_iters", "int", 5, "scheduler steps of the ramp", min=1),
            example="LinearLR:start_factor=0.1,total_iters=5",
            length_params=("total_iters",),
        ),
        _info(
            "ExponentialLR",
            "epoch",
            "multiply the LR by gamma every {epoch}",
            Param(
                "gamma",
                "float",
                0.9,
                "decay factor per scheduler step (tutorial: 0.1)",
                min=0,
                min_inclusive=False,
                required=True,
            ),
            example="ExponentialLR:gamma=0.9",
        ),
        _info(
            "PolynomialLR",
            "epoch",
            "LR decays as (1 - t/total_iters)^power, t counting {epochs}",
            Param(
                "total_iters",
                "int",
                None,
                "scheduler steps of the decay (auto: the run's length)",
                min=1,
                derived=True,
            ),
            Param("power", "float", 1.0, "power of the polynomial", min=0),
            example="PolynomialLR:power=2.0",
            length_params=("total_iters",),
            derive=_run_length,
        ),
        _info(
            "CosineAnnealingLR",
            "epoch",
            "cosine from the base LR down to eta_min",
            Param(
                "T_max",
                "int",
                None,
                "scheduler steps of the half cosine (auto: the run's length)",
                min=1,
                derived=True,
                required=True,
            ),
            Param("eta_min", "float", 0.0, "lowest LR", min=0),
            example="CosineAnnealingLR:interval=step",
            length_params=("T_max",),
            derive=_run_length,
            advise=_length_advice("T_max", must_cover=False),
        ),
        _info(
            "CosineAnnealingWarmRestarts",
            "epoch",
            "cosine down to eta_min, restarting every T_0 {epochs} (x T_mult after each restart)",
            Param(
                "T_0",
                "int",
                None,
                "scheduler steps before the first restart (auto: a quarter of the run)",
                min=1,
                derived=True,
                required=True,
            ),
            Param("T_mult", "int", 1, "growth of the period after each restart", min=1),
            Param("eta_min", "float", 0.0, "lowest LR", min=0),
            example="CosineAnnealingWarmRestarts:T_0=5,T_mult=2",
            derive=_warm_restarts_derive,
        ),
        _info(
            "CyclicLR",
            "batch",
            "triangle waves between base_lr and max_lr",
            Param(
                "base_lr",
                "float",
                0.01,
                "lower LR of the cycle (replaces the optimizer's LR)",
                min=0,
                min_inclusive=False,
                required=True,
            ),
            Param(
                "max_lr",
                "float",
                0.1,
                "upper LR of the cycle",
                min=0,
                min_inclusive=False,
                required=True,
            ),
            Param(
                "step_size_up",
                "int",
                None,
                "scheduler steps of the rising half (auto: 2 epochs of them, as the paper advises)",
                min=1,
                derived=True,
            ),
            Param(
                "step_size_down",
                "int",
                None,
                "scheduler steps of the falling half (auto: step_size_up)",
                min=1,
                derived=True,
            ),
            Param(
                "mode",
                "choice",
                "triangular",
                "amplitude policy",
                choices=("triangular", "triangular2", "exp_range"),
            ),
            Param(
                "gamma",
                "float",
                1.0,
                "amplitude decay per scheduler step in exp_range mode",
                min=0,
                min_inclusive=False,
                max=1,
            ),
            Param(
                "scale_mode",
                "choice",
                "cycle",
                "only used with a custom scale_fn; torch picks it from mode otherwise",
                choices=("cycle", "iterations"),
            ),
            Param("cycle_momentum", "bool", True, "cycle momentum (SGD) or beta1 (Adam) inversely"),
            Param("base_momentum", "float", 0.8, "momentum at the LR peak", min=0, max=1),
            Param("max_momentum", "float", 0.9, "momentum at the LR bottom", min=0, max=1),
            example="CyclicLR:base_lr=0.01,max_lr=0.1",
            lr_params=("base_lr", "max_lr"),
            momentum_switch="cycle_momentum",
            derive=_cyclic_derive,
            advise=_momentum_advice,
        ),
        _info(
            "OneCycleLR",
            "batch",
            "one warm-up to max_lr then annealing far below the start",
            Param(
                "max_lr",
                "float",
                0.1,
                "peak LR (the optimizer's LR is replaced)",
                min=0,
                min_inclusive=False,
                required=True,
            ),
            Param(
                "total_steps",
                "int",
                None,
                "scheduler steps in the cycle (auto: the run's length)",
                min=1,
                derived=True,
            ),
            Param(
                "pct_start",
                "float",
                0.3,
                "fraction of the cycle spent increasing the LR",
                min=0,
                min_inclusive=False,
                max=1,
                max_inclusive=False,
            ),
            Param(
                "anneal_strategy", "choice", "cos", "shape of the ramps", choices=("cos", "linear")
            ),
            Param("cycle_momentum", "bool", True, "cycle momentum (SGD) or beta1 (Adam) inversely"),
            Param("base_momentum", "float", 0.85, "momentum at the LR peak", min=0, max=1),
            Param("max_momentum", "float", 0.95, "momentum at the start and end", min=0, max=1),
            Param(
                "div_factor",
                "float",
                25.0,
                "initial LR = max_lr / div_factor",
                min=0,
                min_inclusive=False,
            ),
            Param(
                "final_div_factor",
                "float",
                1e4,
                "final LR = initial LR / final_div_factor",
                min=0,
                min_inclusive=False,
            ),
            Param("three_phase", "bool", False, "add a symmetric ramp down before the annealing"),
            example="OneCycleLR:max_lr=0.5",
            length_params=("total_steps",),
            lr_params=("max_lr",),
            momentum_switch="cycle_momentum",
            derive=_run_length,
            advise=_both(_length_advice("total_steps", must_cover=True), _momentum_advice),
        ),
        _info(
            "ReduceLROnPlateau",
            "metric",
            "multiply the LR by factor when the validation loss stops improving",
            Param(
                "mode",
                "choice",
                "min",
                "min: lower metric is better; max: higher",
                choices=("min", "max"),
            ),
            Param(
                "factor",
                "float",
                0.1,
                "new LR = LR x factor",
                min=0,
                min_inclusive=False,
                max=1,
                max_inclusive=False,
            ),
            Param(
                "patience", "int", 10, "epochs without improvement tolerated before a cut", min=0
            ),
            Param(
                "threshold", "float", 1e-4, "smallest change that counts as an improvement", min=0
            ),
            Param(
                "threshold_mode",
                "choice",
                "rel",
                "threshold relative to best, or absolute",
                choices=("rel", "abs"),
            ),
            Param("cooldown", "int", 0, "epochs to wait after a cut before counting again", min=0),
            Param("min_lr", "float", 0.0, "the LR never goes below this", min=0),
            Param("eps", "float", 1e-8, "cuts smaller than this are skipped", min=0),
            example="ReduceLROnPlateau:mode=min,patience=5",
        ),
        _info(
            "SequentialLR",
            "epoch",
            "one scheduler after another, switching at the milestones ('A -> B')",
            Param(
                "milestones",
                "int_list",
                None,
                "steps where the next member takes over (auto: previous member's total_iters)",
                derived=True,
                required=True,
            ),
            composite=True,
            example="LinearLR:start_factor=0.1,total_iters=5 -> CosineAnnealingLR",
        ),
        _info(
            "ChainedScheduler",
            "epoch",
            "all members stepped together, their factors multiply ('A + B')",
            composite=True,
            example="ConstantLR:factor=0.5,total_iters=5 + ExponentialLR:gamma=0.95",
        ),
    ]
}


# ---- recipes: schedules people know by name, built from torch's classes or a visible formula

_WARMUP = "step / max(1, warmup_steps) if step < warmup_steps else "
_PROGRESS = "((step - warmup_steps) / max(1, training_steps - warmup_steps))"


def _warmup_params(ratio: float = 0.1) -> tuple[Param, ...]:
    return (
        Param(
            "warmup_steps",
            "int",
            None,
            "scheduler steps of the linear warm-up from 0 (auto: warmup_ratio of the run, "
            "rounded up)",
            min=0,
            derived=True,
            torch_arg=False,
        ),
        Param(
            "warmup_ratio",
            "float",
            ratio,
            "warm-up as a fraction of the run, used when warmup_steps is not given",
            min=0,
            max=1,
            torch_arg=False,
        ),
    )


def _recipe_param(name: str, kind: Any, default: Any, help: str, **limits: Any) -> Param:
    return Param(name, kind, default, help, torch_arg=False, **limits)


def _recipe_derive(name: str, run: Run, values: Mapping[str, Any]) -> Any:
    if name == "warmup_steps":
        return math.ceil(run.length * values["warmup_ratio"])
    if name == "decay_steps":
        return math.ceil(run.length * values["decay_ratio"])
    if name == "timescale":  # Hugging Face: num_warmup_steps or 10_000
        return values["warmup_steps"] or 10_000
    raise AssertionError(f"no rule for derived {name}")  # pragma: no cover


def _recipe_advice(
    values: Mapping[str, Any], run: Run, optimizer: OptimizerShape, given: frozenset[str]
) -> list[Advice]:
    out: list[Advice] = []
    if {"warmup_steps", "warmup_ratio"} <= given:
        out.append(Advice("warmup_ratio", "give warmup_steps or warmup_ratio, not both"))
    if {"decay_steps", "decay_ratio"} <= given:
        out.append(Advice("decay_ratio", "give decay_steps or decay_ratio, not both"))
    warmup = values["warmup_steps"]
    if warmup > run.length:
        out.append(
            Advice("warmup_steps", f"must fit in the run's {run.length_text} (got {warmup})")
        )
    decay = values.get("decay_steps")
    if decay is not None and warmup <= run.length and warmup + decay > run.length:
        out.append(
            Advice(
                "decay_steps",
                f"warm-up {warmup} + decay {decay} must fit in the run's {run.length_text}",
            )
        )
    return out


def _lambda(formula: str, note: str, **constants: int | float) -> TorchCall:
    return TorchCall("LambdaLR", {}, formula, dict(constants), note)


def _warmup_linear(values: Mapping[str, Any], run: Run) -> TorchCall:
    return _lambda(
        _WARMUP + "max(0.0, (training_steps - step) / max(1, training_steps - warmup_steps))",
        "Hugging Face transformers get_linear_schedule_with_warmup",
        warmup_steps=values["warmup_steps"],
        training_steps=run.length,
    )


def _warmup_cosine(values: Mapping[str, Any], run: Run) -> TorchCall:
    return _lambda(
        _WARMUP + f"max(0.0, 0.5 * (1.0 + cos(pi * num_cycles * 2.0 * {_PROGRESS})) "
        "* (1.0 - min_lr_ratio) + min_lr_ratio)",
        "Hugging Face transformers get_cosine_schedule_with_warmup "
        "(get_cosine_with_min_lr_schedule_with_warmup when min_lr_ratio > 0)",
        warmup_steps=values["warmup_steps"],
        training_steps=run.length,
        num_cycles=float(values["num_cycles"]),
        min_lr_ratio=float(values["min_lr_ratio"]),
    )


def _warmup_cosine_restarts(values: Mapping[str, Any], run: Run) -> TorchCall:
    return _lambda(
        _WARMUP + f"(0.0 if {_PROGRESS} >= 1.0 else "
        f"max(0.0, 0.5 * (1.0 + cos(pi * ((num_cycles * {_PROGRESS}) % 1.0)))))",
        "Hugging Face transformers get_cosine_with_hard_restarts_schedule_with_warmup",
        warmup_steps=values["warmup_steps"],
        training_steps=run.length,
        num_cycles=int(values["num_cycles"]),
    )


def _inverse_sqrt(values: Mapping[str, Any], run: Run) -> TorchCall:
    return _lambda(
        _WARMUP + "1.0 / sqrt((step + (timescale - warmup_steps)) / timescale)",
        "Hugging Face transformers get_inverse_sqrt_schedule (fairseq's inverse_sqrt)",
        warmup_steps=values["warmup_steps"],
        timescale=values["timescale"],
    )


_WSD_DECAY = {
    "linear": "(1.0 - {p})",
    "cosine": "0.5 * (1.0 + cos(pi * num_cycles * 2.0 * {p}))",
    "1-sqrt": "(1.0 - sqrt({p}))",
}


def _wsd(values: Mapping[str, Any], run: Run) -> TorchCall:
    warmup, decay = values["warmup_steps"], values["decay_steps"]
    decay_type = str(values["decay_type"])
    shape = _WSD_DECAY[decay_type].format(
        p="((step - warmup_steps - stable_steps) / max(1, decay_steps))"
    )
    constants: dict[str, int | float] = {
        "warmup_steps": warmup,
        "stable_steps": run.length - warmup - decay,
        "decay_steps": decay,
        "min_lr_ratio": float(values["min_lr_ratio"]),
    }
    if decay_type == "cosine":
        constants["num_cycles"] = float(values["num_cycles"])
    return TorchCall(
        "LambdaLR",
        {},
        "max(0.0, step / max(1, warmup_steps) * (1.0 - min_lr_ratio) + min_lr_ratio) "
        "if step < warmup_steps else 1.0 if step < warmup_steps + stable_steps else "
        f"max(0.0, {shape} * (1.0 - min_lr_ratio) + min_lr_ratio) "
        "if step < warmup_steps + stable_steps + decay_steps else min_lr_ratio",
        constants,
        f"Hugging Face transformers get_wsd_schedule (decay_type={decay_type!r}); "
        "warmup-stable-decay of MiniCPM (Hu et al. 2024)",
    )


def _fastai_one_cycle(values: Mapping[str, Any], run: Run) -> TorchCall:
    n = run.length
    pct = float(values["pct_start"])
    div = float(values["div"])
    return TorchCall(
        "OneCycleLR",
        {
            "max_lr": float(values["max_lr"]),
            # fastai puts step i at pos = i / n and ends its phases at pos = pct_start and 1;
            # torch ends them at step pct_start * total_steps - 1 and total_steps - 1: one step
            # more and a shifted pct_start put torch's phase ends exactly where fastai's are.
            "total_steps": n + 1,
            "pct_start": (pct * n + 1) / (n + 1),
            "anneal_strategy": "cos",
            "cycle_momentum": bool(values["cycle_momentum"]),
            "base_momentum": float(values["base_momentum"]),
            "max_momentum": float(values["max_momentum"]),
            "div_factor": div,
            "final_div_factor": float(values["div_final"]) / div,
        },
        note="fastai Learner.fit_one_cycle (combined_cos: lr_max/div -> lr_max -> "
        "lr_max/div_final, moms 0.95 -> 0.85 -> 0.95); total_steps is one more than the run and "
        "pct_start shifted so torch's phase ends fall where fastai's do (step i at pos i/steps)",
    )


_NUM_CYCLES_COSINE = _recipe_param(
    "num_cycles",
    "float",
    0.5,
    "waves of the cosine (0.5: one half-cosine down)",
    min=0,
    min_inclusive=False,
)
_MIN_LR_RATIO = _recipe_param(
    "min_lr_ratio", "float", 0.0, "lowest LR as a fraction of the base LR", min=0, max=1
)

_RECIPES: list[SchedulerInfo] = [
    _info(
        "LambdaLR",
        "batch",
        "linear warm-up from 0 to the base LR, then linear decay to 0",
        *_warmup_params(),
        name="WarmupLinear",
        source="Hugging Face transformers, optimization.get_linear_schedule_with_warmup",
        example="WarmupLinear:warmup_steps=100",
        derive=_recipe_derive,
        advise=_recipe_advice,
        expand=_warmup_linear,
    ),
    _info(
        "LambdaLR",
        "batch",
        "linear warm-up from 0, then a half-cosine down to min_lr_ratio x the base LR",
        *_warmup_params(),
        _NUM_CYCLES_COSINE,
        _MIN_LR_RATIO,
        name="WarmupCosine",
        source="Hugging Face transformers, optimization.get_cosine_schedule_with_warmup",
        example="WarmupCosine:warmup_steps=100",
        derive=_recipe_derive,
        advise=_recipe_advice,
        expand=_warmup_cosine,
    ),
    _info(
        "LambdaLR",
        "batch",
        "linear warm-up from 0, then num_cycles cosines down to 0 with hard restarts",
        *_warmup_params(),
        _recipe_param("num_cycles", "int", 1, "number of cosine cycles (hard restarts)", min=1),
        name="WarmupCosineRestarts",
        source="Hugging Face transformers, "
        "optimization.get_cosine_with_hard_restarts_schedule_with_warmup",
        example="WarmupCosineRestarts:warmup_steps=50,num_cycles=3",
        derive=_recipe_derive,
        advise=_recipe_advice,
        expand=_warmup_cosine_restarts,
    ),
    _info(
        "LambdaLR",
        "batch",
        "linear warm-up from 0, then the base LR x 1/sqrt(step/timescale)",
        *_warmup_params(),
        _recipe_param(
            "timescale",
            "int",
            None,
            "steps of the 1/sqrt decay's unit (auto: warmup_steps, or 10000 without warm-up)",
            min=1,
            derived=True,
        ),
        name="InverseSqrt",
        source="fairseq inverse_sqrt (Vaswani et al. 2017); Hugging Face transformers, "
        "optimization.get_inverse_sqrt_schedule",
        example="InverseSqrt:warmup_steps=100",
        derive=_recipe_derive,
        advise=_recipe_advice,
        expand=_inverse_sqrt,
    ),
    _info(
        "LambdaLR",
        "batch",
        "warm-up, stable at the base LR, then decay over the last decay_ratio of the run",
        *_warmup_params(),
        _recipe_param(
            "decay_steps",
            "int",
            None,
            "scheduler steps of the final decay (auto: decay_ratio of the run, rounded up)",
            min=0,
            derived=True,
        ),
        _recipe_param("decay_ratio", "float", 0.1, "decay as a fraction of the run", min=0, max=1),
        _recipe_param(
            "decay_type",
            "choice",
            "cosine",
            "shape of the decay",
            choices=("linear", "cosine", "1-sqrt"),
        ),
        _MIN_LR_RATIO,
        _NUM_CYCLES_COSINE,
        name="WSD",
        source="MiniCPM warmup-stable-decay (Hu et al. 2024); Hugging Face transformers, "
        "optimization.get_wsd_schedule",
        example="WSD:warmup_steps=50,decay_ratio=0.2,decay_type=1-sqrt",
        derive=_recipe_derive,
        advise=_recipe_advice,
        expand=_wsd,
    ),
    _info(
        "OneCycleLR",
        "batch",
        "fastai's one-cycle: cosine up from max_lr/div to max_lr, then down to max_lr/div_final",
        _recipe_param(
            "max_lr", "float", 0.1, "peak LR (fastai's lr_max)", min=0, min_inclusive=False
        ),
        _recipe_param(
            "div", "float", 25.0, "initial LR = max_lr / div", min=0, min_inclusive=False
        ),
        _recipe_param(
            "div_final", "float", 1e5, "final LR = max_lr / div_final", min=0, min_inclusive=False
        ),
        _recipe_param(
            "pct_start",
            "float",
            0.25,
            "fraction of the run spent warming up",
            min=0,
            min_inclusive=False,
            max=1,
            max_inclusive=False,
        ),
        _recipe_param("cycle_momentum", "bool", True, "cycle momentum (SGD) or beta1 (Adam)"),
        _recipe_param("base_momentum", "float", 0.85, "momentum at the LR peak", min=0, max=1),
        _recipe_param("max_momentum", "float", 0.95, "momentum at start and end", min=0, max=1),
        name="FastaiOneCycle",
        source="fastai Learner.fit_one_cycle defaults (div 25, div_final 1e5, pct_start 0.25, "
        "moms 0.95-0.85-0.95), through torch's OneCycleLR",
        example="FastaiOneCycle:max_lr=0.5",
        lr_params=("max_lr",),
        momentum_switch="cycle_momentum",
        advise=_momentum_advice,
        expand=_fastai_one_cycle,
    ),
]

RECIPES: dict[str, SchedulerInfo] = {info.name: info for info in _RECIPES}
"""Recipes (all stepped per optimizer step by default, like the libraries they come from)."""

ENTRIES: dict[str, SchedulerInfo] = {**CATALOG, **RECIPES}
"""Everything a spec may name: torch's schedulers (CATALOG) and the recipes."""

LR_OFFERS: dict[str, str] = {"max_lr": "OneCycleLR", "base_lr": "CyclicLR"}
"""The entry the range test offers to switch to for an LR parameter the form's scheduler lacks."""


def taking_lr(param: str) -> tuple[str, ...]:
    """Entries with `param` among their learning-rate parameters (range test targets)."""
    return tuple(info.name for info in ENTRIES.values() if param in info.lr_params)


TORCH_REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(p.name for p in info.params if p.required)
    for name, info in CATALOG.items()
    if not info.recipe
}
"""Constructor parameters torch requires; resolve() fills them so code and previews show them."""


def lookup(name: str) -> SchedulerInfo | None:
    """Catalog entry by exact name, else by case-insensitive name."""
    if name in ENTRIES:
        return ENTRIES[name]
    lowered = {k.lower(): v for k, v in ENTRIES.items()}
    return lowered.get(name.lower())


def suggest(word: str, options: Sequence[str]) -> str:
    lowered = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(lowered[c]) for c in close) + "?"
    return "choose from " + ", ".join(options)


def unknown_scheduler(name: str) -> SpecError:
    return SpecError(name or "scheduler", f"unknown scheduler ({suggest(name, list(ENTRIES))})")


def unknown_param(info: SchedulerInfo, key: str) -> SpecError:
    field = f"{info.name}.{key}"
    if key == "interval" and info.cadence == "metric":
        return SpecError(
            field, f"{info.name} steps once per epoch with the validation loss: no interval"
        )
    if key == "interval" and info.composite:
        return SpecError(field, "give interval to each member (they share one)")
    names = [p.name for p in info.every_param]
    if not names:
        return SpecError(field, f"unknown parameter ({info.name} takes none)")
    return SpecError(field, f"unknown parameter ({suggest(key, names)})")
