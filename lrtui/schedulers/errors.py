"""What can go wrong with a spec: the error type callers catch, and validation messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Severity = Literal["error", "warning"]


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
