"""OneCycleLR / CyclicLR with plain SGD (momentum 0): one rule, the scheduler entry's, for the form
and the command line: torch's default (cycle_momentum on) and the entry's warning, word for word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_app_support import make_app, settle, wait_for
from textual.widgets import Checkbox, Input, Static

from lrtui import schedulers as S
from lrtui.cli import main

WARNING = ("SGD has momentum 0, so torch switches momentum on and cycles it between "
           "base_momentum and max_momentum: set cycle_momentum=false to keep plain SGD")
CYCLERS = ("OneCycleLR", "CyclicLR")


def entry_warnings(name: str, momentum: float = 0.0) -> dict[str, str]:
    shape = S.OptimizerShape("sgd", momentum=momentum)
    problems = S.validate(S.parse_spec(name), epochs=2, steps_per_epoch=4, optimizer=shape)
    return {k: str(v) for k, v in S.warnings_of(problems).items()}


def test_the_entry_decides_default_and_warning() -> None:
    for name in CYCLERS:
        assert S.ENTRIES[name].param("cycle_momentum").default is True  # type: ignore[union-attr]
        assert entry_warnings(name) == {f"{name}.cycle_momentum": WARNING}
        assert entry_warnings(name, momentum=0.9) == {}


def test_the_command_line_says_the_entry_warning(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    for name in CYCLERS:
        assert main(["preview", "-s", name, "--epochs", "2", "--steps-per-epoch", "4"]) == 0
        assert capsys.readouterr().err == f"lrtui: warning: {name}.cycle_momentum: {WARNING}\n"
    code = main(["run", "-s", "OneCycleLR", "-s", "CyclicLR", "--dataset", "mnist-sample",
                 "--epochs", "1", "--hidden", "8", "--batch-size", "1000", "--device", "cpu",
                 "--json", "--db", str(tmp_path / "runs.db")])
    out, err = capsys.readouterr()
    assert code == 0, err
    for i, name in enumerate(CYCLERS):
        assert f"lrtui: warning: run {i} ({name}): {name}.cycle_momentum: {WARNING}\n" in err
    epochs = [r for r in map(json.loads, out.splitlines()) if r["event"] == "epoch"]
    # torch's default: momentum switched on and cycled, starting at max_momentum (torch's
    # defaults: 0.95 for OneCycleLR, 0.9 for CyclicLR)
    assert [r["momentum"] for r in epochs] == [0.95, 0.9]


def _warning_under(app: object, key: str) -> str:
    sidebar = app.sidebar  # type: ignore[attr-defined]
    line = sidebar.query_one(f"#err-f-{key.replace(':', '-')}", Static)
    assert line.has_class("-shown") and line.has_class("-warn")
    return str(line.render())


async def test_the_form_shows_the_same_default_and_warning(tmp_path: Path) -> None:
    app = make_app(tmp_path / "runs.db", scheduler="OneCycleLR", params={})  # starts with it
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        for name in CYCLERS:
            if app.sidebar.values().scheduler != name:  # chosen in the form, as a user does
                await app.sidebar.switch_scheduler(name, {})
                await settle(pilot, app)
            box = app.sidebar.widgets["param:cycle_momentum"]
            assert isinstance(box, Checkbox) and box.value is True
            assert _warning_under(app, "param:cycle_momentum") == WARNING
            assert app.form is not None and app.form.ok
            assert app.form.config is not None and app.form.config.scheduler == S.parse_spec(name)
        # SGD with momentum: nothing to warn about, in the form as on the command line
        momentum = app.sidebar.widgets["optimizer.momentum"]
        assert isinstance(momentum, Input)
        momentum.value = "0.9"
        await wait_for(pilot, lambda: app.form is not None and not app.form.warnings,
                       what="no warning")
