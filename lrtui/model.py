"""The typed configuration of one training run, and the shapes of the tutorial's MLP.

`RunConfig` is what a form, a TOML file or the command line produces and what the store records;
it round-trips through JSON. The plain `nn.Module` the tutorial trains (`MLP`, 784-64-32-10 with
ReLU by default) and the weights it starts from (`init_params`) live with the engine's MLP family
(`lrtui.engine.models.mlp`): this module stays free of torch, so the app's form loads without it.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from lrtui import fields
from lrtui.optimizers import OPTIMIZER_KINDS
from lrtui.schedulers import OptimizerShape, SchedulerSpec

OptimizerName = Literal["sgd", "adam", "adamw"]  # the names of lrtui.optimizers.OPTIMIZER_KINDS
OPTIMIZERS: tuple[str, ...] = tuple(OPTIMIZER_KINDS)

#: Inputs (28x28 pixels, flattened) and classes of every dataset lrtui trains on.
IN_FEATURES = 28 * 28
N_CLASSES = 10

#: Default divergence limit: a thousand times the loss of a uniform guess over the 10 classes
#: (ln 10). Runs that swing to losses in the hundreds and recover (a OneCycleLR peak set too high)
#: stay under it; runs that explode (Adam at LR 1e8: 1e17 and more) do not.
DIVERGE_LOSS = 1000 * math.log(N_CLASSES)
#: Default number of loss checks in a row above the limit (4 checks per epoch) before `diverged`.
DIVERGE_CHECKS = 3

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def default_scheduler() -> SchedulerSpec:
    """The tutorial's first schedule: StepLR(step_size=10, gamma=0.1)."""
    return SchedulerSpec(name="StepLR", params={"step_size": 10, "gamma": 0.1})


@dataclass
class OptimizerConfig:
    """The optimizer of one run, with torch's own meaning for every field."""

    name: OptimizerName = "sgd"
    momentum: float = 0.0  # sgd: torch.optim.SGD(momentum=...)
    dampening: float = 0.0  # sgd
    nesterov: bool = False  # sgd: needs momentum > 0 and dampening == 0
    weight_decay: float = 0.0  # sgd/adam: L2 added to the gradient; adamw: decoupled decay
    betas: tuple[float, float] = (0.9, 0.999)  # adam/adamw
    eps: float = 1e-8  # adam/adamw: added to the denominator

    def shape(self) -> OptimizerShape:
        """What the scheduler's throwaway optimizer must look like (for momentum/beta1 cycling)."""
        return OptimizerShape(name=self.name, momentum=self.momentum, betas=self.betas)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "betas": list(self.betas),
            "eps": self.eps,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OptimizerConfig:
        _check_keys(d, cls.__dataclass_fields__, "optimizer")
        out = cls()
        if "name" in d:
            out.name = cast(OptimizerName, str(d["name"]))
        for key in ("momentum", "dampening", "weight_decay", "eps"):
            if key in d:
                setattr(out, key, _as_float(d[key], f"optimizer.{key}"))
        if "nesterov" in d:
            if not isinstance(d["nesterov"], bool):
                raise ValueError(
                    f"optimizer.nesterov: must be true or false (got {d['nesterov']!r})"
                )
            out.nesterov = d["nesterov"]
        if "betas" in d:
            betas = d["betas"]
            if not isinstance(betas, list | tuple) or len(betas) != 2:
                raise ValueError(f"optimizer.betas: must be two numbers (got {betas!r})")
            out.betas = (
                _as_float(betas[0], "optimizer.betas"),
                _as_float(betas[1], "optimizer.betas"),
            )
        return out


@dataclass
class RunConfig:
    """Everything that defines one training run; JSON round-trips (`to_json` / `from_json`)."""

    dataset: str = "mnist"  # a name in lrtui.data.DATASETS
    model: str = "mlp"  # a family in lrtui.engine.MODELS: mlp (hidden widths), cnn (LeNet-5)
    hidden: tuple[int, ...] = (64, 32)  # hidden layer widths: 784-64-32-10 is the tutorial's MLP
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    lr: float = 0.1  # base LR, the optimizer's lr before any scheduler touches it
    batch_size: int = 32
    epochs: int = 25
    seed: int = 0  # initial weights (as nn.Linear draws them) and the data order
    device: str = "auto"  # auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N, mps
    scheduler: SchedulerSpec = field(default_factory=default_scheduler)
    label: str = ""  # shown in tables and charts; empty means the scheduler spec string
    # A run whose mean training loss per sample stays above diverge_loss for diverge_checks loss
    # checks in a row (4 per epoch) ends `diverged`, as one whose loss turns NaN/inf does at once.
    diverge_loss: float = DIVERGE_LOSS  # inf: never (stored as null)
    diverge_checks: int = DIVERGE_CHECKS

    @property
    def display_label(self) -> str:
        """The label, or the scheduler spec when none was given."""
        return self.label or str(self.scheduler)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "model": self.model,
            "hidden": list(self.hidden),
            "optimizer": self.optimizer.to_dict(),
            "lr": self.lr,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "seed": self.seed,
            "device": self.device,
            "scheduler": self.scheduler.to_dict(),
            "label": self.label,
            "diverge_loss": self.diverge_loss if math.isfinite(self.diverge_loss) else None,
            "diverge_checks": self.diverge_checks,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Inverse of `to_dict`; missing keys take their defaults, unknown keys are an error."""
        _check_keys(d, cls.__dataclass_fields__, "run")
        out = cls()
        if "dataset" in d:
            out.dataset = str(d["dataset"])
        if "model" in d:
            out.model = str(d["model"])
        if "hidden" in d:
            hidden = d["hidden"]
            if not isinstance(hidden, list | tuple):
                raise ValueError(f"hidden: must be a list of integers (got {hidden!r})")
            out.hidden = tuple(_as_int(h, "hidden") for h in hidden)
        if "optimizer" in d:
            out.optimizer = OptimizerConfig.from_dict(d["optimizer"])
        if "lr" in d:
            out.lr = _as_float(d["lr"], "lr")
        for key in ("batch_size", "epochs", "seed"):
            if key in d:
                setattr(out, key, _as_int(d[key], key))
        if "device" in d:
            out.device = str(d["device"])
        if "scheduler" in d:
            out.scheduler = SchedulerSpec.from_dict(d["scheduler"])
        if "label" in d:
            out.label = str(d["label"])
        if "diverge_loss" in d:
            limit = d["diverge_loss"]
            out.diverge_loss = math.inf if limit is None else _as_float(limit, "diverge_loss")
        if "diverge_checks" in d:
            out.diverge_checks = _as_int(d["diverge_checks"], "diverge_checks")
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("run config: must be a JSON object")
        return cls.from_dict(data)


def _check_keys(d: object, known: dict[str, Any], where: str) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: must be a table/object (got {d!r})")
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(known)})")


def _as_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: must be a number (got {value!r})")
    return float(value)


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be an integer (got {value!r})")
    return value


def validate_optimizer(opt: OptimizerConfig, prefix: str = "optimizer.") -> dict[str, str]:
    """Field -> message for every rule torch (or common sense) imposes; empty when valid."""
    errors: dict[str, str] = {}
    kind = OPTIMIZER_KINDS.get(opt.name)
    if kind is None:
        errors[prefix + "name"] = f"must be one of {', '.join(OPTIMIZERS)} (got {opt.name!r})"
    _bounded(errors, prefix + "weight_decay", fields.WEIGHT_DECAY, opt.weight_decay)
    if kind is not None:
        errors.update(kind.validate(opt, prefix))
    return errors


def _bounded(errors: dict[str, str], key: str, f: fields.Field, value: Any) -> None:
    """Record the field's range problem (lrtui.fields owns every bound) under `key`."""
    message = fields.problem(f, value)
    if message:
        errors[key] = message


def validate_config(
    config: RunConfig, *, steps_per_epoch: int | None = None, dry_run: bool | None = None
) -> dict[str, str]:
    """Field -> message for a run config, like `schedulers.validate`; empty when valid.

    With `steps_per_epoch` (known once the dataset is), the scheduler spec is validated too, with
    the run's epochs and optimizer, and its messages are merged in under their own field names
    (`dry_run`: `schedulers.validate`'s stepping of the real scheduler, which needs torch).
    """
    errors: dict[str, str] = {}
    if not config.dataset:
        errors["dataset"] = "must name a dataset (got '')"
    if len(config.hidden) > fields.MAX_LAYERS:
        errors["hidden"] = f"at most {fields.MAX_LAYERS} layers (got {len(config.hidden)})"
    if config.model not in fields.MODEL_NAMES:  # lrtui.engine.models.MODELS (a test checks)
        errors["model"] = f"must be one of {', '.join(fields.MODEL_NAMES)} (got {config.model!r})"
    for width in config.hidden:
        message = fields.problem(fields.HIDDEN, width)
        if not isinstance(width, int) or isinstance(width, bool) or message:
            errors.setdefault(
                "hidden", f"every layer width {message or f'must be an integer (got {width!r})'}"
            )
            break
    _bounded(errors, "lr", fields.LR, config.lr)
    _bounded(errors, "batch_size", fields.BATCH_SIZE, config.batch_size)
    _bounded(errors, "epochs", fields.EPOCHS, config.epochs)
    _bounded(errors, "seed", fields.SEED, config.seed)
    if math.isnan(config.diverge_loss) or config.diverge_loss <= 0:
        errors["diverge_loss"] = f"must be > 0, or inf for never (got {config.diverge_loss:g})"
    if config.diverge_checks < 1:
        errors["diverge_checks"] = f"must be an integer >= 1 (got {config.diverge_checks})"
    if not _DEVICE_RE.match(config.device):
        errors["device"] = f"must be auto, cpu, cuda, cuda:N or mps (got {config.device!r})"
    errors.update(validate_optimizer(config.optimizer))
    if steps_per_epoch is not None and "epochs" not in errors and "optimizer.name" not in errors:
        from lrtui.schedulers import errors_of, validate

        errors.update(
            errors_of(
                validate(
                    config.scheduler,
                    epochs=config.epochs,
                    steps_per_epoch=steps_per_epoch,
                    optimizer=config.optimizer.shape(),
                    dry_run=dry_run,
                )
            )
        )
    return errors


def layer_shapes(hidden: tuple[int, ...]) -> list[tuple[int, int]]:
    """(fan_out, fan_in) of each Linear layer, input first: nn.Linear's weight shapes."""
    widths = (IN_FEATURES, *hidden, N_CLASSES)
    return [(fan_out, fan_in) for fan_in, fan_out in itertools.pairwise(widths)]
