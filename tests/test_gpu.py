"""The engine's CUDA paths (skipped without CUDA; bench/gpu_check.sh runs them on a GPU box).

Device placement of data, weights and the per-run LR / coefficient tables; the TF32 switch of
`fast=True` and its restoration; MLP and CNN runs on the GPU equal to the same runs on the CPU
in float64; the range test's step loop on the GPU.
"""

from __future__ import annotations

import math

import pytest
import torch

from lrtui.data import synthetic, to_device
from lrtui.engine import EpochEnd, Event, RunStarted, Trainer, train, train_steps
from lrtui.model import OptimizerConfig, RunConfig
from lrtui.schedulers import parse_spec

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def _configs(model: str, device: str) -> list[RunConfig]:
    base = {"dataset": "synthetic", "model": model, "hidden": (16, 8), "batch_size": 32,
            "epochs": 2, "seed": 3, "device": device}  # fmt: skip
    return [
        RunConfig(scheduler=parse_spec("OneCycleLR:max_lr=0.2"),
                  optimizer=OptimizerConfig("sgd", momentum=0.9, nesterov=True), **base),  # type: ignore[arg-type]
        RunConfig(scheduler=parse_spec("StepLR:step_size=1,gamma=0.5"), **base),  # type: ignore[arg-type]
        RunConfig(scheduler=parse_spec("ReduceLROnPlateau:patience=0"), lr=0.003,
                  optimizer=OptimizerConfig("adamw", weight_decay=0.1), **base),  # type: ignore[arg-type]
    ]  # fmt: skip


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_cuda_runs_equal_the_same_runs_on_the_cpu(model: str) -> None:
    raw = synthetic(200, 50, seed=4)
    results = {}
    for device in ("cpu", "cuda"):
        events: list[Event] = []
        trainer = Trainer(_configs(model, device), events.append, dtype=torch.float64,
                          data=to_device(raw, device, torch.float64))  # fmt: skip
        ended = trainer.run()
        assert [e.status for e in ended] == ["finished"] * 3
        params = [trainer.params(i) for i in range(3)]
        assert all(p.device.type == device for run in params for p in run)
        started = [e for e in events if isinstance(e, RunStarted)]
        assert all(e.device.startswith(device) for e in started)
        results[device] = (params, [e.valid_loss for e in events if isinstance(e, EpochEnd)])
    for mine, theirs in zip(results["cuda"][0], results["cpu"][0], strict=True):
        for a, b in zip(mine, theirs, strict=True):
            torch.testing.assert_close(a.cpu(), b, rtol=1e-9, atol=1e-11)
    assert results["cuda"][1] == pytest.approx(results["cpu"][1], rel=1e-9)


def test_lr_tables_and_weights_live_on_the_device() -> None:
    data = to_device(synthetic(128, 32, seed=1), "cuda")
    seen: list[bool] = []
    trainer: Trainer

    def on_event(event: Event) -> None:
        if isinstance(event, EpochEnd) and not seen:
            pass_ = trainer._pass
            assert pass_ is not None
            tables = list(pass_.coef)  # per step: each run's output-gradient scale
            tables += [t for opt in pass_.optimizers for step in opt.steps for t in step]  # type: ignore[attr-defined]
            seen.append(all(t.device.type == "cuda" for t in tables))
            seen.append(all(p.device.type == "cuda" for p in pass_.model.p2d))

    trainer = Trainer(_configs("mlp", "cuda"), on_event, data=data)
    trainer.run()
    assert seen == [True, True]


def test_fast_switches_tf32_for_the_call_and_restores_it() -> None:
    data = to_device(synthetic(128, 32, seed=1), "cuda")
    before = torch.backends.cuda.matmul.fp32_precision
    during: list[str] = []

    def on_event(event: Event) -> None:
        if isinstance(event, EpochEnd):
            during.append(torch.backends.cuda.matmul.fp32_precision)

    train(_configs("mlp", "cuda")[:1], on_event, data=data, fast=True)
    assert during and set(during) == {"tf32"}
    assert torch.backends.cuda.matmul.fp32_precision == before
    during.clear()
    train(_configs("mlp", "cuda")[:1], on_event, data=data)
    assert set(during) == {before}


def test_range_test_steps_on_the_gpu() -> None:
    data = to_device(synthetic(256, 32, seed=2), "cuda")
    configs = [replace_device(c) for c in _configs("cnn", "cuda")[:2]]
    seen: list[list[float]] = []

    def on_losses(first: int, losses: list[list[float]]) -> None:
        seen.extend(losses)

    lrs = [1e-4 * 1.2**i for i in range(20)]
    assert train_steps(configs, [lrs, lrs], on_losses, data=data, report_every=5) == 20
    assert all(math.isfinite(x) for row in seen for x in row)


def replace_device(config: RunConfig) -> RunConfig:
    """The sweep's configs: the same optimizer and model, one shared seed (as lrfind builds)."""
    return RunConfig(dataset=config.dataset, model=config.model, hidden=config.hidden,
                     optimizer=config.optimizer, device=config.device)  # fmt: skip
