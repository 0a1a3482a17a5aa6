"""The app's first frame comes before torch (seconds to import): `lrtui` imports nothing of torch
(nor NumPy) before that frame is drawn, then a worker loads torch, and the preview and the device
line come as before. Real subprocesses: a test process has torch imported long ago."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from test_app_support import settle, tiny_data, wait_for

from lrtui import schedulers as S
from lrtui.app.app import LrtuiApp
from lrtui.app.form import FormValues, evaluate
from lrtui.engine import describe_device
from lrtui.store import Store

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
HEAVY = ("torch", "torchvision", "numpy")


def run_python(code: str, timeout: float = 120) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=ENV, cwd=REPO, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_what_lrtui_imports_before_its_first_frame_has_no_torch() -> None:
    out = run_python(f"""
        import sys
        from lrtui.cli import build_parser  # `lrtui` builds its whole parser: every command

        build_parser().parse_args([])
        import lrtui.app.app, lrtui.app.form, lrtui.app.main, lrtui.commands.tui

        print(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}))
    """)
    assert out == "[]\n"


def fresh_app(db: Path, initial: str, until: str) -> dict[str, Any]:
    """Start the app headless in a fresh process with the form `initial` (a FormValues
    expression) and the engine's own device line; what it showed when its first frame was drawn,
    and once `until` (an expression of `app`) holds."""
    out = run_python(f"""
        import asyncio, json, sys, time
        from pathlib import Path

        from textual.widgets import Static

        from lrtui.app.app import LrtuiApp
        from lrtui.app.form import FormValues
        from lrtui.store import Store

        seen = {{}}

        def device_line(app):
            return str(app.sidebar.query_one("#device-line", Static).render())

        async def main() -> None:
            app = LrtuiApp(store=Store(Path({str(db)!r})), initial={initial})
            drawn = app._first_frame_drawn

            def first_frame_drawn() -> None:
                seen["torch_at_first_frame"] = "torch" in sys.modules
                seen["device_line_at_first_frame"] = device_line(app)
                seen["errors_at_first_frame"] = dict(app.form.errors)
                drawn()

            app._first_frame_drawn = first_frame_drawn
            async with app.run_test(size=(120, 40)) as pilot:
                deadline = time.monotonic() + 90
                while not ({until}):
                    assert time.monotonic() < deadline, "not within 90 s: {until}"
                    await pilot.pause(0.05)
                await pilot.pause(0.2)
                seen["torch_loaded"] = app.torch_loaded
                seen["errors"] = dict(app.form.errors)
                seen["device_line"] = device_line(app)
                preview = app.preview
                seen["preview"] = None if preview is None else preview.label
                seen["lr_per_epoch"] = [] if preview is None else preview.lr_per_step[::1875]

        asyncio.run(main())
        print(json.dumps(seen))
    """)
    seen: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return seen


@pytest.mark.slow
def test_the_first_frame_is_drawn_before_torch_loads_then_preview_and_device_come(
    tmp_path: Path,
) -> None:
    seen = fresh_app(tmp_path / "runs.db", 'FormValues(dataset="mnist")',
                     "app.torch_loaded and app.preview is not None and app.settled")
    assert seen["torch_at_first_frame"] is False
    assert seen["device_line_at_first_frame"] == "→ …"
    assert seen["errors_at_first_frame"] == seen["errors"] == {}
    assert seen["preview"] == "StepLR"  # the form's default: StepLR step_size 10, gamma 0.1
    # 25 epochs of ceil(60,000 / 32) = 1875 steps: the LR of each epoch's first step is torch's
    expected = S.preview(S.parse_spec("StepLR:step_size=10,gamma=0.1"), epochs=25,
                         steps_per_epoch=1875, base_lr=0.1)
    assert seen["lr_per_epoch"] == expected.lr_per_epoch
    assert seen["lr_per_epoch"][9:11] == [0.1, 0.010000000000000002]
    # once torch is there, the line says what the engine says of this machine, as it always did
    assert seen["device_line"] == f"→ {describe_device('auto')[0]}"
    assert torch.cuda.is_available() or seen["device_line"] == "→ cpu (no CUDA)"


@pytest.mark.slow
def test_what_only_torch_can_check_shows_in_the_form_once_torch_has_loaded(
    tmp_path: Path,
) -> None:
    # Passes the catalog's rules; stepped by torch, the LR overflows to inf at epoch 32 (the dry
    # run, which needs torch).
    form = FormValues(dataset="mnist", epochs="40", scheduler="MultiplicativeLR",
                      params={"lr_lambda": "1e10"})
    seen = fresh_app(tmp_path / "runs.db", repr(form),
                     "app.torch_loaded and app.forms.timer is None and not app.form.ok")
    assert seen["torch_at_first_frame"] is False
    assert seen["errors_at_first_frame"] == {}  # the rules alone: nothing wrong yet
    expected = evaluate(form).errors  # every check, torch's dry run too (this process has torch)
    assert expected == {"scheduler": "the LR becomes inf at epoch 32 of 40: no training can use it"}
    assert seen["errors"] == expected


async def test_a_key_pressed_while_torch_loads_acts_once_it_is_there(tmp_path: Path) -> None:
    """r before the "torch" worker is done: nothing trains on the UI thread's time; the log says
    it waits, and the training starts when torch is there (this process has torch already, so the
    app is told it has not loaded yet)."""
    data = tiny_data()
    app = LrtuiApp(store=Store(tmp_path / "runs.db"), dataset=data, form_debounce_s=0,
                   initial=FormValues(dataset=data.name, epochs="2", device="cpu"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.torch_loaded = False  # as in the first seconds of a fresh process
        await pilot.press("escape", "r")
        assert app.jobs_started == 0
        assert app.log_pane.entries[-1] == (
            "torch is still loading: that starts as soon as it is ready")
        app.forms.torch_ready()  # what the "torch" worker's end calls
        await wait_for(pilot, lambda: app.jobs_started == 1 and app.job is None, what="training")
        [run] = app.store.list_runs()
        assert run.status == "finished" and run.epochs_done == 2
