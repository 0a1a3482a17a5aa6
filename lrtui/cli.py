"""Entry point: no arguments opens the TUI; subcommands run headless."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import NoReturn

from lrtui import __version__
from lrtui.commands import UsageError, glue_dash_values

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


class OneLineErrors(argparse.ArgumentParser):
    """argparse with the project's bad-input rule: one line on stderr, exit code 2 (its usage text
    stays behind --help)."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", message)
        self.exit(2, f"lrtui: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(glue_dash_values(parser, sys.argv[1:] if argv is None else argv))
    try:
        if args.command is None:
            from lrtui.commands import tui

            return tui.main(args)
        return int(args._module.main(args))
    except UsageError as exc:
        print(f"lrtui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`lrtui ... --json | head`): stop quietly, as `cat` does.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
