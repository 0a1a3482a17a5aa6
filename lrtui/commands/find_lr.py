"""`lrtui find-lr`: not built yet."""

from __future__ import annotations

import argparse

from lrtui.commands import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def main(args: argparse.Namespace) -> int:
    raise UsageError("'find-lr' is not built yet in this version of lrtui")
