"""The catalog: every torch scheduler class described as data (its parameters, cadence, help)."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass

from torch.optim import lr_scheduler as _torch_sched

from lrtui.schedulers.errors import SpecError
from lrtui.schedulers.params import Cadence, Param


@dataclass(frozen=True)
class SchedulerInfo:
    """A torch scheduler class with its parameters and the cadence its step() expects."""

    name: str
    cls: type
    cadence: Cadence
    params: tuple[Param, ...]
    help: str
    composite: bool = False

    def param(self, name: str) -> Param | None:
        """The parameter called `name`, or None."""
        return next((p for p in self.params if p.name == name), None)


_FACTOR_HELP = "multiplies the LR"
_FORMULA_HELP = (
    "formula of epoch: numbers, + - * / // % **, comparisons, x if c else y, "
    "exp log sqrt sin cos tanh floor ceil min max abs, pi e"
)


def _info(
    cls: type, cadence: Cadence, help: str, *params: Param, composite: bool = False
) -> SchedulerInfo:
    return SchedulerInfo(cls.__name__, cls, cadence, tuple(params), help, composite)


CATALOG: dict[str, SchedulerInfo] = {
    info.name: info
    for info in [
        _info(
            _torch_sched.LambdaLR,
            "epoch",
            "LR = base LR x lr_lambda(epoch)",
            Param(
                "lr_lambda", "formula", "0.95 ** epoch", "factor of the base LR; " + _FORMULA_HELP
            ),
        ),
        _info(
            _torch_sched.MultiplicativeLR,
            "epoch",
            "LR *= lr_lambda(epoch) at every epoch",
            Param("lr_lambda", "formula", "0.95", "factor applied each epoch; " + _FORMULA_HELP),
        ),
        _info(
            _torch_sched.StepLR,
            "epoch",
            "multiply the LR by gamma every step_size epochs",
            Param("step_size", "int", 10, "epochs between two decays", min=1),
            Param("gamma", "float", 0.1, "decay factor", min=0, min_inclusive=False),
        ),
        _info(
            _torch_sched.MultiStepLR,
            "epoch",
            "multiply the LR by gamma at each milestone epoch",
            Param("milestones", "int_list", [10, 30], "epochs where the LR decays, increasing"),
            Param("gamma", "float", 0.1, "decay factor", min=0, min_inclusive=False),
        ),
        _info(
            _torch_sched.ConstantLR,
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
            Param("total_iters", "int", 5, "epochs with the reduced LR", min=1),
        ),
        _info(
            _torch_sched.LinearLR,
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
            Param("total_iters", "int", 5, "epochs of the ramp", min=1),
        ),
        _info(
            _torch_sched.ExponentialLR,
            "epoch",
            "multiply the LR by gamma every epoch",
            Param(
                "gamma",
                "float",
                0.9,
                "decay factor per epoch (tutorial: 0.1)",
                min=0,
                min_inclusive=False,
            ),
        ),
        _info(
            _torch_sched.PolynomialLR,
            "epoch",
            "LR decays as (1 - epoch/total_iters)^power",
            Param(
                "total_iters",
                "int",
                None,
                "epochs of the decay (auto: the run's epochs)",
                min=1,
                derived=True,
            ),
            Param("power", "float", 1.0, "power of the polynomial", min=0),
        ),
        _info(
            _torch_sched.CosineAnnealingLR,
            "epoch",
            "cosine from the base LR down to eta_min",
            Param(
                "T_max",
                "int",
                None,
                "epochs of the half cosine (auto: the run's epochs)",
                min=1,
                derived=True,
            ),
            Param("eta_min", "float", 0.0, "lowest LR", min=0),
        ),
        _info(
            _torch_sched.CosineAnnealingWarmRestarts,
            "epoch",
            "cosine down to eta_min, restarting every T_0 epochs (x T_mult after each restart)",
            Param(
                "T_0",
                "int",
                None,
                "epochs before the first restart (auto: epochs // 4)",
                min=1,
                derived=True,
            ),
            Param("T_mult", "int", 1, "growth of the period after each restart", min=1),
            Param("eta_min", "float", 0.0, "lowest LR", min=0),
        ),
        _info(
            _torch_sched.CyclicLR,
            "batch",
            "triangle waves between base_lr and max_lr, stepped after every batch",
            Param(
                "base_lr",
                "float",
                0.01,
                "lower LR of the cycle (replaces the optimizer's LR)",
                min=0,
                min_inclusive=False,
            ),
            Param("max_lr", "float", 0.1, "upper LR of the cycle", min=0, min_inclusive=False),
            Param(
                "step_size_up",
                "int",
                None,
                "batches of the rising half (auto: 2 epochs of batches, as the paper suggests)",
                min=1,
                derived=True,
            ),
            Param(
                "step_size_down",
                "int",
                None,
                "batches of the falling half (auto: step_size_up)",
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
                "amplitude decay per batch in exp_range mode",
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
        ),
        _info(
            _torch_sched.OneCycleLR,
            "batch",
            "one warm-up to max_lr then annealing far below the start, stepped after every batch",
            Param(
                "max_lr",
                "float",
                0.1,
                "peak LR (the optimizer's LR is replaced)",
                min=0,
                min_inclusive=False,
            ),
            Param(
                "total_steps",
                "int",
                None,
                "batches in the cycle (auto: epochs x steps per epoch)",
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
        ),
        _info(
            _torch_sched.ReduceLROnPlateau,
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
        ),
        _info(
            _torch_sched.SequentialLR,
            "epoch",
            "one scheduler after another, switching at the milestones ('A -> B')",
            Param(
                "milestones",
                "int_list",
                None,
                "steps where the next member takes over (auto: previous member's total_iters)",
                derived=True,
            ),
            composite=True,
        ),
        _info(
            _torch_sched.ChainedScheduler,
            "epoch",
            "all members stepped together, their factors multiply ('A + B')",
            composite=True,
        ),
    ]
}

TORCH_REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(
        p.name
        for p in inspect.signature(info.cls).parameters.values()
        if p.default is inspect.Parameter.empty and p.name not in ("optimizer", "schedulers")
    )
    for name, info in CATALOG.items()
}
"""Constructor parameters torch requires; resolve() fills them so code and previews show them."""


def lookup(name: str) -> SchedulerInfo | None:
    """Catalog entry by exact name, else by case-insensitive name."""
    if name in CATALOG:
        return CATALOG[name]
    lowered = {k.lower(): v for k, v in CATALOG.items()}
    return lowered.get(name.lower())


def suggest(word: str, options: Sequence[str]) -> str:
    lowered = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(lowered[c]) for c in close) + "?"
    return "choose from " + ", ".join(options)


def unknown_scheduler(name: str) -> SpecError:
    return SpecError(name or "scheduler", f"unknown scheduler ({suggest(name, list(CATALOG))})")


def unknown_param(info: SchedulerInfo, key: str) -> SpecError:
    names = [p.name for p in info.params]
    if not names:
        return SpecError(f"{info.name}.{key}", f"unknown parameter ({info.name} takes none)")
    hint = suggest(key, names)
    return SpecError(f"{info.name}.{key}", f"unknown parameter ({hint})")
