"""The scheduler catalog against torch itself: contents, exact LR sequences, validation, specs."""

from __future__ import annotations

import inspect
import json
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as m

from lrtui.expr import compile_formula
from lrtui.schedulers import (
    CATALOG,
    ENTRIES,
    OptimizerShape,
    Param,
    PlateauState,
    Problem,
    ScheduleDriver,
    SchedulerSpec,
    SpecError,
    build,
    cadence_of,
    errors_of,
    format_spec,
    parse_spec,
    preview,
    resolve,
    short_spec,
    spec_from_toml,
    to_code,
    validate,
    warnings_of,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.filterwarnings("error")

SGD0 = OptimizerShape()
SGD9 = OptimizerShape("sgd", momentum=0.9)
ADAM = OptimizerShape("adam", betas=(0.9, 0.999))

MakeScheduler = Callable[[torch.optim.Optimizer], Any]


def _optimizer(shape: OptimizerShape, base_lr: float) -> torch.optim.Optimizer:
    p = torch.zeros(1, requires_grad=True)
    if shape.name == "sgd":
        return torch.optim.SGD([p], lr=base_lr, momentum=shape.momentum)
    return torch.optim.Adam([p], lr=base_lr, betas=shape.betas)


def manual_loop(
    make: MakeScheduler,
    *,
    epochs: int,
    steps_per_epoch: int,
    cadence: str,
    shape: OptimizerShape = SGD0,
    base_lr: float = 0.1,
    metrics: Sequence[float] | None = None,
) -> tuple[list[float], list[float]]:
    """The plain PyTorch loop: LR and momentum seen by every optimizer.step()."""
    opt = _optimizer(shape, base_lr)
    sched = make(opt)
    lrs: list[float] = []
    momenta: list[float] = []
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            group = opt.param_groups[0]
            lrs.append(group["lr"])
            momenta.append(group["betas"][0] if "betas" in group else group["momentum"])
            opt.step()
            if cadence == "batch":
                sched.step()
        if cadence == "epoch":
            sched.step()
        elif cadence == "metric":
            sched.step(metrics[epoch] if metrics is not None else 1.0)
    return lrs, momenta


# ------------------------------------------------------------------------------------------
# The catalog is the module
# ------------------------------------------------------------------------------------------


def test_catalog_is_every_public_scheduler_of_torch() -> None:
    public = {
        name
        for name in m.__all__
        if name != "LRScheduler"
        and isinstance(getattr(m, name), type)
        and (issubclass(getattr(m, name), m.LRScheduler) or name == "ReduceLROnPlateau")
    }
    assert set(CATALOG) == public
    for name, info in CATALOG.items():
        assert info.name == name
        assert info.cls is getattr(m, name)


# Constructor arguments lrtui deliberately does not expose, and why.
NOT_EXPOSED = {
    "CyclicLR": {"scale_fn"},  # a Python callable; `mode` picks torch's built-in ones
    "OneCycleLR": {"epochs", "steps_per_epoch"},  # total_steps is derived from them
    "SequentialLR": {"schedulers"},  # the members are the spec's children
    "ChainedScheduler": {"schedulers"},
}


def test_params_are_the_torch_constructor_arguments() -> None:
    for name, info in CATALOG.items():
        signature = inspect.signature(info.cls)
        torch_names = [
            p for p in signature.parameters if p not in ("optimizer", "last_epoch", "verbose")
        ]
        expected = [p for p in torch_names if p not in NOT_EXPOSED.get(name, set())]
        assert [p.name for p in info.params] == expected, name
        for param in info.params:
            torch_default = signature.parameters[param.name].default
            if param.derived or torch_default is inspect.Parameter.empty:
                continue
            assert param.default == torch_default, f"{name}.{param.name}"
            assert type(param.default) is type(torch_default) or param.kind == "float"
        # `required` (what resolve() fills so code and previews show it) is torch's own rule
        required = [
            p
            for p, arg in signature.parameters.items()
            if arg.default is inspect.Parameter.empty and p not in ("optimizer", "schedulers")
        ]
        assert [p.name for p in info.params if p.required] == required, name


def test_every_param_is_described() -> None:
    for info in CATALOG.values():
        assert info.help
        for param in info.params:
            assert param.help, f"{info.name}.{param.name}"
            assert (param.kind == "choice") == bool(param.choices)
            if param.kind == "choice":
                assert param.default in param.choices
            assert param.derived == (param.default is None) or info.name == "SequentialLR"


def test_cadences() -> None:
    batch = {n for n, i in CATALOG.items() if i.cadence == "batch"}
    metric = {n for n, i in CATALOG.items() if i.cadence == "metric"}
    assert batch == {"CyclicLR", "OneCycleLR"}
    assert metric == {"ReduceLROnPlateau"}
    assert {n for n, i in CATALOG.items() if i.composite} == {"SequentialLR", "ChainedScheduler"}


# ------------------------------------------------------------------------------------------
# The tutorial's four sequences, exactly
# ------------------------------------------------------------------------------------------


def test_tutorial_steplr() -> None:
    result = preview(parse_spec("StepLR:step_size=10,gamma=0.1"), epochs=30)
    expected, _ = manual_loop(
        lambda o: m.StepLR(o, step_size=10, gamma=0.1),
        epochs=30,
        steps_per_epoch=1,
        cadence="epoch",
    )
    assert result.lr_per_epoch == expected
    assert result.lr_per_epoch == pytest.approx([0.1] * 10 + [0.01] * 10 + [0.001] * 10, rel=1e-12)
    assert result.lr_per_epoch[10] == 0.1 * 0.1  # torch's own float math, not a rounded 0.01


def test_tutorial_multisteplr() -> None:
    result = preview(parse_spec("MultiStepLR:milestones=[10,30],gamma=0.1"), epochs=40)
    expected, _ = manual_loop(
        lambda o: m.MultiStepLR(o, milestones=[10, 30], gamma=0.1),
        epochs=40,
        steps_per_epoch=1,
        cadence="epoch",
    )
    assert result.lr_per_epoch == expected
    assert result.lr_per_epoch == pytest.approx([0.1] * 10 + [0.01] * 20 + [0.001] * 10, rel=1e-12)


def test_tutorial_exponentiallr() -> None:
    result = preview(parse_spec("ExponentialLR:gamma=0.1"), epochs=5)
    expected, _ = manual_loop(
        lambda o: m.ExponentialLR(o, gamma=0.1), epochs=5, steps_per_epoch=1, cadence="epoch"
    )
    assert result.lr_per_epoch == expected
    assert result.lr_per_epoch == pytest.approx([0.1, 0.01, 0.001, 1e-4, 1e-5], rel=1e-12)


def test_tutorial_reduce_on_plateau() -> None:
    """'min', patience 5: the loss improves for 5 epochs, then stalls at 0.6.

    By the documented rule (threshold 1e-4 rel: better means < best x (1 - 1e-4)): epochs 0-4
    improve; epochs 5..10 are bad epochs 1..6, and 6 > patience cuts the LR at the end of epoch 10,
    so epoch 11 trains at 0.01. The counter restarts: epochs 11..16 -> cut, epoch 17 at 0.001;
    epochs 17..22 -> cut, epoch 23 at 0.0001.
    """
    metrics = [1.0, 0.9, 0.8, 0.7, 0.6] + [0.6] * 20
    result = preview(
        parse_spec("ReduceLROnPlateau:mode=min,patience=5"), epochs=25, metrics=metrics
    )
    expected = [0.1] * 11 + [0.1 * 0.1] * 6 + [0.1 * 0.1 * 0.1] * 6 + [0.1 * 0.1 * 0.1 * 0.1] * 2
    assert result.lr_per_epoch == expected
    manual, _ = manual_loop(
        lambda o: m.ReduceLROnPlateau(o, "min", patience=5),
        epochs=25,
        steps_per_epoch=1,
        cadence="metric",
        metrics=metrics,
    )
    assert result.lr_per_epoch == manual
    assert result.cadence == "metric"


# ------------------------------------------------------------------------------------------
# Previews equal the plain torch loop
# ------------------------------------------------------------------------------------------

E, S = 40, 3  # a run long enough for StepLR/MultiStepLR to decay, with 3 batches per epoch

DEFAULTS_BY_HAND: dict[str, Callable[[torch.optim.Optimizer], Any]] = {
    "LambdaLR": lambda o: m.LambdaLR(o, lr_lambda=lambda epoch: 0.95**epoch),
    "MultiplicativeLR": lambda o: m.MultiplicativeLR(o, lr_lambda=lambda epoch: 0.95),
    "StepLR": lambda o: m.StepLR(o, step_size=10),
    "MultiStepLR": lambda o: m.MultiStepLR(o, milestones=[10, 30]),
    "ConstantLR": lambda o: m.ConstantLR(o),
    "LinearLR": lambda o: m.LinearLR(o),
    "ExponentialLR": lambda o: m.ExponentialLR(o, gamma=0.9),
    "PolynomialLR": lambda o: m.PolynomialLR(o, total_iters=E),
    "CosineAnnealingLR": lambda o: m.CosineAnnealingLR(o, T_max=E),
    "CosineAnnealingWarmRestarts": lambda o: m.CosineAnnealingWarmRestarts(o, T_0=E // 4),
    "CyclicLR": lambda o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2 * S),
    "OneCycleLR": lambda o: m.OneCycleLR(o, max_lr=0.1, total_steps=E * S),
    "ReduceLROnPlateau": lambda o: m.ReduceLROnPlateau(o),
}
PLATEAU_METRICS = [1.0 / (1 + e) if e < 8 else 0.2 for e in range(E)]


def test_defaults_by_hand_cover_every_simple_scheduler() -> None:
    assert set(DEFAULTS_BY_HAND) == {n for n, i in CATALOG.items() if not i.composite}


@pytest.mark.parametrize("name", sorted(DEFAULTS_BY_HAND))
@pytest.mark.parametrize("shape", [SGD9, ADAM], ids=["sgd", "adam"])
def test_defaults_equal_manual_loop(name: str, shape: OptimizerShape) -> None:
    cadence = CATALOG[name].cadence
    metrics = PLATEAU_METRICS if cadence == "metric" else None
    result = preview(
        SchedulerSpec(name), epochs=E, steps_per_epoch=S, optimizer=shape, metrics=metrics
    )
    lrs, momenta = manual_loop(
        DEFAULTS_BY_HAND[name],
        epochs=E,
        steps_per_epoch=S,
        cadence=cadence,
        shape=shape,
        metrics=metrics,
    )
    assert result.lr_per_step == lrs
    assert result.lr_per_epoch == lrs[::S]
    assert len(set(lrs)) > 1  # each default actually schedules something over 40 epochs
    if name in ("CyclicLR", "OneCycleLR"):
        assert result.momentum_per_step == momenta
        assert len(set(momenta)) > 1
    else:
        assert result.momentum_per_step is None


def _value_strategy(param: Param, length: int) -> st.SearchStrategy[Any]:
    if param.derived:
        return st.integers(min_value=1, max_value=2 * length)
    if param.kind == "int":
        low = int(param.min) if param.min is not None else 0
        return st.integers(min_value=low, max_value=low + 30)
    if param.kind == "float":
        low = param.min if param.min is not None else 0.0
        high = param.max if param.max is not None else low + 5.0
        return st.floats(
            min_value=low,
            max_value=high,
            exclude_min=not param.min_inclusive,
            exclude_max=not param.max_inclusive,
            allow_nan=False,
        )
    if param.kind == "bool":
        return st.booleans()
    if param.kind == "choice":
        return st.sampled_from(param.choices)
    if param.kind == "int_list":
        return st.lists(st.integers(1, 60), min_size=1, max_size=4, unique=True).map(sorted)
    if param.kind == "formula":
        return st.sampled_from(["0.9 ** epoch", "1 if epoch < 7 else 0.5", "exp(-epoch / 9)"])
    raise AssertionError(param.kind)


@st.composite
def simple_specs(draw: st.DrawFn, names: Sequence[str] | None = None) -> SchedulerSpec:
    name = draw(st.sampled_from(names or sorted(DEFAULTS_BY_HAND)))
    info = CATALOG[name]
    params = {}
    for param in info.params:
        if draw(st.booleans()):
            params[param.name] = draw(_value_strategy(param, 30))
    return SchedulerSpec(name, params)


def _kwargs(spec: SchedulerSpec) -> dict[str, Any]:
    out = {}
    for key, value in spec.params.items():
        param = CATALOG[spec.name].param(key)
        assert param is not None
        out[key] = compile_formula(value) if param.kind == "formula" else value
    return out


@settings(max_examples=60, deadline=None)
@given(spec=simple_specs(), epochs=st.integers(1, 30), spe=st.integers(1, 4), adam=st.booleans())
def test_random_valid_params_equal_manual_loop(
    spec: SchedulerSpec, epochs: int, spe: int, adam: bool
) -> None:
    shape = ADAM if adam else SGD9
    assume(not errors_of(validate(spec, epochs=epochs, steps_per_epoch=spe, optimizer=shape)))
    info = CATALOG[spec.name]
    resolved = resolve(spec, epochs=epochs, steps_per_epoch=spe)
    metrics = [1.0 / (1 + e % 7) for e in range(epochs)]
    result = preview(spec, epochs=epochs, steps_per_epoch=spe, optimizer=shape, metrics=metrics)
    lrs, momenta = manual_loop(
        lambda o: info.cls(o, **_kwargs(resolved)),
        epochs=epochs,
        steps_per_epoch=spe,
        cadence=info.cadence,
        shape=shape,
        metrics=metrics,
    )
    # NaN-aware exact equality: an absurd value (start_factor=5e-324) makes torch itself give NaN
    assert _same(result.lr_per_step, lrs)
    if result.momentum_per_step is not None:
        assert _same(result.momentum_per_step, momenta)


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    return [x if x == x else "nan" for x in a] == [x if x == x else "nan" for x in b]


@settings(max_examples=30, deadline=None)
@given(
    warmup=st.integers(1, 8),
    start=st.floats(0.05, 1.0),
    after=simple_specs(
        ["StepLR", "ExponentialLR", "CosineAnnealingLR", "PolynomialLR", "LambdaLR"]
    ),
    epochs=st.integers(10, 30),
)
def test_warmup_then_any_equals_manual_sequential(
    warmup: int, start: float, after: SchedulerSpec, epochs: int
) -> None:
    text = f"LinearLR:start_factor={start!r},total_iters={warmup} -> {format_spec(after)}"
    spec = parse_spec(text)
    assert spec.name == "SequentialLR" and spec.params["milestones"] == [warmup]
    assume(not errors_of(validate(spec, epochs=epochs, steps_per_epoch=1)))
    resolved_after = resolve(spec, epochs=epochs, steps_per_epoch=1).children[1]
    if after.name in ("CosineAnnealingLR", "PolynomialLR"):
        key = "T_max" if after.name == "CosineAnnealingLR" else "total_iters"
        expected_len = after.params.get(key, epochs - warmup)  # the remaining length
        assert resolved_after.params[key] == expected_len

    def make(o: torch.optim.Optimizer) -> m.SequentialLR:
        first = m.LinearLR(o, start_factor=start, total_iters=warmup)
        second = CATALOG[after.name].cls(o, **_kwargs(resolved_after))
        return m.SequentialLR(o, schedulers=[first, second], milestones=[warmup])

    lrs, _ = manual_loop(make, epochs=epochs, steps_per_epoch=1, cadence="epoch")
    assert preview(spec, epochs=epochs).lr_per_step == lrs


def test_chained_equals_manual() -> None:
    spec = parse_spec("ConstantLR:factor=0.5,total_iters=4 + ExponentialLR:gamma=0.9")
    assert spec.name == "ChainedScheduler"

    def make(o: torch.optim.Optimizer) -> m.ChainedScheduler:
        return m.ChainedScheduler(
            [m.ConstantLR(o, factor=0.5, total_iters=4), m.ExponentialLR(o, gamma=0.9)],
            optimizer=o,
        )

    lrs, _ = manual_loop(make, epochs=12, steps_per_epoch=2, cadence="epoch")
    assert preview(spec, epochs=12, steps_per_epoch=2).lr_per_step == lrs


def test_batch_cadence_composite_counts_steps() -> None:
    spec = parse_spec("CyclicLR:step_size_up=3,cycle_momentum=false -> @12 OneCycleLR")
    assert cadence_of(spec) == "batch"
    resolved = resolve(spec, epochs=5, steps_per_epoch=6)
    assert resolved.children[1].params["total_steps"] == 30 - 12

    def make(o: torch.optim.Optimizer) -> m.SequentialLR:
        first = m.CyclicLR(
            o, base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=3, cycle_momentum=False
        )
        second = m.OneCycleLR(o, max_lr=0.1, total_steps=18)
        return m.SequentialLR(o, schedulers=[first, second], milestones=[12])

    lrs, momenta = manual_loop(make, epochs=5, steps_per_epoch=6, cadence="batch", shape=SGD9)
    result = preview(spec, epochs=5, steps_per_epoch=6, optimizer=SGD9)
    assert result.lr_per_step == lrs
    assert result.momentum_per_step == momenta


# ------------------------------------------------------------------------------------------
# ScheduleDriver: exactly what a real training loop sees
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("StepLR:step_size=2,gamma=0.5", SGD9),
        ("OneCycleLR", SGD9),
        ("CyclicLR:mode=triangular2,step_size_up=2", ADAM),
        ("ReduceLROnPlateau:patience=0,factor=0.5", SGD0),
        ("LinearLR:total_iters=2 -> CosineAnnealingLR", ADAM),
    ],
)
def test_driver_matches_a_real_training_loop(text: str, shape: OptimizerShape) -> None:
    epochs, spe = 6, 4
    spec = parse_spec(text)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    x, y = torch.randn(spe * 8, 4), torch.randint(0, 2, (spe * 8,))
    if shape.name == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=0.05, momentum=shape.momentum
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=0.05, betas=shape.betas)
    sched = build(spec, opt, epochs=epochs, steps_per_epoch=spe)
    driver = ScheduleDriver(spec, epochs=epochs, steps_per_epoch=spe, base_lr=0.05, optimizer=shape)
    cadence = cadence_of(spec)
    for _ in range(epochs):
        planned_lr, planned_m = driver.plan_epoch()
        for b in range(spe):
            group = opt.param_groups[0]
            assert group["lr"] == planned_lr[b]
            momentum = group["betas"][0] if "betas" in group else group["momentum"]
            assert momentum == planned_m[b]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                model(x[b * 8 : b * 8 + 8]), y[b * 8 : b * 8 + 8]
            )
            loss.backward()
            opt.step()
            if cadence == "batch":
                sched.step()
        with torch.no_grad():
            valid_loss = float(torch.nn.functional.cross_entropy(model(x), y))
        if cadence == "metric":
            assert isinstance(sched, m.ReduceLROnPlateau)
            sched.step(valid_loss)
            driver.end_epoch(valid_loss)
            state = driver.plateau_state()
            assert state == PlateauState(sched.best, sched.num_bad_epochs, sched.cooldown_counter)
        else:
            if cadence == "epoch":
                sched.step()
            driver.end_epoch()
            assert driver.plateau_state() is None


def test_driver_details() -> None:
    driver = ScheduleDriver(
        SchedulerSpec("ReduceLROnPlateau"), epochs=2, steps_per_epoch=3, base_lr=0.1
    )
    assert driver.cadence == "metric" and not driver.cycles_momentum
    assert driver.plateau_state() == PlateauState(math.inf, 0, 0)
    assert driver.plan_epoch() == ([0.1] * 3, [0.0] * 3)
    with pytest.raises(ValueError, match="needs the epoch's metric"):
        driver.end_epoch()
    driver.end_epoch(0.5)
    assert driver.plateau_state() == PlateauState(0.5, 0, 0)
    driver.plan_epoch()
    with pytest.raises(RuntimeError, match="the run has 2 epochs"):
        driver.plan_epoch()
    one_cycle = ScheduleDriver(
        SchedulerSpec("OneCycleLR"), epochs=2, steps_per_epoch=3, base_lr=0.1, optimizer=ADAM
    )
    assert one_cycle.cycles_momentum and one_cycle.cadence == "batch"
    with pytest.raises(SpecError, match=r"StepLR\.step_size"):
        ScheduleDriver(parse_spec("StepLR:step_size=0"), epochs=2, steps_per_epoch=1, base_lr=0.1)
    with pytest.raises(SpecError, match="lr: must be a number > 0"):
        ScheduleDriver(SchedulerSpec("StepLR"), epochs=2, steps_per_epoch=1, base_lr=0.0)


def test_preview_emits_no_warnings_for_any_scheduler() -> None:
    specs = [SchedulerSpec(n) for n in DEFAULTS_BY_HAND]
    specs += [parse_spec("LinearLR -> ExponentialLR"), parse_spec("ConstantLR + ExponentialLR")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for spec in specs:
            preview(spec, epochs=6, steps_per_epoch=2, optimizer=SGD9)


def test_preview_metrics_must_cover_the_run() -> None:
    with pytest.raises(SpecError, match="need one value per epoch"):
        preview(SchedulerSpec("ReduceLROnPlateau"), epochs=5, metrics=[1.0, 2.0])


# ------------------------------------------------------------------------------------------
# Validation: one message per field, naming the rule
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("StepLR:step_size=-1", "StepLR.step_size", "must be an integer >= 1 (got -1)"),
        ("StepLR:step_size=0", "StepLR.step_size", "must be an integer >= 1 (got 0)"),
        ("StepLR:gamma=0", "StepLR.gamma", "must be a number > 0 (got 0.0)"),
        ("ExponentialLR:gamma=-0.5", "ExponentialLR.gamma", "must be a number > 0 (got -0.5)"),
        ("ReduceLROnPlateau:factor=1", "ReduceLROnPlateau.factor",
         "must be a number in (0, 1) (got 1.0)"),
        ("ReduceLROnPlateau:patience=-1", "ReduceLROnPlateau.patience",
         "must be an integer >= 0 (got -1)"),
        ("ReduceLROnPlateau:mode=mean", "ReduceLROnPlateau.mode",
         "must be one of min, max (got 'mean')"),
        ("CosineAnnealingLR:eta_min=-0.001", "CosineAnnealingLR.eta_min",
         "must be a number >= 0 (got -0.001)"),
        ("OneCycleLR:max_lr=0,cycle_momentum=false", "OneCycleLR.max_lr",
         "must be a number > 0 (got 0.0)"),
        ("OneCycleLR:pct_start=0,cycle_momentum=false", "OneCycleLR.pct_start",
         "must be a number in (0, 1) (got 0.0)"),
        ("OneCycleLR:pct_start=1,cycle_momentum=false", "OneCycleLR.pct_start",
         "must be a number in (0, 1) (got 1.0)"),
        ("OneCycleLR:total_steps=20,cycle_momentum=false", "OneCycleLR.total_steps",
         "must cover the run's 25 steps (got 20): torch raises after step 20"),
        ("CyclicLR:max_lr=-1,cycle_momentum=false", "CyclicLR.max_lr",
         "must be a number > 0 (got -1.0)"),
        ("CyclicLR:mode=sine,cycle_momentum=false", "CyclicLR.mode",
         "must be one of triangular, triangular2, exp_range (got 'sine')"),
        ("MultiStepLR:milestones=[30,10]", "MultiStepLR.milestones",
         "must be in increasing order (got [30,10])"),
        ("MultiStepLR:milestones=[10,10]", "MultiStepLR.milestones",
         "must not repeat a value (got [10,10])"),
        ("MultiStepLR:milestones=[0,10]", "MultiStepLR.milestones",
         "must be integers >= 1 (got [0,10])"),
        ("ConstantLR:factor=0", "ConstantLR.factor", "must be a number in (0, 1] (got 0.0)"),
        ("LinearLR:start_factor=1.5", "LinearLR.start_factor",
         "must be a number in (0, 1] (got 1.5)"),
        ("PolynomialLR:total_iters=0", "PolynomialLR.total_iters",
         "must be an integer >= 1 (got 0)"),
        ("CosineAnnealingWarmRestarts:T_mult=0", "CosineAnnealingWarmRestarts.T_mult",
         "must be an integer >= 1 (got 0)"),
        ('LambdaLR:lr_lambda="1 / abs(epoch - 3)"', "LambdaLR.lr_lambda",
         "1 / abs(epoch - 3): division by zero at epoch=3"),
        ('LambdaLR:lr_lambda="1 - epoch / 10"', "LambdaLR.lr_lambda",
         "gives a negative factor -0.1 at epoch=11 (1 - epoch / 10)"),
        ("LambdaLR:lr_lambda=\"__import__('os')\"", "LambdaLR.lr_lambda",
         "calling __import__ is not allowed"),
        ("MultiplicativeLR:lr_lambda=\"x\"", "MultiplicativeLR.lr_lambda", "unknown name 'x'"),
        ("OneCycleLR", "OneCycleLR.cycle_momentum", "SGD has momentum 0"),
        ("CyclicLR", "CyclicLR.cycle_momentum", "SGD has momentum 0"),
        ("LinearLR -> @5 ReduceLROnPlateau", "SequentialLR[1].ReduceLROnPlateau",
         "cannot be part of SequentialLR/ChainedScheduler"),
        ("StepLR + ReduceLROnPlateau", "ChainedScheduler[1].ReduceLROnPlateau",
         "cannot be part of SequentialLR/ChainedScheduler"),
        ("LinearLR -> @5 OneCycleLR", "SequentialLR.schedulers",
         "members must share one interval (got LinearLR: per epoch, OneCycleLR: per optimizer"
         " step)"),
        ("LinearLR -> @30 ExponentialLR", "SequentialLR.milestones",
         "30 is not inside the run (25 epochs): the last member would never run"),
        ("LinearLR -> @7 CosineAnnealingLR:eta_min=-1", "SequentialLR[1].CosineAnnealingLR.eta_min",
         "must be a number >= 0 (got -1.0)"),
    ],
)  # fmt: skip
def test_validation_rules(text: str, field: str, message: str) -> None:
    problems = validate(parse_spec(text), epochs=25, steps_per_epoch=1)
    assert field in problems, problems
    # Cycling momentum on momentum-free SGD is what torch does: warned about, never refused.
    expected = "warning" if field.endswith(".cycle_momentum") else "error"
    assert isinstance(problems[field], Problem) and problems[field].severity == expected
    assert message in problems[field]
    assert bool(errors_of(problems)) == (expected == "error")


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (SchedulerSpec("StepLR", {"step_size": 2.5}), "StepLR.step_size",
         "must be an integer >= 1 (got 2.5)"),
        (SchedulerSpec("StepLR", {"gamma": "0.1"}), "StepLR.gamma",
         "must be a number > 0 (got '0.1')"),
        (SchedulerSpec("StepLR", {"gamma": True}), "StepLR.gamma",
         "must be a number > 0 (got True)"),
        (SchedulerSpec("OneCycleLR", {"three_phase": "yes", "cycle_momentum": False}),
         "OneCycleLR.three_phase", "must be true or false (got 'yes')"),
        (SchedulerSpec("MultiStepLR", {"milestones": "10"}), "MultiStepLR.milestones",
         "must be a list of integers (got '10')"),
        (SchedulerSpec("LambdaLR", {"lr_lambda": 0.5}), "LambdaLR.lr_lambda",
         "must be a formula of epoch (got 0.5)"),
        (SchedulerSpec("SteLR"), "SteLR", "unknown scheduler (did you mean 'StepLR'"),
        (SchedulerSpec("StepLR", {"stepsize": 3}), "StepLR.stepsize",
         "unknown parameter (did you mean 'step_size'?)"),
        (SchedulerSpec("ChainedScheduler", {"x": 1}, (SchedulerSpec("StepLR"),) * 2),
         "ChainedScheduler.x", "unknown parameter (ChainedScheduler takes none)"),
        (SchedulerSpec("SequentialLR", {"milestones": [5]}, (SchedulerSpec("LinearLR"),)),
         "SequentialLR.schedulers", "needs at least 2 member schedulers (got 1)"),
        (SchedulerSpec("SequentialLR", {"milestones": [5, 9]},
                       (SchedulerSpec("LinearLR"), SchedulerSpec("StepLR"))),
         "SequentialLR.milestones", "needs 1 values, one per switch (got 2)"),
        (SchedulerSpec("SequentialLR", {}, (SchedulerSpec("StepLR"), SchedulerSpec("StepLR"))),
         "SequentialLR.milestones", "cannot tell when StepLR ends"),
        (SchedulerSpec("StepLR", {}, (SchedulerSpec("StepLR"),)), "StepLR",
         "only SequentialLR and ChainedScheduler have member schedulers"),
    ],
)  # fmt: skip
def test_validation_of_hand_built_specs(spec: SchedulerSpec, field: str, message: str) -> None:
    problems = validate(spec, epochs=25, steps_per_epoch=1)
    assert field in problems, problems
    assert message in problems[field]


def test_validation_of_the_run_itself() -> None:
    assert validate(SchedulerSpec("StepLR"), epochs=0, steps_per_epoch=1) == {
        "epochs": "must be an integer >= 1 (got 0)"
    }
    assert "steps_per_epoch" in validate(SchedulerSpec("StepLR"), epochs=3, steps_per_epoch=0)


def test_warnings_have_a_severity_and_do_not_block() -> None:
    shorter = validate(parse_spec("CosineAnnealingLR:T_max=10"), epochs=25, steps_per_epoch=1)
    assert shorter == {
        "CosineAnnealingLR.T_max": "10 is shorter than the run (25 epochs): the LR climbs back up "
        "after epoch 10"
    }
    assert not errors_of(shorter) and warnings_of(shorter) == shorter
    longer = validate(parse_spec("CosineAnnealingLR:T_max=40"), epochs=25, steps_per_epoch=1)
    assert longer["CosineAnnealingLR.T_max"].startswith("40 is longer than the run")
    assert longer["CosineAnnealingLR.T_max"].severity == "warning"  # type: ignore[attr-defined]
    cut = validate(
        parse_spec("OneCycleLR:total_steps=99"), epochs=5, steps_per_epoch=3, optimizer=SGD9
    )
    assert warnings_of(cut) == {
        "OneCycleLR.total_steps": "99 is longer than the run (15 steps): the cycle is cut short"
    }
    preview(parse_spec("CosineAnnealingLR:T_max=10"), epochs=25)  # runs despite the warning


def test_cycle_momentum_needs_something_to_cycle() -> None:
    for text in ("OneCycleLR", "CyclicLR"):
        spec = parse_spec(text)
        assert f"{text}.cycle_momentum" in validate(spec, epochs=5, steps_per_epoch=2)
        for shape in (SGD9, ADAM, OptimizerShape("adamw")):
            assert validate(spec, epochs=5, steps_per_epoch=2, optimizer=shape) == {}
        off = parse_spec(f"{text}:cycle_momentum=false")
        assert validate(off, epochs=5, steps_per_epoch=2) == {}
        assert preview(off, epochs=5, steps_per_epoch=2).momentum_per_step is None


def test_defaults_are_valid_for_the_default_run() -> None:
    for name in DEFAULTS_BY_HAND:
        assert validate(SchedulerSpec(name), epochs=25, steps_per_epoch=1, optimizer=SGD9) == {}


# ------------------------------------------------------------------------------------------
# Parsing, formatting, TOML, dicts
# ------------------------------------------------------------------------------------------


def test_parse_simple_specs() -> None:
    assert parse_spec("StepLR:step_size=10,gamma=0.1") == SchedulerSpec(
        "StepLR", {"step_size": 10, "gamma": 0.1}
    )
    spec = parse_spec("  steplr : gamma = 1 , step_size = 3 ")
    assert spec == SchedulerSpec("StepLR", {"gamma": 1.0, "step_size": 3})
    assert isinstance(spec.params["gamma"], float)
    assert parse_spec("MultiStepLR:milestones=[ 10 , 30 ]").params == {"milestones": [10, 30]}
    assert parse_spec("MultiStepLR:milestones=7").params == {"milestones": [7]}
    assert parse_spec("OneCycleLR:three_phase=true,anneal_strategy=linear,max_lr=1e-2").params == {
        "three_phase": True,
        "anneal_strategy": "linear",
        "max_lr": 0.01,
    }
    assert parse_spec('LambdaLR:lr_lambda="max(0.1, 0.9 ** epoch)"').params == {
        "lr_lambda": "max(0.1, 0.9 ** epoch)"
    }
    assert parse_spec("LambdaLR:lr_lambda='a \\' b'").params == {"lr_lambda": "a ' b"}
    assert parse_spec("CosineAnnealingLR:eta_min=-.5").params == {"eta_min": -0.5}


def test_parse_composites() -> None:
    seq = parse_spec("LinearLR:start_factor=0.1,total_iters=5 -> CosineAnnealingLR")
    assert seq == SchedulerSpec(
        "SequentialLR",
        {"milestones": [5]},
        (
            SchedulerSpec("LinearLR", {"start_factor": 0.1, "total_iters": 5}),
            SchedulerSpec("CosineAnnealingLR"),
        ),
    )
    assert parse_spec("LinearLR -> @3 ExponentialLR").params == {"milestones": [3]}
    assert parse_spec("LinearLR -> ExponentialLR").params == {"milestones": [5]}  # torch's 5
    three = parse_spec(
        "LinearLR -> ConstantLR:total_iters=3 -> CosineAnnealingLR:T_max=4 -> StepLR"
    )
    assert three.params == {"milestones": [5, 8, 12]}
    mixed = parse_spec("LinearLR -> ConstantLR + ExponentialLR")
    assert mixed.name == "SequentialLR"
    assert [c.name for c in mixed.children] == ["LinearLR", "ChainedScheduler"]
    nested = parse_spec("(LinearLR -> @2 StepLR) + ExponentialLR")
    assert nested.name == "ChainedScheduler" and nested.children[0].name == "SequentialLR"


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("", "spec", "empty"),
        ("Nope", "Nope", "unknown scheduler (choose from LambdaLR"),
        ("StepLr2", "StepLr2", "did you mean 'StepLR'"),
        ("StepLR:foo=1", "StepLR.foo", "unknown parameter"),
        ("StepLR:step_size=2.5", "StepLR.step_size", "must be an integer (got 2.5)"),
        ("StepLR:gamma=abc", "StepLR.gamma", "must be a number (got abc)"),
        ("OneCycleLR:three_phase=maybe", "OneCycleLR.three_phase", "must be true or false"),
        ("StepLR:step_size=[1]", "StepLR.step_size", "must be a single int, not a list"),
        ("MultiStepLR:milestones=[1,[2]]", "MultiStepLR.milestones", "nested lists"),
        ("StepLR:step_size=1,step_size=2", "StepLR.step_size", "given twice"),
        ("StepLR:step_size", "spec", "expected '=' after 'step_size'"),
        ("StepLR:step_size=10,", "spec", "expected a parameter name"),
        ("StepLR:step_size=", "spec", "expected a value"),
        ("StepLR step_size=1", "spec", "unexpected 's'"),
        ('LambdaLR:lr_lambda="0.9', "spec", 'missing closing "'),
        ("(StepLR", "spec", "expected ')'"),
        ("StepLR -> @ StepLR", "spec", "expected a step number after '@'"),
        ("StepLR -> CosineAnnealingLR", "SequentialLR.milestones", "cannot tell when StepLR ends"),
        ("SequentialLR", "SequentialLR", "write its members as 'A -> B'"),
        ("ChainedScheduler", "ChainedScheduler", "write its members as 'A + B'"),
        ("StepLR:step_size=1 ->", "spec", "expected a scheduler name"),
    ],
)
def test_parse_errors(text: str, field: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert info.value.field == field
    assert fragment in info.value.message
    assert str(info.value) == f"{field}: {info.value.message}"


@st.composite
def any_specs(draw: st.DrawFn, depth: int = 0) -> SchedulerSpec:
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        children = tuple(draw(any_specs(depth + 1)) for _ in range(draw(st.integers(2, 3))))
        if draw(st.booleans()):
            n = len(children) - 1
            milestones = sorted(
                draw(st.lists(st.integers(1, 99), min_size=n, max_size=n, unique=True))
            )
            return SchedulerSpec("SequentialLR", {"milestones": milestones}, children)
        return SchedulerSpec("ChainedScheduler", {}, children)
    return draw(simple_specs())


@settings(max_examples=150, deadline=None)
@given(spec=any_specs())
def test_format_parse_round_trip(spec: SchedulerSpec) -> None:
    text = format_spec(spec)
    assert parse_spec(text) == spec
    assert str(spec) == text
    assert SchedulerSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_format_examples() -> None:
    spec = parse_spec('LambdaLR:lr_lambda="min(1, (epoch + 1) / 5)"')
    assert format_spec(spec) == 'LambdaLR:lr_lambda="min(1, (epoch + 1) / 5)"'
    assert format_spec(parse_spec("LinearLR + StepLR -> @4 (ExponentialLR -> @2 StepLR)")) == (
        "LinearLR + StepLR -> @4 (ExponentialLR -> @2 StepLR)"
    )
    assert format_spec(parse_spec("OneCycleLR:three_phase=TRUE")) == "OneCycleLR:three_phase=true"


def test_spec_from_toml() -> None:
    doc = tomllib.loads(
        """
        [scheduler]
        name = "SequentialLR"
        milestones = [5]
        schedulers = [
          {name = "LinearLR", start_factor = 0.1, total_iters = 5},
          {name = "CosineAnnealingLR", T_max = 20},
        ]
        [plain]
        name = "StepLR"
        step_size = 10
        gamma = 1
        [chained]
        name = "ChainedScheduler"
        schedulers = [{name = "ConstantLR"}, {name = "ExponentialLR", gamma = 0.95}]
        [derived]
        name = "SequentialLR"
        schedulers = [{name = "LinearLR", total_iters = 3}, {name = "ExponentialLR"}]
        """
    )
    assert spec_from_toml(doc["scheduler"]) == parse_spec(
        "LinearLR:start_factor=0.1,total_iters=5 -> @5 CosineAnnealingLR:T_max=20"
    )
    plain = spec_from_toml(doc["plain"])
    assert plain == SchedulerSpec("StepLR", {"step_size": 10, "gamma": 1.0})
    assert isinstance(plain.params["gamma"], float)
    assert spec_from_toml(doc["chained"]) == parse_spec("ConstantLR + ExponentialLR:gamma=0.95")
    assert spec_from_toml(doc["derived"]).params == {"milestones": [3]}


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"step_size": 3}, "scheduler.name: missing"),
        ({"name": "Nope"}, "Nope: unknown scheduler"),
        ({"name": "StepLR", "step": 3}, "StepLR.step: unknown parameter"),
        ({"name": "StepLR", "step_size": "10"}, "StepLR.step_size: must be an integer (got '10')"),
        ({"name": "StepLR", "gamma": True}, "StepLR.gamma: must be a number"),
        ({"name": "SequentialLR", "schedulers": []}, "SequentialLR.schedulers: must be a list"),
        ({"name": "ChainedScheduler", "milestones": [1], "schedulers": [{"name": "StepLR"}]},
         "ChainedScheduler.milestones: unknown parameter"),
    ],
)  # fmt: skip
def test_spec_from_toml_errors(table: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        spec_from_toml(table)
    assert fragment in str(info.value)


def test_from_dict_is_lenient_for_validate_to_report() -> None:
    spec = SchedulerSpec.from_dict({"name": "steplr", "params": {"step_size": "x", "gamma": 1}})
    assert spec == SchedulerSpec("StepLR", {"step_size": "x", "gamma": 1.0})
    assert "StepLR.step_size" in validate(spec, epochs=3, steps_per_epoch=1)


# ------------------------------------------------------------------------------------------
# resolve, build, to_code
# ------------------------------------------------------------------------------------------


def test_resolve_fills_derived_and_required_values() -> None:
    def r(text: str, epochs: int = 25, spe: int = 10) -> dict[str, Any]:
        return resolve(parse_spec(text), epochs=epochs, steps_per_epoch=spe).params

    assert r("CosineAnnealingLR") == {"T_max": 25}
    assert r("CosineAnnealingLR:T_max=7") == {"T_max": 7}
    assert r("PolynomialLR") == {"total_iters": 25}
    assert r("OneCycleLR") == {"max_lr": 0.1, "total_steps": 250}
    assert r("CyclicLR") == {
        "base_lr": 0.01,
        "max_lr": 0.1,
        "step_size_up": 20,
        "step_size_down": 20,
    }
    assert r("CyclicLR:step_size_up=3") == {
        "base_lr": 0.01,
        "max_lr": 0.1,
        "step_size_up": 3,
        "step_size_down": 3,
    }
    assert r("CosineAnnealingWarmRestarts") == {"T_0": 6}
    assert r("StepLR") == {"step_size": 10}
    assert r("ExponentialLR") == {"gamma": 0.9}
    assert r("LinearLR") == {}  # torch's own defaults (total_iters=5) stay torch's
    assert r("LambdaLR") == {"lr_lambda": "0.95 ** epoch"}
    seq = resolve(parse_spec("LinearLR -> CosineAnnealingLR"), epochs=25, steps_per_epoch=10)
    assert seq.params == {"milestones": [5]}
    assert seq.children[1].params == {"T_max": 20}  # the remaining length


def test_build_returns_the_real_torch_objects() -> None:
    opt = _optimizer(SGD9, 0.1)
    assert type(build(SchedulerSpec("StepLR"), opt, epochs=5, steps_per_epoch=1)) is m.StepLR
    seq = build(
        parse_spec("LinearLR -> CosineAnnealingLR"),
        _optimizer(SGD0, 0.1),
        epochs=9,
        steps_per_epoch=1,
    )
    assert isinstance(seq, m.SequentialLR)
    assert [type(s) for s in seq._schedulers] == [m.LinearLR, m.CosineAnnealingLR]
    assert seq._schedulers[1].T_max == 4
    lam = build(SchedulerSpec("LambdaLR"), _optimizer(SGD0, 0.1), epochs=3, steps_per_epoch=1)
    assert isinstance(lam, m.LambdaLR)
    with pytest.raises(SpecError, match=r"OneCycleLR\.pct_start"):
        build(parse_spec("OneCycleLR:pct_start=0"), _optimizer(ADAM, 0.1), epochs=3,
              steps_per_epoch=1)
    # torch turns momentum on for momentum-free SGD; lrtui warns but builds what torch builds.
    sgd0 = _optimizer(SGD0, 0.1)
    build(SchedulerSpec("OneCycleLR"), sgd0, epochs=3, steps_per_epoch=1)
    assert sgd0.param_groups[0]["momentum"] > 0
    one = build(SchedulerSpec("OneCycleLR"), _optimizer(ADAM, 0.1), epochs=3, steps_per_epoch=4)
    assert isinstance(one, m.OneCycleLR) and one.total_steps == 12


def test_to_code_text() -> None:
    code = to_code(parse_spec("StepLR:step_size=10,gamma=0.1"), epochs=30, steps_per_epoch=5)
    assert code == (
        "from torch.optim.lr_scheduler import StepLR\n\n"
        "# resolved for 30 epochs x 5 steps per epoch, stepped per epoch\n"
        "scheduler = StepLR(optimizer, step_size=10, gamma=0.1)\n"
        "# once per epoch, after that epoch's optimizer.step() calls:\n"
        "# scheduler.step()\n"
    )
    lam = to_code(parse_spec('LambdaLR:lr_lambda="exp(-epoch / 10)"'), epochs=3, steps_per_epoch=1)
    assert "import math\n" in lam
    assert "LambdaLR(optimizer, lr_lambda=lambda epoch: math.exp(-epoch / 10))" in lam
    with pytest.raises(SpecError, match=r"StepLR\.step_size"):
        to_code(parse_spec("StepLR:step_size=0"), epochs=3, steps_per_epoch=1)


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("StepLR:step_size=3,gamma=0.5", SGD0),
        ('LambdaLR:lr_lambda="max(0.1, cos(pi * epoch / 20))"', SGD0),
        ('MultiplicativeLR:lr_lambda="0.9 if epoch < 4 else 1"', SGD0),
        ("OneCycleLR:three_phase=true", SGD9),
        ("CyclicLR:mode=exp_range,gamma=0.99", ADAM),
        ("ReduceLROnPlateau:patience=1,cooldown=1", SGD0),
        ("LinearLR:start_factor=0.1,total_iters=3 -> CosineAnnealingLR", SGD0),
        ("(LinearLR -> @2 StepLR:step_size=2) + ExponentialLR", SGD0),
        ("CosineAnnealingWarmRestarts:T_mult=2", SGD0),
    ],
)
def test_to_code_runs_and_matches_preview(text: str, shape: OptimizerShape) -> None:
    """The snippet, exec'd here in the test only, gives the LRs the preview shows."""
    epochs, spe = 10, 3
    spec = parse_spec(text)
    code = to_code(spec, epochs=epochs, steps_per_epoch=spe, optimizer_var="opt")
    metrics = [1.0, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]

    def make(o: torch.optim.Optimizer) -> Any:
        namespace: dict[str, Any] = {"opt": o}
        exec(code, namespace)
        return namespace["scheduler"]

    cadence = cadence_of(spec)
    lrs, momenta = manual_loop(
        make, epochs=epochs, steps_per_epoch=spe, cadence=cadence, shape=shape, metrics=metrics
    )
    result = preview(spec, epochs=epochs, steps_per_epoch=spe, optimizer=shape, metrics=metrics)
    assert result.lr_per_step == lrs
    if result.momentum_per_step is not None:
        assert result.momentum_per_step == momenta


def test_each_entry_names_its_spec_in_short_form() -> None:
    short = {
        "StepLR:step_size=10,gamma=0.1": "StepLR 10/0.1",
        "CosineAnnealingLR:T_max=25": "Cosine T=25",
        "OneCycleLR:max_lr=0.5": "1cycle 0.5",
        "MultiStepLR:milestones=[10,30],gamma=0.1": "MultiStep 10,30/0.1",
        "ExponentialLR:gamma=0.1": "Exp 0.1",
        "LinearLR:start_factor=0.1,total_iters=5 -> CosineAnnealingLR": "LinearLR 5 → Cosine",
        "CosineAnnealingLR": "Cosine",  # T_max not given (derived from the run): the name alone
        "not a spec ::": "not",
    }
    assert {text: short_spec(text) for text in short} == short
    # Every entry has a short form, also with no parameter given.
    for info in ENTRIES.values():
        assert short_spec(SchedulerSpec(info.name)), info.name
