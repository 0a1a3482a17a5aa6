"""The sidebar form as data: raw field values in, a `RunConfig` (or per-field errors) out.

No widgets here: the sidebar collects `FormValues`, `evaluate()` parses every field, builds the
scheduler spec (with the optional warm-up wrapped around it as `LinearLR -> X`), and validates the
whole config with the core's own rules (`lrtui.model.validate_config`, which runs
`schedulers.validate`). Field keys are the sidebar's widget names: "lr", "optimizer.momentum",
"param:step_size", "warmup", "spec", ...
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from lrtui import engine
from lrtui import fields as F
from lrtui import schedulers as S
from lrtui.data import DATASETS
from lrtui.distributed import choice as ray_choice
from lrtui.model import OptimizerConfig, RunConfig, validate_config
from lrtui.numbering import counted
from lrtui.optimizers import OPTIMIZER_KINDS

# Training-split sizes of the registry's datasets: the preview's steps per epoch, before loading.
TRAIN_SIZES: dict[str, int] = {name: info.n_train for name, info in DATASETS.items()}
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps", *ray_choice.CHOICES)
OPTIMIZER_NAMES: tuple[str, ...] = F.OPTIMIZER_NAMES
MODEL_NAMES: tuple[str, ...] = F.MODEL_NAMES
# Schedulers whose form is one spec text field ("A -> B" / "A + B") rather than generated fields,
# with the catalog's example as the starting text.
COMPOSITE_EXAMPLES: dict[str, str] = {
    name: info.example for name, info in S.ENTRIES.items() if info.composite
}


@dataclass
class FormValues:
    """Every field of the sidebar as the user left it (text fields are raw text)."""

    dataset: str = "mnist"
    model: str = "mlp"
    hidden: str = "64,32"
    optimizer: str = "sgd"
    momentum: str = "0"
    nesterov: bool = False
    weight_decay: str = "0"
    beta1: str = "0.9"
    beta2: str = "0.999"
    eps: str = "1e-08"
    lr: str = "0.1"
    epochs: str = "25"
    batch_size: str = "32"
    seed: str = "0"
    seeds: str = "1"  # train seeds SEED..SEED+N-1, one group (lrtui.sweeps.plan_seeds)
    device: str = "auto"
    scheduler: str = "StepLR"
    params: dict[str, str | bool] = field(default_factory=dict)  # param name -> text / bool
    spec_text: str = ""  # composites only
    interval: str = ""  # "epoch" / "step"; empty: the scheduler's natural interval
    warmup: str = "0"
    warmup_start: str = "0.1"
    label: str = ""


@dataclass(frozen=True)
class FormResult:
    """The outcome of one evaluation: a runnable config, or why not (field -> message)."""

    config: RunConfig | None
    errors: dict[str, str]
    warnings: dict[str, str]
    steps_per_epoch: int | None
    spec: S.SchedulerSpec | None
    defaults: dict[str, str] = field(default_factory=dict)  # empty parameter -> default used
    too_long_to_preview: str | None = None  # why no preview is drawn (the CLI's own message)
    ray: str | None = None  # the Ray address to train on (device ray:ADDRESS), None: here
    seeds: int = 1  # how many seeds the config trains with (`lrtui run --seeds`)

    @property
    def ok(self) -> bool:
        return self.config is not None and not self.errors

    def first_error(self) -> str:
        """'label: message' of the first error, for the log (the field as the form shows it)."""
        if not self.errors:
            return ""
        key, msg = next(iter(self.errors.items()))
        return f"{field_label(key)}: {msg}"


def field_label(key: str) -> str:
    """The label the form shows for a field key: 'param:lr_lambda' -> 'lr_lambda',
    'optimizer.weight_decay' -> 'weight decay', 'lr' -> 'base LR' (lrtui.fields' table)."""
    if key.startswith("param:"):
        return key.removeprefix("param:")
    return F.label_of(key)


def train_size(dataset: str, injected: dict[str, int] | None = None) -> int | None:
    """Training examples of a dataset by name (an injected dataset's own size first)."""
    if injected and dataset in injected:
        return injected[dataset]
    return TRAIN_SIZES.get(dataset)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """ceil(n_train / batch_size): a DataLoader without drop_last."""
    return -(-n_train // batch_size)


def format_number(value: Any) -> str:
    """A default value as the form shows it (floats exact, lists as '10, 30')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_number(v) for v in value)
    return "" if value is None else str(value)


def parse_field(key: str, f: F.Field, text: str, errors: dict[str, str]) -> Any:
    """A fixed field through lrtui.fields (the CLI's and TOML's own parser and bounds); None
    after recording its error under `key`."""
    try:
        return F.from_text(f, text, "")
    except F.FieldError as exc:
        errors[key] = exc.message
        return None


def parse_int(key: str, text: str, errors: dict[str, str]) -> int | None:
    """An integer parameter (its range is the scheduler catalog's to check)."""
    value = F.parse_int(text)
    if value is None:
        what = "with fewer digits" if F.is_long_int(text) else ""
        errors[key] = f"must be an integer{' ' + what if what else ''} (got {F.shown(text)})"
    return value


def parse_float(key: str, text: str, errors: dict[str, str]) -> float | None:
    """A number parameter (1e-3 style accepted); inf/nan and overflowing numbers refused."""
    value = F.parse_float(text)
    if value is None:
        errors[key] = f"must be a number (got {F.shown(text)})"
        return None
    if not math.isfinite(value):
        errors[key] = f"must be a finite number (got {F.shown(text)})"
        return None
    return value


def parse_param(param: S.Param, raw: str | bool, sched: str, errors: dict[str, str]) -> Any:
    """A scheduler parameter from its field: typed like the spec parser types it (ranges are
    `schedulers.validate`'s job). Returns None when the field is empty (the catalog default)."""
    key = f"param:{param.name}"
    if param.kind == "bool":
        return bool(raw)
    text = str(raw).strip()
    if text == "":
        return None
    if param.kind == "int":
        return parse_int(key, text, errors)
    if param.kind == "float":
        return parse_float(key, text, errors)
    if param.kind in ("int_list", "float_list"):
        inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        items = [t for t in (s.strip() for s in inner.split(",")) if t]
        out: list[Any] = []
        for item in items:
            sub: dict[str, str] = {}
            v = (parse_int(key, item, sub) if param.kind == "int_list"
                 else parse_float(key, item, sub))
            if sub:
                kind = "integers" if param.kind == "int_list" else "numbers"
                errors[key] = f"must be a list of {kind} like 10, 30 (got {F.shown(text)})"
                return None
            out.append(v)
        return out
    return text  # choice / formula: validate() checks them


def build_spec(v: FormValues, errors: dict[str, str],
               defaults: dict[str, str] | None = None,
               steps_per_epoch: int | None = None) -> S.SchedulerSpec | None:
    """The scheduler spec the form describes (None when a field cannot even be parsed).
    Parameters left empty take the catalog default; `defaults` collects them (name -> value as
    the field's placeholder shows it), so the preview can say so. `steps_per_epoch` sizes a
    warm-up before a per-step schedule (1 while unknown: the form shows another error then)."""
    info = S.ENTRIES.get(v.scheduler)
    if info is None:
        errors["scheduler"] = f"unknown scheduler (got {v.scheduler})"
        return None
    if info.composite:
        try:
            inner = S.parse_spec(v.spec_text)
        except S.SpecError as exc:
            errors["spec"] = str(exc)
            return None
    else:
        params: dict[str, Any] = {}
        for p in info.params:
            if p.name not in v.params:
                continue
            value = parse_param(p, v.params[p.name], info.name, errors)
            if (value is None and defaults is not None and p.default is not None
                    and f"param:{p.name}" not in errors):
                defaults[p.name] = format_number(p.default)
            if value is None or _same(value, p.default):
                continue  # the catalog default: keep the spec short
            params[p.name] = value
        if info.has_interval and v.interval and v.interval != info.natural_interval:
            params["interval"] = v.interval
        inner = S.SchedulerSpec(info.name, params)
    warmup = parse_field("warmup", F.WARMUP, v.warmup, errors) if v.warmup.strip() else 0
    if not warmup:
        return inner
    start = parse_field("warmup_start", F.WARMUP_START, v.warmup_start, errors)
    if start is None or errors:
        return None
    return S.add_warmup(inner, warmup, start, steps_per_epoch or 1)


def _check_warmup(v: FormValues, epochs: int | None, errors: dict[str, str],
                  warnings: dict[str, str]) -> None:
    """The warm-up in the form's own words (epochs), before the core's checks of the
    `LinearLR -> X` it becomes, which speak of members and milestones."""
    if "warmup" in errors or not v.warmup.strip():
        return
    warmup = parse_field("warmup", F.WARMUP, v.warmup, {})  # the field's own parser, again
    if not warmup:
        return
    if epochs is not None and warmup >= epochs:
        errors["warmup"] = (f"must be shorter than the run ({counted(epochs, 'epoch')}), leaving"
                            f" the schedule at least one (got {warmup})")
        return
    info = S.ENTRIES.get(v.scheduler)
    own = info.warmup_params if info else ()
    if own:
        warnings["warmup"] = (f"{v.scheduler} has a warm-up of its own ({', '.join(own)}):"
                              " this one runs before it")


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, list) and isinstance(default, list | tuple):
        return list(value) == list(default)
    return bool(value == default) and type(value) is type(default)


def field_of(key: str, scheduler: str, warmup: bool) -> str:
    """Map a core error key ('StepLR.step_size', 'SequentialLR[1].OneCycleLR.max_lr',
    'optimizer.betas[0]') to the form field that shows it."""
    if key.startswith("optimizer.betas["):
        return "optimizer.beta1" if key.endswith("[0]") else "optimizer.beta2"
    if key in ("dataset", "model", "hidden", "lr", "batch_size", "epochs", "seed", "device") or \
            key.startswith("optimizer."):
        return key
    info = S.ENTRIES.get(scheduler)
    if info is not None and info.composite:
        return "spec"
    parts = key.split(".")
    if warmup:
        part = S.warmup_part(key)
        if part == "ramp":
            return "warmup_start" if key.endswith("start_factor") else "warmup"
        if part == "inner" and len(parts) >= 3 and parts[-2] == scheduler:
            return _param_field(parts[-1])
        return "warmup"
    if len(parts) == 2 and parts[0] == scheduler:
        return _param_field(parts[1])
    return "scheduler"


def _param_field(name: str) -> str:
    """The form field of a scheduler setting: its generated row, or the interval toggle."""
    return "interval" if name == "interval" else f"param:{name}"


def evaluate(v: FormValues, *, injected_sizes: dict[str, int] | None = None,
             dry_run: bool | None = None) -> FormResult:
    """Parse and validate the whole form. A config comes back only when nothing is wrong.
    `dry_run`: whether the scheduler validation steps torch's real scheduler (None: when the run
    is short, `schedulers.validate`'s rule; False: never, before torch has loaded)."""
    errors: dict[str, str] = {}
    if v.dataset not in DATASETS and not (injected_sizes and v.dataset in injected_sizes):
        errors["dataset"] = f"unknown dataset (got {v.dataset})"
    hidden: list[int] = parse_field("hidden", F.HIDDEN, v.hidden, errors) or []
    opt = OptimizerConfig(name="sgd")
    if v.optimizer not in OPTIMIZER_NAMES:
        errors["optimizer.name"] = f"must be {F.OPTIMIZER.rule()} (got {v.optimizer})"
    else:
        opt.name = v.optimizer  # type: ignore[assignment]
    wd = parse_field("optimizer.weight_decay", F.WEIGHT_DECAY, v.weight_decay, errors)
    if wd is not None:
        opt.weight_decay = wd
    fields = OPTIMIZER_KINDS[opt.name].form_fields  # the chosen optimizer's own fields
    if "optimizer.momentum" in fields:
        mom = parse_field("optimizer.momentum", F.MOMENTUM, v.momentum, errors)
        if mom is not None:
            opt.momentum = mom
    if "optimizer.nesterov" in fields:
        opt.nesterov = v.nesterov
    if "optimizer.beta1" in fields:
        b1 = parse_field("optimizer.beta1", F.BETA1, v.beta1, errors)
        b2 = parse_field("optimizer.beta2", F.BETA2, v.beta2, errors)
        if b1 is not None and b2 is not None:
            opt.betas = (b1, b2)
    if "optimizer.eps" in fields:
        eps = parse_field("optimizer.eps", F.EPS, v.eps, errors)
        if eps is not None:
            opt.eps = eps
    lr = parse_field("lr", F.LR, v.lr, errors)
    epochs = parse_field("epochs", F.EPOCHS, v.epochs, errors)
    batch = parse_field("batch_size", F.BATCH_SIZE, v.batch_size, errors)
    seed = parse_field("seed", F.SEED, v.seed, errors)
    seeds = parse_field("seeds", F.SEEDS, v.seeds, errors)
    too_far = F.last_seed_problem(seed, seeds) if seed is not None and seeds else None
    if too_far:
        errors["seeds"] = too_far
    if v.device not in DEVICES:
        errors["device"] = f"must be {', '.join(DEVICES[:-1])} or {DEVICES[-1]} (got {v.device})"
    ray = ray_choice.address_of(v.device)
    defaults: dict[str, str] = {}
    n_train = train_size(v.dataset, injected_sizes)
    spe = steps_per_epoch(n_train, batch) if n_train and batch else None
    spec = build_spec(v, errors, defaults, spe)
    warnings: dict[str, str] = {}
    _check_warmup(v, epochs, errors, warnings)
    # The CLI's preview limit, said the same way: the run itself may be longer.
    too_long = F.preview_steps_problem(epochs, spe) if epochs and spe else None
    if too_long:
        warnings["epochs"] = f"{too_long}: no preview drawn"
    # Validate with the core's rules even when some fields did not parse: the unparsed ones take
    # their defaults here and keep their own parse error, so every wrong field shows at once.
    parsed_ok = set(errors)
    base = RunConfig()
    config = RunConfig(
        dataset=v.dataset, model=v.model, hidden=tuple(hidden) or base.hidden, optimizer=opt,
        lr=base.lr if lr is None else lr, batch_size=batch or base.batch_size,
        epochs=epochs or base.epochs, seed=base.seed if seed is None else seed,
        device=(ray_choice.WORKER_DEVICE if ray is not None
                else v.device if v.device in DEVICES else base.device),
        scheduler=spec if spec is not None else base.scheduler, label=v.label.strip())
    warmup = bool(v.warmup.strip() and v.warmup.strip() != "0")
    check_spe = spe if (epochs is not None and batch is not None) else None
    try:
        # The schedule is checked once (its dry run steps the real scheduler over the whole
        # run): its errors join the config's as validate_config would merge them, its warnings
        # are the form's advice.
        checked = (S.validate(spec, epochs=config.epochs, steps_per_epoch=check_spe,
                              optimizer=opt.shape(), dry_run=dry_run)
                   if spec is not None and check_spe is not None else {})
        problems = validate_config(config)
        if "epochs" not in problems and "optimizer.name" not in problems:
            problems.update(S.errors_of(checked))
        advice = checked if "optimizer.name" not in errors else {}
    except Exception as exc:  # a check that fails on a value it did not foresee: never a crash
        errors.setdefault("scheduler", f"cannot check this schedule: {type(exc).__name__}: {exc}")
        problems, advice = {}, {}
    for key, msg in S.errors_of(problems).items():
        where = field_of(key, v.scheduler, warmup)
        if where not in parsed_ok:
            errors.setdefault(where, msg)
    # validate_config keeps only errors; the warnings (works, but maybe not as meant) too.
    for key, msg in S.warnings_of(advice).items():
        warnings.setdefault(field_of(key, v.scheduler, warmup), msg)
    return FormResult(config if not errors else None, errors, warnings, spe, spec, defaults,
                      too_long, ray, seeds or 1)


def values_from_config(config: RunConfig,
                       injected_sizes: dict[str, int] | None = None) -> FormValues:
    """The form that reproduces a config (used by clone): warm-up composites are unwrapped (a
    ramp in optimizer steps back to epochs, from the config's dataset and batch size)."""
    opt = config.optimizer
    v = FormValues(
        dataset=config.dataset, model=config.model, hidden=", ".join(str(h) for h in config.hidden),
        optimizer=opt.name, momentum=format_number(opt.momentum), nesterov=opt.nesterov,
        weight_decay=format_number(opt.weight_decay), beta1=format_number(opt.betas[0]),
        beta2=format_number(opt.betas[1]), eps=format_number(opt.eps), lr=format_number(config.lr),
        epochs=str(config.epochs), batch_size=str(config.batch_size), seed=str(config.seed),
        device=config.device, label=config.label,
    )
    spec = config.scheduler
    n_train = train_size(config.dataset, injected_sizes)
    warmup = S.split_warmup(spec, steps_per_epoch(n_train, config.batch_size) if n_train else None)
    if warmup is not None:
        epochs, start, spec = warmup
        v.warmup = str(epochs)
        v.warmup_start = format_number(start)
    info = S.ENTRIES.get(spec.name)
    v.scheduler = spec.name if info is not None else FormValues.scheduler
    if info is not None and info.composite:
        v.spec_text = S.format_spec(spec)
    elif info is not None:
        v.params = {p.name: (bool(spec.params.get(p.name, p.default)) if p.kind == "bool"
                             else format_number(spec.params.get(p.name, p.default)))
                    for p in info.params}
        if info.has_interval:
            v.interval = str(spec.params.get("interval", info.natural_interval))
    return v


def own_label(config: RunConfig, group_label: str | None) -> str:
    """The label a user gave a run of a group: its config's label without the ` seed=N` that
    planning added (lrtui.sweeps.plan_seeds), and empty where the group was named after its
    spec (the app's groups are), so a clone names itself after its own spec."""
    label = config.label
    if group_label is None:
        return label
    if label == f"{group_label} seed={config.seed}":
        label = group_label
    return "" if label == S.short_spec(config.scheduler) else label


#: Seeds of each of the tutorial's schedulers: enough to tell a schedule's effect from the noise.
TUTORIAL_SEEDS = 3


def tutorial_configs(dataset: str, *, epochs: int = 25) -> list[RunConfig]:
    """The tutorial's four schedulers on its MLP, SGD lr 0.1, batch 32 (each trained with
    TUTORIAL_SEEDS seeds)."""
    specs = (
        "StepLR:step_size=10,gamma=0.1",
        "MultiStepLR:milestones=[10,30],gamma=0.1",
        "ExponentialLR:gamma=0.1",
        "ReduceLROnPlateau:mode=min,patience=5",
    )
    return [RunConfig(dataset=dataset, epochs=epochs, scheduler=S.parse_spec(s)) for s in specs]


@functools.lru_cache(maxsize=16)
def describe_device(choice: str) -> tuple[str, bool]:
    """`engine.describe_device`, asked once per choice: the devices of a machine do not change
    during a session, and the form redraws the line on every change. A Ray choice says what it
    will join or start (the workers' devices are theirs)."""
    address = ray_choice.address_of(choice)
    if address is not None:
        return ray_choice.describe(address)
    return engine.describe_device(choice)
