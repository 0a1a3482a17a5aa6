"""`lrtui preview`: JSON numbers equal a manual torch loop; bad input is one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import torch
from torch.optim import lr_scheduler as m

from lrtui.cli import main

pytestmark = pytest.mark.filterwarnings("error")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["preview", *args, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def manual_epoch_lrs(make: Any, epochs: int) -> list[float]:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = make(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_acceptance_steplr_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "-s", "StepLR:step_size=10,gamma=0.1", "--epochs", "30")
    expected = manual_epoch_lrs(lambda o: m.StepLR(o, step_size=10, gamma=0.1), 30)
    assert data["lr_per_epoch"] == expected
    assert data["lr_per_epoch"] == pytest.approx([0.1] * 10 + [0.01] * 10 + [0.001] * 10)
    assert data["lr_per_step"] == expected
    assert data["spec"] == "StepLR:step_size=10,gamma=0.1"
    assert data["cadence"] == "epoch"
    assert data["epochs"] == 30 and data["steps_per_epoch"] == 1
    assert data["momentum_per_step"] is None
    assert data["warnings"] == {}


def test_json_shows_resolved_values_and_cycled_momentum(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(
        capsys, "-s", "OneCycleLR", "--epochs", "4", "--steps-per-epoch", "5", "--momentum", "0.9"
    )
    assert data["spec"] == "OneCycleLR:max_lr=0.1,total_steps=20"
    assert data["cadence"] == "batch"
    assert len(data["lr_per_step"]) == 20
    assert data["lr_per_epoch"] == data["lr_per_step"][::5]
    assert data["lr_per_step"][0] == pytest.approx(0.1 / 25.0)  # max_lr / div_factor
    assert data["momentum_per_step"][0] == 0.95
    assert min(data["momentum_per_step"]) == pytest.approx(0.85)


def test_adam_beta1_is_the_momentum(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "-s", "CyclicLR:step_size_up=2", "--epochs", "2", "--optimizer",
                    "adam", "--steps-per-epoch", "4")  # fmt: skip
    assert data["optimizer"] == "adam"
    assert data["momentum_per_step"] == pytest.approx([0.9, 0.85, 0.8, 0.85, 0.9, 0.85, 0.8, 0.85])


def test_plateau_with_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "-s", "ReduceLROnPlateau:patience=1", "--epochs", "6",
                    "--metrics", "1,0.5,0.5,0.5,0.5,0.5")  # fmt: skip
    # best 0.5 at epoch 1; epochs 2, 3 are bad (2 > patience 1): cut after epoch 3
    assert data["lr_per_epoch"] == [0.1, 0.1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]
    assert data["cadence"] == "metric"


def test_composite_spec(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "-s", "LinearLR:start_factor=0.1,total_iters=5 -> CosineAnnealingLR")
    assert (
        data["spec"] == "LinearLR:start_factor=0.1,total_iters=5 -> @5 CosineAnnealingLR:T_max=20"
    )
    assert len(data["lr_per_epoch"]) == 25
    assert max(data["lr_per_epoch"]) == 0.1


def test_chart_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "-s", "ExponentialLR:gamma=0.5", "--epochs", "8", "--log"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal
    lines = out.splitlines()
    assert "spec      ExponentialLR:gamma=0.5" in lines
    assert "cadence   epoch (scheduler.step() once per epoch)" in lines
    assert "steps     8 epochs x 1 = 8 optimizer steps" in lines
    assert "LR        first 0.1  last 0.00078125  min 0.00078125  max 0.1" in lines
    assert any("┤" in line for line in lines)  # the plotext chart's Y axis
    assert not any(line.startswith("momentum") for line in lines)


def test_chart_of_a_long_batch_run(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["preview", "-s", "OneCycleLR", "--momentum", "0.9", "--steps-per-epoch", "400"]
    assert main(args) == 0
    out, _ = capsys.readouterr()
    assert "steps     25 epochs x 400 = 10000 optimizer steps" in out
    assert "momentum  first 0.95  last 0.95  min 0.85  max 0.95" in out


def test_warning_is_printed_but_the_preview_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "-s", "CosineAnnealingLR:T_max=10", "--epochs", "25"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        "lrtui: warning: CosineAnnealingLR.T_max: 10 is shorter than the run (25 epochs): "
        "the LR climbs back up after epoch 10\n"
    )
    assert "spec      CosineAnnealingLR:T_max=10" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "StepLR:step_size=-1"], "StepLR.step_size: must be an integer >= 1 (got -1)"),
        (["-s", "Nope"], "Nope: unknown scheduler (choose from LambdaLR, "),
        (["-s", "LambdaLR:lr_lambda=\"__import__('os')\""],
         "LambdaLR.lr_lambda: calling __import__ is not allowed"),
        (["-s", "StepLR:step_size="], "spec: expected a value at column 18"),
        (["-s", "OneCycleLR:pct_start=1.5"], "OneCycleLR.pct_start: must be a number in (0, 1)"),
        (["-s", "StepLR", "--epochs", "0"], "--epochs: must be an integer >= 1 (got 0)"),
        (["-s", "StepLR", "--epochs", "x"], "--epochs: must be an integer >= 1 (got x)"),
        (["-s", "StepLR", "--steps-per-epoch", "-3"],
         "--steps-per-epoch: must be an integer >= 1 (got -3)"),
        (["-s", "StepLR", "--lr", "0"], "--lr: must be > 0 (got 0)"),
        (["-s", "StepLR", "--lr", "nan"], "--lr: must be a number > 0 (got nan)"),
        (["-s", "StepLR", "--optimizer", "rmsprop"],
         "--optimizer: must be sgd, adam or adamw (got rmsprop)"),
        (["-s", "StepLR", "--momentum", "1.5"], "--momentum: must be in [0, 1) (got 1.5)"),
        (["-s", "ReduceLROnPlateau", "--epochs", "3", "--metrics", "1,x,2"],
         "--metrics: must be a number (got x in 1,x,2)"),
        (["-s", "ReduceLROnPlateau", "--epochs", "3", "--metrics", "1,2"],
         "--metrics: need one value per epoch (3), got 2"),
        (["-s", "StepLR", "--epochs", "100000", "--steps-per-epoch", "100"],
         "--epochs x --steps-per-epoch: at most 2000000 steps in a preview (got 10000000)"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"lrtui: error: {message}")


def test_momentum_free_sgd_with_one_cycle_warns_and_previews(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["preview", "-s", "OneCycleLR", "--epochs", "4", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    warning = (
        "SGD has momentum 0, so torch switches momentum on and cycles it between "
        "base_momentum and max_momentum: set cycle_momentum=false to keep plain SGD"
    )
    assert json.loads(out)["warnings"] == {"OneCycleLR.cycle_momentum": warning}
    assert main(["preview", "-s", "OneCycleLR", "--epochs", "4"]) == 0
    assert capsys.readouterr().err == f"lrtui: warning: OneCycleLR.cycle_momentum: {warning}\n"
    assert main(["preview", "-s", "OneCycleLR", "--epochs", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["momentum_per_step"][0] == 0.95 and min(data["momentum_per_step"]) < 0.9


@pytest.mark.slow
def test_python_dash_m_subprocess() -> None:
    env = {**os.environ, "PYTHONWARNINGS": "error::UserWarning"}
    proc = subprocess.run(
        [sys.executable, "-m", "lrtui", "preview", "-s", "MultiStepLR:milestones=[10,30]",
         "--epochs", "40", "--json"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    expected = manual_epoch_lrs(lambda o: m.MultiStepLR(o, milestones=[10, 30], gamma=0.1), 40)
    assert data["lr_per_epoch"] == expected
    bad = subprocess.run(
        [sys.executable, "-m", "lrtui", "preview", "-s", "StepLR:step_size=-1"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr == "lrtui: error: StepLR.step_size: must be an integer >= 1 (got -1)\n"
