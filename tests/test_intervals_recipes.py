"""Issue 11: interval=epoch|step for every scheduler, formulas of the step, recipes, and a catalog
whose entries own their rules.

Recipes are checked against their published definitions, written here independently of lrtui (the
Hugging Face transformers `optimization.py` lambdas, fastai's `fit_one_cycle` schedule), at every
step to 1e-12, edge steps included.
"""

from __future__ import annotations

import json
import math
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.optim import lr_scheduler as m

from lrtui import schedulers as S
from lrtui.cli import main
from lrtui.data import synthetic, to_device
from lrtui.engine import EpochEnd, Event, StepChunk, Trainer, steps_per_epoch
from lrtui.engine.models.mlp import MLP
from lrtui.model import RunConfig
from lrtui.schedulers import (
    CATALOG,
    ENTRIES,
    RECIPES,
    SchedulerSpec,
    SpecError,
    format_spec,
    parse_spec,
    preview,
    spec_from_toml,
    to_code,
    validate,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.filterwarnings("error::UserWarning")

# ------------------------------------------------------------------------------------------
# Published definitions, written independently (transformers/optimization.py; fastai)
# ------------------------------------------------------------------------------------------


def hf_linear(s: int, *, num_warmup_steps: int, num_training_steps: int) -> float:
    if s < num_warmup_steps:
        return float(s) / float(max(1, num_warmup_steps))
    return max(
        0.0, float(num_training_steps - s) / float(max(1, num_training_steps - num_warmup_steps))
    )


def hf_cosine(
    s: int,
    *,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    min_lr_rate: float | None = None,
) -> float:
    if s < num_warmup_steps:
        return float(s) / float(max(1, num_warmup_steps))
    progress = float(s - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
    if min_lr_rate is None:  # get_cosine_schedule_with_warmup
        return max(0.0, factor)
    factor = factor * (1 - min_lr_rate) + min_lr_rate  # ..._with_min_lr_schedule_with_warmup
    return max(0, factor)


def hf_hard_restarts(
    s: int, *, num_warmup_steps: int, num_training_steps: int, num_cycles: int = 1
) -> float:
    if s < num_warmup_steps:
        return float(s) / float(max(1, num_warmup_steps))
    progress = float(s - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0))))


def hf_inverse_sqrt(s: int, *, num_warmup_steps: int, timescale: int | None = None) -> float:
    if timescale is None:
        timescale = num_warmup_steps or 10_000
    if s < num_warmup_steps:
        return float(s) / float(max(1, num_warmup_steps))
    shift = timescale - num_warmup_steps
    return 1.0 / math.sqrt((s + shift) / timescale)


def hf_wsd(
    s: int,
    *,
    num_warmup_steps: int,
    num_decay_steps: int,
    num_training_steps: int,
    decay_type: str = "cosine",
    min_lr_ratio: float = 0.0,
    num_cycles: float = 0.5,
) -> float:
    num_stable_steps = num_training_steps - num_warmup_steps - num_decay_steps
    if s < num_warmup_steps:
        progress = float(s) / float(max(1, num_warmup_steps))
        return max(0.0, progress * (1.0 - min_lr_ratio) + min_lr_ratio)
    if s < num_warmup_steps + num_stable_steps:
        return 1.0
    if s < num_warmup_steps + num_stable_steps + num_decay_steps:
        progress = float(s - num_warmup_steps - num_stable_steps) / float(max(1, num_decay_steps))
        if decay_type == "linear":
            factor = 1.0 - progress
        elif decay_type == "cosine":
            factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
        else:  # "1-sqrt"
            factor = 1.0 - math.sqrt(progress)
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


def fastai_sched_cos(start: float, end: float, pos: float) -> float:
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def fastai_combined_cos(pct: float, start: float, middle: float, end: float, pos: float) -> float:
    if pos < pct:
        return fastai_sched_cos(start, middle, pos / pct)
    return fastai_sched_cos(middle, end, (pos - pct) / (1 - pct))


def fastai_one_cycle(
    i: int, n: int, lr_max: float, div: float = 25.0, div_final: float = 1e5, pct: float = 0.25
) -> tuple[float, float]:
    """fit_one_cycle: (lr, momentum) of training iteration i of n (pos = i / n)."""
    pos = i / n
    lr = fastai_combined_cos(pct, lr_max / div, lr_max, lr_max / div_final, pos)
    return lr, fastai_combined_cos(pct, 0.95, 0.85, 0.95, pos)


def lrs_of(text: str, epochs: int, spe: int, base_lr: float = 0.1) -> list[float]:
    return preview(
        parse_spec(text), epochs=epochs, steps_per_epoch=spe, base_lr=base_lr
    ).lr_per_step


def assert_close_all(mine: list[float], theirs: list[float]) -> None:
    assert len(mine) == len(theirs)
    worst = max(abs(a - b) for a, b in zip(mine, theirs, strict=True))
    assert worst <= 1e-12, worst


# ------------------------------------------------------------------------------------------
# Recipes against their published definitions
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epochs", "spe", "warmup"), [(3, 125, 100), (4, 7, 0), (2, 5, 10), (5, 3, 1)]
)
def test_warmup_linear_cosine_and_restarts_equal_hugging_face(
    epochs: int, spe: int, warmup: int
) -> None:
    n = epochs * spe
    base = 0.1
    cases: list[tuple[str, Callable[[int], float]]] = [
        (
            f"WarmupLinear:warmup_steps={warmup}",
            lambda s: hf_linear(s, num_warmup_steps=warmup, num_training_steps=n),
        ),
        (
            f"WarmupCosine:warmup_steps={warmup}",
            lambda s: hf_cosine(s, num_warmup_steps=warmup, num_training_steps=n),
        ),
        (
            f"WarmupCosine:warmup_steps={warmup},min_lr_ratio=0.1,num_cycles=0.75",
            lambda s: hf_cosine(
                s, num_warmup_steps=warmup, num_training_steps=n, num_cycles=0.75, min_lr_rate=0.1
            ),
        ),
        (
            f"WarmupCosineRestarts:warmup_steps={warmup},num_cycles=3",
            lambda s: hf_hard_restarts(
                s, num_warmup_steps=warmup, num_training_steps=n, num_cycles=3
            ),
        ),
        (
            f"InverseSqrt:warmup_steps={warmup}",
            lambda s: hf_inverse_sqrt(s, num_warmup_steps=warmup),
        ),
        (
            f"InverseSqrt:warmup_steps={warmup},timescale=7",
            lambda s: hf_inverse_sqrt(s, num_warmup_steps=warmup, timescale=7),
        ),
    ]
    for text, published in cases:
        mine = lrs_of(text, epochs, spe, base)
        expected = [base * published(s) for s in range(n)]
        assert_close_all(mine, expected)
        # the edge steps, by name
        for s in {0, max(0, warmup - 1), min(warmup, n - 1), n - 1}:
            assert mine[s] == pytest.approx(expected[s], abs=1e-12), (text, s)


@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize(
    ("n", "warmup", "decay", "min_ratio"), [(60, 6, 12, 0.0), (40, 0, 40, 0.1)]
)
def test_wsd_equals_hugging_face(
    decay_type: str, n: int, warmup: int, decay: int, min_ratio: float
) -> None:
    text = (
        f'WSD:warmup_steps={warmup},decay_steps={decay},decay_type="{decay_type}",'
        f"min_lr_ratio={min_ratio}"
    )
    mine = lrs_of(text, n // 4, 4)
    expected = [
        0.1
        * hf_wsd(
            s,
            num_warmup_steps=warmup,
            num_decay_steps=decay,
            num_training_steps=n,
            decay_type=decay_type,
            min_lr_ratio=min_ratio,
        )
        for s in range(n)
    ]
    assert_close_all(mine, expected)


def test_wsd_ratios_round_up_like_the_trainer() -> None:
    spec = S.resolve(
        parse_spec("WSD:warmup_ratio=0.05,decay_ratio=0.25"), epochs=7, steps_per_epoch=3
    )
    # 21 steps: ceil(1.05) = 2 warm-up steps, ceil(5.25) = 6 decay steps; the ratios are dropped
    assert spec.params == {"warmup_steps": 2, "decay_steps": 6}


@pytest.mark.parametrize(("epochs", "spe", "lr_max"), [(3, 125, 0.5), (2, 7, 0.1), (1, 4, 1.0)])
def test_fastai_one_cycle_equals_fit_one_cycle(epochs: int, spe: int, lr_max: float) -> None:
    n = epochs * spe
    result = preview(
        parse_spec(f"FastaiOneCycle:max_lr={lr_max}"),
        epochs=epochs,
        steps_per_epoch=spe,
        optimizer=S.OptimizerShape("sgd", momentum=0.9),
    )
    expected = [fastai_one_cycle(i, n, lr_max) for i in range(n)]
    assert_close_all(result.lr_per_step, [lr for lr, _ in expected])
    assert result.momentum_per_step is not None
    assert_close_all(result.momentum_per_step, [mom for _, mom in expected])
    assert result.lr_per_step[0] == pytest.approx(lr_max / 25, abs=1e-15)
    # the peak at pos = pct_start, where fastai puts it, when that is a step
    if (n * 0.25).is_integer():
        assert result.lr_per_step[int(n * 0.25)] == pytest.approx(lr_max, abs=1e-12)


def test_acceptance_preview_warmup_cosine_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["preview", "-s", "WarmupCosine:warmup_steps=100", "--epochs", "3"]
    assert main([*args, "--steps-per-epoch", "125", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = [
        0.1 * hf_cosine(s, num_warmup_steps=100, num_training_steps=375) for s in range(375)
    ]
    assert_close_all(data["lr_per_step"], expected)
    assert data["cadence"] == "batch"


# ------------------------------------------------------------------------------------------
# interval=step for every scheduler without a metric
# ------------------------------------------------------------------------------------------


def manual(make: Callable[[torch.optim.Optimizer], Any], epochs: int, spe: int, per_step: bool
           ) -> list[float]:  # fmt: skip
    """The plain loop: scheduler.step() after every optimizer.step(), or once per epoch."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = make(opt)
    lrs = []
    for _ in range(epochs):
        for _ in range(spe):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if per_step:
                sched.step()
        if not per_step:
            sched.step()
    return lrs


def test_acceptance_cosine_per_step_equals_the_plain_loop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["preview", "-s", "CosineAnnealingLR:interval=step", "--epochs", "2"]
    assert main([*args, "--steps-per-epoch", "10", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["lr_per_step"] == manual(lambda o: m.CosineAnnealingLR(o, T_max=20), 2, 10, True)
    assert data["spec"] == "CosineAnnealingLR:T_max=20,interval=step"
    assert data["cadence"] == "batch"


PER_STEP: dict[str, tuple[str, Callable[[torch.optim.Optimizer], Any]]] = {
    # derived lengths count optimizer steps: 3 epochs x 4 steps = 12
    "LambdaLR": ('LambdaLR:lr_lambda="0.9 ** step"', lambda o: m.LambdaLR(o, lambda s: 0.9**s)),
    "MultiplicativeLR": (
        'MultiplicativeLR:lr_lambda="0.95"',
        lambda o: m.MultiplicativeLR(o, lambda s: 0.95),
    ),
    "StepLR": ("StepLR:step_size=5", lambda o: m.StepLR(o, step_size=5, gamma=0.1)),
    "MultiStepLR": ("MultiStepLR:milestones=[3,7]", lambda o: m.MultiStepLR(o, [3, 7], 0.1)),
    "ConstantLR": ("ConstantLR", lambda o: m.ConstantLR(o)),
    "LinearLR": ("LinearLR", lambda o: m.LinearLR(o)),
    "ExponentialLR": ("ExponentialLR", lambda o: m.ExponentialLR(o, gamma=0.9)),
    "PolynomialLR": ("PolynomialLR", lambda o: m.PolynomialLR(o, total_iters=12)),
    "CosineAnnealingLR": ("CosineAnnealingLR", lambda o: m.CosineAnnealingLR(o, T_max=12)),
    "CosineAnnealingWarmRestarts": (
        "CosineAnnealingWarmRestarts",
        lambda o: m.CosineAnnealingWarmRestarts(o, T_0=3),
    ),
}


@pytest.mark.parametrize("name", sorted(PER_STEP))
def test_every_epoch_scheduler_steps_per_optimizer_step_with_interval_step(name: str) -> None:
    text, make = PER_STEP[name]
    spec = parse_spec(text.replace(name, f"{name}:interval=step", 1) if ":" not in text
                      else text + ",interval=step")  # fmt: skip
    assert S.cadence_of(spec) == "batch"
    result = preview(spec, epochs=3, steps_per_epoch=4)
    assert result.lr_per_step == manual(make, 3, 4, True)
    # and interval=epoch (their default) is the old behaviour, stepped once per epoch
    epoch_spec = parse_spec(text)
    assert S.cadence_of(epoch_spec) == "epoch"


def test_batch_schedulers_can_step_per_epoch() -> None:
    result = preview(parse_spec("OneCycleLR:interval=epoch,cycle_momentum=false"), epochs=6,
                     steps_per_epoch=3)  # fmt: skip
    expected = manual(lambda o: m.OneCycleLR(o, 0.1, total_steps=6, cycle_momentum=False), 6, 3,
                      False)  # fmt: skip
    assert result.lr_per_step == expected
    assert result.spec.params["total_steps"] == 6  # the run's length in epochs
    assert S.interval_of(parse_spec("CyclicLR")) == "step"  # its natural interval


def test_plateau_refuses_an_interval() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("ReduceLROnPlateau:interval=step")
    assert str(caught.value) == (
        "ReduceLROnPlateau.interval: ReduceLROnPlateau steps once per epoch with the validation "
        "loss: no interval"
    )
    with pytest.raises(SpecError, match=r"ReduceLROnPlateau\.interval"):
        spec_from_toml({"name": "ReduceLROnPlateau", "interval": "epoch"})


def test_composite_members_share_one_interval() -> None:
    good = parse_spec("LinearLR:interval=step,total_iters=10 -> CosineAnnealingLR:interval=step")
    assert S.errors_of(validate(good, epochs=3, steps_per_epoch=8)) == {}
    resolved = S.resolve(good, epochs=3, steps_per_epoch=8)
    assert resolved.params["milestones"] == [10]
    assert resolved.children[1].params["T_max"] == 14  # 24 steps - 10 of warm-up
    expected = manual(
        lambda o: m.SequentialLR(
            o, [m.LinearLR(o, total_iters=10), m.CosineAnnealingLR(o, T_max=14)], [10]
        ),
        3,
        8,
        True,
    )
    assert preview(good, epochs=3, steps_per_epoch=8).lr_per_step == expected
    mixed = parse_spec("LinearLR:interval=step,total_iters=10 -> CosineAnnealingLR")
    problems = validate(mixed, epochs=3, steps_per_epoch=8)
    assert problems["SequentialLR.schedulers"] == (
        "members must share one interval (got LinearLR: per optimizer step, CosineAnnealingLR: per"
        " epoch): give every member the same interval (epoch or step)"
    )


def test_interval_in_toml_specs_and_round_trips() -> None:
    doc = tomllib.loads(
        """
        [scheduler]
        name = "SequentialLR"
        schedulers = [
            { name = "LinearLR", interval = "step", total_iters = 10 },
            { name = "CosineAnnealingLR", interval = "step" },
        ]
        """
    )
    spec = spec_from_toml(doc["scheduler"])
    assert spec == parse_spec(
        "LinearLR:interval=step,total_iters=10 -> CosineAnnealingLR:interval=step"
    )
    for text in [
        "CosineAnnealingLR:interval=step",
        "WarmupCosine:warmup_steps=100",
        'WSD:decay_type="1-sqrt",warmup_ratio=0.05',
        "WSD:decay_type=1-sqrt",
        "FastaiOneCycle:max_lr=0.5,interval=epoch",
        'LambdaLR:lr_lambda="1 - step / total_steps",interval=step',
    ]:
        spec = parse_spec(text)
        assert parse_spec(format_spec(spec)) == spec
        assert SchedulerSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec_from_toml({"name": "WarmupCosine", "warmup_steps": 100}) == parse_spec(
        "WarmupCosine:warmup_steps=100"
    )
    problems = validate(parse_spec("StepLR:interval=sometimes"), epochs=3, steps_per_epoch=2)
    assert problems["StepLR.interval"] == "must be one of epoch, step (got 'sometimes')"


def test_recipe_validation_rules() -> None:
    def errors(text: str, epochs: int = 3, spe: int = 10) -> dict[str, str]:
        return S.errors_of(validate(parse_spec(text), epochs=epochs, steps_per_epoch=spe))

    assert errors("WarmupCosine:warmup_steps=31") == {
        "WarmupCosine.warmup_steps": "must fit in the run's 30 steps (got 31)"
    }
    assert errors("WarmupLinear:warmup_steps=3,warmup_ratio=0.2") == {
        "WarmupLinear.warmup_ratio": "give warmup_steps or warmup_ratio, not both"
    }
    assert errors("WSD:warmup_steps=20,decay_steps=11") == {
        "WSD.decay_steps": "warm-up 20 + decay 11 must fit in the run's 30 steps"
    }
    assert errors("WSD:decay_ratio=1.5") == {
        "WSD.decay_ratio": "must be a number in [0, 1] (got 1.5)"
    }
    assert errors("InverseSqrt:timescale=0")["InverseSqrt.timescale"].startswith(
        "must be an integer >= 1"
    )
    assert errors("WarmupCosine:interval=epoch,warmup_steps=4") == {
        "WarmupCosine.warmup_steps": "must fit in the run's 3 epochs (got 4)"
    }


def test_recipes_per_epoch_count_epochs() -> None:
    lrs = preview(parse_spec("WarmupLinear:interval=epoch,warmup_steps=2"), epochs=5,
                  steps_per_epoch=3).lr_per_step  # fmt: skip
    per_epoch = [0.1 * hf_linear(e, num_warmup_steps=2, num_training_steps=5) for e in range(5)]
    assert_close_all(lrs, [lr for lr in per_epoch for _ in range(3)])


# ------------------------------------------------------------------------------------------
# Formulas of the step, with the run's constants
# ------------------------------------------------------------------------------------------


def test_formulas_of_step_with_run_constants() -> None:
    text = (
        'LambdaLR:lr_lambda="1 - step / total_steps + 0 * steps_per_epoch * epochs",interval=step'
    )
    lrs = preview(parse_spec(text), epochs=3, steps_per_epoch=4).lr_per_step
    assert lrs == manual(lambda o: m.LambdaLR(o, lambda s: 1 - s / 12 + 0 * 4 * 3), 3, 4, True)
    # per epoch, step is the epoch (epoch stays an alias)
    lrs = preview(parse_spec('LambdaLR:lr_lambda="(step + 1) / epochs"'), epochs=4).lr_per_step
    assert lrs == manual(lambda o: m.LambdaLR(o, lambda e: (e + 1) / 4), 4, 1, False)
    problems = validate(
        parse_spec('LambdaLR:lr_lambda="warmup_steps"'), epochs=3, steps_per_epoch=1
    )
    assert "unknown name 'warmup_steps'" in problems["LambdaLR.lr_lambda"]


@pytest.mark.parametrize(
    "text",
    [
        "WarmupCosine:warmup_steps=5",
        "WarmupLinear",
        "WarmupCosineRestarts:num_cycles=2",
        "InverseSqrt:warmup_steps=3",
        "WSD:decay_type=1-sqrt",
        "FastaiOneCycle:max_lr=0.3",
        'LambdaLR:lr_lambda="1 - step / total_steps",interval=step',
        'WarmupCosine:warmup_steps=4 -> @10 LambdaLR:lr_lambda="0.5 + 0 * step",interval=step',
        "LinearLR:interval=step,total_iters=6 -> CosineAnnealingLR:interval=step",
        "WarmupLinear:warmup_steps=2 + WarmupLinear:warmup_steps=5",
    ],
)
def test_the_snippet_is_plain_pytorch_giving_the_preview(text: str) -> None:
    spec = parse_spec(text)
    code = to_code(spec, epochs=4, steps_per_epoch=6, optimizer_var="opt")
    assert "lrtui" not in code
    assert "# after every optimizer.step() (once per batch):" in code

    def make(o: torch.optim.Optimizer) -> Any:
        namespace: dict[str, Any] = {"opt": o}
        exec(code, namespace)
        return namespace["scheduler"]

    with warnings.catch_warnings():  # SequentialLR of a LambdaLR warns in the plain loop too
        warnings.simplefilter("ignore")
        expected = manual(make, 4, 6, True)
    shape = S.OptimizerShape("sgd", momentum=0.9)
    result = preview(spec, epochs=4, steps_per_epoch=6, optimizer=shape)
    assert result.lr_per_step == pytest.approx(expected, abs=0, rel=0)


def test_recipe_snippet_names_its_source() -> None:
    code = to_code(parse_spec("WarmupCosine:warmup_steps=100"), epochs=3, steps_per_epoch=125)
    assert "def warmup_cosine(step, warmup_steps=100, training_steps=375, num_cycles=0.5" in code
    assert "get_cosine_schedule_with_warmup" in code
    assert "scheduler = LambdaLR(optimizer, lr_lambda=warmup_cosine)" in code
    fastai = to_code(parse_spec("FastaiOneCycle"), epochs=2, steps_per_epoch=5)
    assert (
        "fit_one_cycle" in fastai and "OneCycleLR(optimizer, max_lr=0.1, total_steps=11" in fastai
    )


# ------------------------------------------------------------------------------------------
# The engine trains interval=step exactly like the plain loop (float64)
# ------------------------------------------------------------------------------------------


def test_engine_with_interval_step_equals_the_plain_loop_in_float64() -> None:
    data = to_device(synthetic(250, 64, seed=5), "cpu", torch.float64)
    spe = steps_per_epoch(data.n_train, 32)  # 8
    specs = {
        "CosineAnnealingLR:interval=step": lambda o: m.CosineAnnealingLR(o, T_max=24),
        "WarmupCosine:warmup_steps=5": lambda o: m.LambdaLR(
            o, lambda s: hf_cosine(s, num_warmup_steps=5, num_training_steps=24)
        ),
        "StepLR:interval=step,step_size=5,gamma=0.5": lambda o: m.StepLR(o, 5, 0.5),
    }
    configs = [
        RunConfig(
            dataset="synthetic",
            hidden=(12, 8),
            batch_size=32,
            epochs=3,
            seed=3,
            device="cpu",
            lr=0.2,
            scheduler=parse_spec(text),
        )
        for text in specs
    ]
    events: list[Event] = []
    trainer = Trainer(configs, events.append, data=data, dtype=torch.float64)
    assert [e.status for e in trainer.run()] == ["finished"] * 3
    for i, make in enumerate(specs.values()):
        torch.manual_seed(3)
        model = MLP((12, 8)).to(torch.float64)
        opt = torch.optim.SGD(model.parameters(), lr=0.2)
        sched = make(opt)
        gen = torch.Generator().manual_seed(3)
        lrs: list[float] = []
        valid: list[float] = []
        for _ in range(3):
            perm = torch.randperm(data.n_train, generator=gen)
            for s in range(spe):
                idx = perm[s * 32 : (s + 1) * 32]
                lrs.append(opt.param_groups[0]["lr"])
                opt.zero_grad()
                F.cross_entropy(model(data.train_x[idx]), data.train_y[idx]).backward()  # type: ignore[no-untyped-call]
                opt.step()
                sched.step()  # after every optimizer step
            with torch.no_grad():
                logits = model(data.valid_x)
                valid.append(
                    F.cross_entropy(logits, data.valid_y, reduction="sum").item() / data.n_valid
                )
        for mine, theirs in zip(trainer.params(i), model.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs.detach(), rtol=1e-10, atol=1e-12)
        chunks = [e for e in events if isinstance(e, StepChunk) and e.run == i]
        assert [lr for c in chunks for lr in c.lr] == pytest.approx(lrs, abs=1e-12, rel=0)
        ends = [e for e in events if isinstance(e, EpochEnd) and e.run == i]
        assert [e.valid_loss for e in ends] == pytest.approx(valid, rel=1e-10)


# ------------------------------------------------------------------------------------------
# Entries own their rules; the app asks them
# ------------------------------------------------------------------------------------------

_NAMES = "|".join(sorted(ENTRIES, key=len, reverse=True))
_RULE = re.compile(
    rf"""(==|!=)\s*["']({_NAMES})["']|["']({_NAMES})["']\s*(==|!=)"""
    rf"""|\bin\s*[(\[{{]\s*["']({_NAMES})["']"""
)


def test_no_scheduler_name_rule_outside_the_catalog() -> None:
    root = Path(__file__).resolve().parent.parent / "lrtui"
    found = []
    for path in sorted(root.rglob("*.py")):
        if "schedulers" in path.relative_to(root).parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _RULE.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []
    assert _RULE.search('if spec.name == "SequentialLR" and kids[0].name == "LinearLR":')
    assert _RULE.search('info.name in ("CyclicLR", "OneCycleLR")')


def test_every_entry_owns_an_example_that_validates() -> None:
    for info in ENTRIES.values():
        assert info.example, info.name
        spec = parse_spec(info.example)
        assert spec.name == info.name or info.composite
        assert S.errors_of(validate(spec, epochs=20, steps_per_epoch=50)) == {}, info.name
    for name, info in RECIPES.items():
        assert info.source and name not in CATALOG
        assert info.natural_interval == "step"
    assert S.taking_lr("max_lr") == ("CyclicLR", "OneCycleLR", "FastaiOneCycle")


def test_the_form_has_an_interval_toggle_and_recipes() -> None:
    from lrtui.app.form import FormValues, evaluate, values_from_config

    r = evaluate(FormValues(scheduler="CosineAnnealingLR", interval="step", epochs="3"))
    assert r.ok and r.spec == parse_spec("CosineAnnealingLR:interval=step")
    assert values_from_config(r.config).interval == "step"  # type: ignore[arg-type]
    r = evaluate(FormValues(scheduler="CosineAnnealingLR", interval="epoch"))
    assert r.spec == SchedulerSpec("CosineAnnealingLR")  # the default stays implicit
    r = evaluate(FormValues(scheduler="WarmupCosine", params={"warmup_steps": "100"}))
    assert r.ok and r.spec == parse_spec("WarmupCosine:warmup_steps=100")
    back = values_from_config(r.config)  # type: ignore[arg-type]
    assert back.scheduler == "WarmupCosine" and back.params["warmup_steps"] == "100"
    assert back.interval == "step"
    r = evaluate(FormValues(scheduler="WarmupCosine", params={"warmup_steps": "999999"}))
    assert r.errors == {"param:warmup_steps": "must fit in the run's 46875 steps (got 999999)"}
    r = evaluate(FormValues(scheduler="StepLR", interval="step", params={"step_size": "0"}))
    assert r.errors == {"param:step_size": "must be an integer >= 1 (got 0)"}


def test_range_test_targets_come_from_the_catalog() -> None:
    from lrtui.app.lrfind_screen import TARGETS

    assert TARGETS["max_lr"] == ("param:max_lr", S.taking_lr("max_lr"), "OneCycleLR")
    assert "FastaiOneCycle" in TARGETS["max_lr"][1]
    assert TARGETS["base_lr"] == ("param:base_lr", ("CyclicLR",), "CyclicLR")


def test_preview_help_lists_the_recipes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["preview", "--help"])
    out = capsys.readouterr().out
    for name in RECIPES:
        assert name in out
    assert "get_cosine_schedule_with_warmup" in out and "fit_one_cycle" in out
    assert "interval=step" in out


@pytest.mark.parametrize(
    "text", ["CosineAnnealingLR:interval=step", "WarmupCosine:warmup_ratio=0.2", "StepLR"]
)
def test_preview_engine_store_runs_show_and_snippet_agree(tmp_path: Path, text: str) -> None:
    from lrtui import report as R
    from lrtui.recorder import Recorder
    from lrtui.store import Store

    data = to_device(synthetic(250, 64, seed=5), "cpu", torch.float64)
    cfg = RunConfig(dataset="synthetic", hidden=(8,), batch_size=32, epochs=3, seed=1,
                    device="cpu", scheduler=parse_spec(text))  # fmt: skip
    with Store(tmp_path / "runs.db") as store:
        with Recorder(store) as rec:
            Trainer([cfg], rec, data=data, dtype=torch.float64).run()
        run = store.list_runs()[0]
        stored = S.SchedulerSpec.from_dict(store.get_config(run.id)["scheduler"])
        steps = [lr for chunk in store.steps(run.id) for lr in chunk.lr]
    result = preview(parse_spec(text), epochs=3, steps_per_epoch=8)
    assert stored == result.spec  # resolved: T_max / warmup_steps in the unit of the interval
    assert steps == result.lr_per_step
    facts = dict(R.run_facts(run))
    assert facts["scheduler"] == format_spec(result.spec)
    code = R.pytorch_code(RunConfig.from_dict(run.config), run.steps_per_epoch)
    per_step = S.cadence_of(result.spec) == "batch"
    assert ("# after every optimizer.step() (once per batch):" in code) is per_step
    assert ("# once per epoch, after that epoch's optimizer.step() calls:" in code) is not per_step
    assert run.config["scheduler"] == result.spec.to_dict()


def test_stored_specs_of_the_wrong_shape_are_spec_errors() -> None:
    for bad in ([], {"params": {}}, {"name": "StepLR", "params": [1]},
                {"name": "SequentialLR", "children": "StepLR"}):  # fmt: skip
        with pytest.raises(SpecError):
            SchedulerSpec.from_dict(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_resolved_recipe_is_valid_resolves_to_itself_and_previews_the_same(name: str) -> None:
    spec = parse_spec(RECIPES[name].example)
    for epochs, spe in ((3, 40), (40, 4)):
        resolved = S.resolve(spec, epochs=epochs, steps_per_epoch=spe)
        assert S.resolve(resolved, epochs=epochs, steps_per_epoch=spe) == resolved
        assert S.errors_of(validate(resolved, epochs=epochs, steps_per_epoch=spe)) == {}
        assert (
            preview(resolved, epochs=epochs, steps_per_epoch=spe).lr_per_step
            == preview(spec, epochs=epochs, steps_per_epoch=spe).lr_per_step
        )
