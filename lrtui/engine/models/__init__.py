"""Model families the engine trains, each as K runs stacked into one vectorized pass.

A family is one module here with a `StackedModel` implementation and a `FAMILY` entry, plus one
line in `MODELS` below. The stacked model starts every run from the weights
`torch.manual_seed(seed); Module()` draws (the plain `nn.Module` of the family), computes the loss
and gradient of K runs on a batch in one pass, and gives any run's parameters back in the plain
module's `parameters()` order, so the exactness tests compare it with nn.Module + torch.optim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from lrtui.data import DeviceDataset
from lrtui.model import RunConfig

#: step(idx, loss_row, coef): one training step on the batch idx ([b] shared, [K, b] per run).
StepFn = Callable[[Tensor, Tensor, Tensor], None]


class StackedModel(Protocol):
    """K runs of one model family, stacked along a leading run axis on one device.

    p2d / g2d: [K, n] views of the parameters and of their gradients (what an optimizer updates);
    live: [K] bool, False once a run's loss was not finite (or the loop froze it); dead_col is
    its negation as a [K, 1] column (optimizers mask their update with it).
    """

    k: int
    device: torch.device
    dtype: torch.dtype
    p2d: list[Tensor]
    g2d: list[Tensor]
    live: Tensor
    dead_col: Tensor

    def params(self, run: int) -> list[Tensor]:
        """Copies of one run's parameters, in the plain module's `parameters()` order."""
        ...

    def make_step(self, fused: int) -> StepFn:
        """The forward + backward of one step. step(idx, loss_row, coef) writes each run's sum of
        log-probabilities of the targets (minus its summed cross-entropy) into loss_row, marks runs
        whose loss is not finite dead, and leaves the gradient of coef[r] x summed loss in g2d.
        Runs [0, fused) are plain SGD: coef is -lr / b and the update is applied directly (only
        families with `folds_sgd`; others get fused == 0)."""
        ...

    def evaluate(self) -> tuple[Tensor, Tensor]:
        """Validation loss sums and correct counts per run ([K] each), in large chunks."""
        ...


@dataclass(frozen=True)
class ModelFamily:
    """One model family: its plain module, its stacked implementation and how to describe it."""

    name: str  # RunConfig.model
    title: str  # "MLP", "LeNet-5"
    build: Callable[[Sequence[RunConfig], Sequence[int], DeviceDataset], StackedModel]
    module: Callable[[RunConfig], nn.Module]  # the plain nn.Module a PyTorch script trains
    shape: Callable[[RunConfig], str]  # e.g. "784-64-32-10"
    uses_hidden: bool  # whether RunConfig.hidden shapes it (runs together must share it then)
    folds_sgd: bool  # make_step can fold plain SGD updates into its gradient matmul
    work: Callable[[RunConfig], int]  # multiply-adds per sample, forward: sizes a step for threads
    layers: Callable[[RunConfig], list[str]]  # nn.Sequential items a plain script builds it with
    # (same parameters() order, so torch.manual_seed(seed) gives it the same initial weights)


def _families() -> dict[str, ModelFamily]:
    from lrtui.engine.models import cnn, mlp

    return {"mlp": mlp.FAMILY, "cnn": cnn.FAMILY}


#: RunConfig.model -> its family.
MODELS: dict[str, ModelFamily] = _families()


def family_of(config: RunConfig) -> ModelFamily:
    """The family a run trains (validate_config checks the name)."""
    return MODELS[config.model]
