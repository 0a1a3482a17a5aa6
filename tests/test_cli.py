"""The entry point itself: help, unbuilt paths, and a closed pipe."""

from __future__ import annotations

import subprocess
import sys

from lrtui.cli import COMMANDS, build_parser


def test_help_lists_every_subcommand() -> None:
    text = build_parser().format_help()
    for name in ("run", "preview", "runs", "find-lr"):
        assert name in text and name in COMMANDS


def test_a_closed_pipe_is_not_a_traceback() -> None:
    """`lrtui preview ... --json | head -c 10` must end quietly when head stops reading."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrtui", "preview", "-s", "StepLR", "--epochs", "200000", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b'{"spec": "'
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and err == ""
