"""Opens the terminal app (no subcommand)."""

from __future__ import annotations

import argparse


def main(args: argparse.Namespace) -> int:
    from lrtui.app.main import run_app

    return run_app(args)
