"""The one run core: how a training starts, for `lrtui run`, `lrtui find-lr` and the app alike.

Load the dataset (with its fallback notice), check every config against it, choose the CPU
threads, open the recorder and train, with every event handed on as it comes. Front ends only
turn problems into their own words (the CLI: one line and an exit code; the app: its log), so a
run from the app and the same run from the command line train the same way and store the same
numbers (tests/test_runner.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lrtui.data import (
    DATASETS,
    DataFileError,
    DeviceDataset,
    RawDataset,
    load_with_fallback,
    to_device,
)
from lrtui.engine import (
    MODELS,
    Control,
    Event,
    Progress,
    RunEnded,
    check_batch,
    cpu_threads,
    family_of,
    resolve_device,
    steps_per_epoch,
)
from lrtui.model import RunConfig
from lrtui.recorder import Recorder
from lrtui.schedulers import errors_of, validate, warnings_of
from lrtui.store import RunGroup, Store


class RunInputError(ValueError):
    """A config no training can start with; str() is one line naming the run and the field.
    `run`: the index in the pass of the run it is about (None: about the pass, e.g. its device),
    and `detail` the message without that run's name, so a caller can name the run its own way
    (`lrtui run`: as the user wrote it)."""

    def __init__(self, message: str, run: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.run = run
        self.detail = detail or message


@dataclass(frozen=True)
class RunWarning:
    """Advice about run `run` of a pass (it trains, but maybe not as meant): key and message as
    `schedulers.validate` gives them."""

    run: int
    label: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{run_label(self.run, self.label)}: {self.key}: {self.message}"


#: `lrtui.engine.train`, or a test double with its signature.
TrainFn = Callable[..., list[RunEnded]]


@dataclass(frozen=True)
class Loaded:
    """The dataset a call trains on, on its device, and why it is not the one asked for."""

    data: DeviceDataset
    notice: str | None
    device: torch.device


@dataclass(frozen=True)
class Prepared:
    """Configs checked against their dataset, ready to train in one pass."""

    configs: list[RunConfig]
    loaded: Loaded
    steps_per_epoch: int
    warnings: list[RunWarning] = field(default_factory=list)
    independent_seeds: bool = False

    @property
    def threads(self) -> int | None:
        """CPU threads for the pass (`cpu_threads`); None: torch's own (or not on the CPU)."""
        if self.loaded.device.type != "cpu":
            return None
        first = self.configs[0]
        return cpu_threads(len(self.configs), first.hidden, first.model)


def run_label(i: int, label: str) -> str:
    """How messages name run i: 'run 0 (label)' or 'run 0'."""
    return f"run {i} ({label})" if label else f"run {i}"


def load(
    configs: Sequence[RunConfig],
    *,
    raw: RawDataset | None = None,
    data_dir: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Loaded:
    """The first config's dataset on its device; `raw` instead when given (tests, the app's
    injected data). RunInputError for a device or dataset name that cannot be; DatasetError
    (lrtui.data) when nothing can be loaded, even the fallback. Files the user pointed at that
    cannot be used (a corrupt IDX, a missing --data-dir) are bad input: RunInputError."""
    if not configs:
        raise RunInputError("no run configs given")
    try:
        device = resolve_device(configs[0].device)
    except (ValueError, RuntimeError) as exc:
        raise RunInputError(str(exc)) from None
    notice = None
    if raw is None:
        name = configs[0].dataset
        if name not in DATASETS:
            raise RunInputError(f"dataset: must be one of {', '.join(DATASETS)} (got {name})")
        try:
            raw, notice = load_with_fallback(name, data_dir=data_dir)
        except DataFileError as exc:
            raise RunInputError(str(exc)) from None
    return Loaded(to_device(raw, device, dtype), notice, device)


def prepare(
    configs: Sequence[RunConfig],
    *,
    raw: RawDataset | None = None,
    data_dir: str | None = None,
    independent_seeds: bool = False,
    dtype: torch.dtype = torch.float32,
    dry_run: bool | None = None,
) -> Prepared:
    """Load the data, then check every config with the run's real steps per epoch (scheduler
    errors: RunInputError; warnings collected) and that the configs can share one pass.
    `dry_run=True` steps each real scheduler over the whole run first (an LR that overflows or a
    formula that fails at epoch 100,001 is refused before training); None: only short runs."""
    configs = list(configs)
    loaded = load(configs, raw=raw, data_dir=data_dir, dtype=dtype)
    spe = steps_per_epoch(loaded.data.n_train, configs[0].batch_size)
    warnings: list[RunWarning] = []
    for i, config in enumerate(configs):
        problems = validate(
            config.scheduler,
            epochs=config.epochs,
            steps_per_epoch=spe,
            optimizer=config.optimizer.shape(),
            dry_run=dry_run,
            base_lr=config.lr,
        )
        errors = errors_of(problems)
        if errors:
            key, message = next(iter(errors.items()))
            detail = f"{key}: {message}"
            raise RunInputError(f"{run_label(i, config.label)}: {detail}", run=i, detail=detail)
        for key, message in warnings_of(problems).items():
            warnings.append(RunWarning(i, config.label, key, message))
    try:
        check_batch(configs, independent_seeds=independent_seeds)
    except ValueError as exc:
        raise RunInputError(str(exc)) from None
    return Prepared(configs, loaded, spe, warnings, independent_seeds)


# ------------------------------------------------------------------------------- planning

#: Share of the device's free memory a pass may plan to use (the rest: the dataset, the
#: allocator's slack, other processes).
MEMORY_SHARE = 0.5
#: Memory assumed on a CPU or MPS device when the system cannot say (bytes).
FALLBACK_MEMORY = 4 << 30
#: Most runs in one pass whatever the memory: past this a step is one huge batched matmul and
#: the events of a pass flood the callback.
MAX_PASS_RUNS = 1024


@dataclass(frozen=True)
class PassPlan:
    """Runs that train together in one vectorized pass: their indexes into the planned configs.

    Runs of a pass share dataset, model shape, batch size, epochs and device; their seeds may
    differ (`independent_seeds`: each run's weights and data order from its own seed, and runs
    with equal seeds share both)."""

    runs: tuple[int, ...]
    independent_seeds: bool
    bytes_per_run: int  # the estimate the split used


def pass_key(config: RunConfig) -> tuple[object, ...]:
    """What runs must share to train in one pass (everything else may differ per run)."""
    hidden = config.hidden if family_of(config).uses_hidden else ()
    return (config.model, hidden, config.dataset, config.batch_size, config.epochs, config.device)


def run_bytes(config: RunConfig, *, dtype_bytes: int = 4) -> int:
    """Device memory one run of a pass needs, estimated: weights, gradients and two optimizer
    states per parameter, plus forward and backward activations of a batch (x 3 for the
    stacked temporaries). Errs high; MNIST-sized models need well under a megabyte each."""
    module = MODELS[config.model].module(config)
    n_params = sum(p.numel() for p in module.parameters())
    activations = _activation_elements(module)
    return dtype_bytes * (4 * n_params + 3 * config.batch_size * activations)


def _activation_elements(module: torch.nn.Module) -> int:
    """Output elements of every leaf layer for one 784-pixel sample."""
    total = 0

    def count(_: torch.nn.Module, __: object, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel()

    leaves = [m for m in module.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            module(torch.zeros(1, 784))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def memory_budget(device: torch.device) -> int:
    """Bytes a pass may plan on `device`: MEMORY_SHARE of what is free now."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * MEMORY_SHARE)
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        free = FALLBACK_MEMORY
    return int(free * MEMORY_SHARE)


def plan_passes(
    configs: Sequence[RunConfig], *, budget_bytes: int | None = None
) -> list[PassPlan]:
    """Split planned runs into passes: runs that can share a pass (`pass_key`) train together,
    in the order they were planned, as many per pass as `budget_bytes` holds (default:
    `memory_budget` of the first config's device; RunInputError when it does not exist).

    The one planner of `lrtui run` and of the distributed executor: each PassPlan is trained by
    `prepare([configs[i] for i in plan.runs], independent_seeds=plan.independent_seeds)` and
    `train(...)`, on this process or on a worker."""
    if not configs:
        raise RunInputError("no run configs given")
    if budget_bytes is None:
        try:
            budget_bytes = memory_budget(resolve_device(configs[0].device))
        except (ValueError, RuntimeError) as exc:
            raise RunInputError(str(exc)) from None
    by_key: dict[tuple[object, ...], list[int]] = {}
    for i, config in enumerate(configs):
        by_key.setdefault(pass_key(config), []).append(i)
    plans: list[PassPlan] = []
    for runs in by_key.values():
        per_run = run_bytes(configs[runs[0]])
        size = max(1, min(MAX_PASS_RUNS, budget_bytes // per_run))
        for lo in range(0, len(runs), size):
            part = tuple(runs[lo : lo + size])
            seeds = {configs[i].seed for i in part}
            plans.append(PassPlan(part, len(seeds) > 1, per_run))
    return plans


def train(
    prepared: Prepared,
    store: Store,
    on_event: Callable[[Event, int | None], None],
    control: Control | None = None,
    *,
    train_fn: TrainFn | None = None,
    on_deleted: Callable[[int, str], None] | None = None,
    before_record: Callable[[Event], Event] | None = None,
    groups: Sequence[RunGroup | None] | None = None,
    **kwargs: Any,
) -> list[RunEnded]:
    """Train the prepared runs, each event written to the store first, then handed to
    on_event(event, store id of its run; None for Progress). Runs left open by an exception
    (or Ctrl+C) are closed in the store. `on_deleted(run, message)`: another process deleted a
    run while it trained (the others go on); `before_record` may reword an event (the CLI's
    reason for a closed pipe). `groups[i]`: run i's group of seeds / sweep point, stored with it.
    `kwargs` go to the engine (dtype, fast)."""
    with Recorder(store, on_deleted=on_deleted, groups=groups) as recorder:

        def record(event: Event) -> None:
            if before_record is not None:
                event = before_record(event)
            recorder(event)  # on disk before anyone shows it
            run_id = None if isinstance(event, Progress) else recorder.run_ids.get(event.run)
            on_event(event, run_id)

        return run_engine(prepared, record, control, train_fn=train_fn, **kwargs)


def run_engine(
    prepared: Prepared,
    on_event: Callable[[Event], None],
    control: Control | None = None,
    *,
    train_fn: TrainFn | None = None,
    **kwargs: Any,
) -> list[RunEnded]:
    """The engine call for prepared runs, with no store: `train` records around it, and a Ray
    worker (lrtui.distributed) streams its events to the driver, which records them."""
    if train_fn is None:
        from lrtui.engine import train as engine_train

        train_fn = engine_train
    return train_fn(
        prepared.configs,
        on_event,
        control,
        data=prepared.loaded.data,
        notice=prepared.loaded.notice,
        independent_seeds=prepared.independent_seeds,
        threads=prepared.threads,
        **kwargs,
    )
