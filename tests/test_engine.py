"""The engine against the plain PyTorch loop, and its events, control and failure handling.

The reference trains each run alone the way the tutorial does (an nn.Module, torch.optim, the
real torch scheduler stepped at its cadence, cross-entropy means per batch, a DataLoader-like
last partial batch), in float64 on the CPU, with the engine's documented init and data order.
"""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
import torch
import torch.nn.functional as F

import lrtui.engine.trainer as engine_trainer
from lrtui.data import DeviceDataset, synthetic, to_device
from lrtui.engine import (
    Control,
    EpochEnd,
    Event,
    Progress,
    RunEnded,
    RunStarted,
    StepChunk,
    Trainer,
    check_batch,
    cpu_threads,
    steps_per_epoch,
    train,
)
from lrtui.engine.models.mlp import MLP, StackedMLP, init_params
from lrtui.model import (
    OptimizerConfig,
    RunConfig,
    validate_config,
    validate_optimizer,
)
from lrtui.schedulers import build, cadence_of, parse_spec

N_TRAIN, N_VALID, BATCH, EPOCHS = 250, 64, 32, 3  # 8 steps per epoch, the last one of 26 rows
HIDDEN = (12, 8)


@pytest.fixture(scope="module")
def data64() -> DeviceDataset:
    return to_device(synthetic(N_TRAIN, N_VALID, seed=5), "cpu", torch.float64)


@pytest.fixture(autouse=True)
def no_warnings() -> Iterator[None]:
    """No warning may leak out of the engine (torch's scheduler warnings included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def config(spec: str, opt: OptimizerConfig | None = None, **kw: object) -> RunConfig:
    base: dict[str, object] = {
        "dataset": "synthetic",
        "hidden": HIDDEN,
        "batch_size": BATCH,
        "epochs": EPOCHS,
        "seed": 3,
        "device": "cpu",
    }
    base.update(kw)
    return RunConfig(
        optimizer=opt or OptimizerConfig(),
        scheduler=parse_spec(spec),
        **base,  # type: ignore[arg-type]
    )


@dataclass
class Reference:
    params: list[torch.Tensor]
    train_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_acc: list[float] = field(default_factory=list)
    lr: list[list[float]] = field(default_factory=list)  # per epoch, per step
    momentum: list[list[float]] = field(default_factory=list)


def reference(cfg: RunConfig, data: DeviceDataset) -> Reference:
    """The plain PyTorch loop for one run."""
    torch.manual_seed(cfg.seed)
    model = MLP(cfg.hidden).to(torch.float64)
    o = cfg.optimizer
    optimizer: torch.optim.Optimizer
    if o.name == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=cfg.lr,
            momentum=o.momentum,
            dampening=o.dampening,
            nesterov=o.nesterov,
            weight_decay=o.weight_decay,
        )
    else:
        cls = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
        optimizer = cls(
            model.parameters(), lr=cfg.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay
        )
    n = data.n_train
    spe = steps_per_epoch(n, cfg.batch_size)
    scheduler = build(cfg.scheduler, optimizer, epochs=cfg.epochs, steps_per_epoch=spe)
    cadence = cadence_of(cfg.scheduler)
    generator = torch.Generator().manual_seed(cfg.seed)
    group = optimizer.param_groups[0]
    ref = Reference(params=[])
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=generator)
        total = 0.0
        lrs: list[float] = []
        moms: list[float] = []
        for s in range(spe):
            idx = perm[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            lrs.append(group["lr"])
            moms.append(group["betas"][0] if "betas" in group else group["momentum"])
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += loss.item() * len(idx)
            if cadence == "batch":
                scheduler.step()
        with torch.no_grad():
            logits = model(data.valid_x)
            valid = F.cross_entropy(logits, data.valid_y, reduction="sum").item() / data.n_valid
            acc = (logits.argmax(1) == data.valid_y).double().mean().item()
        if cadence == "epoch":
            scheduler.step()
        elif cadence == "metric":
            scheduler.step(valid)  # type: ignore[arg-type]
        ref.train_loss.append(total / n)
        ref.valid_loss.append(valid)
        ref.valid_acc.append(acc)
        ref.lr.append(lrs)
        ref.momentum.append(moms)
    ref.params = [p.detach().clone() for p in model.parameters()]
    return ref


def run_engine(
    configs: list[RunConfig], data: DeviceDataset, **kw: object
) -> tuple[Trainer, list[Event], list[RunEnded]]:
    events: list[Event] = []
    trainer = Trainer(configs, events.append, data=data, dtype=torch.float64, **kw)  # type: ignore[arg-type]
    ended = trainer.run()
    return trainer, events, ended


def assert_matches_reference(
    trainer: Trainer, events: list[Event], configs: list[RunConfig], data: DeviceDataset
) -> list[Reference]:
    refs = []
    for i, cfg in enumerate(configs):
        ref = reference(cfg, data)
        refs.append(ref)
        for mine, theirs in zip(trainer.params(i), ref.params, strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)
        ends = [e for e in events if isinstance(e, EpochEnd) and e.run == i]
        assert [e.epoch for e in ends] == list(range(cfg.epochs))
        for e in ends:
            assert e.train_loss == pytest.approx(ref.train_loss[e.epoch], rel=1e-10)
            assert e.valid_loss == pytest.approx(ref.valid_loss[e.epoch], rel=1e-10)
            assert e.valid_acc == pytest.approx(ref.valid_acc[e.epoch], abs=1e-12)
            assert e.lr == ref.lr[e.epoch][0]
        chunks = [e for e in events if isinstance(e, StepChunk) and e.run == i]
        assert [c.epoch for c in chunks] == list(range(cfg.epochs))
        for c in chunks:
            assert c.first_step == 0
            assert list(c.lr) == ref.lr[c.epoch]
            if c.momentum is not None:
                assert list(c.momentum) == ref.momentum[c.epoch]
    return refs


SGD_NESTEROV = OptimizerConfig("sgd", momentum=0.9, nesterov=True, weight_decay=1e-3)
SGD_DAMPENED = OptimizerConfig("sgd", momentum=0.5, dampening=0.25)
SGD_WD = OptimizerConfig("sgd", weight_decay=5e-3)
ADAM = OptimizerConfig("adam", weight_decay=1e-3)
ADAMW = OptimizerConfig("adamw", betas=(0.85, 0.99), eps=1e-7, weight_decay=0.1)


def test_batched_runs_equal_plain_pytorch_one_by_one(data64: DeviceDataset) -> None:
    configs = [
        # Order mixes optimizer families on purpose: the engine regroups them internally.
        config("OneCycleLR:max_lr=0.01", ADAMW, lr=0.001),
        config("OneCycleLR:max_lr=0.3", SGD_NESTEROV, lr=0.05),
        config("StepLR:step_size=1,gamma=0.5"),
        config("CyclicLR:base_lr=0.01,max_lr=0.2,step_size_up=5", SGD_DAMPENED, lr=0.01),
        config("ReduceLROnPlateau:patience=0,factor=0.5,threshold=0.5", SGD_WD),
        config("ExponentialLR:gamma=0.8", ADAM, lr=0.01),
        config("CyclicLR:base_lr=0.001,max_lr=0.01,step_size_up=5", ADAM, lr=0.001),
        config("ReduceLROnPlateau:patience=0,factor=0.5,threshold=0.5", lr=0.2),
        config("CosineAnnealingLR", SGD_NESTEROV, lr=0.1),
    ]
    trainer, events, ended = run_engine(configs, data64)
    assert [e.status for e in ended] == ["finished"] * len(configs)
    assert [e.run for e in ended] == list(range(len(configs)))
    refs = assert_matches_reference(trainer, events, configs, data64)
    # The schedules really did their thing: momentum / beta1 cycled, plateau cut the LR.
    assert len(set(refs[0].momentum[0])) > 1 and len(set(refs[1].momentum[1])) > 1
    assert len(set(refs[3].momentum[0])) > 1
    for i in (4, 7):
        plateau_lrs = [e.lr for e in events if isinstance(e, EpochEnd) and e.run == i]
        assert plateau_lrs[-1] < plateau_lrs[0]
        plateau = [e.plateau for e in events if isinstance(e, EpochEnd) and e.run == i]
        assert all(p is not None for p in plateau)
    assert all(e.plateau is None for e in events if isinstance(e, EpochEnd) and e.run == 2)


def test_independent_seeds_each_equal_their_own_plain_loop(data64: DeviceDataset) -> None:
    configs = [
        config("StepLR:step_size=2", seed=1),
        config("ExponentialLR:gamma=0.9", SGD_NESTEROV, seed=2),
        config("LinearLR", ADAM, lr=0.01, seed=7),
    ]
    trainer, events, ended = run_engine(configs, data64, independent_seeds=True)
    assert [e.status for e in ended] == ["finished"] * 3
    assert_matches_reference(trainer, events, configs, data64)
    # Different seeds: different starting points.
    assert not torch.equal(init_params(HIDDEN, 1)[0], init_params(HIDDEN, 2)[0])


@pytest.mark.parametrize("hidden", [(16,), (8, 8, 8)])
def test_other_depths_equal_plain_pytorch(data64: DeviceDataset, hidden: tuple[int, ...]) -> None:
    configs = [
        config("StepLR:step_size=1", hidden=hidden),
        config("ExponentialLR:gamma=0.9", SGD_NESTEROV, hidden=hidden),
        config("ConstantLR", ADAMW, lr=0.01, hidden=hidden),
    ]
    trainer, events, _ = run_engine(configs, data64)
    assert_matches_reference(trainer, events, configs, data64)


def test_shared_start_and_order_by_default(data64: DeviceDataset) -> None:
    """Two runs with the same schedule trained together end identical (same init, same data)."""
    configs = [config("StepLR:step_size=1"), config("StepLR:step_size=1")]
    trainer, _, _ = run_engine(configs, data64)
    for a, b in zip(trainer.params(0), trainer.params(1), strict=True):
        assert torch.equal(a, b)


def test_events_in_order_with_resolved_config(data64: DeviceDataset) -> None:
    configs = [config("OneCycleLR:max_lr=0.1", label="one"), config("StepLR:step_size=2")]
    _, events, _ = run_engine(configs, data64)
    started = [e for e in events if isinstance(e, RunStarted)]
    assert [e.run for e in started] == [0, 1]
    first = started[0]
    assert first.device == "cpu" and first.dataset == "synthetic" and first.notice is None
    assert first.config.label == "one"
    assert first.config.scheduler.params["total_steps"] == EPOCHS * 8  # derived, filled in
    for run in (0, 1):
        kinds = [type(e).__name__ for e in events if getattr(e, "run", run) == run]
        kinds = [k for k in kinds if k != "Progress"]
        assert kinds == ["RunStarted"] + ["StepChunk", "EpochEnd"] * EPOCHS + ["RunEnded"]
    ended = [e for e in events if isinstance(e, RunEnded)]
    assert all(e.epochs_done == EPOCHS and e.status == "finished" for e in ended)
    # Events are plain frozen dataclasses.
    with pytest.raises(AttributeError):
        ended[0].status = "failed"  # type: ignore[misc]
    assert isinstance(ended[0].reason, str)


def test_progress_events(data64: DeviceDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_trainer, "PROGRESS_EVERY_S", 0.0)  # a Progress after every step
    _, events, _ = run_engine([config("StepLR:step_size=1"), config("StepLR:step_size=1")], data64)
    progress = [e for e in events if isinstance(e, Progress)]
    assert len(progress) == EPOCHS * 8
    p = progress[9]
    assert (p.epoch, p.step, p.steps_per_epoch, p.global_step, p.total_steps) == (1, 2, 8, 10, 24)
    assert len(p.train_loss) == 2 and all(math.isfinite(x) and x > 0 for x in p.train_loss)
    assert p.samples_per_s > 0 and p.elapsed_s > 0


def test_a_diverging_run_is_frozen_and_the_others_go_on(
    data64: DeviceDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    sane = config("StepLR:step_size=1")
    wild = config("StepLR:step_size=1", lr=1e300)
    wild_adam = config("StepLR:step_size=1", ADAM, lr=1e300)
    snapshots: list[list[torch.Tensor]] = []
    trainer: Trainer

    def on_event(event: Event) -> None:
        if isinstance(event, RunEnded) and event.run == 1:
            snapshots.append(trainer.params(1))

    trainer = Trainer([sane, wild, wild_adam], on_event, data=data64, dtype=torch.float64)
    ended = trainer.run()
    assert [e.status for e in ended] == ["finished", "diverged", "diverged"]
    assert "loss became" in ended[1].reason
    # Frozen: finite weights that did not move after the host noticed.
    assert all(torch.isfinite(p).all() for p in trainer.params(1))
    for before, after in zip(snapshots[0], trainer.params(1), strict=True):
        assert torch.equal(before, after)
    # The sane run is exactly what it would have been alone.
    ref = reference(sane, data64)
    for mine, theirs in zip(trainer.params(0), ref.params, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)


def test_diverged_run_reports_the_steps_it_took(
    data64: DeviceDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[Event] = []
    ended = train(
        [config("StepLR:step_size=1", lr=1e300), config("StepLR:step_size=1")],
        events.append,
        data=data64,
        dtype=torch.float64,
    )
    assert ended[0].status == "diverged" and ended[1].status == "finished"
    chunks = [e for e in events if isinstance(e, StepChunk) and e.run == 0]
    taken = sum(len(c.lr) for c in chunks)
    assert 0 < taken < EPOCHS * 8
    # 1-based: the step whose loss was not finite comes right after the steps recorded.
    assert f"step {len(chunks[-1].lr) + 1}" in ended[0].reason
    epochs_ended = [e.epoch for e in events if isinstance(e, EpochEnd) and e.run == 0]
    assert epochs_ended == list(range(len(chunks) - 1))


def test_stop_within_one_step(data64: DeviceDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_trainer, "PROGRESS_EVERY_S", 0.0)
    control = Control()
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, Progress) and event.global_step == 11:
            control.stop()

    ended = train(
        [config("StepLR:step_size=1"), config("StepLR:step_size=1", ADAM)],
        on_event,
        control,
        data=data64,
        dtype=torch.float64,
    )
    assert [e.status for e in ended] == ["stopped", "stopped"]
    assert all(e.epochs_done == 1 for e in ended)
    assert all(e.reason == f"stopped by user during epoch 2 of {EPOCHS}" for e in ended)
    steps = [e for e in events if isinstance(e, Progress)]
    assert steps[-1].global_step == 11  # no step after the one that saw stop()
    for run in (0, 1):
        chunks = [e for e in events if isinstance(e, StepChunk) and e.run == run]
        assert [(c.epoch, len(c.lr)) for c in chunks] == [(0, 8), (1, 3)]


def test_stop_between_epochs(data64: DeviceDataset) -> None:
    control = Control()

    def on_event(event: Event) -> None:
        if isinstance(event, EpochEnd) and event.epoch == 0:
            control.stop()

    ended = train([config("StepLR:step_size=1")], on_event, control, data=data64)
    assert ended[0].status == "stopped" and ended[0].epochs_done == 1
    assert ended[0].reason == f"stopped by user after epoch 1 of {EPOCHS}"


def test_stop_before_the_first_epoch(data64: DeviceDataset) -> None:
    control = Control()
    control.stop()
    ended = train([config("StepLR:step_size=1")], lambda event: None, control, data=data64)
    assert (ended[0].status, ended[0].epochs_done) == ("stopped", 0)
    assert ended[0].reason == f"stopped by user before epoch 1 of {EPOCHS}"


def test_pause_blocks_until_resume_and_stop_wakes_it(
    data64: DeviceDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_trainer, "PROGRESS_EVERY_S", 0.0)
    control = Control()
    paused_at: list[float] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Progress) and event.global_step == 3 and not paused_at:
            control.pause()
            paused_at.append(time.monotonic())
            threading.Timer(0.3, control.resume).start()

    start = time.monotonic()
    ended = train([config("StepLR:step_size=1")], on_event, control, data=data64)
    assert ended[0].status == "finished"
    assert control.paused is False and time.monotonic() - start >= 0.3

    control = Control()
    flag: list[bool] = []

    def pause_then_stop(event: Event) -> None:
        if isinstance(event, Progress) and not flag:
            flag.append(True)
            control.pause()
            threading.Timer(0.1, control.stop).start()

    ended = train([config("StepLR:step_size=1")], pause_then_stop, control, data=data64)
    assert ended[0].status == "stopped"


def test_device_error_fails_every_live_run(
    data64: DeviceDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = StackedMLP.make_step

    def broken(self: StackedMLP, fused: int) -> object:
        step = original(self, fused)

        def failing(*args: object) -> None:
            calls["n"] += 1
            if calls["n"] == 12:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            step(*args)  # type: ignore[arg-type]

        return failing

    monkeypatch.setattr(StackedMLP, "make_step", broken)
    events: list[Event] = []
    ended = train(
        [config("StepLR:step_size=1"), config("StepLR:step_size=1")], events.append, data=data64
    )
    assert [e.status for e in ended] == ["failed", "failed"]
    assert ended[0].reason.startswith("out of memory: CUDA out of memory")
    assert all(e.epochs_done == 1 for e in ended)


def test_callback_exceptions_propagate(data64: DeviceDataset) -> None:
    class Boom(RuntimeError):
        pass

    def on_event(event: Event) -> None:
        if isinstance(event, EpochEnd):
            raise Boom("the UI broke")

    with pytest.raises(Boom, match="the UI broke"):
        train([config("StepLR:step_size=1")], on_event, data=data64)


def test_runs_that_cannot_share_a_pass_are_refused() -> None:
    a = config("StepLR:step_size=1")
    for other, name in [
        (config("StepLR:step_size=1", hidden=(8,)), "hidden"),
        (config("StepLR:step_size=1", epochs=2), "epochs"),
        (config("StepLR:step_size=1", batch_size=16), "batch_size"),
        (config("StepLR:step_size=1", dataset="mnist"), "dataset"),
        (config("StepLR:step_size=1", device="auto"), "device"),
        (config("StepLR:step_size=1", seed=9), "seed"),
    ]:
        with pytest.raises(ValueError, match=f"must share {name}"):
            check_batch([a, other])
    check_batch([a, config("StepLR:step_size=1", seed=9)], independent_seeds=True)
    with pytest.raises(ValueError, match="no run configs"):
        check_batch([])
    with pytest.raises(ValueError, match="run 1: lr: must be > 0"):
        check_batch([a, config("StepLR:step_size=1", lr=-1.0)])


def test_partial_last_batch_and_float32_default(data64: DeviceDataset) -> None:
    """float32 (the default dtype) trains the same runs to nearly the same place."""
    data32 = to_device(synthetic(N_TRAIN, N_VALID, seed=5), "cpu")
    cfg = config("StepLR:step_size=1")
    events: list[Event] = []
    trainer = Trainer([cfg], events.append, data=data32)
    trainer.run()
    ref = reference(cfg, data64)
    for mine, theirs in zip(trainer.params(0), ref.params, strict=True):
        assert mine.dtype == torch.float32
        torch.testing.assert_close(mine.double(), theirs, rtol=1e-4, atol=1e-5)


def test_threads_are_set_for_the_call_and_restored(data64: DeviceDataset) -> None:
    before = torch.get_num_threads()
    seen: list[int] = []

    def on_event(event: Event) -> None:
        if isinstance(event, EpochEnd):
            seen.append(torch.get_num_threads())

    train([config("StepLR:step_size=1")], on_event, data=data64, threads=1)
    assert seen == [1] * EPOCHS and torch.get_num_threads() == before
    assert cpu_threads(1, (64, 32)) == 1  # one tutorial MLP: small ops, one thread
    assert cpu_threads(16, (64, 32)) is None  # 16 stacked: big matmuls, torch's threads


# ------------------------------------------------------------------------------------ model


def test_init_params_are_nn_linear_defaults_and_leave_global_rng_alone() -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    params = init_params((64, 32), seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(4)
    model = MLP((64, 32))
    assert [p.shape for p in params] == [p.shape for p in model.parameters()]
    for mine, theirs in zip(params, model.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    assert [tuple(p.shape) for p in params[::2]] == [(64, 784), (32, 64), (10, 32)]


def test_run_config_json_round_trip() -> None:
    cfg = RunConfig(
        dataset="mnist-sample",
        hidden=(256, 128),
        optimizer=OptimizerConfig("adamw", betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05),
        lr=0.003,
        batch_size=64,
        epochs=7,
        seed=11,
        device="cuda:1",
        scheduler=parse_spec("OneCycleLR:max_lr=0.01"),
        label="warm",
    )
    text = cfg.to_json()
    assert json.loads(text)["hidden"] == [256, 128]
    back = RunConfig.from_json(text)
    assert back == cfg
    assert RunConfig.from_dict({}) == RunConfig()
    assert RunConfig().display_label == "StepLR:step_size=10,gamma=0.1"
    with pytest.raises(ValueError, match="unknown field 'lrr'"):
        RunConfig.from_dict({"lrr": 0.1})
    with pytest.raises(ValueError, match="epochs: must be an integer"):
        RunConfig.from_dict({"epochs": "ten"})
    with pytest.raises(ValueError, match=r"optimizer\.betas"):
        RunConfig.from_dict({"optimizer": {"betas": [0.9]}})


@pytest.mark.parametrize(
    ("changes", "field_name", "message"),
    [
        ({"lr": 0.0}, "lr", "must be > 0 (got 0)"),
        ({"lr": math.nan}, "lr", "must be > 0"),
        ({"batch_size": 0}, "batch_size", "must be an integer >= 1 (got 0)"),
        ({"epochs": 0}, "epochs", "must be an integer >= 1 (got 0)"),
        ({"hidden": (64, 0)}, "hidden", "every layer width must be an integer >= 1 (got 0)"),
        ({"seed": -1}, "seed", "must be an integer >= 0 (got -1)"),
        ({"device": "gpu"}, "device", "must be auto, cpu, cuda, cuda:N or mps (got 'gpu')"),
        ({"dataset": ""}, "dataset", "must name a dataset"),
    ],
)
def test_validate_config_rules(changes: dict[str, object], field_name: str, message: str) -> None:
    cfg = RunConfig(**changes)  # type: ignore[arg-type]
    problems = validate_config(cfg)
    assert field_name in problems and message in problems[field_name]


@pytest.mark.parametrize(
    ("opt", "field_name", "message"),
    [
        (OptimizerConfig(momentum=1.0), "optimizer.momentum", "must be in [0, 1) (got 1)"),
        (OptimizerConfig(momentum=-0.1), "optimizer.momentum", "must be in [0, 1)"),
        (OptimizerConfig(dampening=2.0), "optimizer.dampening", "must be in [0, 1]"),
        (OptimizerConfig(nesterov=True), "optimizer.nesterov", "needs momentum > 0"),
        (
            OptimizerConfig(momentum=0.9, dampening=0.1, nesterov=True),
            "optimizer.nesterov",
            "dampening = 0",
        ),
        (OptimizerConfig(weight_decay=-1.0), "optimizer.weight_decay", "must be >= 0"),
        (OptimizerConfig("adam", betas=(1.0, 0.999)), "optimizer.betas[0]", "must be in [0, 1)"),
        (OptimizerConfig("adamw", betas=(0.9, -0.1)), "optimizer.betas[1]", "must be in [0, 1)"),
        (OptimizerConfig("adam", eps=0.0), "optimizer.eps", "must be > 0"),
        (OptimizerConfig("rmsprop"), "optimizer.name", "must be one of sgd, adam, adamw"),  # type: ignore[arg-type]
    ],
)
def test_validate_optimizer_rules(opt: OptimizerConfig, field_name: str, message: str) -> None:
    problems = validate_optimizer(opt)
    assert message in problems[field_name]


def test_validate_config_checks_the_schedule_once_steps_are_known() -> None:
    assert validate_config(RunConfig()) == {}
    assert validate_config(RunConfig(), steps_per_epoch=1875) == {}
    bad = RunConfig(scheduler=parse_spec("OneCycleLR:total_steps=10"), epochs=2)
    assert validate_config(bad) == {}
    problems = validate_config(bad, steps_per_epoch=6)
    assert "OneCycleLR.total_steps" in problems
    assert OptimizerConfig("adam", betas=(0.8, 0.9)).shape().betas == (0.8, 0.9)


def test_a_loss_that_explodes_without_nan_ends_diverged(data64: DeviceDataset) -> None:
    """Adam at LR 1e8 keeps finite losses of 1e20 and more: the divergence rule (mean loss per
    sample above diverge_loss at diverge_checks checks in a row, 4 checks per epoch) ends it;
    the sane run beside it is untouched, and diverge_loss=inf turns the rule off."""
    wild = config("StepLR:step_size=1", ADAM, lr=1e8)
    sane = config("StepLR:step_size=1")
    trainer, events, ended = run_engine([wild, sane], data64)
    assert [e.status for e in ended] == ["diverged", "finished"]
    assert ended[0].reason.startswith("loss ")
    assert ended[0].reason.endswith(
        " stayed above 2303 for 3 loss checks in a row (epoch 1 of 3, step 6)"
    )
    # Frozen after the third check (steps 2, 4, 6 of 8): the steps it took are on record.
    assert [len(e.lr) for e in events if isinstance(e, StepChunk) and e.run == 0] == [6]
    ref = reference(sane, data64)
    for mine, theirs in zip(trainer.params(1), ref.params, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-12)
    _, events, ended = run_engine([replace(wild, diverge_loss=math.inf)], data64)
    assert ended[0].status == "finished"
    assert max(e.train_loss for e in events if isinstance(e, EpochEnd)) > 1e6
    _, _, ended = run_engine([replace(wild, diverge_checks=13)], data64)  # > 3 epochs x 4 checks
    assert ended[0].status == "finished"


def test_divergence_settings_round_trip_and_are_checked() -> None:
    never = RunConfig(diverge_loss=math.inf, diverge_checks=5)
    assert json.loads(never.to_json())["diverge_loss"] is None  # strict JSON: no Infinity
    assert RunConfig.from_json(never.to_json()) == never
    assert RunConfig.from_dict({}).diverge_loss == pytest.approx(1000 * math.log(10))
    assert validate_config(RunConfig(diverge_loss=0.0))["diverge_loss"] == (
        "must be > 0, or inf for never (got 0)"
    )
    assert "diverge_checks" in validate_config(RunConfig(diverge_checks=0))
