"""The stacked LeNet-5 against nn.Module + torch.optim + the torch scheduler, run by run.

Same contract as the MLP (tests/test_engine.py): in float64, K CNN runs trained together in one
vectorized pass end where each run ends alone in the plain PyTorch loop, to 1e-10.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from lrtui.data import DeviceDataset, synthetic, to_device
from lrtui.engine import EpochEnd, Event, RunEnded, StepChunk, Trainer, check_batch, cpu_threads
from lrtui.engine import steps_per_epoch as spe_of
from lrtui.engine.models.cnn import FAMILY, LeNet, init_lenet
from lrtui.model import OptimizerConfig, RunConfig, validate_config
from lrtui.schedulers import build, cadence_of, parse_spec

N_TRAIN, N_VALID, BATCH, EPOCHS = 90, 40, 32, 2  # 3 steps per epoch, the last one of 26 rows


@pytest.fixture(scope="module")
def data64() -> DeviceDataset:
    return to_device(synthetic(N_TRAIN, N_VALID, seed=8), "cpu", torch.float64)


@pytest.fixture(autouse=True)
def no_warnings_one_thread() -> Iterator[None]:
    """No warning leaks; one thread (small convolutions lose time to fork/join, a lot on a busy
    machine), for the plain loops as for the engine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
    torch.set_num_threads(threads)


def cnn(spec: str, opt: OptimizerConfig | None = None, **kw: object) -> RunConfig:
    base: dict[str, object] = {
        "dataset": "synthetic",
        "model": "cnn",
        "batch_size": BATCH,
        "epochs": EPOCHS,
        "seed": 3,
        "device": "cpu",
    }
    base.update(kw)
    return RunConfig(optimizer=opt or OptimizerConfig(), scheduler=parse_spec(spec), **base)  # type: ignore[arg-type]


def plain_loop(cfg: RunConfig, data: DeviceDataset) -> tuple[list[torch.Tensor], list[float]]:
    """One run as a PyTorch script trains it: LeNet, torch.optim, the torch scheduler."""
    torch.manual_seed(cfg.seed)
    model = LeNet().to(torch.float64)
    o = cfg.optimizer
    optimizer: torch.optim.Optimizer
    if o.name == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=o.momentum, dampening=o.dampening,
            nesterov=o.nesterov, weight_decay=o.weight_decay,
        )  # fmt: skip
    else:
        cls = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
        optimizer = cls(
            model.parameters(), lr=cfg.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay
        )
    n, spe = data.n_train, spe_of(data.n_train, cfg.batch_size)
    scheduler = build(cfg.scheduler, optimizer, epochs=cfg.epochs, steps_per_epoch=spe)
    cadence = cadence_of(cfg.scheduler)
    generator = torch.Generator().manual_seed(cfg.seed)
    images = data.train_x.view(-1, 1, 28, 28)
    valid_losses = []
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=generator)
        for s in range(spe):
            idx = perm[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images[idx]), data.train_y[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            if cadence == "batch":
                scheduler.step()
        with torch.no_grad():
            valid = F.cross_entropy(model(data.valid_x), data.valid_y).item()
        valid_losses.append(valid)
        if cadence == "epoch":
            scheduler.step()
        elif cadence == "metric":
            scheduler.step(valid)  # type: ignore[arg-type]
    return [p.detach().clone() for p in model.parameters()], valid_losses


def train64(
    configs: list[RunConfig], data: DeviceDataset, **kw: object
) -> tuple[Trainer, list[Event], list[RunEnded]]:
    events: list[Event] = []
    trainer = Trainer(configs, events.append, data=data, dtype=torch.float64, **kw)  # type: ignore[arg-type]
    return trainer, events, trainer.run()


def test_stacked_lenets_equal_plain_pytorch_one_by_one(data64: DeviceDataset) -> None:
    configs = [
        cnn("OneCycleLR:max_lr=0.05", OptimizerConfig("sgd", momentum=0.9, nesterov=True,
                                                       weight_decay=1e-3), lr=0.01),
        cnn("ReduceLROnPlateau:patience=0,factor=0.5,threshold=0.5", OptimizerConfig("adam"),
            lr=0.003),
        cnn("StepLR:step_size=1,gamma=0.5", OptimizerConfig("adamw", betas=(0.85, 0.99),
                                                             weight_decay=0.1), lr=0.002),
        cnn("ExponentialLR:gamma=0.7", lr=0.05),
    ]  # fmt: skip
    trainer, events, ended = train64(configs, data64)
    assert [e.status for e in ended] == ["finished"] * 4
    for i, cfg in enumerate(configs):
        params, valid = plain_loop(cfg, data64)
        mine = trainer.params(i)
        assert [p.shape for p in mine] == [p.shape for p in params]
        for a, b in zip(mine, params, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
        ends = [e for e in events if isinstance(e, EpochEnd) and e.run == i]
        assert [e.valid_loss for e in ends] == pytest.approx(valid, rel=1e-10)
    # OneCycleLR cycled SGD's momentum; Plateau cut Adam's LR after an epoch without progress.
    moms = [m for e in events if isinstance(e, StepChunk) and e.run == 0 for m in e.momentum or ()]
    assert len(set(moms)) > 1
    plateau = [e.plateau for e in events if isinstance(e, EpochEnd) and e.run == 1]
    assert all(p is not None for p in plateau)


def test_independent_seeds_give_each_lenet_its_own_start_and_order(data64: DeviceDataset) -> None:
    configs = [cnn("StepLR:step_size=1", seed=1), cnn("ConstantLR", OptimizerConfig("adam"),
                                                        lr=0.01, seed=5)]  # fmt: skip
    trainer, _, _ = train64(configs, data64, independent_seeds=True)
    for i, cfg in enumerate(configs):
        params, _ = plain_loop(cfg, data64)
        for a, b in zip(trainer.params(i), params, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_init_is_lenet_defaults_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(99)
    before = torch.random.get_rng_state()
    params = init_lenet(7)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(7)
    model = LeNet()
    for a, b in zip(params, model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_diverging_lenet_is_frozen_and_the_other_goes_on(data64: DeviceDataset) -> None:
    sane, wild = cnn("StepLR:step_size=1"), cnn("StepLR:step_size=1", lr=1e300)
    trainer, _, ended = train64([sane, wild], data64)
    assert [e.status for e in ended] == ["finished", "diverged"]
    assert all(torch.isfinite(p).all() for p in trainer.params(1))
    params, _ = plain_loop(sane, data64)
    for a, b in zip(trainer.params(0), params, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_model_is_validated_and_shared() -> None:
    assert validate_config(RunConfig(model="resnet"))["model"] == (
        "must be one of mlp, cnn (got 'resnet')"
    )
    with pytest.raises(ValueError, match="must share model"):
        check_batch([cnn("StepLR"), cnn("StepLR", model="mlp")])
    # LeNet has no hidden widths: CNN runs with different `hidden` still share a pass.
    check_batch([cnn("StepLR"), cnn("StepLR", hidden=(8,))])
    assert cpu_threads(1, (), "cnn") is None  # convolutions gain from threads


def test_mnist_sample_accuracy_matches_a_plain_lenet_loop() -> None:
    """float32 on real digits: the engine's LeNet learns what a plain PyTorch LeNet loop learns."""
    from lrtui.data import load

    data = to_device(load("mnist-sample"), "cpu")
    cfg = cnn("StepLR:step_size=2,gamma=0.5", dataset="mnist-sample", epochs=5, lr=0.1, seed=0)
    events: list[Event] = []
    Trainer([cfg], events.append, data=data).run()
    mine = [e.valid_acc for e in events if isinstance(e, EpochEnd)]
    torch.manual_seed(0)
    model = LeNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    generator = torch.Generator().manual_seed(0)
    theirs = []
    for _ in range(5):
        for idx in torch.randperm(data.n_train, generator=generator).split(32):
            optimizer.zero_grad()
            F.cross_entropy(model(data.train_x[idx]), data.train_y[idx]).backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        scheduler.step()
        with torch.no_grad():
            theirs.append((model(data.valid_x).argmax(1) == data.valid_y).double().mean().item())
    assert len(mine) == 5 and theirs[-1] > 0.95
    assert mine[-1] == pytest.approx(theirs[-1], abs=0.01)


def test_a_cnn_run_is_stored_with_its_model_and_its_snippet_builds_lenet(tmp_path: Path) -> None:
    """The store records the family and shape; the plain-PyTorch snippet of `runs show` (and
    the app) runs and builds a LeNet whose initial weights are the run's."""
    from lrtui import report
    from lrtui.data import synthetic
    from lrtui.recorder import Recorder
    from lrtui.store import Store

    cfg = cnn("StepLR:step_size=1", epochs=1, seed=4)
    with Store(tmp_path / "r.db") as store:
        with Recorder(store) as recorder:
            Trainer([cfg], recorder, data=to_device(synthetic(40, 8, seed=1), "cpu")).run()
        [run] = store.list_runs()
    assert (run.model, run.model_shape, run.config["model"]) == ("cnn", FAMILY.shape(cfg), "cnn")
    for compact in (False, True):
        code = report.pytorch_code(cfg, run.steps_per_epoch, compact=compact)
        assert "nn.Conv2d(6, 16, 5)" in code
        namespace: dict[str, Any] = {}
        torch.manual_seed(cfg.seed)
        exec(compile(code, "<snippet>", "exec"), namespace)
        built = list(namespace["model"].parameters())
        assert [p.shape for p in built] == [p.shape for p in init_lenet(4)]
        for a, b in zip(built, init_lenet(4), strict=True):
            assert torch.equal(a, b)
        logits = namespace["model"](torch.zeros(2, 1, 28, 28))  # torchvision's image layout
        assert logits.shape == (2, 10)
        assert type(namespace["scheduler"]).__name__ == "StepLR"
    assert "nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)," in report.pytorch_code(
        cfg, 2
    )
