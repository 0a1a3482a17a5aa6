"""Headless subcommands: each module has `add_arguments(parser)` and `main(args) -> int`."""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any, Protocol


class UsageError(Exception):
    """Bad input from the user: `lrtui` prints it as one line on stderr and exits with code 2."""


def strict_json(obj: Any, **kwargs: Any) -> str:
    """json.dumps that never writes NaN or Infinity (not JSON): non-finite numbers become null."""
    return json.dumps(_finite_only(obj), allow_nan=False, **kwargs)


def _finite_only(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: _finite_only(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_only(v) for v in obj]
    return obj


class _Stoppable(Protocol):
    def stop(self) -> None: ...


class CtrlC:
    """Whether Ctrl+C was pressed inside `ctrl_c_stops`."""

    pressed: bool = False


@contextmanager
def ctrl_c_stops(control: _Stoppable) -> Iterator[CtrlC]:
    """The first Ctrl+C asks `control` to stop, so training ends cleanly (the caller exits 130);
    a second one interrupts at once. Outside the main thread nothing is installed."""
    state = CtrlC()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        state.pressed = True
        control.stop()
        signal.signal(signal.SIGINT, previous)

    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # installed from outside Python: restore the default
        previous = signal.SIG_DFL
    installed = False
    with suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGINT, on_sigint)
        installed = True
    try:
        yield state
    finally:
        if installed:
            signal.signal(signal.SIGINT, previous)
