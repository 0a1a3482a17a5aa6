"""Bad specs found by probing (issue 9): one error naming the field for each, never a traceback.

Huge numbers, composites torch cannot run, deep nesting, LRs that overflow, formulas that fail
late, and a fuzz test: only SpecError ever leaves the catalog's parsers, validate() and preview().
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as m

from lrtui.cli import main
from lrtui.schedulers import (
    CATALOG,
    ENTRIES,
    ScheduleDriver,
    SchedulerSpec,
    SpecError,
    errors_of,
    parse_spec,
    preview,
    spec_from_toml,
    validate,
)
from lrtui.schedulers.params import MAX_INT
from lrtui.schedulers.spec import MAX_DEPTH

BIG = "9" * 400


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lrtui: error: ") and "Traceback" not in err
    return lines[0]


# ---- item 6: numbers beyond the float range


def int_params() -> list[tuple[str, str]]:
    return [
        (info.name, p.name)
        for info in CATALOG.values()
        if not info.composite
        for p in info.params
        if p.kind == "int"
    ]


@pytest.mark.parametrize(("name", "param"), int_params())
def test_huge_integer_of_every_int_parameter_is_one_error(name: str, param: str) -> None:
    for spec in (
        parse_spec(f"{name}:{param}={BIG}"),
        spec_from_toml({"name": name, param: int(BIG)}),
    ):
        problems = errors_of(validate(spec, epochs=10, steps_per_epoch=5))
        assert problems == {
            f"{name}.{param}": f"must be an integer <= {MAX_INT} (got "
            "999999999999...999999 (400 digits))"
        }


@pytest.mark.parametrize(
    ("name", "param"),
    [(i.name, p.name) for i in CATALOG.values() for p in i.params if p.kind == "float"],
)
def test_huge_number_of_every_float_parameter_is_one_error(name: str, param: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(f"{name}:{param}={BIG}")
    assert caught.value.field == f"{name}.{param}"
    assert caught.value.message.startswith("must be a finite number (got 999999999999...")
    # TOML gives Python ints of any size; a stored config keeps it for validate to refuse
    with pytest.raises(SpecError) as caught:
        spec_from_toml({"name": name, param: int(BIG)})
    assert str(caught.value).startswith(f"{name}.{param}: must be a finite number (got 99999")
    spec = SchedulerSpec.from_dict({"name": name, "params": {param: int(BIG)}})
    problems = errors_of(validate(spec, epochs=10, steps_per_epoch=5))
    assert "(400 digits)" in problems[f"{name}.{param}"], problems


def test_huge_negative_and_milestones(capsys: pytest.CaptureFixture[str]) -> None:
    problems = validate(
        parse_spec(f"ReduceLROnPlateau:patience=-{BIG}"), epochs=3, steps_per_epoch=1
    )
    assert problems["ReduceLROnPlateau.patience"].startswith("must be an integer >= 0 (got -99")
    problems = validate(
        parse_spec(f"MultiStepLR:milestones=[3,{BIG}]"), epochs=3, steps_per_epoch=1
    )
    assert problems["MultiStepLR.milestones"].startswith(f"must be integers <= {MAX_INT}")
    code, _, err = cli(capsys, "preview", "-s", f"StepLR:step_size={BIG}")
    assert code == 2
    assert one_error_line(err).startswith("lrtui: error: StepLR.step_size: must be an integer <= ")


def test_largest_allowed_integer_still_runs() -> None:
    p = preview(parse_spec(f"StepLR:step_size={MAX_INT}"), epochs=3)
    assert p.lr_per_step == [0.1, 0.1, 0.1]


# ---- item 7: composites torch cannot run


def _torch_runs(make: Any, steps: int) -> bool:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    try:
        sched = make(opt)
        for _ in range(steps):
            opt.step()
            sched.step()
    except NotImplementedError:
        return False
    return True


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_composite_after_a_milestone_is_refused_because_torch_cannot_run_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # torch itself fails on it (the rule is not ours to invent) ...
    assert not _torch_runs(
        lambda o: m.SequentialLR(
            o,
            [m.StepLR(o, 3), m.ChainedScheduler([m.StepLR(o, 3), m.StepLR(o, 3)], optimizer=o)],
            [2],
        ),
        5,
    )
    # ... so validate refuses it, from a spec and from TOML, and preview and run say so at once.
    spec = parse_spec("StepLR -> @2 (StepLR + StepLR)")
    toml = spec_from_toml(
        {
            "name": "SequentialLR",
            "milestones": [2],
            "schedulers": [
                {"name": "StepLR"},
                {
                    "name": "ChainedScheduler",
                    "schedulers": [{"name": "StepLR"}, {"name": "StepLR"}],
                },
            ],
        }
    )
    assert toml == spec
    problems = errors_of(validate(spec, epochs=5, steps_per_epoch=1, dry_run=False))
    assert list(problems) == ["SequentialLR[1].ChainedScheduler"]
    assert "torch cannot run a composite" in problems["SequentialLR[1].ChainedScheduler"]
    nested_seq = parse_spec("StepLR -> @2 (StepLR -> @3 ExponentialLR)")
    assert "SequentialLR[1].SequentialLR" in validate(nested_seq, epochs=9, steps_per_epoch=1)
    code, out, err = cli(capsys, "preview", "-s", "StepLR -> @2 (StepLR + StepLR)", "--json")
    assert code == 2 and out == ""
    assert "SequentialLR[1].ChainedScheduler: torch cannot run" in one_error_line(err)


@pytest.mark.parametrize(
    "text",
    [
        "(StepLR + ExponentialLR) -> @2 StepLR",
        "(LinearLR:total_iters=2 -> @2 ExponentialLR) -> @5 StepLR",
        "StepLR + (LinearLR:total_iters=2 -> @2 ExponentialLR)",
        "StepLR + (ConstantLR + ExponentialLR)",
    ],
)
def test_composites_torch_can_run_preview_like_the_plain_loop(text: str) -> None:
    spec = parse_spec(text)
    assert errors_of(validate(spec, epochs=8, steps_per_epoch=1, dry_run=True)) == {}
    assert len(preview(spec, epochs=8).lr_per_step) == 8


def test_the_run_command_refuses_a_composite_torch_cannot_run_before_training() -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "LRTUI_DB": "/nonexistent/never-opened.db"}
    done = subprocess.run(
        [sys.executable, "-m", "lrtui", "run", "-s", "StepLR -> @2 (StepLR + StepLR)",
         "--dataset", "mnist-sample", "--epochs", "3"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "torch cannot run a composite" in one_error_line(done.stderr)


# ---- item 8: deep nesting


def test_deep_brackets_in_a_spec_give_a_depth_message() -> None:
    for text in (
        "(" * 990 + "StepLR" + ")" * 990,
        "MultiStepLR:milestones=" + "[" * 900 + "]" * 900,
    ):
        with pytest.raises(SpecError) as caught:
            parse_spec(text)
        assert f"nested deeper than {MAX_DEPTH} levels" in str(caught.value)
        assert len(str(caught.value)) < 200  # the long text is not echoed whole
    ok = "(" * MAX_DEPTH + "StepLR" + ")" * MAX_DEPTH
    assert parse_spec(ok) == SchedulerSpec("StepLR")


def test_deep_toml_stored_and_built_specs_give_a_depth_message() -> None:
    table: dict[str, Any] = {"name": "StepLR"}
    stored: dict[str, Any] = {"name": "StepLR", "params": {}}
    built = SchedulerSpec("StepLR")
    for _ in range(400):
        table = {"name": "ChainedScheduler", "schedulers": [table, {"name": "StepLR"}]}
        stored = {"name": "ChainedScheduler", "params": {}, "children": [stored, stored]}
        built = SchedulerSpec("ChainedScheduler", {}, (built, SchedulerSpec("StepLR")))
    with pytest.raises(SpecError, match=f"nested deeper than {MAX_DEPTH} levels"):
        spec_from_toml(table)
    with pytest.raises(SpecError, match=f"nested deeper than {MAX_DEPTH} levels"):
        SchedulerSpec.from_dict(stored)
    assert validate(built, epochs=3, steps_per_epoch=1) == {
        "ChainedScheduler": f"nested deeper than {MAX_DEPTH} levels"
    }


def test_a_toml_file_nested_400_deep_is_one_line(tmp_path: Any) -> None:
    table = '{name="StepLR"}'
    for _ in range(400):
        table = '{name="ChainedScheduler", schedulers=[' + table + ', {name="StepLR"}]}'
    path = tmp_path / "deep.toml"
    path.write_text(f"epochs = 2\n[[run]]\nscheduler = {table}\n")
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "LRTUI_DB": str(tmp_path / "runs.db")}
    done = subprocess.run(
        [sys.executable, "-m", "lrtui", "run", "--config", str(path), "--dataset", "mnist-sample"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "nested too deeply" in one_error_line(done.stderr)
    assert not (tmp_path / "runs.db").exists()


# ---- item 9: LRs that overflow; strict JSON


@pytest.mark.parametrize(
    ("text", "epochs", "where"),
    [
        ('MultiplicativeLR:lr_lambda="10"', 400, "epoch 311 of 400"),
        ("ExponentialLR:gamma=1e308", 10, "epoch 3 of 10"),
        ("OneCycleLR:div_factor=1e-320", 10, "epoch 1 of 10"),
    ],
)
def test_an_lr_that_overflows_is_an_error_naming_the_epoch(
    capsys: pytest.CaptureFixture[str], text: str, epochs: int, where: str
) -> None:
    spec = parse_spec(text)
    name = spec.name
    problems = errors_of(validate(spec, epochs=epochs, steps_per_epoch=1, base_lr=0.1))
    assert problems == {name: f"the LR becomes inf at {where}: no training can use it"}
    with pytest.raises(SpecError, match=f"the LR becomes inf at {where}"):
        preview(spec, epochs=epochs)
    code, out, err = cli(capsys, "preview", "-s", text, "--epochs", str(epochs), "--json")
    assert code == 2 and out == ""
    assert (
        one_error_line(err) == f"lrtui: error: {name}: the LR becomes inf at {where}: "
        "no training can use it"
    )


def test_a_long_run_is_checked_by_the_full_dry_run_only(capsys: pytest.CaptureFixture[str]) -> None:
    spec = parse_spec("ExponentialLR:gamma=10")
    # 1,000 epochs x 5 steps of batch-free cadence is 1,000 scheduler steps: cheap, checked always
    assert errors_of(validate(spec, epochs=1000, steps_per_epoch=5))
    # a run too long for every keystroke: only dry_run=True steps it (lrtui run does)
    assert errors_of(validate(spec, epochs=5000, steps_per_epoch=1)) == {}
    assert errors_of(validate(spec, epochs=5000, steps_per_epoch=1, dry_run=True)) == {
        "ExponentialLR": "the LR becomes inf at epoch 310 of 5000: no training can use it"
    }


def test_preview_json_is_strict(capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(token: str) -> None:
        raise AssertionError(f"not JSON: {token}")

    code, out, _ = cli(capsys, "preview", "-s", "ExponentialLR:gamma=1e100", "--epochs", "3",
                       "--json")  # fmt: skip
    assert code == 0
    data = json.loads(out, parse_constant=refuse)
    assert data["lr_per_step"] == [0.1, 0.1 * 1e100, 0.1 * 1e100 * 1e100]


GROWTH = ("the LR grows to 1e+307 at epoch 2 of 2, 1e+308 times the base LR: training at such "
          "an LR diverges")


def test_an_lr_near_the_float_limit_is_charted_and_warned_about(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """gamma=1e308 over 2 epochs: the LR reaches 1e307, finite (no error), past where plotext's
    linear axis overflows (it raised OverflowError): the chart draws it, the run is warned."""
    code, out, err = cli(capsys, "preview", "-s", "ExponentialLR:gamma=1e308", "--epochs", "2")
    assert code == 0
    assert "LR        first 0.1  last 1e+307  min 0.1  max 1e+307" in out
    assert err == f"lrtui: warning: ExponentialLR: {GROWTH}\n"
    problems = validate(parse_spec("ExponentialLR:gamma=1e308"), epochs=2, steps_per_epoch=1,
                        base_lr=0.1)
    assert problems == {"ExponentialLR": GROWTH}
    assert problems["ExponentialLR"].severity == "warning"  # type: ignore[attr-defined]


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("text", ["LambdaLR:lr_lambda='1e-320'", "ExponentialLR:gamma=1e-100"])
def test_a_vanishing_lr_is_charted(capsys: pytest.CaptureFixture[str], text: str,
                                   log: bool) -> None:
    """A subnormal LR (1e-321) made plotext's own ticks raise OverflowError, on either axis:
    the chart takes the app's ticks, which hold at any magnitude."""
    code, out, err = cli(capsys, "preview", "-s", text, "--epochs", "4", *(["--log"] * log))
    assert code == 0 and err == ""
    labels = [row.split("┤")[0].strip() for row in out.split("\n") if "┤" in row]
    assert len(labels) >= 2 and len(set(labels)) == len(labels)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_no_catalog_example_is_warned_about_growing_the_lr(name: str) -> None:
    """Warm-ups, cycles and recipes stay far below LR_GROWTH_WARNING times the base LR."""
    example = ENTRIES[name].example or name
    problems = validate(parse_spec(example), epochs=25, steps_per_epoch=40, base_lr=0.1,
                        dry_run=True)
    assert not [p for p in problems.values() if "grows" in p], problems


def test_strict_json_turns_non_finite_numbers_into_null() -> None:
    from lrtui.commands import strict_json

    assert strict_json({"a": [1.0, float("inf"), float("nan")], "b": (float("-inf"),)}) == (
        '{"a": [1.0, null, null], "b": [null]}'
    )


# ---- item 10: a formula that fails late


def test_a_formula_failing_at_epoch_100001_of_100003_is_found_before_the_run() -> None:
    spec = parse_spec('LambdaLR:lr_lambda="1/(100001-epoch)"')
    problems = errors_of(validate(spec, epochs=100_003, steps_per_epoch=1, dry_run=True))
    assert problems == {
        "LambdaLR": "torch's step() failed at epoch 100001 of 100003: FormulaError: "
        "1/(100001-epoch): division by zero at epoch=100001"
    }


def test_a_per_step_schedule_names_the_optimizer_step() -> None:
    from lrtui.schedulers.driver import run_through

    spec = parse_spec('LambdaLR:lr_lambda="1 / (7 - step)",interval=step')
    driver = ScheduleDriver(spec, epochs=3, steps_per_epoch=4, base_lr=0.1, validated=True)
    with pytest.raises(SpecError) as caught:
        run_through(driver)  # the static check would have said it first (at step=7)
    assert caught.value.message == (
        "torch's step() failed at optimizer step 7 of 12 (epoch 2 of 3): "
        "FormulaError: 1 / (7 - step): division by zero at step=7"
    )


def test_the_driver_names_the_epoch_where_a_formula_fails() -> None:
    # validated=True: as after a validate() that did not reach that far (the engine's case)
    driver = ScheduleDriver(
        parse_spec('LambdaLR:lr_lambda="1/(3-epoch)"'),
        epochs=3,
        steps_per_epoch=2,
        base_lr=0.1,
        validated=True,
    )
    assert driver.plan_epoch()[0] == pytest.approx([0.1 / 3, 0.1 / 3])
    driver.end_epoch()  # lambda(1)
    driver.plan_epoch()
    driver.end_epoch()  # lambda(2)
    driver.plan_epoch()
    with pytest.raises(SpecError) as caught:
        driver.end_epoch()  # lambda(3): 1/0
    assert caught.value.field == "LambdaLR"
    assert caught.value.message == (
        "torch's step() failed at epoch 3 of 3: "
        "FormulaError: 1/(3-epoch): division by zero at epoch=3"
    )


# ---- fuzz: only SpecError escapes

_TOKENS = [
    "StepLR", "LambdaLR", "OneCycleLR", "CyclicLR", "SequentialLR", "ReduceLROnPlateau",
    "CosineAnnealingLR", "MultiStepLR", "ChainedScheduler", "ExponentialLR", "Foo",
    ":", ",", "=", "->", "+", "@", "(", ")", "[", "]", '"', "'", " ", "\\",
    "step_size", "gamma", "T_max", "milestones", "lr_lambda", "total_steps", "max_lr", "mode",
    "WarmupCosine", "WSD", "FastaiOneCycle", "InverseSqrt", "interval", "step", "warmup_steps",
    "warmup_ratio", "decay_type", "1-sqrt", "timescale",
    "0", "1", "-1", "3", "1e308", "1e-320", BIG, "nan", "inf", "0.5", "epoch", "**", "/", "true",
]  # fmt: skip


def _exercise(spec: SchedulerSpec) -> None:
    for epochs, spe in ((3, 2), (40, 1)):
        problems = validate(spec, epochs=epochs, steps_per_epoch=spe)
        assert all(isinstance(v, str) for v in problems.values())
        if not errors_of(problems):
            preview(spec, epochs=epochs, steps_per_epoch=spe)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=14))
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fuzz_spec_strings_raise_only_spec_error(tokens: list[str]) -> None:
    try:
        spec = parse_spec("".join(tokens))
        _exercise(spec)
    except SpecError:
        pass


_NAMES = st.sampled_from([*ENTRIES, "Nope", 3, None])
_VALUES = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.integers(min_value=-5, max_value=50), max_size=4),
    st.lists(st.floats(), max_size=3),
)
_KEYS = st.sampled_from(
    ["step_size", "gamma", "T_max", "milestones", "lr_lambda", "total_steps", "max_lr", "mode",
     "patience", "cooldown", "factor", "total_iters", "eta_min", "T_0", "base_lr", "bogus",
     "interval", "warmup_steps", "warmup_ratio", "decay_steps", "decay_ratio", "decay_type",
     "num_cycles", "min_lr_ratio", "timescale", "div", "pct_start"]
)  # fmt: skip
_TABLES = st.recursive(
    st.fixed_dictionaries({"name": _NAMES}, optional={"k": st.dictionaries(_KEYS, _VALUES)}),
    lambda inner: st.fixed_dictionaries(
        {
            "name": st.sampled_from(["SequentialLR", "ChainedScheduler"]),
            "schedulers": st.lists(inner, max_size=3),
        },
        optional={"milestones": st.one_of(_VALUES, st.lists(st.integers(-3, 30), max_size=3))},
    ),
    max_leaves=6,
)


def _flatten(table: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in table.items() if k != "k"}
    out.update(table.get("k", {}))
    if "schedulers" in out:
        out["schedulers"] = [_flatten(t) for t in out["schedulers"]]
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TABLES)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fuzz_toml_tables_raise_only_spec_error(table: dict[str, Any]) -> None:
    try:
        spec = spec_from_toml(_flatten(table))
        _exercise(spec)
        _exercise(SchedulerSpec.from_dict(spec.to_dict()))
    except SpecError:
        pass


def test_the_dry_run_leaves_optimizer_rules_to_the_optimizer_fields() -> None:
    from lrtui.schedulers import OptimizerShape

    shape = OptimizerShape("adam", betas=(1.5, 0.999))  # torch refuses it; model.py reports it
    assert validate(parse_spec("StepLR"), epochs=3, steps_per_epoch=1, optimizer=shape) == {}


def test_preview_flags_with_huge_numbers_are_one_short_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for flags in (["--epochs", BIG], ["--steps-per-epoch", "x" + BIG], ["--lr", BIG]):
        code, _, err = cli(capsys, "preview", "-s", "StepLR", *flags)
        assert code == 2
        line = one_error_line(err)
        assert len(line) < 160, line
        assert "(400 digits)" in line or "(401 characters)" in line, line
