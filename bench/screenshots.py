"""Screenshots of the real app (a script, not a test): writes SVGs to screenshots/.

Drives `lrtui` headless with Textual's pilot, the real engine and a temporary run history, on
mnist-sample (offline; 4,000 train digits), the way a new user would:

  main.svg        OneCycleLR chosen with the keyboard, its exact preview before training
  lrfind.svg      the LR range test of that form (key f), its valley suggestion put into
                  OneCycleLR's max_lr (key m)
  comparison.svg  the tutorial's four schedulers trained together (key t), LR on a log scale
  details.svg     one run's details (enter): config, per-epoch table, PyTorch code
  help.svg        every key (?)
  small.svg       the same runs on an 80x24 terminal with the form shown: the scheduler's
                  parameters beside the LR chart

    python bench/screenshots.py [--out screenshots] [--epochs 25]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lrtui.app.app import LrtuiApp
from lrtui.app.form import FormValues
from lrtui.app.lrfind_screen import RangeTestScreen
from lrtui.app.screens import DetailsScreen, HelpScreen
from lrtui.store import Store


async def wait_until(pilot: Any, condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.05)


async def settle(pilot: Any, app: LrtuiApp) -> None:
    for _ in range(2):
        await wait_until(pilot, lambda: app.settled, 60, "the screen to settle")
        await pilot.pause(0.1)


def make_app(db: Path, epochs: int) -> LrtuiApp:
    return LrtuiApp(store=Store(db), default_dataset="mnist-sample",
                    initial=FormValues(dataset="mnist-sample", device="cpu"),
                    tutorial_epochs=epochs)


async def shoot(out: Path, epochs: int) -> list[Path]:
    written: list[Path] = []

    def save(app: LrtuiApp, name: str) -> None:
        app.save_screenshot(name, str(out))
        written.append(out / name)

    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp) / "runs.db", epochs)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, app)
            await pilot.press("enter", *"OneCycle", "enter")
            await wait_until(pilot, lambda: "param:max_lr" in app.sidebar.widgets, 10, "form")
            await settle(pilot, app)
            save(app, "main.svg")
            await pilot.press("escape", "f")
            await wait_until(pilot, lambda: isinstance(app.screen, RangeTestScreen), 120,
                             "the range test")
            view = app.screen
            assert isinstance(view, RangeTestScreen)
            await pilot.press("m")
            await wait_until(pilot, lambda: view.chart.drawn and bool(view.status), 10,
                             "the range test view")
            await pilot.pause(0.3)
            save(app, "lrfind.svg")
            await pilot.press("escape")
            await settle(pilot, app)
            await pilot.press("t")
            await wait_until(pilot, lambda: app.jobs_started == 1 and app.job is None,
                             600, "the tutorial's comparison")
            await pilot.press("l")
            await settle(pilot, app)
            save(app, "comparison.svg")
            await pilot.press("enter", "down", "enter")  # the group's seeds, then seed 0's details
            await wait_until(pilot, lambda: isinstance(app.screen, DetailsScreen), 10, "details")
            await pilot.pause(0.3)
            save(app, "details.svg")
            await pilot.press("escape", "question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 10, "help")
            await pilot.pause(0.3)
            save(app, "help.svg")
        app.store.close()

        small = LrtuiApp(store=Store(Path(tmp) / "runs.db"), default_dataset="mnist-sample",
                         initial=FormValues(dataset="mnist-sample", device="cpu"))
        async with small.run_test(size=(80, 24)) as pilot:
            await settle(pilot, small)
            await pilot.press("escape")
            for _ in range(4):  # show the tutorial's four groups (the table's newest rows first)
                await pilot.press("space", "down")
            await pilot.press("l")
            await settle(pilot, small)
            save(small, "small.svg")
        small.store.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent /
                                             "screenshots"), help="folder for the SVG files")
    parser.add_argument("--epochs", type=int, default=25, help="epochs of the tutorial runs")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(out, args.epochs)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
