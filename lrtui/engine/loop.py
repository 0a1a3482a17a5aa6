"""The one step loop: K runs' stacked model, their optimizers and the data order, stepped through
planned LR tables. Training (`lrtui.engine.trainer`, epochs with schedulers and evaluation) and the
LR range test (`train_steps`, one long LR table) both drive it, so batching, the internal run order
and the optimizer set-up exist once.

Nothing in the step loop waits for the device: losses are written to a device tensor row per step
and read by the caller at its reporting points; a run whose loss turns NaN/inf is frozen by an
on-device mask (its gradient becomes exactly 0 and its optimizer update is masked).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from lrtui.data import DeviceDataset
from lrtui.engine.control import Control
from lrtui.engine.models import StackedModel, family_of
from lrtui.engine.optim import OPTIMIZERS, StackedOptimizer, optimizer_class
from lrtui.model import RunConfig

#: Block of the run axis for runs whose plain SGD update is folded into the model's step.
_FOLDED = -1


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps per epoch, as a DataLoader with drop_last=False (last batch may be short)."""
    return -(-n_train // batch_size)


class Pass:
    """K runs trained together: the stacked model, the optimizer blocks and the data order.

    Internal run order: runs whose plain SGD update the model folds into its step first, then one
    contiguous block per optimizer class (in `OPTIMIZERS` order). `order[j]` is the caller's index
    of internal position j; every table handed to `plan` is in internal order.

    Data order: one `torch.randperm(n_train, generator=g, device=device)` at the start of each pass
    over the data, `g = torch.Generator(device).manual_seed(seed)` created once; with
    `independent_seeds` each run's initial weights and data order come from its own seed (one
    generator per distinct seed, so runs with equal seeds share both).
    """

    def __init__(
        self,
        configs: Sequence[RunConfig],
        data: DeviceDataset,
        *,
        independent_seeds: bool = False,
        cycles_momentum: Sequence[bool] | None = None,
    ) -> None:
        k = len(configs)
        cycles = list(cycles_momentum) if cycles_momentum is not None else [False] * k
        family = family_of(configs[0])
        blocks = list(dict.fromkeys(OPTIMIZERS.values()))

        def block(i: int) -> int:
            cls = optimizer_class(configs[i])
            if family.folds_sgd and cls.folds(configs[i], cycles[i]):
                return _FOLDED
            return blocks.index(cls)

        keys = [block(i) for i in range(k)]
        self.order = sorted(range(k), key=keys.__getitem__)
        self.configs = [configs[i] for i in self.order]
        self.k, self.data = k, data
        self.device, self.dtype = data.device, data.train_x.dtype
        self.batch = configs[0].batch_size
        self.n = data.n_train
        self.spe = steps_per_epoch(self.n, self.batch)
        seeds = [c.seed for c in self.configs] if independent_seeds else [configs[0].seed] * k
        self.model: StackedModel = family.build(self.configs, seeds, data)
        internal_keys = [keys[i] for i in self.order]
        self.fused = internal_keys.count(_FOLDED)
        self.optimizers: list[StackedOptimizer] = []
        lo = self.fused
        while lo < k:
            hi = lo
            while hi < k and internal_keys[hi] == internal_keys[lo]:
                hi += 1
            cls = blocks[internal_keys[lo]]
            self.optimizers.append(cls(self.configs[lo:hi], lo, hi, self.model))
            lo = hi
        # One generator per distinct seed: runs with equal seeds (a seed index shared across
        # specs) see the same data order, drawn once; one seed in all: one shared batch.
        distinct = list(dict.fromkeys(seeds))
        self.shared_order = len(distinct) == 1
        self.gens = [torch.Generator(device=self.device).manual_seed(s) for s in distinct]
        self.order_of_run = torch.tensor(
            [distinct.index(s) for s in seeds], dtype=torch.int64, device=self.device
        )
        self.one_order_per_run = len(distinct) == k
        self.step_fn = self.model.make_step(self.fused)
        self.position = 0  # steps taken since the call began (where in the data order we are)
        self.perm = torch.empty(0, dtype=torch.int64, device=self.device)
        self.batches: tuple[Tensor, ...] = ()
        self.coef: list[Tensor] = []

    def internal(self, run: int) -> int:
        """Internal position of the caller's run index."""
        return self.order.index(run)

    def batch_rows(self, first: int, steps: int) -> Tensor:
        """[steps, 1] float64 rows of each batch from global step `first` on (last may be short)."""
        sizes = torch.full((steps, 1), float(self.batch), dtype=torch.float64)
        last = (torch.arange(first, first + steps) % self.spe) == self.spe - 1
        sizes[last] = float(self.n - (self.spe - 1) * self.batch)
        return sizes

    def plan(self, lrs: Tensor, moms: Tensor, first_step: int) -> None:
        """Tables for the next lrs.shape[0] steps from [steps, K] float64 LR and momentum/beta1
        (internal order); first_step counts the optimizer steps already taken."""
        steps = lrs.shape[0]
        for opt in self.optimizers:
            opt.plan(lrs[:, opt.lo : opt.hi], moms[:, opt.lo : opt.hi], first_step)
        # Output-gradient scale per step and run: 1 / b (the mean over the batch), times -lr for
        # the plain SGD runs whose update is folded into the weight-gradient matmul.
        sizes = self.batch_rows(self.position, steps)
        coef = (1.0 / sizes).expand(steps, self.k).clone()
        coef[:, : self.fused] = -lrs[:, : self.fused] / sizes
        self.coef = list(coef.to(self.device, self.dtype).view(steps, self.k, 1, 1).unbind(0))

    def freeze(self, j: int) -> None:
        """Freeze internal run j's weights from the next step on."""
        self.model.live[j] = False
        self.model.dead_col[j] = True

    def run(
        self,
        count: int,
        loss_rows: Tensor,
        control: Control,
        after_step: Callable[[int, float], bool],
    ) -> tuple[int, float]:
        """Take up to `count` planned steps (table row s for the s-th), writing step s's loss sums
        into loss_rows[s]; after each, after_step(done, paused_s) -> True ends the call early.
        Waits while paused, ends on stop. Returns (steps done, seconds spent paused)."""
        spe = self.spe
        step_fn, optimizers, coef = self.step_fn, self.optimizers, self.coef
        rows = loss_rows.unbind(0)  # views taken at once, not one indexing op per step
        paused = 0.0
        done = 0
        for s in range(count):
            if control.paused:
                p0 = time.perf_counter()
                control.wait_while_paused()
                paused += time.perf_counter() - p0
            if control.stopped:
                break
            i = self.position % spe
            if i == 0:
                self.perm = self.new_order()
                # [b] batches of a shared order, [K, b] of one order per run (last may be short)
                self.batches = torch.split(self.perm, self.batch, dim=-1)
            step_fn(self.batches[i], rows[s], coef[s])
            for opt in optimizers:
                opt.update(s)
            self.position += 1
            done = s + 1
            if after_step(done, paused):
                break
        return done, paused

    def new_order(self) -> Tensor:
        """The next pass's data order: [n] shared, or [K, n] one per run."""
        if self.shared_order:
            return torch.randperm(self.n, generator=self.gens[0], device=self.device)
        orders = torch.stack(
            [torch.randperm(self.n, generator=g, device=self.device) for g in self.gens]
        )
        return orders if self.one_order_per_run else orders[self.order_of_run]
