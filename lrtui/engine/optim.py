"""Optimizers vectorized over K stacked runs, each with per-step LR and momentum / beta1 tables.

Every optimizer is one `StackedOptimizer` subclass that updates a contiguous block [lo, hi) of the
run axis, named by its entry in `lrtui.optimizers.OPTIMIZER_KINDS` (which also holds its settings'
rules, text and code). Each follows
its torch.optim class's single-tensor path operation by operation, so runs equal `torch.optim` to
rounding (tests/test_engine.py, tests/test_cnn.py).

To add one: subclass `StackedOptimizer` (plan: coefficient tables for an epoch's steps; update:
apply step s; initial_momentum / has_momentum), then describe it in lrtui/optimizers.py (one
`OptimizerKind` and one registry line naming this class).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import ClassVar, Protocol

import torch
from torch import Tensor

from lrtui.model import RunConfig
from lrtui.optimizers import OPTIMIZER_KINDS


class StackedParams(Protocol):
    """What an optimizer needs of a stacked model: [K, n] views of parameters and gradients."""

    p2d: list[Tensor]
    g2d: list[Tensor]
    dead_col: Tensor  # [K, 1] bool: frozen runs (their update must not move them)
    device: torch.device
    dtype: torch.dtype


class StackedOptimizer:
    """The runs of one optimizer: a contiguous block [lo, hi) of the (internal) run axis."""

    #: Plain SGD runs may have their update folded into the model's gradient matmul.
    foldable: ClassVar[bool] = False

    def __init__(self, configs: Sequence[RunConfig], lo: int, hi: int, st: StackedParams) -> None:
        self.lo, self.hi = lo, hi
        self.k = hi - lo
        self.p = [p[lo:hi] for p in st.p2d]
        self.g = [g[lo:hi] for g in st.g2d]
        self.dead = st.dead_col[lo:hi]
        self.device, self.dtype = st.device, st.dtype

    @classmethod
    def initial_momentum(cls, config: RunConfig) -> float:
        """Momentum (or beta1) of a step no scheduler cycles it on."""
        return 0.0

    @classmethod
    def has_momentum(cls, config: RunConfig) -> bool:
        """Whether the run reports a momentum (or beta1) even when no scheduler cycles it."""
        return True

    @classmethod
    def folds(cls, config: RunConfig, cycles_momentum: bool) -> bool:
        """Whether the run is plain SGD (p -= lr * g), updated inside the gradient matmul."""
        return False

    def column(self, values: Sequence[float]) -> Tensor:
        """A per-run constant as a [k, 1] device tensor that broadcasts over each run's row."""
        return (
            torch.tensor(list(values), dtype=torch.float64).view(-1, 1).to(self.device, self.dtype)
        )

    def plan(self, lrs: Tensor, moms: Tensor, first_step: int) -> None:
        """Coefficient tables for consecutive steps from [steps, k] float64 LR and momentum/beta1;
        first_step counts the optimizer steps already taken."""
        raise NotImplementedError

    def update(self, s: int) -> None:
        """Apply planned step `s` to the block's runs (gradients are ready)."""
        raise NotImplementedError


class StackedSGD(StackedOptimizer):
    """torch.optim.SGD (its single-tensor path) vectorized over runs, with per-step LR and momentum.

    Per step and run the host precomputes coefficients so one formula covers every case:
        buf = buf * a + g * c    (a, c) = (0, 1) on the first step with momentum != 0 (torch clones
                                 the gradient into the new buffer), (m, 1 - dampening) afterwards,
                                 (1, 0) on a step with momentum 0 (torch leaves the buffer alone)
        d   = g * e + buf * f    nesterov (1, m); plain momentum (0, 1); momentum 0: (1, 0)
        p   = p + d * (-lr)
    Multiplying by exactly 1 or 0 and adding exactly 0 change no bits, so every run follows
    torch's own sequence of operations. Weight decay g = g + p * wd comes first, as in torch.
    """

    foldable = True

    def __init__(self, configs: Sequence[RunConfig], lo: int, hi: int, st: StackedParams) -> None:
        super().__init__(configs, lo, hi, st)
        self.dampening = torch.tensor([c.optimizer.dampening for c in configs], dtype=torch.float64)
        self.nesterov = torch.tensor([c.optimizer.nesterov for c in configs], dtype=torch.bool)
        wd = [c.optimizer.weight_decay for c in configs]
        self.wd = self.column(wd) if any(wd) else None
        self.buffer_started = torch.zeros(self.k, dtype=torch.bool)
        self.buf: list[Tensor] | None = None
        self.plain = True
        self.steps: list[tuple[Tensor, ...]] = []  # per step of the epoch: coefficient views
        self.d_mode = "general"

    @classmethod
    def initial_momentum(cls, config: RunConfig) -> float:
        return config.optimizer.momentum

    @classmethod
    def has_momentum(cls, config: RunConfig) -> bool:
        return config.optimizer.momentum != 0

    @classmethod
    def folds(cls, config: RunConfig, cycles_momentum: bool) -> bool:
        opt = config.optimizer
        return opt.momentum == 0 and opt.weight_decay == 0 and not cycles_momentum

    def plan(self, lrs: Tensor, moms: Tensor, first_step: int) -> None:
        steps = lrs.shape[0]
        nonzero = moms != 0
        self.plain = not bool(nonzero.any())
        if self.plain:  # every step of the epoch is p = p - lr * g (buffers, if any, untouched)
            table = (-lrs).to(self.device, self.dtype).view(steps, 1, self.k, 1)
            self.steps = [row.unbind(0) for row in table.unbind(0)]
            return
        if self.buf is None:
            self.buf = [torch.zeros_like(p) for p in self.p]
        seen = (nonzero.cumsum(0) - nonzero.to(torch.int64)) > 0
        started = self.buffer_started | seen  # the buffer exists before this step
        one, zero = torch.ones_like(lrs), torch.zeros_like(lrs)
        a = torch.where(nonzero, torch.where(started, moms, zero), one)
        c = torch.where(
            nonzero, torch.where(started, (1 - self.dampening).expand_as(lrs), one), zero
        )
        e = torch.where(nonzero & ~self.nesterov, zero, one)
        f = torch.where(nonzero, torch.where(self.nesterov, moms, one), zero)
        self.buffer_started = started[-1] | nonzero[-1]
        if bool((e == 1).all()):
            self.d_mode = "g+buf*f"
        elif bool(((e == 0) & (f == 1)).all()):
            self.d_mode = "buf"
        else:
            self.d_mode = "general"
        table = torch.stack([a, c, e, f, -lrs], dim=1)  # [steps, 5, k]
        table = table.to(self.device, self.dtype).unsqueeze(-1)
        self.steps = [row.unbind(0) for row in table.unbind(0)]

    def update(self, s: int) -> None:
        # Dead runs have g == 0 exactly; their LR is masked too where weight decay or a momentum
        # buffer would still move them.
        if self.wd is not None:
            for p, g in zip(self.p, self.g, strict=True):
                g.addcmul_(p, self.wd)
        if self.plain:
            (neg_lr,) = self.steps[s]
            if self.wd is not None:
                neg_lr = neg_lr.masked_fill(self.dead, 0.0)
            for p, g in zip(self.p, self.g, strict=True):
                p.addcmul_(g, neg_lr)
            return
        assert self.buf is not None
        a, c, e, f, neg_lr = self.steps[s]
        neg_lr = neg_lr.masked_fill(self.dead, 0.0)
        mode = self.d_mode
        for p, g, buf in zip(self.p, self.g, self.buf, strict=True):
            buf.mul_(a).addcmul_(g, c)
            if mode == "g+buf*f":
                d = torch.addcmul(g, buf, f)
            elif mode == "buf":
                d = buf
            else:
                d = torch.mul(g, e).addcmul_(buf, f)
            p.addcmul_(d, neg_lr)


class StackedAdam(StackedOptimizer):
    """torch.optim.Adam / AdamW (their single-tensor path) vectorized over runs.

    The host computes, per step and run, what torch computes in Python floats: bias_correction1
    = 1 - beta1**step with the beta1 the scheduler set for that step, step_size = lr /
    bias_correction1, bias_correction2 ** 0.5, and AdamW's decay factor 1 - lr * weight_decay.
    """

    #: Optimizer names whose weight decay is decoupled (AdamW) rather than L2 in the gradient.
    DECOUPLED: ClassVar[frozenset[str]] = frozenset({"adamw"})  # torch.optim.AdamW

    def __init__(self, configs: Sequence[RunConfig], lo: int, hi: int, st: StackedParams) -> None:
        super().__init__(configs, lo, hi, st)
        self.beta2 = torch.tensor([c.optimizer.betas[1] for c in configs], dtype=torch.float64)
        self.decoupled = torch.tensor([c.optimizer.name in self.DECOUPLED for c in configs])
        wd = torch.tensor([c.optimizer.weight_decay for c in configs], dtype=torch.float64)
        self.decay_wd = torch.where(self.decoupled, wd, 0.0)
        l2 = torch.where(self.decoupled, 0.0, wd)
        self.has_decay = bool(self.decay_wd.any())
        self.l2 = self.column(l2.tolist()) if bool(l2.any()) else None
        self.beta2_col = self.column(self.beta2.tolist())
        self.one_minus_beta2 = self.column((1 - self.beta2).tolist())
        self.eps = self.column([c.optimizer.eps for c in configs])
        self.exp_avg = [torch.zeros_like(p) for p in self.p]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.p]
        self.steps: list[tuple[Tensor, ...]] = []

    @classmethod
    def initial_momentum(cls, config: RunConfig) -> float:
        return config.optimizer.betas[0]

    def plan(self, lrs: Tensor, moms: Tensor, first_step: int) -> None:
        steps = lrs.shape[0]
        step = torch.arange(first_step + 1, first_step + steps + 1, dtype=torch.float64)
        step = step.view(steps, 1)
        bias_correction1 = 1 - torch.pow(moms, step)
        bias_correction2 = 1 - torch.pow(self.beta2, step)
        neg_step_size = -(lrs / bias_correction1)
        decay = 1 - lrs * self.decay_wd
        table = torch.stack([1 - moms, neg_step_size, bias_correction2.sqrt(), decay], dim=1)
        table = table.to(self.device, self.dtype).unsqueeze(-1)  # [steps, 4, k, 1]
        self.steps = [row.unbind(0) for row in table.unbind(0)]

    def update(self, s: int) -> None:
        w1, neg_step, bc2_sqrt, decay = self.steps[s]
        neg_step = neg_step.masked_fill(self.dead, 0.0)
        if self.has_decay:
            decay = decay.masked_fill(self.dead, 1.0)
            for p in self.p:
                p.mul_(decay)
        if self.l2 is not None:
            for p, g in zip(self.p, self.g, strict=True):
                g.addcmul_(p, self.l2)
        for p, g, m, v in zip(self.p, self.g, self.exp_avg, self.exp_avg_sq, strict=True):
            m.lerp_(g, w1)
            v.mul_(self.beta2_col).addcmul_(g * self.one_minus_beta2, g)
            denom = v.sqrt().div_(bc2_sqrt).add_(self.eps)
            p.addcdiv_(m * neg_step, denom)


def _implementation(path: str) -> type[StackedOptimizer]:
    """The class a registry entry names as "module:Class"."""
    module, name = path.split(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, StackedOptimizer)):
        raise TypeError(f"{path}: not a StackedOptimizer")
    return cls


#: Optimizer name (RunConfig.optimizer.name) -> its stacked implementation, from the one
#: registry of optimizers (lrtui.optimizers.OPTIMIZER_KINDS). Runs of one class share a block
#: of the run axis; the order here is the order of the blocks.
OPTIMIZERS: dict[str, type[StackedOptimizer]] = {
    name: _implementation(kind.stacked) for name, kind in OPTIMIZER_KINDS.items()
}


def optimizer_class(config: RunConfig) -> type[StackedOptimizer]:
    """The stacked implementation of a run's optimizer (validate_config checks the name)."""
    return OPTIMIZERS[config.optimizer.name]
