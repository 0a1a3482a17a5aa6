"""Headless subcommands: each module has `add_arguments(parser)` and `main(args) -> int`."""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any, Protocol, TextIO, cast


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


class OutputError(OSError):
    """Standard output cannot be written (a full disk, an I/O error; not a closed pipe, which
    stays BrokenPipeError): `lrtui` says so in one line on stderr and exits with code 1."""

    def __str__(self) -> str:
        return f"cannot write the output (stdout): {self.strerror or 'write failed'}"


def say(line: str) -> None:
    """One line on stderr; nothing (rather than a traceback) when stderr itself is broken or
    closed (Python's sys.stderr is None when fd 2 was closed at start: print would use stdout)."""
    if sys.stderr is None:
        return
    with suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def is_terminal(stream: object) -> bool:
    """Whether `stream` is a terminal; False for None (fd closed at start) or a broken one."""
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return False


def silence_stdout() -> None:
    """Point fd 1 at /dev/null, so Python's flush at exit finds somewhere to put what is left
    in the buffer instead of failing again (after a closed pipe or a full disk)."""
    with suppress(OSError, ValueError, AttributeError):  # AttributeError: no stdout at all
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class _GuardedStdout:
    """sys.stdout whose write/flush failures (other than a closed pipe) raise OutputError, so
    that they are told apart from every other OSError a command may meet."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is None:  # fd 1 was closed when Python started (`lrtui ... >&-`)
            raise OutputError(errno.EBADF, "standard output is closed")
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from exc

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from exc

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def guarded_stdout() -> Iterator[None]:
    """sys.stdout raises OutputError for a failed write inside (see _GuardedStdout)."""
    previous = sys.stdout
    sys.stdout = cast(TextIO, _GuardedStdout(previous))
    try:
        yield
    finally:
        sys.stdout = previous


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


def glue_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """`argv` with every value that starts with '-' glued to its option (`-s -StepLR` ->
    `-s=-StepLR`, `--lr -1e-3` -> `--lr=-1e-3`), so argparse hands it to the option instead of
    stopping with its usage text; the command then judges the value itself in one line.
    A value that is itself an option of the command (`--epochs --json`) is left alone."""
    out: list[str] = []
    current = parser
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.extend(argv[i:])
            break
        takes_value, known, commands = _options_of(current)
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if (token in takes_value and nxt is not None and nxt.startswith("-") and nxt != "-"
                and not _is_option(nxt, known)):
            out.append(f"{token}={nxt}")
            i += 2
            continue
        if token in commands:
            current = commands[token]
        elif token in takes_value:  # its value is the next token, whatever it is
            out.append(token)
            if nxt is not None:
                out.append(nxt)
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def _options_of(
    parser: argparse.ArgumentParser,
) -> tuple[set[str], set[str], dict[str, argparse.ArgumentParser]]:
    """(options that take one value, every option string, subcommand parsers) of one parser."""
    takes_value: set[str] = set()
    known: set[str] = set()
    commands: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
        known.update(action.option_strings)
        if action.option_strings and action.nargs is None:
            takes_value.update(action.option_strings)
    return takes_value, known, commands


def _is_option(token: str, known: set[str]) -> bool:
    """Whether argparse would read `token` as one of the parser's options (also `--opt=x` and
    an abbreviation of a long option)."""
    name = token.split("=", 1)[0]
    if name in known:
        return True
    return name.startswith("--") and any(k.startswith(name) for k in known)
