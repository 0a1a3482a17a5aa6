"""Snapshot tests of the app's screens (pytest-textual-snapshot).

Deterministic by construction: tiny synthetic data (fixed seed), a fresh store whose file is always
called snap.db, a fixed device line, no times or paths on screen. Regenerate with
`pytest tests/test_app_snapshots.py --snapshot-update` after an intended change, and look at them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_app_support import make_app, settle, wait_for


def _preview_app(tmp_path: Path) -> Any:
    return make_app(tmp_path / "snap.db", epochs=6, scheduler="OneCycleLR",
                    params={"cycle_momentum": False, "max_lr": "0.5"})


async def _settled(pilot: Any) -> None:
    await settle(pilot, pilot.app)


def test_main_screen_with_preview(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(_preview_app(tmp_path), terminal_size=(120, 40), run_before=_settled)


def test_main_screen_at_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(_preview_app(tmp_path), terminal_size=(80, 24), run_before=_settled)


def test_finished_comparison(snap_compare: Any, tmp_path: Path) -> None:
    app = make_app(tmp_path / "snap.db", epochs=4)

    async def compare(pilot: Any) -> None:
        await settle(pilot, app)
        await pilot.press("t")
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="tutorial")
        await settle(pilot, app)
        await pilot.press("l")  # the LR on a log scale shows the four schedules apart

    assert snap_compare(app, terminal_size=(120, 40), run_before=compare)


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    async def open_help(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        await pilot.press("question_mark")

    assert snap_compare(_preview_app(tmp_path), terminal_size=(100, 34), run_before=open_help)
