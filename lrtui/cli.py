"""Entry point: no arguments opens the TUI; subcommands run headless."""

from __future__ import annotations

import argparse
import re
import signal
import sys
from collections.abc import Sequence
from contextlib import suppress
from importlib import import_module
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from lrtui import __version__
from lrtui.commands import (
    OutputError,
    UsageError,
    glue_dash_values,
    guarded_stdout,
    say,
    silence_stdout,
)

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

# name -> (module under lrtui.commands, one-line help). Order is the order `--help` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "train one or more schedules together, headless"),
    "preview": (
        "preview",
        "print the exact LR (and momentum) a schedule produces, before training",
    ),
    "runs": ("runs", "list, show, export or delete stored runs"),
    "find-lr": ("find_lr", "LR range test: sweep the LR and suggest where to put it"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with the project's rules: a mistake is one line on stderr, exit code 2 (its usage
    text stays behind --help); a failed write of --help or --version is not swallowed (argparse
    ignores it and exits 0 with nothing printed): it becomes the one-line output error."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", message)
        self.exit(2, f"lrtui: error: {message} (see `{self.prog} --help`)\n")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            try:
                (file or sys.stderr).write(message)
            except BrokenPipeError:
                raise
            except OSError as exc:
                raise OutputError(exc.errno, exc.strerror) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lrtui",
        description="A keyboard-driven terminal lab for PyTorch learning-rate schedules. "
        "With no subcommand, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"lrtui {__version__}")
    parser.add_argument(
        "--dataset", help="dataset for the app (mnist, fashion-mnist, kmnist, mnist-sample)"
    )
    parser.add_argument("--data-dir", help="folder that holds (or receives) the dataset files")
    parser.add_argument(
        "--db", help="run history database (default: the user data dir; env LRTUI_DB)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = import_module(f"lrtui.commands.{module}")
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


class _CtrlC:
    """Whether Ctrl+C came during this `main`: one that lands inside a C extension's import
    (torch loading numpy) does not come out as KeyboardInterrupt but as the error of a retried
    import ("cannot load module more than once per process")."""

    seen = False


def _on_sigint(signum: int, frame: FrameType | None) -> NoReturn:
    _CtrlC.seen = True
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and run one command. Exit codes: 0, 1 (a failure, e.g. the output or the run history
    could not be written), 2 (bad input), 130 (Ctrl+C, also while the imports still load),
    141 (the reader of the output went away)."""
    _CtrlC.seen = False
    previous = signal.getsignal(signal.SIGINT)
    with suppress(ValueError):  # not the main thread: Python's own handler stays
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        return _main(argv)
    except UsageError as exc:
        say(f"lrtui: error: {exc}")
        return 2
    except OutputError as exc:
        silence_stdout()
        say(f"lrtui: error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`lrtui ... --json | head`): stop quietly, as `cat` does.
        silence_stdout()
        return 141
    except Exception:
        if _CtrlC.seen:  # the interrupted import's own error: the user pressed Ctrl+C
            return 130
        raise
    finally:
        with suppress(ValueError, TypeError):
            signal.signal(signal.SIGINT, previous)


def _main(argv: Sequence[str] | None) -> int:
    with guarded_stdout():  # stdout that cannot be written: OutputError, one line
        try:
            parser = build_parser()  # imports every command (torch, for some): Ctrl+C is 130 too
            args = parser.parse_args(
                glue_dash_values(parser, sys.argv[1:] if argv is None else argv)
            )
        except SystemExit:  # --help / --version / a usage error: flush what was printed first
            sys.stdout.flush()
            raise
        if args.command is not None:
            code = int(args._module.main(args))
            sys.stdout.flush()
            return code
    from lrtui.commands import tui  # the app owns the terminal: no guard around it

    return tui.main(args)


if __name__ == "__main__":
    raise SystemExit(main())
