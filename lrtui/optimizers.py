"""The optimizers a run can train with, each described once: its torch.optim class and settings,
their rules, which setting a scheduler's momentum cycling moves, and how it reads in text and
code. No torch here, so `lrtui runs`, the CLI's parsing and the report stay light; the vectorized
implementation of each lives in `lrtui.engine.optim`, named by `stacked`.

To add an optimizer: write its `StackedOptimizer` subclass (lrtui/engine/optim.py or a module of
its own), then one `OptimizerKind` subclass and one line in `OPTIMIZER_KINDS` below.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from lrtui import fields

_T = TypeVar("_T")


@dataclass(frozen=True)
class OptimizerKind:
    """One torch.optim optimizer as lrtui trains it. `opt` below is an OptimizerConfig (or a
    config dict, for text), read by field name so configs of other versions still read."""

    name: str  # RunConfig.optimizer.name
    torch_class: str  # class in torch.optim
    stacked: str  # "module:Class" of its vectorized implementation
    momentum_field: str  # what --momentum sets and schedulers cycle: "momentum" or "beta1"
    form_fields: tuple[str, ...]  # the sidebar's fields of this optimizer (beyond lr and wd)

    def momentum(self, opt: Any) -> float:
        """The momentum (or beta1) the run starts with."""
        return float(opt.betas[0]) if self.momentum_field == "beta1" else float(opt.momentum)

    def with_momentum(self, opt: _T, value: float) -> _T:
        """A copy of `opt` (a dataclass with momentum and betas) with its momentum set."""
        if self.momentum_field == "beta1":
            return replace(opt, betas=(value, opt.betas[1]))  # type: ignore[type-var, attr-defined]
        return replace(opt, momentum=value)  # type: ignore[type-var]

    def validate(self, opt: Any, prefix: str) -> dict[str, str]:
        """Field -> message for this optimizer's own settings (weight decay is common)."""
        raise NotImplementedError

    def code_args(self, opt: Any) -> list[str]:
        """Keyword arguments after `model.parameters(), lr=...` in the torch.optim call."""
        raise NotImplementedError

    def text_parts(self, opt: dict[str, Any]) -> list[str]:
        """Short non-default settings for tables: `m=0.9`, `nesterov`, `betas=(0.8,0.99)`."""
        raise NotImplementedError

    def label_parts(self, opt: Any) -> list[str]:
        """Non-default settings for a curve's label: `momentum=0.9`, `eps=1e-07`."""
        raise NotImplementedError


@dataclass(frozen=True)
class SGDKind(OptimizerKind):
    """torch.optim.SGD: momentum, dampening, nesterov."""

    def validate(self, opt: Any, prefix: str) -> dict[str, str]:
        errors = _bounded({prefix + "momentum": (fields.MOMENTUM, opt.momentum),
                           prefix + "dampening": (fields.DAMPENING, opt.dampening)})
        if opt.nesterov and (opt.momentum <= 0 or opt.dampening != 0):
            errors[prefix + "nesterov"] = (
                "needs momentum > 0 and dampening = 0 "
                f"(got momentum {opt.momentum:g}, dampening {opt.dampening:g})"
            )
        return errors

    def code_args(self, opt: Any) -> list[str]:
        return [
            f"momentum={opt.momentum!r}",
            f"dampening={opt.dampening!r}",
            f"weight_decay={opt.weight_decay!r}",
            f"nesterov={opt.nesterov!r}",
        ]

    def text_parts(self, opt: dict[str, Any]) -> list[str]:
        if not opt.get("momentum"):
            return []
        return [f"m={opt['momentum']:g}", *(["nesterov"] if opt.get("nesterov") else [])]

    def label_parts(self, opt: Any) -> list[str]:
        parts = [f"momentum={opt.momentum:g}"] if opt.momentum else []
        if opt.dampening:
            parts.append(f"dampening={opt.dampening:g}")
        return parts + (["nesterov"] if opt.nesterov else [])


def _bounded(checks: dict[str, tuple[fields.Field, Any]]) -> dict[str, str]:
    """Key -> message for each value outside its field's range (lrtui.fields owns the bounds)."""
    problems = {key: fields.problem(field, value) for key, (field, value) in checks.items()}
    return {key: message for key, message in problems.items() if message}


#: torch's defaults for Adam and AdamW.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass(frozen=True)
class AdamKind(OptimizerKind):
    """torch.optim.Adam / AdamW: betas, eps (AdamW's weight decay is decoupled)."""

    def validate(self, opt: Any, prefix: str) -> dict[str, str]:
        checks = {f"{prefix}betas[{i}]": (fields.BETAS, beta) for i, beta in enumerate(opt.betas)}
        return _bounded({**checks, prefix + "eps": (fields.EPS, opt.eps)})

    def code_args(self, opt: Any) -> list[str]:
        return [
            f"betas={tuple(opt.betas)!r}",
            f"eps={opt.eps!r}",
            f"weight_decay={opt.weight_decay!r}",
        ]

    def text_parts(self, opt: dict[str, Any]) -> list[str]:
        betas = list(opt.get("betas", ADAM_BETAS))
        return [] if betas == list(ADAM_BETAS) else [f"betas=({betas[0]:g},{betas[1]:g})"]

    def label_parts(self, opt: Any) -> list[str]:
        parts = []
        if tuple(opt.betas) != ADAM_BETAS:
            parts.append(f"betas=({opt.betas[0]:g},{opt.betas[1]:g})")
        if opt.eps != ADAM_EPS:
            parts.append(f"eps={opt.eps:g}")
        return parts


_SGD_FIELDS = ("optimizer.momentum", "optimizer.nesterov")
_ADAM_FIELDS = ("optimizer.beta1", "optimizer.beta2", "optimizer.eps")

#: Optimizer name -> its description (the order is the order of choices everywhere).
OPTIMIZER_KINDS: dict[str, OptimizerKind] = {
    "sgd": SGDKind("sgd", "SGD", "lrtui.engine.optim:StackedSGD", "momentum", _SGD_FIELDS),
    "adam": AdamKind("adam", "Adam", "lrtui.engine.optim:StackedAdam", "beta1", _ADAM_FIELDS),
    "adamw": AdamKind("adamw", "AdamW", "lrtui.engine.optim:StackedAdam", "beta1", _ADAM_FIELDS),
}


def names_text() -> str:
    """'sgd, adam or adamw', for messages."""
    names = list(OPTIMIZER_KINDS)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
