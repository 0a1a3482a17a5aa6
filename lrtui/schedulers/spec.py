"""What a user chose (`SchedulerSpec`) and what the throwaway optimizer looks like."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lrtui.schedulers.entries import lookup
from lrtui.schedulers.errors import SpecError
from lrtui.schedulers.params import OptimizerShape, coerce_native

__all__ = ["MAX_DEPTH", "OptimizerShape", "SchedulerSpec", "depth_of", "too_deep"]

MAX_DEPTH = 8
"""Deepest nesting of composites (and of brackets in a spec string): far more than any schedule
needs, and it keeps every recursive walk of a spec far from Python's recursion limit."""


def too_deep(field: str) -> SpecError:
    """The one message for a spec nested beyond MAX_DEPTH, wherever it was written."""
    return SpecError(field, f"nested deeper than {MAX_DEPTH} levels")


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
    def from_dict(cls, d: Mapping[str, Any], _depth: int = 0) -> SchedulerSpec:
        """Inverse of `to_dict` (lenient: unknown names/params are kept for validate to report).

        SpecError for a spec nested deeper than MAX_DEPTH."""
        if _depth > MAX_DEPTH:
            raise too_deep("scheduler")
        if not isinstance(d, Mapping) or not isinstance(d.get("name"), str):
            raise SpecError("scheduler", f"must be a table with a name (got {str(d)[:60]})")
        if not isinstance(d.get("params") or {}, Mapping):
            raise SpecError(f"{d['name']}.params", "must be a table of parameters")
        if not isinstance(d.get("children") or [], list | tuple):
            raise SpecError(f"{d['name']}.children", "must be a list of schedulers")
        name = str(d["name"])
        info = lookup(name)
        params: dict[str, Any] = {}
        for key, value in dict(d.get("params") or {}).items():
            param = info.param(key) if info else None
            params[key] = coerce_native(name, param, value, strict=False) if param else value
        children = tuple(cls.from_dict(c, _depth + 1) for c in d.get("children") or ())
        return cls(info.name if info else name, params, children)

    def __str__(self) -> str:
        from lrtui.schedulers.syntax import format_spec  # syntax builds on this module

        return format_spec(self)


def depth_of(spec: SchedulerSpec) -> int:
    """Composite levels above the deepest member (0 for a plain scheduler); iterative, so a spec
    built nested thousands deep gets a number, not RecursionError."""
    deepest = 0
    stack = [(spec, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children)
    return deepest


def _plain(value: Any) -> Any:
    """Lists and dicts as JSON wants them (tuples become lists)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
