"""The fields table: one parser per value kind and one bound per field, for flags, TOML and form.

Bad numbers anywhere (400 digits, 2**63 - 1, the wrong TOML type, text that is not UTF-8) are one
line naming the field as the user wrote it, exit code 2; the fuzz tests throw random flag values
and TOML documents at the parsers and accept no other exception than the documented ones.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrtui import fields as F
from lrtui.cli import build_parser, main
from lrtui.commands import UsageError, find_lr, preview, run
from lrtui.fields import FieldError, from_text, from_toml
from lrtui.model import RunConfig, validate_config

HUGE = "9" * 400
INT64 = "9223372036854775807"
ROOT = Path(__file__).resolve().parent.parent
SHOWN = "999999999999…999999 (400 digits)"  # how messages echo HUGE


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code: int, out: str, err: str, start: str) -> None:
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"lrtui: error: {start}"), err


# ------------------------------------------------------------------------------- the parsers


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        (F.EPOCHS, HUGE, f"--epochs: must be an integer <= 1000000 (got {SHOWN})"),
        (F.EPOCHS, "9" * 5000,
         "--epochs: must be an integer <= 1000000 (got 999999999999…999999 (5000 digits))"),
        (F.EPOCHS, "-" + HUGE,
         "--epochs: must be an integer >= 1 (got -99999999999…999999 (400 digits))"),
        (F.EPOCHS, "2.5", "--epochs: must be an integer >= 1 (got 2.5)"),
        (F.EPOCHS, "", "--epochs: must be an integer >= 1 (got nothing)"),
        (F.SEED, str(2**32), "--seed: must be an integer <= 4294967295 (got 4294967296)"),
        (F.BATCH_SIZE, "100001", "--batch-size: must be an integer <= 100000 (got 100001)"),
        (F.LR, HUGE, "--lr: must be a number > 0 (got 999999999999…999999 (400 digits))"),
        (F.LR, "1e400", "--lr: must be a number > 0 (got 1e400)"),
        (F.LR, "nan", "--lr: must be a number > 0 (got nan)"),
        (F.LR, "-1", "--lr: must be > 0 (got -1)"),
        (F.MOMENTUM, "1", "--momentum: must be in [0, 1) (got 1)"),
        (F.DIVERGE_FACTOR, HUGE, f"--diverge-factor: must be a number > 1 (got {SHOWN})"),
        (F.HIDDEN, "64,99999", "--hidden: must be an integer <= 16384 (got 99999 in 64,99999)"),
        (F.HIDDEN, "x", "--hidden: must be an integer >= 1 (got x)"),
        (F.HIDDEN, ",".join(["8"] * 17), "--hidden: must have at most 16 values (got 17)"),
        (F.HIDDEN, "64,,32", "--hidden: must be a list of integers like 64,32 (got 64,,32)"),
        (F.OPTIMIZER, "lion", "--optimizer: must be sgd, adam or adamw (got lion)"),
    ],
)  # fmt: skip
def test_text_is_parsed_and_bounded_with_one_message(
    field: F.Field, text: str, message: str
) -> None:
    with pytest.raises(FieldError) as info:
        from_text(field, text)
    assert str(info.value) == message


def test_text_that_is_right_comes_back_typed() -> None:
    assert from_text(F.EPOCHS, " 25 ") == 25
    assert from_text(F.EPOCHS, "1_000") == 1000
    assert from_text(F.EPOCHS, "1000000") == F.MAX_EPOCHS
    assert from_text(F.LR, "1e-3") == 0.001
    assert from_text(F.HIDDEN, "[64 32]") == [64, 32]
    assert from_text(F.HIDDEN, "64, 32") == [64, 32]
    assert from_text(F.DIVERGE_FACTOR, "inf") == math.inf  # written on purpose: never stop
    assert from_text(F.OPTIMIZER, "AdamW") == "adamw"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (F.LR, "0.1", "run[2].lr: must be a number > 0 (got text '0.1')"),
        (F.LR, True, "run[2].lr: must be a number > 0 (got true)"),
        (F.LR, 10**400, "run[2].lr: must be a number > 0 (got 100000000000…000000 (401 digits))"),
        (F.LR, math.inf, "run[2].lr: must be a number > 0 (got inf)"),
        (F.EPOCHS, 2.5, "run[2].lr: must be an integer >= 1 (got 2.5)"),
        (F.EPOCHS, 2**63 - 1, f"run[2].lr: must be an integer <= 1000000 (got {INT64})"),
        (F.EPOCHS, "10", "run[2].lr: must be an integer >= 1 (got text '10')"),
        (F.NESTEROV, "yes", "run[2].lr: must be true or false (got text 'yes')"),
        (F.HIDDEN, [64, 32.0], "run[2].lr: must be an integer >= 1 (got 32.0)"),
        (F.HIDDEN, "64,32", "run[2].lr: must be a list of integers like 64,32 (got text '64,32')"),
        (F.BETAS, [0.9], "run[2].lr: must be 2 numbers (got 1)"),
        (F.DEVICE, 5, "run[2].lr: must be a non-empty string (got 5)"),
    ],
)  # fmt: skip
def test_toml_values_must_have_the_fields_type(field: F.Field, value: object, message: str) -> None:
    with pytest.raises(FieldError) as info:
        from_toml(field, value, "run[2].lr")
    assert str(info.value) == message


def test_an_integer_is_a_number_in_toml() -> None:
    assert from_toml(F.MOMENTUM, 0, "momentum") == 0.0
    assert isinstance(from_toml(F.MOMENTUM, 0, "momentum"), float)


def test_validate_config_keeps_the_same_bounds() -> None:
    assert validate_config(RunConfig(epochs=F.MAX_EPOCHS + 1)) == {
        "epochs": "must be an integer <= 1000000 (got 1000001)"
    }
    assert validate_config(RunConfig(seed=2**63 - 1))["seed"].startswith("must be an integer <=")
    assert validate_config(RunConfig(hidden=(64, 20000)))["hidden"] == (
        "every layer width must be an integer <= 16384 (got 20000)"
    )
    assert validate_config(RunConfig(hidden=(8,) * 17))["hidden"] == "at most 16 layers (got 17)"


# ------------------------------------------------------------------------------- every flag

#: Every numeric flag of every command, with the arguments that make the rest of the line good.
INT_FLAGS = [
    (["run", "-s", "StepLR"], "--epochs"),
    (["run", "-s", "StepLR"], "--batch-size"),
    (["run", "-s", "StepLR"], "--seed"),
    (["run", "-s", "StepLR"], "--hidden"),
    (["run"], "--rerun"),
    (["preview", "-s", "StepLR"], "--epochs"),
    (["preview", "-s", "StepLR"], "--steps-per-epoch"),
    (["find-lr"], "--batch-size"),
    (["find-lr"], "--seed"),
    (["find-lr"], "--steps"),
    (["find-lr"], "--hidden"),
]
FLOAT_FLAGS = [
    (["run", "-s", "StepLR"], "--lr"),
    (["run", "-s", "StepLR"], "--momentum"),
    (["run", "-s", "StepLR"], "--weight-decay"),
    (["preview", "-s", "StepLR"], "--lr"),
    (["preview", "-s", "StepLR"], "--momentum"),
    (["preview", "-s", "ReduceLROnPlateau", "--epochs", "1"], "--metrics"),
    (["find-lr"], "--start"),
    (["find-lr"], "--end"),
    (["find-lr"], "--diverge-factor"),
    (["find-lr"], "--momentum"),
    (["find-lr"], "--weight-decay"),
]


@pytest.mark.parametrize("value", [HUGE, INT64, "-" + HUGE])
@pytest.mark.parametrize(("head", "flag"), INT_FLAGS)
def test_absurd_integers_in_every_integer_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, head: list[str], flag: str, value: str
) -> None:
    if flag == "--rerun" and value == INT64:
        value = str(2**63)  # run ids are SQLite integers: 2**63 - 1 is the last one
    code, out, err = cli(capsys, "--db", str(tmp_path / "runs.db"), *head, flag, value)
    assert_one_line(code, out, err, f"{flag}: must be an integer")
    assert not (tmp_path / "runs.db").exists()  # nothing written


@pytest.mark.parametrize("value", [HUGE, "-" + HUGE, "1e400", "nan"])
@pytest.mark.parametrize(("head", "flag"), FLOAT_FLAGS)
def test_numbers_beyond_the_float_range_in_every_number_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, head: list[str], flag: str, value: str
) -> None:
    code, out, err = cli(capsys, "--db", str(tmp_path / "runs.db"), *head, flag, value)
    assert_one_line(code, out, err, f"{flag}: must be")
    assert "(400 digits)" in err or value not in (HUGE, "-" + HUGE)
    assert not (tmp_path / "runs.db").exists()


@pytest.mark.parametrize("action", [["show"], ["export"], ["delete", "-y"]])
@pytest.mark.parametrize("value", [HUGE, "99999999999999999999", "0", "x"])
def test_run_ids_are_parsed_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, action: list[str], value: str
) -> None:
    code, out, err = cli(capsys, "runs", *action, value, "--db", str(tmp_path / "runs.db"))
    assert_one_line(code, out, err, "run id: must be an integer")


def test_help_states_the_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    for command, expected in (
        ("run", ["an integer from 1 to 1000000", "an integer from 1 to 100000",
                 "an integer from 0 to 4294967295", "at most 16 layers"]),
        ("preview", ["an integer from 1 to 1000000", "at most 2000000 steps"]),
        ("find-lr", ["an integer from 10 to 100000", "an integer from 0 to 4294967295"]),
    ):  # fmt: skip
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for rule in expected:
            assert rule in text, (command, rule)


def test_readme_documents_every_bound() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for f in F.BOUNDED:
        assert f.high is not None
        assert f"{int(f.high):,}" in readme and f"`{f.flag or f.label}`" in readme, f.key


# ------------------------------------------------------------------------------- a spec with '-'


@pytest.mark.parametrize("spec", ["-StepLR", "-1", "--x"])
@pytest.mark.parametrize("command", [["run"], ["preview"]])
def test_a_spec_starting_with_a_dash_reaches_the_spec_parser(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str], spec: str
) -> None:
    code, out, err = cli(capsys, "--db", str(tmp_path / "r.db"), *command, "-s", spec)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "usage:" not in err and f"'{spec}'" in err


def test_a_negative_exponent_reaches_its_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "preview", "-s", "StepLR", "--lr", "-1e-3")
    assert_one_line(code, out, err, "--lr: must be > 0 (got -1e-3)")


def test_an_option_after_a_flag_is_not_taken_as_its_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["preview", "-s", "StepLR", "--epochs", "--json"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("lrtui: error: --epochs: expected one argument")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "export", "--format", "xml"],
         "--format: invalid choice: 'xml' (choose from 'csv', 'json') "
         "(see `lrtui runs export --help`)"),
        (["preview"], "the following arguments are required: -s/--spec "
                      "(see `lrtui preview --help`)"),
        (["run", "-s", "StepLR", "--epochs"], "--epochs: expected one argument "
                                              "(see `lrtui run --help`)"),
        (["run", "--nope"], "unrecognized arguments: --nope (see `lrtui --help`)"),
    ],
)  # fmt: skip
def test_argparse_mistakes_are_one_line_too(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err == f"lrtui: error: {message}\n"


def test_independent_seeds_stay_within_the_seed_bound(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", "-s", "StepLR", "-s", "StepLR", "--independent-seeds",
                         "--seed", str(F.MAX_SEED))  # fmt: skip
    assert_one_line(code, out, err, "--seed: run 1's seed SEED+1 must be at most 4294967295")


# ------------------------------------------------------------------------------- TOML files


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "cfg.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


RUNS = '[[run]]\nscheduler = "StepLR"\n' * 2


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f"epochs = {HUGE}\n{RUNS}", "epochs: must be an integer <= 1000000"),
        (f"epochs = {INT64}\n{RUNS}", f"epochs: must be an integer <= 1000000 (got {INT64})"),
        (f"batch_size = {INT64}\n{RUNS}", "batch_size: must be an integer <= 100000"),
        (f"seed = {INT64}\n{RUNS}", "seed: must be an integer <= 4294967295"),
        (f"hidden = [64, {HUGE}]\n{RUNS}", "hidden: must be an integer <= 16384"),
        (f"lr = {HUGE}\n{RUNS}", f"lr: must be a number > 0 (got {SHOWN})"),
        (f"momentum = {HUGE}\n{RUNS}", "momentum: must be a number in [0, 1)"),
        (f"weight_decay = {HUGE}\n{RUNS}", "weight_decay: must be a number >= 0"),
        (f"eps = 1e400\n{RUNS}", "eps: must be a number > 0 (got inf)"),
        (f"dampening = {HUGE}\n{RUNS}", "dampening: must be a number in [0, 1]"),
        (f"betas = [0.9, {HUGE}]\n{RUNS}", "betas: must be a number in [0, 1)"),
        (f'lr = "0.1"\n{RUNS}', "lr: must be a number > 0 (got text '0.1')"),
        (f"epochs = 2.5\n{RUNS}", "epochs: must be an integer >= 1 (got 2.5)"),
        (f'nesterov = "yes"\n{RUNS}', "nesterov: must be true or false (got text 'yes')"),
        (f'independent_seeds = 1\n{RUNS}', "independent_seeds: must be true or false (got 1)"),
        (f"optimizer = 5\n{RUNS}", "optimizer: must be sgd, adam or adamw (got 5)"),
        (f'{RUNS}[[run]]\nscheduler = "StepLR"\nlr = "0.1"\n', "run[2].lr: must be a number > 0"),
        (f"{RUNS}[[run]]\nscheduler = \"StepLR\"\nlr = {HUGE}\n",
         f"run[2].lr: must be a number > 0 (got {SHOWN})"),
        (f"{RUNS}[[run]]\nscheduler = \"StepLR\"\nmomentum = {INT64}\n",
         "run[2].momentum: must be in [0, 1)"),
        (f"{RUNS}[[run]]\nscheduler = 5\n", "run[2].scheduler: must be a spec string or a"),
        ("epochs = " + "9" * 5000 + f"\n{RUNS}",
         "invalid TOML: an integer longer than 4300 digits"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "invalid TOML: nested too deeply"),
    ],
)  # fmt: skip
def test_bad_toml_values_name_their_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, where: str
) -> None:
    path = write(tmp_path, text)
    code, out, err = cli(capsys, "--db", str(tmp_path / "r.db"), "run", "--config", str(path))
    assert_one_line(code, out, err, f"{path}: {where}")
    assert not (tmp_path / "r.db").exists()


def test_a_toml_file_that_is_not_utf8_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = 'epochs = 2\n[[run]]\nscheduler = "StepLR"\nlabel = "caf\xe9"\n'.encode("latin-1")
    path = write(tmp_path, text)
    code, out, err = cli(capsys, "run", "--config", str(path))
    where = text.index(b"\xe9")
    assert_one_line(code, out, err, f"{path}: not UTF-8 text (byte 0xe9 at offset {where})")


def test_the_same_bound_in_flag_file_and_form(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from lrtui.app.form import FormValues, evaluate

    rule = "must be an integer <= 1000000 (got 1000001)"
    code, out, err = cli(capsys, "run", "-s", "StepLR", "--epochs", "1000001")
    assert_one_line(code, out, err, f"--epochs: {rule}")
    path = write(tmp_path, f"epochs = 1000001\n{RUNS}")
    code, out, err = cli(capsys, "run", "--config", str(path))
    assert_one_line(code, out, err, f"{path}: epochs: {rule}")
    code, out, err = cli(capsys, "preview", "-s", "StepLR", "--epochs", "1000001")
    assert_one_line(code, out, err, f"--epochs: {rule}")
    assert evaluate(FormValues(epochs="1000001")).errors == {"epochs": rule}


# ------------------------------------------------------------------------------- fuzz

NUMBERISH = st.one_of(
    st.text(max_size=30),
    st.integers().map(str),
    st.integers(min_value=10**20, max_value=10**500).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from([HUGE, "-" + HUGE, INT64, "1e400", "-0", "0x10", "1_0", "٣", "½", " ", ""]),
)


def _namespace(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The parsed command line, as `lrtui.cli.main` gets it (no training, no files)."""
    return parser.parse_args(argv)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag=st.sampled_from(["--epochs", "--batch-size", "--seed", "--hidden", "--lr",
                             "--momentum", "--weight-decay", "--optimizer", "--device"]),
       value=NUMBERISH)  # fmt: skip
def test_fuzz_run_flags_raise_only_usage_errors(flag: str, value: str) -> None:
    args = _namespace(build_parser(), ["run", "-s", "StepLR", f"{flag}={value}"])
    try:
        configs, _ = run.build_configs(args)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(flag)
    else:
        assert validate_config(configs[0]) == {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag=st.sampled_from(["--epochs", "--steps-per-epoch", "--lr", "--momentum",
                             "--optimizer", "--metrics"]),
       value=NUMBERISH)  # fmt: skip
def test_fuzz_preview_flags_raise_only_usage_errors(flag: str, value: str) -> None:
    args = _namespace(build_parser(), ["preview", "-s", "ReduceLROnPlateau", f"{flag}={value}"])
    try:
        numbers = preview.read_numbers(args)
    except UsageError as exc:  # a run too long to preview names both of its flags
        assert "\n" not in str(exc) and flag in str(exc).split(": ", 1)[0].split(" x ")
    else:
        assert numbers.epochs * numbers.steps_per_epoch <= F.MAX_PREVIEW_STEPS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag=st.sampled_from(["--batch-size", "--seed", "--hidden", "--start", "--end", "--steps",
                             "--diverge-factor", "--momentum", "--weight-decay", "--optimizer"]),
       value=NUMBERISH)  # fmt: skip
def test_fuzz_find_lr_flags_raise_only_usage_errors(flag: str, value: str) -> None:
    args = _namespace(build_parser(), ["find-lr", f"{flag}={value}"])
    try:
        find_lr.build(args)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("--")


TOML_KEYS = (*run.CONFIG_KEYS, "scheduler", "label", "nonsense")
SCALARS = st.one_of(
    st.integers(),
    st.integers(min_value=10**20, max_value=10**420),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["StepLR", "StepLR:step_size=2", "ExponentialLR:gamma=0.9", "sgd", "cpu"]),
)
TOML_VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4))


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)  # fmt: skip
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    assert isinstance(value, list)
    return "[" + ", ".join(_toml(v) for v in value) + "]"


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    top = draw(st.dictionaries(st.sampled_from(TOML_KEYS), TOML_VALUES, max_size=4))
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    for _ in range(draw(st.integers(0, 3))):
        table = draw(st.dictionaries(st.sampled_from(TOML_KEYS), TOML_VALUES, max_size=4))
        lines.append("[[run]]")
        lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.one_of(toml_documents(), st.text(max_size=200), st.binary(max_size=200)))
def test_fuzz_toml_documents_raise_only_usage_errors(doc: str | bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cfg.toml"
        path.write_bytes(doc if isinstance(doc, bytes) else doc.encode("utf-8"))
        args = _namespace(build_parser(), ["run", "--config", str(path)])
        try:
            configs, _ = run.build_configs(args)
        except UsageError as exc:
            assert "\n" not in str(exc)
        else:
            assert configs and all(validate_config(c) == {} for c in configs)


def test_huge_epochs_are_refused_before_anything_is_imported_or_written(tmp_path: Path) -> None:
    """The whole command as a user runs it: exit 2 and one line, no database created."""
    db = tmp_path / "runs.db"
    proc = subprocess.run(
        [sys.executable, "-m", "lrtui", "run", "-s", "StepLR", "--epochs", INT64, "--db", str(db)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == f"lrtui: error: --epochs: must be an integer <= 1000000 (got {INT64})\n"
    assert not db.exists()


def test_a_stored_config_beyond_the_bounds_is_refused_by_rerun(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from lrtui.store import NewRun, Store

    db = tmp_path / "runs.db"
    config = RunConfig(dataset="mnist-sample").to_dict() | {"epochs": 2**62}  # edited by hand
    with Store(db) as store:
        run_id = store.start_run(NewRun("b", 0, "x", "StepLR", "sgd", 0.1, "mnist-sample", "cpu",
                                        2**62, config, "2"))  # fmt: skip
    code, out, err = cli(capsys, "run", "--rerun", str(run_id), "--db", str(db))
    assert_one_line(code, out, err,
                    f"--rerun {run_id}: stored epochs: must be an integer <= 1000000")  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.fixed_dictionaries({}, optional={
    key: NUMBERISH for key in ("hidden", "momentum", "weight_decay", "beta1", "beta2", "eps", "lr",
                               "epochs", "batch_size", "seed", "warmup", "warmup_start")}),
       optimizer=st.sampled_from(["sgd", "adam", "nope"]),
       params=st.fixed_dictionaries({}, optional={"step_size": NUMBERISH, "gamma": NUMBERISH}))
def test_fuzz_the_form_never_raises(
    values: dict[str, str], optimizer: str, params: dict[str, str]
) -> None:
    """The app's form evaluates any text in any field without an exception (it runs on the UI
    thread at every key): a config only when nothing is wrong, else a message per field."""
    from lrtui.app.form import FormValues, evaluate

    form = FormValues(dataset="mnist-sample", optimizer=optimizer, params=dict(params), **values)
    result = evaluate(form)
    assert all(isinstance(m, str) and m and "\n" not in m for m in result.errors.values())
    if result.ok:
        assert result.config is not None and validate_config(result.config) == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["find-lr", "--dataset", ""], "--dataset: must not be empty"),
        (["run", "-s", "StepLR", "--dataset", ""], "--dataset: must not be empty"),
        (["--dataset", ""], "--dataset: must be one of mnist, fashion-mnist, kmnist, mnist-sample"),
    ],
)
def test_an_empty_dataset_is_refused_not_replaced_by_the_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    code, out, err = cli(capsys, "--db", str(tmp_path / "r.db"), *argv)
    assert_one_line(code, out, err, message)


def test_the_table_agrees_with_the_config_and_the_form() -> None:
    from lrtui.app.form import field_label
    from lrtui.app.sidebar import FORM_KEYS
    from lrtui.model import OPTIMIZERS

    assert F.OPTIMIZER_NAMES == OPTIMIZERS
    assert all(key in F.FIELDS for key in FORM_KEYS)  # every fixed form field has its entry
    assert field_label("lr") == "base LR" and field_label("param:lr_lambda") == "lr_lambda"
    assert field_label("optimizer.beta1") == "beta1" and field_label("batch_size") == "batch size"


@pytest.mark.parametrize(
    ("text", "argv", "message"),
    [
        (f"nesterov = true\n{RUNS}", [], "{path}: nesterov: needs momentum > 0"),
        (f'{RUNS}[[run]]\nscheduler = "StepLR"\nnesterov = true\n', [],
         "{path}: run[2].nesterov: needs momentum > 0"),
        (f'optimizer = "adam"\n{RUNS}', ["--momentum", "0.99999999999999999"],
         "--momentum: must be in [0, 1) (got 0.99999999999999999)"),  # 1.0 as a float
        (f'device = "tpu"\n{RUNS}', [], "{path}: device: must be auto, cpu, cuda, cuda:N or mps"),
        (f'device = "tpu"\n{RUNS}', ["--device", "gpu"], "--device: must be auto, cpu"),
        (f"seed = 3\n{RUNS}[[run]]\nscheduler = \"StepLR\"\nseed = 4\n", [],
         "{path}: run[2].seed: a per-run seed needs independent_seeds = true"),
    ],
)  # fmt: skip
def test_rules_across_fields_name_the_setting_as_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, argv: list[str], message: str
) -> None:
    path = write(tmp_path, text)
    code, out, err = cli(capsys, "run", "--config", str(path), *argv)
    assert_one_line(code, out, err, message.format(path=path))


def test_the_model_choices_are_the_engine_registry() -> None:
    """fields keeps its own copy (it must not import torch); it must name exactly MODELS."""
    from lrtui.engine.models import MODELS

    assert tuple(MODELS) == F.MODEL_NAMES
