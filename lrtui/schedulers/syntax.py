"""Spec strings (`StepLR:step_size=10 -> @5 ExponentialLR`) and TOML tables, both ways."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from lrtui.schedulers.composite import milestones_from_lengths
from lrtui.schedulers.entries import ENTRIES, lookup, unknown_param, unknown_scheduler
from lrtui.schedulers.errors import SpecError
from lrtui.schedulers.params import WORD_RE, Param, RawValue, coerce_native, value_from_text
from lrtui.schedulers.spec import MAX_DEPTH, SchedulerSpec, too_deep

_TOKEN_RE = re.compile(
    r"(?:\d+|[A-Za-z_]\w*)(?:-(?!>)[A-Za-z_]\w*)+"  # choices such as 1-sqrt (never '->')
    r"|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[A-Za-z_][A-Za-z0-9_]*"
)


class _Parser:
    """Recursive descent over: seq := chain ('->' ['@' INT] chain)*; chain := atom ('+' atom)*;
    atom := '(' seq ')' | NAME [':' key=value (',' key=value)*]."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0  # open brackets around the current position

    def error(self, message: str) -> SpecError:
        text = self.text
        if len(text) > 80:  # a window around the column keeps the message one readable line
            start = max(0, self.pos - 30)
            text = ("..." if start else "") + text[start : self.pos + 30] + "..."
        return SpecError("spec", f"{message} at column {self.pos + 1} of {text!r}")

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
            "SequentialLR",
            {"milestones": milestones_from_lengths(members, explicit)},
            tuple(members),
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
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"brackets nested deeper than {MAX_DEPTH} levels")
            spec = self.seq()
            if not self.take(")"):
                raise self.error("expected ')'")
            self.depth -= 1
            return spec
        self.skip()
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.text, self.pos)
        if not match:
            raise self.error("expected a scheduler name")
        self.pos = match.end()
        info = lookup(match.group())
        if info is None:
            raise unknown_scheduler(match.group())
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
                    raise unknown_param(info, key)
                if key in params:
                    raise SpecError(f"{info.name}.{key}", "given twice")
                if not self.take("="):
                    raise self.error(f"expected '=' after {key!r}")
                params[key] = value_from_text(f"{info.name}.{key}", param, self.value())
                if not self.take(","):
                    break
        return SchedulerSpec(info.name, params)

    def value(self) -> RawValue:
        self.skip()
        if self.pos >= len(self.text):
            raise self.error("expected a value")
        ch = self.text[self.pos]
        if ch in "\"'":
            return RawValue("quoted", self.quoted(ch))
        if ch == "[":
            self.pos += 1
            items: list[RawValue] = []
            if not self.take("]"):
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise self.error(f"brackets nested deeper than {MAX_DEPTH} levels")
                while True:
                    items.append(self.value())
                    if self.take("]"):
                        break
                    if not self.take(","):
                        raise self.error("expected ',' or ']'")
                self.depth -= 1
            return RawValue("list", items=tuple(items))
        match = _TOKEN_RE.match(self.text, self.pos)
        if not match:
            raise self.error("expected a value")
        self.pos = match.end()
        return RawValue("bare", match.group())

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


def _format_value(param: Param | None, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_format_value(None, v) for v in value) + "]"
    text = str(value)
    if param is not None and param.kind == "choice" and WORD_RE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def short_spec(spec: SchedulerSpec | str) -> str:
    """A spec (or spec string) in the few characters a table cell or legend has for it, each
    entry's own rule (`SchedulerInfo.short`): `StepLR 10/0.1`, `LinearLR 5 → Cosine`. A string
    that does not parse comes back as its first word."""
    if isinstance(spec, str):
        text = spec
        try:
            spec = parse_spec(text)
        except SpecError:
            return re.split(r"[:(\s]", text.strip(), maxsplit=1)[0] or text
    info = lookup(spec.name)
    if info is None:
        return spec.name
    return info.short(spec.params, [short_spec(child) for child in spec.children])


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
    info = ENTRIES.get(spec.name)
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


def spec_from_toml(table: Mapping[str, Any], _depth: int = 0) -> SchedulerSpec:
    """A spec from a TOML table: `{name="StepLR", step_size=10}` or a composite
    `{name="SequentialLR", milestones=[5], schedulers=[{...}, {...}]}` (milestones may be left out
    when each member but the last has a total_iters / T_max)."""
    if _depth > MAX_DEPTH:
        raise too_deep("scheduler.schedulers")
    if not isinstance(table, Mapping):
        raise SpecError("scheduler", f"must be a table (got {table!r})")
    name = table.get("name")
    if not isinstance(name, str):
        raise SpecError("scheduler.name", 'missing: give the scheduler\'s name, e.g. name="StepLR"')
    info = lookup(name)
    if info is None:
        raise unknown_scheduler(name)
    if info.composite:
        members = table.get("schedulers")
        if not isinstance(members, list) or not members:
            raise SpecError(f"{info.name}.schedulers", "must be a list of scheduler tables")
        children = tuple(spec_from_toml(m, _depth + 1) for m in members)
        extra = set(table) - {"name", "schedulers", "milestones"}
        if info.name == "ChainedScheduler":
            extra |= {"milestones"} & set(table)
        for key in sorted(extra):
            raise unknown_param(info, key)
        if info.name == "ChainedScheduler":
            return SchedulerSpec(info.name, {}, children)
        given = table.get("milestones")
        if given is None:
            milestones = milestones_from_lengths(children, [None] * (len(children) - 1))
        else:
            param = info.param("milestones")
            assert param is not None
            milestones = coerce_native(info.name, param, given)
        return SchedulerSpec(info.name, {"milestones": milestones}, children)
    params: dict[str, Any] = {}
    for key, value in table.items():
        if key == "name":
            continue
        param = info.param(key)
        if param is None:
            raise unknown_param(info, key)
        params[key] = coerce_native(info.name, param, value)
    return SchedulerSpec(info.name, params)
