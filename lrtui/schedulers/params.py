"""Parameter types: how one constructor argument is typed, read from text or TOML, and checked."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from lrtui.expr import Formula, FormulaError, compile_formula
from lrtui.numbering import counted
from lrtui.schedulers.errors import SpecError

Cadence = Literal["epoch", "batch", "metric"]
# How a person reads a cadence: the words of `interval=`, not the engine's.
CADENCE_WORDS: dict[Cadence, str] = {
    "epoch": "per epoch",
    "batch": "per optimizer step",
    "metric": "on the valid loss",
}
Interval = Literal["epoch", "step"]
INTERVALS: tuple[Interval, ...] = ("epoch", "step")
ParamKind = Literal["int", "float", "bool", "choice", "int_list", "float_list", "formula"]


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
    torch_arg: bool = True  # passed to the torch class as is (False: interval, recipe values)
    required: bool = False  # torch's constructor has no default for it (a test checks)


@dataclass(frozen=True)
class Run:
    """The run a scheduler (or a composite's member) is resolved for, counted in its own steps."""

    epochs: int
    steps_per_epoch: int  # optimizer steps per epoch
    interval: Interval  # what one scheduler step is
    length: int  # scheduler steps this scheduler runs for (a composite member: its span)

    @property
    def per_epoch(self) -> int:
        """Scheduler steps per epoch."""
        return self.steps_per_epoch if self.interval == "step" else 1

    @property
    def total_steps(self) -> int:
        """Optimizer steps in the whole run (the formulas' `total_steps`)."""
        return self.epochs * self.steps_per_epoch

    @property
    def unit(self) -> str:
        """What the scheduler counts, for messages."""
        return "steps" if self.interval == "step" else "epochs"

    @property
    def length_text(self) -> str:
        """The run's length in the scheduler's unit, for messages: '1 epoch', '250 steps'."""
        return counted(self.length, self.unit.removesuffix("s"))

    def formula_constants(self) -> dict[str, int]:
        """The run's constants a LambdaLR / MultiplicativeLR formula may use."""
        return {
            "total_steps": self.total_steps,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
        }


@dataclass(frozen=True)
class OptimizerShape:
    """What the throwaway optimizer needs to look like (momentum matters to cycled schedules)."""

    name: Literal["sgd", "adam", "adamw"] = "sgd"
    momentum: float = 0.0  # sgd
    betas: tuple[float, float] = (0.9, 0.999)  # adam/adamw


MAX_INT = 10**12
"""Largest value of any integer parameter (step sizes, lengths, patience, milestones...): far beyond
any run, and small enough for torch's float arithmetic on it (an int of 400 digits overflows)."""

_INT_RE = re.compile(r"[-+]?\d+\Z")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")
WORD_RE = re.compile(r"(?:[A-Za-z_]\w*|\d+(?=-))(?:-[A-Za-z_]\w*)*\Z")
"""A choice written bare in a spec: a word, or words joined by '-' such as 1-sqrt."""


@dataclass(frozen=True)
class RawValue:
    """A value as written in a spec string: bare token, quoted text, or list of those."""

    kind: Literal["bare", "quoted", "list"]
    text: str = ""
    items: tuple[RawValue, ...] = ()


def _scalar_from_text(field_name: str, kind: ParamKind, raw: RawValue) -> Any:
    text = raw.text
    if kind == "int":
        if raw.kind == "bare" and _INT_RE.match(text):
            return int(text)
        raise SpecError(field_name, f"must be an integer (got {shown(text)})")
    if kind == "float":
        if raw.kind == "bare" and _NUMBER_RE.match(text):
            value = float(text)
            if not math.isfinite(value):
                raise SpecError(field_name, f"must be a finite number (got {shown(text)})")
            return value
        raise SpecError(field_name, f"must be a number (got {shown(text)})")
    if kind == "bool":
        low = text.lower()
        if raw.kind == "bare" and low in ("true", "false", "1", "0", "yes", "no"):
            return low in ("true", "1", "yes")
        raise SpecError(field_name, f"must be true or false (got {text})")
    # choice and formula: any text; validate() checks choices and formula rules
    return text


def value_from_text(field_name: str, param: Param, raw: RawValue) -> Any:
    if param.kind in ("int_list", "float_list"):
        item_kind: ParamKind = "int" if param.kind == "int_list" else "float"
        items = raw.items if raw.kind == "list" else (raw,)
        if any(item.kind == "list" for item in items):
            raise SpecError(field_name, "nested lists are not allowed")
        return [_scalar_from_text(field_name, item_kind, item) for item in items]
    if raw.kind == "list":
        raise SpecError(field_name, f"must be a single {param.kind}, not a list")
    return _scalar_from_text(field_name, param.kind, raw)


def coerce_native(sched: str, param: Param, value: Any, *, strict: bool = True) -> Any:
    """A TOML/JSON value as the param's Python type (int -> float for float params).

    strict=True raises SpecError on a wrong type; strict=False keeps the value for validate().
    """
    field_name = f"{sched}.{param.name}"

    def bad(what: str) -> Any:
        if strict:
            raise SpecError(field_name, f"must be {what} (got {shown(repr(value))})")
        return value

    kind = param.kind
    if kind == "int":
        return (
            value if isinstance(value, int) and not isinstance(value, bool) else bad("an integer")
        )
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _as_float(value) if math.isfinite(_as_float(value)) else bad("a finite number")
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
            floats = [_as_float(v) for v in value]
            return floats if all(map(math.isfinite, floats)) else bad("a list of finite numbers")
        return bad("a list of numbers")
    return bad("a list")


def _as_float(value: float) -> float:
    """float(value), with inf for an integer beyond the float range (validate() refuses it with a
    message instead of OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def shown(value: Any, limit: int = 40) -> str:
    """A value for a message: long numbers (an integer of 400 digits) shortened, and their length
    said, so one line stays one line."""
    text = str(value)
    if len(text) <= limit:
        return text
    unit = "digits" if text.lstrip("-+").isdigit() else "characters"
    return f"{text[:12]}...{text[-6:]} ({len(text)} {unit})"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


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
    # ints are compared as ints: math.isfinite(10**400) raises OverflowError
    if not isinstance(x, int) and not math.isfinite(x):
        return False
    if param.min is not None and (x < param.min or (x == param.min and not param.min_inclusive)):
        return False
    return not (
        param.max is not None and (x > param.max or (x == param.max and not param.max_inclusive))
    )


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_value(param: Param, value: Any, run: Run) -> str | None:
    """The rule `value` breaks, or None."""
    kind = param.kind
    if kind == "int":
        if not is_int(value):
            return f"{_range_rule(param)} (got {shown(repr(value))})"
        if not _in_range(param, value):
            return f"{_range_rule(param)} (got {shown(value)})"
        if value > MAX_INT:
            return f"must be an integer <= {MAX_INT} (got {shown(value)})"
        return None
    if kind == "float":
        if not is_number(value):
            return f"{_range_rule(param)} (got {shown(repr(value))})"
        x = _as_float(value)
        return None if _in_range(param, x) else f"{_range_rule(param)} (got {shown(value)})"
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false (got {value!r})"
    if kind == "choice":
        if value in param.choices:
            return None
        return f"must be one of {', '.join(param.choices)} (got {shown(repr(value))})"
    if kind in ("int_list", "float_list"):
        check = is_int if kind == "int_list" else is_number
        if not isinstance(value, list | tuple) or not all(check(v) for v in value):
            what = "integers" if kind == "int_list" else "numbers"
            return f"must be a list of {what} (got {shown(repr(value))})"
        if param.name == "milestones":
            return _check_milestones(list(value))
        return None
    if kind == "formula":
        return _check_formula(value, run)
    return None  # pragma: no cover


def _check_milestones(values: list[int]) -> str | None:
    text = shown("[" + ",".join(str(v) for v in values) + "]", 80)
    if any(v < 1 for v in values):
        return f"must be integers >= 1 (got {text})"
    if any(v > MAX_INT for v in values):
        return f"must be integers <= {MAX_INT} (got {text})"
    if len(set(values)) != len(values):
        return f"must not repeat a value (got {text})"
    if values != sorted(values):
        return f"must be in increasing order (got {text})"
    return None


_FORMULA_CHECK_STEPS = 100_000
"""validate() evaluates a formula at every scheduler step of the run up to this many (the dry run,
the preview and the driver cover the rest and name a step that fails)."""

FORMULA_VARIABLES = ("step",)
FORMULA_ALIASES = ("epoch",)


def formula_of(text: str, run: Run) -> Formula:
    """A LambdaLR / MultiplicativeLR formula of `step` (alias `epoch`: the scheduler's step count)
    with the run's constants bound: total_steps, steps_per_epoch, epochs."""
    return compile_formula(
        text, FORMULA_VARIABLES, aliases=FORMULA_ALIASES, constants=run.formula_constants()
    )


def _check_formula(value: Any, run: Run) -> str | None:
    if not isinstance(value, str):
        return f"must be a formula of epoch (got {shown(repr(value))})"
    try:
        formula = formula_of(value, run)
        word = "step" if "step" in formula.names or run.interval == "step" else "epoch"
        for step in range(min(max(1, run.length), _FORMULA_CHECK_STEPS) + 1):
            factor = formula(step)
            if factor < 0:
                # the formula's variable, as the user wrote it (not an epoch number)
                return f"gives a negative factor {factor:g} at {word}={step} ({value})"
    except FormulaError as exc:
        return str(exc)
    return None
