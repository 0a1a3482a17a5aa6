"""Shared support for the app tests (no tests here): the app factory, waiting helpers.

Every app test runs the real `LrtuiApp` with the real engine and recorder against a tiny
synthetic dataset (8 optimizer steps per epoch) and a temporary SQLite store, so runs finish in a
fraction of a second and the screen is the same on every machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from lrtui.app.app import LrtuiApp
from lrtui.app.form import FormValues
from lrtui.data import RawDataset, synthetic
from lrtui.store import Store

_DATA: dict[tuple[int, int], RawDataset] = {}


def tiny_data(n_train: int = 256, n_valid: int = 64) -> RawDataset:
    """MNIST-shaped random data, built once per size (it is read-only)."""
    key = (n_train, n_valid)
    if key not in _DATA:
        _DATA[key] = synthetic(n_train=n_train, n_valid=n_valid, seed=0)
    return _DATA[key]


def make_app(db: Path, *, epochs: int = 3, batch_size: int = 32, data: RawDataset | None = None,
             scheduler: str = "StepLR", params: dict[str, str | bool] | None = None,
             **kwargs: Any) -> LrtuiApp:
    """The app as a user gets it, with tiny data, a fixed device line and no form debounce."""
    data = data or tiny_data()
    initial = FormValues(dataset=data.name, epochs=str(epochs), batch_size=str(batch_size),
                         device="cpu", scheduler=scheduler,
                         params={"step_size": "2", "gamma": "0.5"} if params is None else params)
    kwargs.setdefault("tutorial_epochs", epochs)
    return LrtuiApp(store=Store(db), dataset=data, initial=initial,
                    device_info=lambda choice: ("cpu (no CUDA)", True), form_debounce_s=0,
                    **kwargs)


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 20.0,
                   what: str = "condition") -> None:
    """Let the app run until `condition()` holds (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def settle(pilot: Pilot[Any], app: LrtuiApp) -> None:
    """Wait until the form's preview is drawn and no training runs."""
    for _ in range(2):  # twice: a change message still queued may start a new preview
        await wait_for(pilot, lambda: app.settled and all(w.is_finished for w in app.workers),
                       what="preview drawn, no training")
        await pilot.pause(0.05)


def series_labels(app: LrtuiApp, chart: str) -> list[str]:
    return [s.label for s in app.chart(chart).data.series]


async def train_tutorial(pilot: Pilot[Any], app: LrtuiApp) -> None:
    """Press t and wait until the tutorial's runs have trained and every chart is drawn."""
    await settle(pilot, app)
    await pilot.press("t")
    await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="tutorial")
    await settle(pilot, app)
