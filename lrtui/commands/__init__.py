"""Headless subcommands: each module has `add_arguments(parser)` and `main(args) -> int`."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Protocol


class UsageError(Exception):
    """Bad input from the user: `lrtui` prints it as one line on stderr and exits with code 2."""


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
