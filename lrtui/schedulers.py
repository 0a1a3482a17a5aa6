"""The scheduler catalog: every torch LR scheduler described as data, and the real torch objects.

A `SchedulerSpec` is what a user chose (a name, the parameters they typed, members of a composite).
This module parses and formats specs, validates them with one message per field, fills the values
that derive from the run's length (`resolve`), and builds the *real* torch scheduler (`build`). LR
values always come from stepping torch's own classes (`ScheduleDriver`, `preview`): no schedule
formula is re-implemented here.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import torch
from torch.optim import lr_scheduler as _torch_sched

from lrtui.expr import FormulaError, compile_formula

__all__ = [
    "CATALOG",
    "Cadence",
    "OptimizerShape",
    "Param",
    "PlateauState",
    "Preview",
    "Problem",
    "ScheduleDriver",
    "SchedulerInfo",
    "SchedulerSpec",
    "SpecError",
    "build",
    "cadence_of",
    "errors_of",
    "format_spec",
    "parse_spec",
    "preview",
    "resolve",
    "spec_from_toml",
    "to_code",
    "validate",
    "warnings_of",
]

Cadence = Literal["epoch", "batch", "metric"]
ParamKind = Literal["int", "float", "bool", "choice", "int_list", "float_list", "formula"]
Severity = Literal["error", "warning"]
AnyScheduler = _torch_sched.LRScheduler | _torch_sched.ReduceLROnPlateau


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One constructor parameter of a torch scheduler, as the form and the parser see it."""

    name: str
    kind: ParamKind
    default: Any  # None where the value derives from the run's length ("auto")
    help: str
    min: float | None = None
    min_inclusive: bool = True
    max: float | None = None
    max_inclusive: bool = True
    choices: tuple[str, ...] = ()
    derived: bool = False  # default comes from epochs / steps_per_epoch when not given


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

_TORCH_REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(
        p.name
        for p in inspect.signature(info.cls).parameters.values()
        if p.default is inspect.Parameter.empty and p.name not in ("optimizer", "schedulers")
    )
    for name, info in CATALOG.items()
}
"""Constructor parameters torch requires; resolve() fills them so code and previews show them."""


# --------------------------------------------------------------------------------------------
# Specs, errors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulerSpec:
    """What a user chose: a scheduler name, the parameters they gave, and composite members."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    children: tuple[SchedulerSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: {"name", "params", "children"} (children only for composites)."""
        out: dict[str, Any] = {"name": self.name, "params": _plain(self.params)}
        if self.children:
            out["children"] = [child.to_dict() for child in self.children]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SchedulerSpec:
        """Inverse of `to_dict` (lenient: unknown names/params are kept for validate to report)."""
        name = str(d["name"])
        info = _lookup(name)
        params: dict[str, Any] = {}
        for key, value in dict(d.get("params") or {}).items():
            param = info.param(key) if info else None
            params[key] = _coerce_native(name, param, value, strict=False) if param else value
        children = tuple(cls.from_dict(c) for c in d.get("children") or ())
        return cls(info.name if info else name, params, children)

    def __str__(self) -> str:
        return format_spec(self)


def _plain(value: Any) -> Any:
    """Lists and dicts as JSON wants them (tuples become lists)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class SpecError(ValueError):
    """A spec that cannot be understood or used; `str(e)` is "field: message"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Problem(str):
    """A validation message that also knows its severity ("error" stops a run, "warning" does not).

    It is a plain `str` for every caller of `validate()`; read `.severity` or use `errors_of`.
    """

    severity: Severity

    def __new__(cls, message: str, severity: Severity = "error") -> Problem:
        obj = super().__new__(cls, message)
        obj.severity = severity
        return obj


def errors_of(problems: Mapping[str, str]) -> dict[str, str]:
    """Only the problems that make a spec unusable (warnings dropped)."""
    return {k: v for k, v in problems.items() if getattr(v, "severity", "error") == "error"}


def warnings_of(problems: Mapping[str, str]) -> dict[str, str]:
    """Only the advisory problems (the run works, but probably not as intended)."""
    return {k: v for k, v in problems.items() if getattr(v, "severity", "error") == "warning"}


def _lookup(name: str) -> SchedulerInfo | None:
    """Catalog entry by exact name, else by case-insensitive name."""
    if name in CATALOG:
        return CATALOG[name]
    lowered = {k.lower(): v for k, v in CATALOG.items()}
    return lowered.get(name.lower())


def _suggest(word: str, options: Sequence[str]) -> str:
    lowered = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(lowered[c]) for c in close) + "?"
    return "choose from " + ", ".join(options)


def _unknown_scheduler(name: str) -> SpecError:
    return SpecError(name or "scheduler", f"unknown scheduler ({_suggest(name, list(CATALOG))})")


def _unknown_param(info: SchedulerInfo, key: str) -> SpecError:
    names = [p.name for p in info.params]
    if not names:
        return SpecError(f"{info.name}.{key}", f"unknown parameter ({info.name} takes none)")
    hint = _suggest(key, names)
    return SpecError(f"{info.name}.{key}", f"unknown parameter ({hint})")


# --------------------------------------------------------------------------------------------
# Values: coercion from text and from native (TOML / JSON) values
# --------------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[-+]?\d+\Z")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class _Raw:
    """A value as written in a spec string: bare token, quoted text, or list of those."""

    kind: Literal["bare", "quoted", "list"]
    text: str = ""
    items: tuple[_Raw, ...] = ()


def _scalar_from_text(field_name: str, kind: ParamKind, raw: _Raw) -> Any:
    text = raw.text
    if kind == "int":
        if raw.kind == "bare" and _INT_RE.match(text):
            return int(text)
        raise SpecError(field_name, f"must be an integer (got {text})")
    if kind == "float":
        if raw.kind == "bare" and _NUMBER_RE.match(text):
            return float(text)
        raise SpecError(field_name, f"must be a number (got {text})")
    if kind == "bool":
        low = text.lower()
        if raw.kind == "bare" and low in ("true", "false", "1", "0", "yes", "no"):
            return low in ("true", "1", "yes")
        raise SpecError(field_name, f"must be true or false (got {text})")
    # choice and formula: any text; validate() checks choices and formula rules
    return text


def _value_from_text(field_name: str, param: Param, raw: _Raw) -> Any:
    if param.kind in ("int_list", "float_list"):
        item_kind: ParamKind = "int" if param.kind == "int_list" else "float"
        items = raw.items if raw.kind == "list" else (raw,)
        if any(item.kind == "list" for item in items):
            raise SpecError(field_name, "nested lists are not allowed")
        return [_scalar_from_text(field_name, item_kind, item) for item in items]
    if raw.kind == "list":
        raise SpecError(field_name, f"must be a single {param.kind}, not a list")
    return _scalar_from_text(field_name, param.kind, raw)


def _coerce_native(sched: str, param: Param, value: Any, *, strict: bool = True) -> Any:
    """A TOML/JSON value as the param's Python type (int -> float for float params).

    strict=True raises SpecError on a wrong type; strict=False keeps the value for validate().
    """
    field_name = f"{sched}.{param.name}"

    def bad(what: str) -> Any:
        if strict:
            raise SpecError(field_name, f"must be {what} (got {value!r})")
        return value

    kind = param.kind
    if kind == "int":
        return (
            value if isinstance(value, int) and not isinstance(value, bool) else bad("an integer")
        )
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return bad("a number")
    if kind == "bool":
        return value if isinstance(value, bool) else bad("true or false")
    if kind in ("choice", "formula"):
        return value if isinstance(value, str) else bad("text")
    if isinstance(value, list | tuple):
        if kind == "int_list":
            if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                return list(value)
            return bad("a list of integers")
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return [float(v) for v in value]
        return bad("a list of numbers")
    return bad("a list")


# --------------------------------------------------------------------------------------------
# Parsing and formatting spec strings
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*")


class _Parser:
    """Recursive descent over: seq := chain ('->' ['@' INT] chain)*; chain := atom ('+' atom)*;
    atom := '(' seq ')' | NAME [':' key=value (',' key=value)*]."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> SpecError:
        return SpecError("spec", f"{message} at column {self.pos + 1} of {self.text!r}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, s: str) -> bool:
        self.skip()
        return self.text.startswith(s, self.pos)

    def take(self, s: str) -> bool:
        if self.peek(s):
            self.pos += len(s)
            return True
        return False

    def parse(self) -> SchedulerSpec:
        spec = self.seq()
        self.skip()
        if self.pos != len(self.text):
            raise self.error(f"unexpected {self.text[self.pos]!r}")
        return spec

    def seq(self) -> SchedulerSpec:
        members = [self.chain()]
        explicit: list[int | None] = []
        while self.take("->"):
            if self.take("@"):
                self.skip()
                match = re.compile(r"\d+").match(self.text, self.pos)
                if not match:
                    raise self.error("expected a step number after '@'")
                self.pos = match.end()
                explicit.append(int(match.group()))
            else:
                explicit.append(None)
            members.append(self.chain())
        if len(members) == 1:
            return members[0]
        return SchedulerSpec(
            "SequentialLR", {"milestones": _milestones(members, explicit)}, tuple(members)
        )

    def chain(self) -> SchedulerSpec:
        members = [self.atom()]
        while self.take("+"):
            members.append(self.atom())
        if len(members) == 1:
            return members[0]
        return SchedulerSpec("ChainedScheduler", {}, tuple(members))

    def atom(self) -> SchedulerSpec:
        if self.take("("):
            spec = self.seq()
            if not self.take(")"):
                raise self.error("expected ')'")
            return spec
        self.skip()
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.text, self.pos)
        if not match:
            raise self.error("expected a scheduler name")
        self.pos = match.end()
        info = _lookup(match.group())
        if info is None:
            raise _unknown_scheduler(match.group())
        if info.composite:
            syntax = "A -> B" if info.name == "SequentialLR" else "A + B"
            raise SpecError(info.name, f"write its members as '{syntax}' (or use a TOML config)")
        params: dict[str, Any] = {}
        if self.take(":"):
            while True:
                self.skip()
                key_match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.text, self.pos)
                if not key_match:
                    raise self.error("expected a parameter name")
                self.pos = key_match.end()
                key = key_match.group()
                param = info.param(key)
                if param is None:
                    raise _unknown_param(info, key)
                if key in params:
                    raise SpecError(f"{info.name}.{key}", "given twice")
                if not self.take("="):
                    raise self.error(f"expected '=' after {key!r}")
                params[key] = _value_from_text(f"{info.name}.{key}", param, self.value())
                if not self.take(","):
                    break
        return SchedulerSpec(info.name, params)

    def value(self) -> _Raw:
        self.skip()
        if self.pos >= len(self.text):
            raise self.error("expected a value")
        ch = self.text[self.pos]
        if ch in "\"'":
            return _Raw("quoted", self.quoted(ch))
        if ch == "[":
            self.pos += 1
            items: list[_Raw] = []
            if not self.take("]"):
                while True:
                    items.append(self.value())
                    if self.take("]"):
                        break
                    if not self.take(","):
                        raise self.error("expected ',' or ']'")
            return _Raw("list", items=tuple(items))
        match = _TOKEN_RE.match(self.text, self.pos)
        if not match:
            raise self.error("expected a value")
        self.pos = match.end()
        return _Raw("bare", match.group())

    def quoted(self, quote: str) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "\\" and self.pos < len(self.text):
                out.append(self.text[self.pos])
                self.pos += 1
            elif ch == quote:
                return "".join(out)
            else:
                out.append(ch)
        raise self.error(f"missing closing {quote}")


def _member_length(spec: SchedulerSpec) -> int | None:
    """How long a member of `A -> B` lasts when the arrow names no milestone, if the member says."""
    info = CATALOG.get(spec.name)
    if info is None or info.composite:
        return None
    for key in ("total_iters", "T_max", "total_steps"):
        param = info.param(key)
        if param is None:
            continue
        value = spec.params.get(key, param.default)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _milestones(members: Sequence[SchedulerSpec], explicit: Sequence[int | None]) -> list[int]:
    """Milestones of `A -> B -> C`: explicit `@N`, else the previous one plus A's length."""
    out: list[int] = []
    previous = 0
    for i, given in enumerate(explicit):
        if given is None:
            length = _member_length(members[i])
            if length is None:
                name = members[i].name
                raise SpecError(
                    "SequentialLR.milestones",
                    f"cannot tell when {name} ends: give its total_iters/T_max, "
                    f"or write '{name} -> @N next'",
                )
            given = previous + length
        out.append(given)
        previous = given
    return out


def _format_value(param: Param | None, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_format_value(None, v) for v in value) + "]"
    text = str(value)
    if param is not None and param.kind == "choice" and _WORD_RE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_spec(spec: SchedulerSpec) -> str:
    """The spec string for `spec`; `parse_spec(format_spec(s)) == s` for every valid spec."""
    if spec.name == "SequentialLR" and spec.children:
        milestones = list(spec.params.get("milestones") or [])
        parts = [_format_member(c, inside="seq") for c in spec.children]
        out = parts[0]
        for i, part in enumerate(parts[1:]):
            at = f"@{milestones[i]} " if i < len(milestones) else ""
            out += f" -> {at}{part}"
        return out
    if spec.name == "ChainedScheduler" and spec.children:
        return " + ".join(_format_member(c, inside="chain") for c in spec.children)
    info = CATALOG.get(spec.name)
    if not spec.params:
        return spec.name
    items = []
    for key, value in spec.params.items():
        param = info.param(key) if info else None
        items.append(f"{key}={_format_value(param, value)}")
    return f"{spec.name}:{','.join(items)}"


def _format_member(spec: SchedulerSpec, *, inside: Literal["seq", "chain"]) -> str:
    text = format_spec(spec)
    needs_parens = spec.children and (spec.name == "SequentialLR" or inside == "chain")
    return f"({text})" if needs_parens else text


def parse_spec(text: str) -> SchedulerSpec:
    """Parse `NAME[:key=value,...]`, `A -> B` (SequentialLR), `A + B` (ChainedScheduler).

    Values: integers, numbers, true/false, words for choices, lists `[10,30]`, quoted formulas
    `"0.95 ** epoch"`. `A -> @5 B` puts the milestone at 5; without `@N` it is where A ends
    (A's total_iters, or T_max/total_steps when given). Raises SpecError for syntax errors,
    unknown schedulers/parameters and values of the wrong type; ranges are validate()'s job.
    """
    if not isinstance(text, str) or not text.strip():
        raise SpecError("spec", "empty; give a scheduler name such as StepLR")
    if len(text) > 2000:
        raise SpecError("spec", f"too long ({len(text)} characters > 2000)")
    return _Parser(text).parse()


def spec_from_toml(table: Mapping[str, Any]) -> SchedulerSpec:
    """A spec from a TOML table: `{name="StepLR", step_size=10}` or a composite
    `{name="SequentialLR", milestones=[5], schedulers=[{...}, {...}]}` (milestones may be left out
    when each member but the last has a total_iters / T_max)."""
    if not isinstance(table, Mapping):
        raise SpecError("scheduler", f"must be a table (got {table!r})")
    name = table.get("name")
    if not isinstance(name, str):
        raise SpecError("scheduler.name", 'missing: give the scheduler\'s name, e.g. name="StepLR"')
    info = _lookup(name)
    if info is None:
        raise _unknown_scheduler(name)
    if info.composite:
        members = table.get("schedulers")
        if not isinstance(members, list) or not members:
            raise SpecError(f"{info.name}.schedulers", "must be a list of scheduler tables")
        children = tuple(spec_from_toml(m) for m in members)
        extra = set(table) - {"name", "schedulers", "milestones"}
        if info.name == "ChainedScheduler":
            extra |= {"milestones"} & set(table)
        for key in sorted(extra):
            raise _unknown_param(info, key)
        if info.name == "ChainedScheduler":
            return SchedulerSpec(info.name, {}, children)
        given = table.get("milestones")
        if given is None:
            milestones = _milestones(children, [None] * (len(children) - 1))
        else:
            param = info.param("milestones")
            assert param is not None
            milestones = _coerce_native(info.name, param, given)
        return SchedulerSpec(info.name, {"milestones": milestones}, children)
    params: dict[str, Any] = {}
    for key, value in table.items():
        if key == "name":
            continue
        param = info.param(key)
        if param is None:
            raise _unknown_param(info, key)
        params[key] = _coerce_native(info.name, param, value)
    return SchedulerSpec(info.name, params)


# --------------------------------------------------------------------------------------------
# Run length, derived values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerShape:
    """What the throwaway optimizer needs to look like (momentum matters to cycled schedules)."""

    name: Literal["sgd", "adam", "adamw"] = "sgd"
    momentum: float = 0.0  # sgd
    betas: tuple[float, float] = (0.9, 0.999)  # adam/adamw


def cadence_of(spec: SchedulerSpec) -> Cadence:
    """When step() is called: after every epoch, after every batch, or with the epoch's metric."""
    info = _lookup(spec.name)
    if info is None:
        raise _unknown_scheduler(spec.name)
    if info.composite and spec.children:
        return cadence_of(spec.children[0])
    return info.cadence


def _safe_cadence(spec: SchedulerSpec) -> Cadence | None:
    """cadence_of, or None where a name is unknown (validate reports that separately)."""
    try:
        return cadence_of(spec)
    except SpecError:
        return None


def _run_length(spec: SchedulerSpec, epochs: int, steps_per_epoch: int) -> int:
    """Number of scheduler steps in the run: epochs, or batches for batch cadence."""
    return epochs * steps_per_epoch if cadence_of(spec) == "batch" else epochs


def _spans(spec: SchedulerSpec, length: int) -> list[int]:
    """Steps each composite member runs for (SequentialLR: between milestones)."""
    if spec.name != "SequentialLR":
        return [length] * len(spec.children)
    milestones = _milestone_list(spec)
    bounds = [0, *milestones, length]
    return [max(1, bounds[i + 1] - bounds[i]) for i in range(len(spec.children))]


def _milestone_list(spec: SchedulerSpec) -> list[int]:
    given = spec.params.get("milestones")
    if isinstance(given, list | tuple) and all(isinstance(m, int) for m in given):
        return [int(m) for m in given]
    return _milestones(spec.children, [None] * (len(spec.children) - 1))


def _derived_value(
    info: SchedulerInfo, name: str, length: int, steps_per_epoch: int, params: Mapping[str, Any]
) -> Any:
    if name in ("T_max", "total_iters", "total_steps"):
        return length
    if name == "T_0":
        return max(1, length // 4)
    if name == "step_size_up":
        return max(1, 2 * steps_per_epoch)
    if name == "step_size_down":
        return params.get("step_size_up")
    raise AssertionError(f"no rule for derived {info.name}.{name}")  # pragma: no cover


def resolve(spec: SchedulerSpec, *, epochs: int, steps_per_epoch: int) -> SchedulerSpec:
    """The spec with every value torch needs filled in: derived params (T_max, total_steps,
    total_iters, milestones...) from the run's length, and the catalog default of parameters torch
    requires (StepLR.step_size...). Values the user gave are kept."""
    return _resolve(spec, _run_length(spec, epochs, steps_per_epoch), steps_per_epoch)


def _resolve(spec: SchedulerSpec, length: int, steps_per_epoch: int) -> SchedulerSpec:
    info = _lookup(spec.name)
    if info is None:
        raise _unknown_scheduler(spec.name)
    if info.composite:
        params = dict(spec.params)
        if info.name == "SequentialLR" and spec.children:
            params["milestones"] = _milestone_list(spec)
        spans = _spans(spec, length) if spec.children else []
        children = tuple(
            _resolve(c, span, steps_per_epoch) for c, span in zip(spec.children, spans, strict=True)
        )
        return SchedulerSpec(info.name, params, children)
    required = _TORCH_REQUIRED[info.name]
    params = {}
    for param in info.params:
        if param.name in spec.params:
            params[param.name] = spec.params[param.name]
        elif param.derived:
            params[param.name] = _derived_value(info, param.name, length, steps_per_epoch, params)
        elif param.name in required:
            params[param.name] = param.default
    for key, value in spec.params.items():  # unknown keys stay for validate() to report
        params.setdefault(key, value)
    return SchedulerSpec(info.name, params, spec.children)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:g}"


def _range_rule(param: Param) -> str:
    what = "an integer" if param.kind in ("int", "int_list") else "a number"
    lo, hi = param.min, param.max
    if lo is not None and hi is not None:
        left = "[" if param.min_inclusive else "("
        right = "]" if param.max_inclusive else ")"
        return f"must be {what} in {left}{_num(lo)}, {_num(hi)}{right}"
    if lo is not None:
        return f"must be {what} {'>=' if param.min_inclusive else '>'} {_num(lo)}"
    if hi is not None:
        return f"must be {what} {'<=' if param.max_inclusive else '<'} {_num(hi)}"
    return f"must be {what}"


def _in_range(param: Param, x: float) -> bool:
    if not math.isfinite(x):
        return False
    if param.min is not None and (x < param.min or (x == param.min and not param.min_inclusive)):
        return False
    return not (
        param.max is not None and (x > param.max or (x == param.max and not param.max_inclusive))
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_value(param: Param, value: Any, length: int) -> str | None:
    """The rule `value` breaks, or None."""
    kind = param.kind
    if kind == "int":
        if not _is_int(value):
            return f"{_range_rule(param)} (got {value!r})"
        return None if _in_range(param, value) else f"{_range_rule(param)} (got {value})"
    if kind == "float":
        if not _is_number(value):
            return f"{_range_rule(param)} (got {value!r})"
        return None if _in_range(param, float(value)) else f"{_range_rule(param)} (got {value})"
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false (got {value!r})"
    if kind == "choice":
        if value in param.choices:
            return None
        return f"must be one of {', '.join(param.choices)} (got {value!r})"
    if kind in ("int_list", "float_list"):
        check = _is_int if kind == "int_list" else _is_number
        if not isinstance(value, list | tuple) or not all(check(v) for v in value):
            what = "integers" if kind == "int_list" else "numbers"
            return f"must be a list of {what} (got {value!r})"
        if param.name == "milestones":
            return _check_milestones(list(value))
        return None
    if kind == "formula":
        return _check_formula(value, length)
    return None  # pragma: no cover


def _check_milestones(values: list[int]) -> str | None:
    shown = "[" + ",".join(str(v) for v in values) + "]"
    if any(v < 1 for v in values):
        return f"must be integers >= 1 (got {shown})"
    if len(set(values)) != len(values):
        return f"must not repeat a value (got {shown})"
    if values != sorted(values):
        return f"must be in increasing order (got {shown})"
    return None


_FORMULA_CHECK_EPOCHS = 100_000
"""validate() evaluates a formula at every epoch of the run up to this many."""


def _check_formula(value: Any, length: int) -> str | None:
    if not isinstance(value, str):
        return f"must be a formula of epoch (got {value!r})"
    try:
        formula = compile_formula(value)
        for epoch in range(min(max(1, length), _FORMULA_CHECK_EPOCHS) + 1):
            factor = formula(epoch)
            if factor < 0:
                return f"gives a negative factor {factor:g} at epoch {epoch} ({value})"
    except FormulaError as exc:
        return str(exc)
    return None


def validate(
    spec: SchedulerSpec,
    *,
    epochs: int,
    steps_per_epoch: int,
    optimizer: OptimizerShape = OptimizerShape(),
) -> dict[str, str]:
    """Every problem with `spec` for this run, as {field: message}; empty when valid.

    Values are `Problem` strings: `.severity` is "error" (the run cannot work: wrong types,
    out-of-range values, bad milestones, OneCycleLR shorter than the run, nothing to cycle...)
    or "warning" (it works but probably not as meant: T_max longer or shorter than the run).
    Use `errors_of()` to keep only the errors.
    """
    problems: dict[str, str] = {}
    if not _is_int(epochs) or epochs < 1:
        problems["epochs"] = Problem(f"must be an integer >= 1 (got {epochs})")
    if not _is_int(steps_per_epoch) or steps_per_epoch < 1:
        problems["steps_per_epoch"] = Problem(f"must be an integer >= 1 (got {steps_per_epoch})")
    if problems:
        return problems
    info = _lookup(spec.name)
    if info is None:
        problems[spec.name or "scheduler"] = Problem(
            f"unknown scheduler ({_suggest(spec.name, list(CATALOG))})"
        )
        return problems
    try:
        length = _run_length(spec, epochs, steps_per_epoch)
    except SpecError as exc:
        problems[exc.field] = Problem(exc.message)
        return problems
    _validate_into(problems, spec, info.name, length, steps_per_epoch, optimizer, nested=False)
    return problems


def _validate_into(
    problems: dict[str, str],
    spec: SchedulerSpec,
    prefix: str,
    length: int,
    steps_per_epoch: int,
    optimizer: OptimizerShape,
    *,
    nested: bool,
) -> None:
    def add(key: str, message: str, severity: Severity = "error") -> None:
        problems.setdefault(key, Problem(message, severity))

    info = _lookup(spec.name)
    if info is None:
        add(prefix, f"unknown scheduler ({_suggest(spec.name, list(CATALOG))})")
        return
    if nested and info.name == "ReduceLROnPlateau":
        add(prefix, "cannot be part of SequentialLR/ChainedScheduler: its step() needs the metric")
        return
    names = [p.name for p in info.params]
    for key in spec.params:
        if key not in names:
            add(f"{prefix}.{key}", _unknown_param(info, key).message)
    if info.composite:
        _validate_composite(problems, spec, info, prefix, length, steps_per_epoch, optimizer)
        return
    if spec.children:
        add(prefix, "only SequentialLR and ChainedScheduler have member schedulers")
    resolved = _resolve(spec, length, steps_per_epoch)
    bad: set[str] = set()
    for param in info.params:
        if param.name not in resolved.params:
            continue
        message = _check_value(param, resolved.params[param.name], length)
        if message:
            add(f"{prefix}.{param.name}", message)
            bad.add(param.name)
    values = resolved.params
    unit = "epochs" if info.cadence != "batch" else "steps"
    if info.name == "CosineAnnealingLR" and "T_max" not in bad:
        t_max = values["T_max"]
        if t_max < length:
            add(
                f"{prefix}.T_max",
                f"{t_max} is shorter than the run ({length} {unit}): the LR climbs back up "
                f"after {unit[:-1]} {t_max}",
                "warning",
            )
        elif t_max > length:
            add(
                f"{prefix}.T_max",
                f"{t_max} is longer than the run ({length} {unit}): the LR never reaches eta_min",
                "warning",
            )
    if info.name == "OneCycleLR" and "total_steps" not in bad:
        total = values["total_steps"]
        if total < length:
            add(
                f"{prefix}.total_steps",
                f"must cover the run's {length} steps (got {total}): "
                f"torch raises after step {total}",
            )
        elif total > length:
            add(
                f"{prefix}.total_steps",
                f"{total} is longer than the run ({length} steps): the cycle is cut short",
                "warning",
            )
    cycles = info.name in ("CyclicLR", "OneCycleLR") and values.get("cycle_momentum", True)
    if cycles is True and optimizer.name == "sgd" and optimizer.momentum == 0:
        add(
            f"{prefix}.cycle_momentum",
            "SGD has momentum 0, so torch switches momentum on and cycles it between "
            "base_momentum and max_momentum: set cycle_momentum=false to keep plain SGD",
            "warning",
        )


def _validate_composite(
    problems: dict[str, str],
    spec: SchedulerSpec,
    info: SchedulerInfo,
    prefix: str,
    length: int,
    steps_per_epoch: int,
    optimizer: OptimizerShape,
) -> None:
    def add(key: str, message: str) -> None:
        problems.setdefault(key, Problem(message))

    if len(spec.children) < 2:
        add(
            f"{prefix}.schedulers", f"needs at least 2 member schedulers (got {len(spec.children)})"
        )
        if not spec.children:
            return
    cadences = [(child.name, _safe_cadence(child)) for child in spec.children]
    known = {cadence for _, cadence in cadences if cadence is not None}
    if len(known) > 1:
        listed = ", ".join(f"{name}: {cadence}" for name, cadence in cadences if cadence)
        add(f"{prefix}.schedulers", f"members must share one cadence (got {listed})")
    unit = "steps" if known == {"batch"} else "epochs"
    milestones_ok = True
    if info.name == "SequentialLR":
        given = spec.params.get("milestones")
        try:
            milestones = _milestone_list(spec)
        except SpecError as exc:
            add(exc.field if prefix == "SequentialLR" else f"{prefix}.milestones", exc.message)
            milestones_ok = False
            milestones = []
        if milestones_ok:
            param = info.param("milestones")
            assert param is not None
            rule = _check_value(param, milestones if given is None else given, length)
            if rule:
                add(f"{prefix}.milestones", rule)
                milestones_ok = False
            elif len(milestones) != len(spec.children) - 1:
                add(
                    f"{prefix}.milestones",
                    f"needs {len(spec.children) - 1} values, one per switch "
                    f"(got {len(milestones)})",
                )
                milestones_ok = False
            elif milestones and milestones[-1] >= length:
                add(
                    f"{prefix}.milestones",
                    f"{milestones[-1]} is not inside the run ({length} {unit}): "
                    f"the last member would never run",
                )
                milestones_ok = False
    if not milestones_ok:
        return
    spans = _spans(spec, length)
    for i, (child, span) in enumerate(zip(spec.children, spans, strict=True)):
        child_prefix = f"{prefix}[{i}].{child.name}"
        _validate_into(problems, child, child_prefix, span, steps_per_epoch, optimizer, nested=True)


# --------------------------------------------------------------------------------------------
# Building the real torch objects
# --------------------------------------------------------------------------------------------


def _shape_of(optimizer: torch.optim.Optimizer) -> OptimizerShape:
    group = optimizer.param_groups[0]
    if "betas" in optimizer.defaults:
        b1, b2 = group["betas"]
        return OptimizerShape("adam", betas=(float(b1), float(b2)))
    return OptimizerShape("sgd", momentum=float(group.get("momentum", 0.0)))


def _first_error(problems: Mapping[str, str]) -> SpecError | None:
    errors = errors_of(problems)
    if not errors:
        return None
    key, message = next(iter(errors.items()))
    return SpecError(key, str(message))


def build(
    spec: SchedulerSpec, optimizer: torch.optim.Optimizer, *, epochs: int, steps_per_epoch: int
) -> AnyScheduler:
    """The real torch scheduler for `spec` on `optimizer` (derived values resolved for this run).

    Raises SpecError with the first validation error.
    """
    error = _first_error(
        validate(
            spec, epochs=epochs, steps_per_epoch=steps_per_epoch, optimizer=_shape_of(optimizer)
        )
    )
    if error:
        raise error
    return _construct(resolve(spec, epochs=epochs, steps_per_epoch=steps_per_epoch), optimizer)


def _torch_kwargs(spec: SchedulerSpec) -> dict[str, Any]:
    info = CATALOG[spec.name]
    kwargs: dict[str, Any] = {}
    for key, value in spec.params.items():
        param = info.param(key)
        assert param is not None
        if param.kind == "formula":
            kwargs[key] = compile_formula(value)
        elif param.kind == "float":
            kwargs[key] = float(value)
        elif param.kind in ("int_list", "float_list"):
            kwargs[key] = list(value)
        else:
            kwargs[key] = value
    return kwargs


def _construct(spec: SchedulerSpec, optimizer: torch.optim.Optimizer) -> AnyScheduler:
    """Instantiate an already resolved and validated spec."""
    if spec.name == "SequentialLR":
        members = [_construct(c, optimizer) for c in spec.children]
        return _torch_sched.SequentialLR(
            optimizer, schedulers=members, milestones=list(spec.params["milestones"])
        )
    if spec.name == "ChainedScheduler":
        members = [_construct(c, optimizer) for c in spec.children]
        return _torch_sched.ChainedScheduler(members, optimizer=optimizer)
    cls = CATALOG[spec.name].cls
    return cast(AnyScheduler, cls(optimizer, **_torch_kwargs(spec)))


def _cycles_momentum(spec: SchedulerSpec) -> bool:
    """Whether a resolved spec changes momentum / beta1 during the run."""
    if spec.children:
        return any(_cycles_momentum(c) for c in spec.children)
    if spec.name in ("CyclicLR", "OneCycleLR"):
        return bool(spec.params.get("cycle_momentum", True))
    return False


# --------------------------------------------------------------------------------------------
# Code generation
# --------------------------------------------------------------------------------------------


def _code_value(param: Param, value: Any) -> str:
    if param.kind == "formula":
        return "lambda epoch: " + compile_formula(value).to_python()
    if param.kind == "float":
        return repr(float(value))
    if param.kind in ("int_list", "float_list"):
        return "[" + ", ".join(repr(v) for v in value) + "]"
    return repr(value)


def _code_expr(spec: SchedulerSpec, optimizer_var: str, indent: str) -> str:
    inner = indent + "    "
    if spec.name == "SequentialLR":
        members = "".join(
            f"{inner}    {_code_expr(c, optimizer_var, inner + '    ')},\n" for c in spec.children
        )
        milestones = ", ".join(str(m) for m in spec.params["milestones"])
        return (
            f"SequentialLR(\n{inner}{optimizer_var},\n{inner}schedulers=[\n{members}{inner}],\n"
            f"{inner}milestones=[{milestones}],\n{indent})"
        )
    if spec.name == "ChainedScheduler":
        members = "".join(
            f"{inner}    {_code_expr(c, optimizer_var, inner + '    ')},\n" for c in spec.children
        )
        return (
            f"ChainedScheduler(\n{inner}[\n{members}{inner}],\n"
            f"{inner}optimizer={optimizer_var},\n{indent})"
        )
    info = CATALOG[spec.name]
    args = [optimizer_var]
    for param in info.params:
        if param.name in spec.params:
            args.append(f"{param.name}={_code_value(param, spec.params[param.name])}")
    return f"{spec.name}({', '.join(args)})"


def _class_names(spec: SchedulerSpec) -> set[str]:
    return {spec.name}.union(*(_class_names(c) for c in spec.children))


def _uses_math(spec: SchedulerSpec) -> bool:
    if spec.children:
        return any(_uses_math(c) for c in spec.children)
    value = spec.params.get("lr_lambda")
    return isinstance(value, str) and compile_formula(value).uses_math


_STEP_COMMENTS: dict[Cadence, tuple[str, ...]] = {
    "epoch": ("# once per epoch, after that epoch's optimizer.step() calls:", "# scheduler.step()"),
    "batch": ("# after every optimizer.step() (once per batch):", "# scheduler.step()"),
    "metric": (
        "# once per epoch, after validation, with the validation loss:",
        "# scheduler.step(valid_loss)",
    ),
}


def to_code(
    spec: SchedulerSpec, *, epochs: int, steps_per_epoch: int, optimizer_var: str = "optimizer"
) -> str:
    """Python lines that rebuild this scheduler in a plain PyTorch script (values resolved)."""
    problems = validate(spec, epochs=epochs, steps_per_epoch=steps_per_epoch)
    error = _first_error(problems)
    if error:
        raise error
    resolved = resolve(spec, epochs=epochs, steps_per_epoch=steps_per_epoch)
    cadence = cadence_of(resolved)
    lines: list[str] = []
    if _uses_math(resolved):
        lines.append("import math")
        lines.append("")
    lines.append(
        f"from torch.optim.lr_scheduler import {', '.join(sorted(_class_names(resolved)))}"
    )
    lines.append("")
    lines.append(
        f"# resolved for {epochs} epochs x {steps_per_epoch} steps per epoch ({cadence} cadence)"
    )
    lines.append(f"scheduler = {_code_expr(resolved, optimizer_var, '')}")
    lines.extend(_STEP_COMMENTS[cadence])
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Driving the real scheduler
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlateauState:
    """ReduceLROnPlateau's bookkeeping after the last step (for the plateau chart)."""

    best: float
    num_bad_epochs: int
    cooldown_counter: int


def _make_optimizer(shape: OptimizerShape, base_lr: float) -> torch.optim.Optimizer:
    """A one-parameter optimizer of the right kind: the scheduler only reads its param_groups."""
    param = torch.zeros(1, requires_grad=True)
    if shape.name == "sgd":
        return torch.optim.SGD([param], lr=base_lr, momentum=shape.momentum)
    if shape.name == "adam":
        return torch.optim.Adam([param], lr=base_lr, betas=shape.betas)
    if shape.name == "adamw":
        return torch.optim.AdamW([param], lr=base_lr, betas=shape.betas)
    raise SpecError("optimizer", f"must be sgd, adam or adamw (got {shape.name!r})")


class ScheduleDriver:
    """One run's real torch scheduler on a throwaway one-parameter optimizer, stepped at cadence.

    A training loop that, per epoch, does `optimizer.step()` for each batch (plus `scheduler.step()`
    after each for batch cadence), then `scheduler.step()` (epoch) or `scheduler.step(valid_loss)`
    (metric), uses exactly the LR and momentum values `plan_epoch()` returns, step for step.
    """

    def __init__(
        self,
        spec: SchedulerSpec,
        *,
        epochs: int,
        steps_per_epoch: int,
        base_lr: float,
        optimizer: OptimizerShape = OptimizerShape(),
    ) -> None:
        error = _first_error(
            validate(spec, epochs=epochs, steps_per_epoch=steps_per_epoch, optimizer=optimizer)
        )
        if error:
            raise error
        if not _is_number(base_lr) or not math.isfinite(base_lr) or base_lr <= 0:
            raise SpecError("lr", f"must be a number > 0 (got {base_lr})")
        self.spec = resolve(spec, epochs=epochs, steps_per_epoch=steps_per_epoch)
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.cadence: Cadence = cadence_of(self.spec)
        self.cycles_momentum: bool = _cycles_momentum(self.spec)
        self.optimizer = _make_optimizer(optimizer, float(base_lr))
        self.scheduler: AnyScheduler = _construct(self.spec, self.optimizer)
        self._use_beta1 = "betas" in self.optimizer.defaults
        self._optimizer_stepped = False
        self._epochs_planned = 0

    @property
    def lr(self) -> float:
        """The LR the next optimizer step uses."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def momentum(self) -> float:
        """SGD momentum or Adam beta1 the next optimizer step uses."""
        group = self.optimizer.param_groups[0]
        return float(group["betas"][0] if self._use_beta1 else group["momentum"])

    def _before_scheduler_step(self) -> None:
        # torch warns when scheduler.step() runs before any optimizer.step() (it checks the
        # optimizer's `_opt_called` flag, set by its wrapped step()). A real step of the throwaway
        # optimizer has no gradient to apply, so it changes nothing but that flag.
        if not self._optimizer_stepped:
            self.optimizer.step()
            self._optimizer_stepped = True

    def plan_epoch(self) -> tuple[list[float], list[float]]:
        """LR and momentum/beta1 for each optimizer step of the next epoch.

        For batch cadence the scheduler is stepped after each of those steps, as a training loop
        calling scheduler.step() after optimizer.step() does.
        """
        if self._epochs_planned >= self.epochs:
            raise RuntimeError(f"the run has {self.epochs} epochs; all were planned already")
        self._epochs_planned += 1
        lrs: list[float] = []
        momenta: list[float] = []
        batch = self.cadence == "batch"
        for _ in range(self.steps_per_epoch):
            lrs.append(self.lr)
            momenta.append(self.momentum)
            if batch:
                self._before_scheduler_step()
                self.scheduler.step()  # type: ignore[call-arg]
        return lrs, momenta

    def end_epoch(self, metric: float | None = None) -> None:
        """Step at the end of an epoch: epoch cadence step(); metric cadence step(metric)."""
        if self.cadence == "batch":
            return
        self._before_scheduler_step()
        if self.cadence == "metric":
            if metric is None:
                raise ValueError("ReduceLROnPlateau needs the epoch's metric (validation loss)")
            cast(_torch_sched.ReduceLROnPlateau, self.scheduler).step(metric)
        else:
            self.scheduler.step()  # type: ignore[call-arg]

    def plateau_state(self) -> PlateauState | None:
        """ReduceLROnPlateau's best metric, bad-epoch count and cooldown; None for others."""
        sched = self.scheduler
        if not isinstance(sched, _torch_sched.ReduceLROnPlateau):
            return None
        return PlateauState(
            float(sched.best), int(sched.num_bad_epochs), int(sched.cooldown_counter)
        )


@dataclass(frozen=True)
class Preview:
    """The exact LR (and momentum) curve of a spec for one run length."""

    spec: SchedulerSpec  # resolved (derived params filled)
    cadence: Cadence
    lr_per_step: list[float]  # the LR optimizer step i uses, for every step of the run
    momentum_per_step: list[float] | None  # when the scheduler cycles momentum / beta1
    lr_per_epoch: list[float]  # LR of each epoch's first step
    steps_per_epoch: int


def preview(
    spec: SchedulerSpec,
    *,
    epochs: int,
    steps_per_epoch: int = 1,
    base_lr: float = 0.1,
    optimizer: OptimizerShape = OptimizerShape(),
    metrics: Sequence[float] | None = None,
) -> Preview:
    """Step the real scheduler on a fresh throwaway optimizer over the whole run.

    ReduceLROnPlateau is stepped with metrics[epoch] (a constant metric when None).
    """
    driver = ScheduleDriver(
        spec, epochs=epochs, steps_per_epoch=steps_per_epoch, base_lr=base_lr, optimizer=optimizer
    )
    if metrics is not None and driver.cadence == "metric" and len(metrics) < epochs:
        raise SpecError("metrics", f"need one value per epoch ({epochs}), got {len(metrics)}")
    lr_per_step: list[float] = []
    momentum_per_step: list[float] = []
    lr_per_epoch: list[float] = []
    for epoch in range(epochs):
        lrs, momenta = driver.plan_epoch()
        lr_per_step.extend(lrs)
        momentum_per_step.extend(momenta)
        lr_per_epoch.append(lrs[0])
        metric = None
        if driver.cadence == "metric":
            metric = float(metrics[epoch]) if metrics is not None else 1.0
        driver.end_epoch(metric)
    return Preview(
        spec=driver.spec,
        cadence=driver.cadence,
        lr_per_step=lr_per_step,
        momentum_per_step=momentum_per_step if driver.cycles_momentum else None,
        lr_per_epoch=lr_per_epoch,
        steps_per_epoch=steps_per_epoch,
    )
