"""`lrtui run`: train one or more schedules together, headless.

Every setting and spec is checked before anything trains (one line, exit 2, on the first problem).
Runs go through the run core (`lrtui.runner`: data, checks, threads, recorder) to the engine in one
vectorized pass; epochs are printed as they end (a table, or one JSON object per line with --json),
a live progress line goes to stderr, Ctrl+C stops cleanly (exit 130) and a run that diverges is
reported `diverged` while the others go on.

--config FILE.toml holds top-level run settings and one `[[run]]` table per run:

    epochs = 10
    optimizer = "sgd"         # top-level settings: see CONFIG_KEYS
    momentum = 0.9

    [[run]]
    scheduler = "StepLR:step_size=3"
    label = "step"

    [[run]]
    lr = 0.05
    [run.scheduler]           # or a table, as lrtui.schedulers.spec_from_toml reads it
    name = "OneCycleLR"
    max_lr = 0.5

Command-line settings override the file's top-level ones; a `[[run]]` table's own settings win
over both.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from lrtui.commands import (
    OutputError,
    UsageError,
    ctrl_c_stops,
    is_terminal,
    ray_run,
    say,
    silence_stdout,
)
from lrtui.fields import (
    BATCH_SIZE,
    BY_TOML,
    EPOCHS,
    FIELDS,
    HIDDEN,
    MAX_SEED,
    MODEL,
    RUN_ID,
    SEED,
    SEEDS,
    Field,
    FieldError,
    from_text,
    from_toml,
    last_seed_problem,
    shown,
)
from lrtui.model import (
    DIVERGE_CHECKS,
    DIVERGE_LOSS,
    OptimizerConfig,
    OptimizerName,
    RunConfig,
    validate_config,
)
from lrtui.numbering import epoch_number
from lrtui.optimizers import OPTIMIZER_KINDS
from lrtui.schedulers import (
    SchedulerSpec,
    SpecError,
    parse_spec,
    spec_from_toml,
)
from lrtui.store import RunGroup
from lrtui.sweeps import (
    GroupPoint,
    SweepError,
    check_run_count,
    expand,
    plan_note,
    plan_seeds,
    values_of,
)
from lrtui.sweeps import label_of as sweep_label

if TYPE_CHECKING:
    from lrtui import runner
    from lrtui.engine import Control

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Settings a config file may give at the top level (and, except the first three, per run).
SHARED_KEYS = ("dataset", "data_dir", "independent_seeds", "seeds")
#: Optimizer settings, at the top level or per run.
OPTIMIZER_KEYS = (
    "lr", "optimizer", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps",
)  # fmt: skip
#: The divergence rule's settings (lrtui.model.RunConfig.diverge_loss / diverge_checks).
DIVERGE_KEYS = ("diverge_loss", "diverge_checks")
RUN_KEYS = (
    "epochs", "batch_size", "model", "hidden", "seed", "device", *OPTIMIZER_KEYS, *DIVERGE_KEYS,
)  # fmt: skip
CONFIG_KEYS = SHARED_KEYS + RUN_KEYS
#: Settings a value set in braces may sweep (`--lr {0.01,0.1}`, `lr = "{1e-3..1:log:7}"`); runs
#: of different batch sizes train in separate passes.
SWEEPABLE = ("lr", "momentum", "weight_decay", "batch_size")
#: Keys of a [[run]] table: the run's own settings, its scheduler and label.
PER_RUN_KEYS = ("scheduler", "label", *OPTIMIZER_KEYS, "seed", *DIVERGE_KEYS)

#: Seconds between plain progress lines on stderr when it is not a terminal.
PLAIN_PROGRESS_EVERY_S = 5.0
#: Why runs stopped when the reader of stdout went away (in place of the engine's "by user").
_PIPE_CLOSED = "because the reader of the output went away"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Numbers are read as text and checked in main(), so a bad value is one UsageError line.
    # --dataset/--data-dir/--db default to SUPPRESS so `lrtui --dataset X run` keeps X.
    sup = argparse.SUPPRESS
    parser.add_argument(
        "-s",
        "--spec",
        action="append",
        default=[],
        metavar="SPEC",
        help="a scheduler spec, one run each, e.g. StepLR:step_size=10,gamma=0.1 (repeatable)",
    )
    parser.add_argument("--config", metavar="FILE", help="a TOML file of settings and [[run]]s")
    parser.add_argument(
        "--dataset",
        default=sup,
        help="mnist (default; falls back to mnist-sample when unavailable), fashion-mnist, "
        "kmnist or mnist-sample",
    )
    parser.add_argument("--data-dir", default=sup, help="folder with (or receiving) the dataset")
    parser.add_argument("--epochs", help=f"epochs (default 25; {EPOCHS.rule()})")
    parser.add_argument(
        "--batch-size", help=f"batch size (default 32; {BATCH_SIZE.rule()}); a set sweeps it"
    )
    parser.add_argument("--optimizer", help="sgd (default), adam or adamw")
    parser.add_argument(
        "--lr", help="base learning rate (default 0.1), or a set: {0.01,0.1}, {1e-3..1:log:7}"
    )
    parser.add_argument(
        "--momentum", help="SGD momentum (default 0), or Adam/AdamW beta1; a set sweeps it"
    )
    parser.add_argument("--weight-decay", help="weight decay (default 0); a set sweeps it")
    parser.add_argument(
        "--model", help=f"{MODEL.help} (default mlp)"
    )
    parser.add_argument(
        "--hidden",
        help="hidden layer widths, e.g. 64,32 (default) or 256,128 "
        f"(at most {HIDDEN.max_items} layers, each {HIDDEN.rule()})",
    )
    parser.add_argument(
        "--seed",
        help=f"seed of the initial weights and data order (default 0; {SEED.rule()})",
    )
    parser.add_argument(
        "--seeds",
        help=f"train every spec with seeds SEED..SEED+N-1; seed i shares initial weights and data "
        f"order across specs, so they compare paired (default 1; {SEEDS.rule()})",
    )
    parser.add_argument(
        "--independent-seeds",
        action="store_true",
        default=None,
        help="give run i the seed SEED+i (own initial weights and data order) instead of sharing",
    )
    parser.add_argument(
        "--device", help="auto (default: CUDA, else MPS, else CPU), cpu, cuda[:i], mps"
    )
    parser.add_argument(
        "--diverge-loss",
        help="a run whose mean training loss stays above this (default 2303, a thousand times a "
        "uniform guess's ln 10) for --diverge-checks loss checks in a row (4 per epoch) ends "
        "diverged; inf: never",
    )
    parser.add_argument(
        "--diverge-checks", help="loss checks in a row above --diverge-loss (default 3)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    parser.add_argument(
        "--rerun",
        action="append",
        default=[],
        metavar="ID",
        help="train a stored run's config again, on its stored dataset and device unless "
        "--dataset / --device say otherwise (repeatable; may be mixed with -s when the runs "
        "share dataset, model, batch size, epochs and seed)",
    )
    parser.add_argument(
        "--db",
        default=sup,
        metavar="PATH",
        help="run history database every run is written to as it trains "
        "(default: $LRTUI_DB, else the user data dir)",
    )
    ray_run.add_argument(parser)  # --ray [ADDRESS] (lrtui.commands.ray_run)


# ------------------------------------------------------------------------------- parsing


@dataclass
class _Settings:
    """Run settings gathered from the file and the command line, with the name each was given
    under (a flag, a file key), so a problem found later names what the user wrote."""

    values: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    #: Swept settings: key -> [(value as written, typed value), ...] (two or more).
    swept: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    #: Per planned run: where a config file wrote it ("cfg.toml: run[1]"); None for -s, --rerun.
    run_names: list[str | None] = field(default_factory=list)

    def apply_text(self, source: dict[str, str | bool | None]) -> None:
        """Command-line values (text; None: not given), each named by its flag."""
        for key, value in source.items():
            if value is None:
                continue
            f = BY_TOML[key]
            self.names[key] = f.flag
            if isinstance(value, bool):
                self.set(key, value)
            elif key in SWEEPABLE:
                self.set_texts(key, _set_texts(value, f.flag), f.flag)
            else:
                self.set(key, _text_value(f, value))

    def apply_toml(self, source: dict[str, Any], where: str) -> None:
        """Typed values from a config file; `where` prefixes their names ("cfg.toml: ")."""
        for key, value in source.items():
            name = f"{where}{key}"
            self.names[key] = name
            if key in SWEEPABLE and isinstance(value, str) and value.strip().startswith("{"):
                self.set_texts(key, _set_texts(value, name), name)
            else:
                self.set(key, _toml_value(key, value, name))

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.swept.pop(key, None)

    def set_texts(self, key: str, texts: list[str], name: str) -> None:
        """One value, or a swept set of them, each parsed and checked by its field."""
        typed = [(text.strip(), _text_value(BY_TOML[key], text, name)) for text in texts]
        if len(typed) == 1:
            self.set(key, typed[0][1])
        else:
            self.values.pop(key, None)
            self.swept[key] = typed


def _set_texts(text: str, name: str) -> list[str]:
    """The values of a setting written as one value or as a set in braces."""
    try:
        return values_of(text, field=name)
    except SweepError as exc:
        raise UsageError(str(exc)) from None


def _text_value(f: Field, text: str, name: str | None = None) -> Any:
    try:
        value = from_text(f, text, f.flag if name is None else name)
    except FieldError as exc:
        raise UsageError(str(exc)) from None
    return tuple(value) if isinstance(value, list) else value


def _toml_value(key: str, value: object, name: str) -> Any:
    f = BY_TOML.get(key)
    if f is None:
        raise UsageError(f"{name}: unknown setting")
    try:
        typed = from_toml(f, value, name)
    except FieldError as exc:
        raise UsageError(str(exc)) from None
    return tuple(typed) if isinstance(typed, list) else typed


def _read_toml(path: str) -> dict[str, Any]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"--config: cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "a TOML file must be UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per nested table: a 400-deep scheduler
        raise UsageError(f"{path}: invalid TOML: nested too deeply") from None
    except ValueError:  # int() of an integer past Python's digit limit
        raise UsageError(
            f"{path}: invalid TOML: an integer longer than {sys.get_int_max_str_digits()} digits"
        ) from None


@dataclass
class _RunSpec:
    """One run before settings are merged: its scheduler, label and own settings."""

    scheduler: SchedulerSpec
    label: str
    own: dict[str, Any]
    names: dict[str, str] = field(default_factory=dict)  # own setting -> its name in the file
    sweep: tuple[tuple[str, str], ...] = ()  # the spec's swept values (key, value text)
    where: str | None = None  # the [[run]] table that wrote it ("cfg.toml: run[1]")


def _spec_runs(text: str, name: str, label: str | None = None) -> list[_RunSpec]:
    """One run per point of the spec's value sets (`StepLR:gamma={0.1,0.5}`: two)."""
    try:
        expansions = expand(text, field=name)
    except SweepError as exc:
        raise UsageError(str(exc)) from None
    return [
        _RunSpec(
            _parse_spec(e.text, name),
            label if label is not None and not e.choices else e.text.strip(),
            {},
            sweep=e.choices,
        )
        for e in expansions
    ]


def _parse_spec(text: str, flag: str) -> SchedulerSpec:
    try:
        return parse_spec(text)
    except SpecError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _file_runs(path: str, data: dict[str, Any], settings: _Settings) -> list[_RunSpec]:
    runs_table = data.get("run", [])
    for key in data:
        if key != "run" and key not in CONFIG_KEYS:
            known = ", ".join((*CONFIG_KEYS, "run"))
            raise UsageError(f"{path}: unknown setting {key!r} (known: {known})")
    settings.apply_toml({k: v for k, v in data.items() if k != "run"}, f"{path}: ")
    if not isinstance(runs_table, list):
        raise UsageError(f"{path}: run: must be [[run]] tables")
    runs: list[_RunSpec] = []
    for i, table in enumerate(runs_table):
        where = f"{path}: run[{i}]"
        if not isinstance(table, dict):
            raise UsageError(f"{where}: must be a table")
        for key in table:
            if key not in PER_RUN_KEYS:
                known = ", ".join(PER_RUN_KEYS)
                raise UsageError(f"{where}: unknown setting {key!r} (known: {known})")
        raw = table.get("scheduler")
        if isinstance(raw, str):
            points = _spec_runs(raw, f"{where}.scheduler")
        elif isinstance(raw, dict):
            try:
                spec = spec_from_toml(raw)
            except SpecError as exc:
                raise UsageError(f"{where}.scheduler: {exc}") from None
            points = [_RunSpec(spec, str(spec), {})]
        elif raw is None:
            raise UsageError(
                f'{where}.scheduler: missing: give scheduler = "SPEC" or a [run.scheduler] table'
            )
        else:
            raise UsageError(
                f"{where}.scheduler: must be a spec string or a [run.scheduler] table "
                f"(got {shown(raw)})"
            )
        if "label" in table:
            if not isinstance(table["label"], str):
                raise UsageError(f"{where}.label: must be a string (got {shown(table['label'])})")
            for point in points:  # a swept spec's points keep their values after the label
                point.label = " ".join([table["label"], sweep_label(point.sweep)]).strip()
        own: dict[str, Any] = {}
        names: dict[str, str] = {}
        for k, v in table.items():
            if k not in ("scheduler", "label"):
                names[k] = f"{where}.{k}"
                own[k] = _toml_value(k, v, names[k])
        for point in points:
            point.own, point.names, point.where = own, names, where
        runs += points
    return runs


def _optimizer(values: dict[str, Any]) -> OptimizerConfig:
    name = cast(OptimizerName, values.get("optimizer", "sgd"))
    opt = OptimizerConfig(name=name)
    if "momentum" in values:  # SGD's momentum, or Adam's beta1
        opt = OPTIMIZER_KINDS[name].with_momentum(opt, values["momentum"])
    for key in ("dampening", "nesterov", "weight_decay", "eps"):
        if key in values:
            setattr(opt, key, values[key])
    if "betas" in values:
        opt.betas = values["betas"]
    return opt


def _problem_name(key: str, names: dict[str, str]) -> str:
    """What the user wrote for the setting a `validate_config` key is about ('optimizer.betas[0]'
    -> '--momentum' or 'cfg.toml: run[1].betas'); the setting's flag or key if not given."""
    f = FIELDS.get(key.split("[")[0])
    setting = f.toml if f is not None and f.toml else key
    if setting == "betas" and "betas" not in names:
        setting = "momentum"  # Adam/AdamW: --momentum is beta1
    if setting in names:
        return names[setting]
    g = BY_TOML.get(setting)
    return (g.flag or g.toml) if g is not None else setting


def build_configs(
    args: argparse.Namespace, reruns: Sequence[RunConfig] = ()
) -> tuple[list[RunConfig], dict[str, Any]]:
    """RunConfigs from the command line and --config, then `reruns`; plus shared settings."""
    configs, _, settings = build_runs(args, reruns)
    return configs, settings.values


def build_runs(
    args: argparse.Namespace, reruns: Sequence[RunConfig] = ()
) -> tuple[list[RunConfig], list[RunGroup | None], _Settings]:
    """The planned runs: every spec x swept settings x seed, each with its group (None for a
    rerun), in group order; plus the shared settings and the names they were given under."""
    settings = _Settings()
    runs: list[_RunSpec] = []
    if args.config:
        runs += _file_runs(args.config, _read_toml(args.config), settings)
    settings.apply_text(
        {
            "dataset": getattr(args, "dataset", None),
            "data_dir": getattr(args, "data_dir", None),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": args.optimizer,
            "lr": args.lr,
            "momentum": args.momentum,
            "weight_decay": args.weight_decay,
            "model": args.model,
            "diverge_loss": args.diverge_loss,
            "diverge_checks": args.diverge_checks,
            "hidden": args.hidden,
            "seed": args.seed,
            "device": args.device,
            "independent_seeds": args.independent_seeds,
            "seeds": getattr(args, "seeds", None),
        }
    )
    for text in args.spec:
        runs += _spec_runs(text, "-s")
    if not runs and not reruns:
        raise UsageError(
            "give at least one -s SPEC, a --config FILE with [[run]] tables, or --rerun ID"
        )
    shared = settings.values
    independent = bool(shared.get("independent_seeds", False))
    n_seeds: int = shared.get("seeds", 1)
    seeds_name = settings.names.get("seeds", SEEDS.flag)
    if n_seeds > 1 and independent:
        raise UsageError(
            f"{seeds_name}: already gives each run its own seed; drop independent_seeds"
        )
    too_far = last_seed_problem(shared.get("seed", 0), n_seeds)
    if too_far:
        raise UsageError(f"{seeds_name}: {too_far}")
    swept_keys = list(settings.swept)
    points_of_settings = list(itertools.product(*(settings.swept[k] for k in swept_keys)))
    try:
        check_run_count(len(runs) * len(points_of_settings) * n_seeds + len(reruns))
    except SweepError as exc:
        raise UsageError(
            f"{exc} (specs x swept settings x seeds: {len(runs)} x {len(points_of_settings)} x "
            f"{n_seeds}); sweep fewer values or use fewer seeds"
        ) from None
    points: list[GroupPoint] = []
    point_names: list[dict[str, str]] = []
    point_where: list[str | None] = []
    for run in runs:
        for point in points_of_settings:
            chosen = {k: v for k, v in zip(swept_keys, point, strict=True) if k not in run.own}
            values = {**shared, **{k: typed for k, (_, typed) in chosen.items()}, **run.own}
            sweep = run.sweep + tuple((k, text) for k, (text, _) in chosen.items())
            names = {**settings.names, **run.names}
            if "seed" in run.own and not independent:
                raise UsageError(f"{names['seed']}: a per-run seed needs independent_seeds = true")
            seed = values.get("seed", 0)
            if independent and "seed" not in run.own:  # one seed each: the i-th run's is SEED+i
                seed += len(points)
                if seed > MAX_SEED:
                    raise UsageError(
                        f"{names.get('seed', SEED.flag)}: run {len(points)}'s seed "
                        f"SEED+{len(points)} must be at most {MAX_SEED} (got {seed})"
                    )
            group_label = " ".join([run.label, sweep_label(sweep[len(run.sweep) :])]).strip()
            config = RunConfig(
                dataset=shared.get("dataset", "mnist"),
                model=values.get("model", "mlp"),
                hidden=values.get("hidden", (64, 32)),
                optimizer=_optimizer(values),
                lr=values.get("lr", 0.1),
                batch_size=values.get("batch_size", 32),
                epochs=values.get("epochs", 25),
                seed=seed,
                device=values.get("device", "auto"),
                scheduler=run.scheduler,
                label=group_label,
                diverge_loss=values.get("diverge_loss", DIVERGE_LOSS),
                diverge_checks=values.get("diverge_checks", DIVERGE_CHECKS),
            )
            points.append(GroupPoint(config, group_label, sweep))
            point_names.append(names)
            point_where.append(run.where)
    planned, planned_groups = plan_seeds(points, n_seeds)
    settings.run_names = [point_where[i // n_seeds] for i in range(len(planned))]
    settings.run_names += [None] * len(reruns)
    for i, config in enumerate(planned):
        problems = validate_config(config)
        if problems:
            key, message = next(iter(problems.items()))
            raise UsageError(f"{_problem_name(key, point_names[i // n_seeds])}: {message}")
    configs: list[RunConfig] = planned
    groups: list[RunGroup | None] = list(planned_groups)
    if reruns:
        if not configs:  # a pure rerun keeps its own dataset and device unless asked otherwise
            shared.setdefault("dataset", reruns[0].dataset)
            settings.names.setdefault(
                "device", f"--rerun {args.rerun[0]}'s stored device (--device overrides it)"
            )
        # Beside new runs a rerun trains on their device; alone, on --device or its own.
        device: str | None = configs[0].device if configs else shared.get("device")
        configs += [
            replace(c, dataset=shared.get("dataset", c.dataset), device=device or c.device)
            for c in reruns
        ]
        groups += [None] * len(reruns)
    return configs, groups, settings


def _stored_configs(ids: Sequence[str], db: str | None) -> list[RunConfig]:
    """The configs of stored runs for --rerun (bad id or database: one UsageError line)."""
    from lrtui.store import Store, StoreError, resolve_db_path

    run_ids = [_text_value(RUN_ID, text, "--rerun") for text in ids]
    path = resolve_db_path(db)
    if not path.exists():
        raise UsageError(f"--rerun: no run history at {path} (nothing has been stored there)")
    try:
        with Store(path, read_only=True) as store:
            dicts = [store.get_config(run_id) for run_id in run_ids]
    except StoreError as exc:
        raise UsageError(f"--rerun: {exc}") from None
    try:
        configs = [RunConfig.from_dict(d) for d in dicts]
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"--rerun: this lrtui cannot read the stored config ({exc})") from None
    for run_id, config in zip(run_ids, configs, strict=True):
        problems = validate_config(config)  # stored by another version, or edited by hand
        if problems:
            key, message = next(iter(problems.items()))
            raise UsageError(f"--rerun {run_id}: stored {key}: {message}")
    return configs
def _label(i: int, config: RunConfig) -> str:
    return f"run {i} ({config.label})" if config.label else f"run {i}"


# ------------------------------------------------------------------------------- output


def _num(x: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return x if x is not None and math.isfinite(x) else None


class _Printer:
    """Turns engine events into stdout lines (table or JSON) and a progress line on stderr.

    Output that cannot be written never fails a run: a closed pipe (the reader went away) stops
    the training cleanly, as SIGPIPE would stop `cat`; any other failure of stdout (a full disk,
    an I/O error) is said once on stderr and the training goes on, stored as usual, without
    output; a broken stderr only loses the progress line.
    """

    def __init__(
        self,
        configs: list[RunConfig],
        as_json: bool,
        out: IO[str],
        err: IO[str],
        *,
        control: Control | None = None,
        db: str = "",
    ) -> None:
        self.configs = configs
        self.as_json = as_json
        self.out = out
        self.err = err
        self.control = control
        self.db = db
        self.tty = is_terminal(err)
        self.progress_shown = False
        self.last_plain = 0.0
        self.header_done = False
        self.last_epoch = 0
        self.width = max(5, *(len(c.label) for c in configs))
        self.width = min(self.width, 40)
        #: The reader of stdout went away: training was asked to stop.
        self.pipe_closed = False
        #: stdout failed otherwise (said once on stderr; the training goes on without output).
        self.out_error: OSError | None = None
        self.err_broken = False

    def write_out(self, text: str) -> None:
        if self.pipe_closed or self.out_error is not None:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            self.pipe_closed = True
            if self.control is not None:
                self.control.stop()
        except OSError as exc:
            self.out_error = exc
            self.clear_progress()
            where = f" in {self.db}" if self.db else ""
            say(
                f"lrtui: error: {OutputError(exc.errno, exc.strerror)}; training goes on "
                f"and every epoch is still stored{where}"
            )

    def write_err(self, text: str) -> None:
        if self.err_broken:
            return
        try:
            self.err.write(text)
            self.err.flush()
        except (OSError, ValueError, AttributeError):  # AttributeError: no stderr at all
            self.err_broken = True

    def clear_progress(self) -> None:
        if self.progress_shown:
            self.progress_shown = False
            self.write_err("\r\033[K")

    def __call__(self, event: object) -> None:
        from lrtui.engine import EpochEnd, Progress, RunEnded

        if isinstance(event, Progress):
            self.progress(event)
        elif isinstance(event, EpochEnd):
            self.clear_progress()
            self.epoch(event)
        elif isinstance(event, RunEnded):
            self.clear_progress()
            self.ended(event)

    def progress(self, event: Any) -> None:
        done = event.global_step
        total = event.total_steps
        losses = " ".join(f"{x:.3f}" for x in event.train_loss[:8] if math.isfinite(x))
        more = " ..." if len(event.train_loss) > 8 else ""
        eta = ""
        if done and event.elapsed_s > 0:
            left = event.elapsed_s / done * (total - done)
            eta = f"  eta {left:,.0f}s"
        line = (
            f"epoch {epoch_number(event.epoch)} step {event.step}/{event.steps_per_epoch}  "
            f"{event.samples_per_s:,.0f} samples/s{eta}  loss {losses}{more}"
        )
        if self.tty:
            columns = 100
            self.write_err("\r\033[K" + line[:columns])
            self.progress_shown = True
        elif time.monotonic() - self.last_plain >= PLAIN_PROGRESS_EVERY_S:
            self.last_plain = time.monotonic()
            self.write_err(f"lrtui: {line}\n")

    def epoch(self, event: Any) -> None:
        label = self.configs[event.run].label
        if self.as_json:
            plateau = event.plateau
            record = {
                "event": "epoch",
                "run": event.run,
                "label": label,
                "epoch": epoch_number(event.epoch),
                "lr": event.lr,
                "momentum": event.momentum,
                "train_loss": _num(event.train_loss),
                "valid_loss": _num(event.valid_loss),
                "valid_acc": _num(event.valid_acc),
                "seconds": round(event.seconds, 4),
                "plateau": None
                if plateau is None
                else {
                    "best": _num(plateau.best),
                    "num_bad_epochs": plateau.num_bad_epochs,
                    "cooldown_counter": plateau.cooldown_counter,
                },
            }
            self.write_out(json.dumps(record) + "\n")
            return
        lines = ""
        if self.header_done and event.epoch != self.last_epoch:
            lines += "\n"  # one block of rows per epoch
        self.last_epoch = event.epoch
        if not self.header_done:
            lines += (
                f"{'run':>3}  {'label':<{self.width}}  {'epoch':>5}  {'lr':>10}  "
                f"{'momentum':>8}  {'train_loss':>10}  {'valid_loss':>10}  {'valid_acc':>9}  "
                f"{'seconds':>7}\n"
            )
            self.header_done = True
        momentum = "" if event.momentum is None else f"{event.momentum:.4g}"
        self.write_out(
            lines + f"{event.run:>3}  {label[: self.width]:<{self.width}}  "
            f"{epoch_number(event.epoch):>5}  "
            f"{event.lr:>10.4g}  {momentum:>8}  {event.train_loss:>10.4f}  "
            f"{event.valid_loss:>10.4f}  {event.valid_acc * 100:>8.2f}%  {event.seconds:>7.2f}\n"
        )

    def ended(self, event: Any) -> None:
        label = self.configs[event.run].label
        if self.as_json:
            record = {
                "event": "end",
                "run": event.run,
                "label": label,
                "status": event.status,
                "reason": event.reason,
                "epochs_done": event.epochs_done,
            }
            self.write_out(json.dumps(record) + "\n")
        else:
            self.write_out(f"run {event.run} ({label}): {event.status} - {event.reason}\n")


# ------------------------------------------------------------------------------- main


def main(args: argparse.Namespace) -> int:
    db = getattr(args, "db", None)
    reruns = _stored_configs(args.rerun, db) if args.rerun else []
    configs, groups, settings = build_runs(args, reruns)
    shared = settings.values
    ray_address = ray_run.address_of(args)  # --ray: None for a local run
    # Heavy imports only once the command line is known to be good.
    from lrtui import runner
    from lrtui.data import DatasetError
    from lrtui.distributed.choice import checked_here
    from lrtui.engine import Control, Event, RunEnded

    passes: list[runner.Prepared] = []
    plan_runs: Sequence[int] = range(len(configs))
    try:
        plans = runner.plan_passes(configs)
        for plan in plans:
            plan_runs = plan.runs
            passes.append(
                runner.prepare(
                    # --ray: checked on the driver's CPU (the devices are the workers')
                    [configs[i] for i in plan.runs] if ray_address is None
                    else checked_here([configs[i] for i in plan.runs]),
                    data_dir=shared.get("data_dir"),
                    independent_seeds=plan.independent_seeds,
                    dry_run=True,  # step each real scheduler over the whole run before training
                )
            )
    except runner.RunInputError as exc:
        if exc.run is None:
            raise UsageError(flag_message(exc, settings.names)) from None
        run = plan_runs[exc.run]
        named = _numbered([run], _named_as(run, configs, groups, settings))
        raise UsageError(f"{named}: {exc.detail}") from None
    except DatasetError as exc:
        say(f"lrtui: error: {exc}")
        return 1
    for line in _warning_lines(plans, passes, configs, groups, settings):
        say(f"lrtui: warning: {line}")
    if passes[0].loaded.notice:
        say(f"lrtui: note: {passes[0].loaded.notice}")
    note = plan_note(len(configs), groups, len(plans))
    if note:
        say(f"lrtui: note: {note}")
    control = Control()
    # Opened only now, when every input is known good: bad input writes nothing.
    from lrtui.store import Store, StoreError, resolve_db_path

    db_path = resolve_db_path(db)
    printer = _Printer(
        configs, bool(args.json), sys.stdout, sys.stderr, control=control, db=str(db_path)
    )

    if ray_address is not None:  # --ray: start or join Ray before anything is written
        try:
            ray_run.join(ray_address)
        except ray_run.RayRunError as exc:
            say(f"lrtui: error: {exc}")
            return 1
    try:
        store = Store(db_path)
    except StoreError as exc:
        raise UsageError(str(exc)) from None

    def before_record(event: Event) -> Event:
        if printer.pipe_closed and isinstance(event, RunEnded) and event.status == "stopped":
            return replace(event, reason=event.reason.replace("by user", _PIPE_CLOSED))
        return event

    ended: list[RunEnded] = []
    try:
        with ctrl_c_stops(control) as ctrl_c, store:
            if ray_address is not None:  # --ray: each pass one Ray task, recorded here
                ended = ray_run.train(
                    [[configs[i] for i in plan.runs] for plan in plans], passes,
                    [[groups[i] for i in plan.runs] for plan in plans], store,
                    _in_command(range(len(configs)), printer), control,
                    data_dir=shared.get("data_dir"),
                    on_deleted=_deleted_in_command(range(len(configs)), configs, printer),
                    before_record=before_record, before_say=printer.clear_progress,
                )  # fmt: skip
            for plan, prepared in zip(plans, passes, strict=True):
                if control.stopped or ray_address is not None:
                    break
                ended += runner.train(
                    prepared, store, _in_command(plan.runs, printer), control,
                    on_deleted=_deleted_in_command(plan.runs, configs, printer),
                    before_record=before_record,
                    groups=[groups[i] for i in plan.runs],
                )  # fmt: skip
    except ray_run.RayRunError as exc:  # Ray not reached, or lost: what was recorded stays
        printer.clear_progress()
        say(f"lrtui: error: {exc}")
        return 1
    except StoreError as exc:  # the history cannot be written: the file went away, disk full
        printer.clear_progress()
        say(f"lrtui: error: {exc}")
        return 1
    finally:
        printer.clear_progress()
    if printer.pipe_closed:
        silence_stdout()
        return 141
    if ctrl_c.pressed:
        return 130
    if printer.out_error is not None:
        return 1
    if any(e.status == "stopped" for e in ended):
        return 130
    if any(e.status == "failed" for e in ended):
        return 1
    return 0


def _in_command(runs: Sequence[int], printer: _Printer) -> Any:
    """on_event for one pass: its events numbered as the command's runs, then printed."""
    from lrtui.engine import Progress

    def on_event(event: Any, run_id: int | None) -> None:
        if not isinstance(event, Progress):
            event = replace(event, run=runs[event.run])
        printer(event)  # after the store: an epoch is on disk before it is printed

    return on_event


def _deleted_in_command(
    runs: Sequence[int], configs: Sequence[RunConfig], printer: _Printer
) -> Any:
    def on_deleted(run: int, message: str) -> None:
        printer.clear_progress()
        say(f"lrtui: warning: {_label(runs[run], configs[runs[run]])}: {message}")

    return on_deleted


def _named_as(
    run: int, configs: Sequence[RunConfig], groups: Sequence[RunGroup | None], settings: _Settings
) -> str:
    """What the user wrote for the command's run `run`: a config file's table ('cfg.toml:
    run[1]'), else its group's label (the spec and swept values, no seed), else its label."""
    group = groups[run]
    return settings.run_names[run] or (group.label if group is not None else configs[run].label)


def _numbered(runs: Sequence[int], label: str) -> str:
    """'run 3 (label)', 'runs 0-4 (label)' (a group's seeds), 'runs 0, 2 (label)'."""
    numbers = sorted(runs)
    if len(numbers) == 1:
        text = f"run {numbers[0]}"
    elif numbers == list(range(numbers[0], numbers[-1] + 1)):
        text = f"runs {numbers[0]}-{numbers[-1]}"
    else:
        text = "runs " + ", ".join(map(str, numbers))
    return f"{text} ({label})" if label else text


def _warning_lines(
    plans: Sequence[runner.PassPlan],
    passes: Sequence[runner.Prepared],
    configs: Sequence[RunConfig],
    groups: Sequence[RunGroup | None],
    settings: _Settings,
) -> list[str]:
    """One line per piece of advice, numbered as the command's runs (not each pass's), said
    once for all the runs it is about (a group's seeds, the points of a swept table)."""
    found: dict[tuple[str, str, str], list[int]] = {}
    for plan, prepared in zip(plans, passes, strict=True):
        for warning in prepared.warnings:
            run = plan.runs[warning.run]
            label = _named_as(run, configs, groups, settings)
            found.setdefault((label, warning.key, warning.message), []).append(run)
    return [
        f"{_numbered(runs, label)}: {key}: {message}"
        for (label, key, message), runs in found.items()
    ]


def flag_message(exc: Exception, names: Mapping[str, str] | None = None) -> str:
    """A run core message with its field named as the user gave it: 'device: ...' becomes
    '--device: ...', or 'cfg.toml: device: ...' when the file set it (`names`, by key)."""
    message = str(exc)
    key, colon, rest = message.partition(": ")
    if not colon or key not in _CORE_FIELDS:
        return message
    return f"{(names or {}).get(key, '--' + key)}: {rest}"


#: The settings a run core message can start with (runner.load's refusals).
_CORE_FIELDS = ("dataset", "device")
