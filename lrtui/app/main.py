"""Placeholder app until the terminal app lands (issue 5)."""

from __future__ import annotations

import argparse

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class PlaceholderApp(App[None]):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("lrtui — the terminal app is coming. Try `lrtui preview --help`.")
        yield Footer()


def run_app(args: argparse.Namespace) -> int:
    PlaceholderApp().run()
    return 0
