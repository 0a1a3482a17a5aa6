"""LeNet-5 (ReLU, max-pooling) as K stacked runs: grouped convolutions and batched matmuls.

The K runs' parameters live layer after layer in one flat buffer, each layer [K, ...] (conv1's
weight is [K * 6, 1, 5, 5], a view), so one step runs every run at once: conv1 is one matmul of
the shared batch's patches with the K * 6 filters (a grouped convolution over a batch per run),
conv2 a grouped convolution (groups=K, run r's 6 channels to its 16), and the three Linear
layers batched matmuls over [K, b, features]. Autograd computes the gradient of
sum_r coef[r] x (run r's summed loss); each run's part depends only on its own weights, so it is
exactly that run's gradient. Activations run channels-last (the CPU's pooling and grouped
convolution are several times faster so).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lrtui.data import DeviceDataset
from lrtui.engine.models import ModelFamily, StepFn
from lrtui.model import N_CLASSES, RunConfig

#: Image side of every dataset lrtui trains on (the flat rows are views [N, 1, 28, 28]).
SIDE = 28
#: From this many stacked runs on, activations run channels-last (see StackedCNN.forward).
CHANNELS_LAST_RUNS = 3
#: Activation elements per evaluation chunk (K runs x rows x conv1's 6 x 28 x 28 outputs).
EVAL_CHUNK_ELEMENTS = 1 << 24


class LeNet(nn.Module):
    """LeNet-5 with ReLU and max-pooling; `torch.manual_seed(seed); LeNet()` gives lrtui's init."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, N_CLASSES),
        )

    def forward(self, x: Tensor) -> Tensor:
        return cast(Tensor, self.layers(x.reshape(x.shape[0], 1, SIDE, SIDE)))


def init_lenet(seed: int) -> list[Tensor]:
    """The parameters `torch.manual_seed(seed); LeNet()` starts from, in `parameters()` order
    (float32 on the CPU), without disturbing the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LeNet()
    return [p.detach().clone() for p in model.parameters()]


#: Parameter shapes of one LeNet, in parameters() order.
SHAPES: tuple[tuple[int, ...], ...] = tuple(tuple(p.shape) for p in init_lenet(0))


class StackedCNN:
    """K LeNets: parameters, gradients and the step, on one device."""

    def __init__(
        self, configs: Sequence[RunConfig], seeds: Sequence[int], data: DeviceDataset
    ) -> None:
        k = len(configs)
        device, dtype = data.device, data.train_x.dtype
        self.k, self.device, self.dtype, self.data = k, device, dtype, data
        inits = {seed: init_lenet(seed) for seed in dict.fromkeys(seeds)}
        sizes = [math.prod(shape) for shape in SHAPES]
        self.flat = torch.empty(k * sum(sizes), dtype=dtype, device=device)
        self.grad = torch.zeros_like(self.flat)
        self.p2d: list[Tensor] = []  # [K, n] per parameter tensor, views of flat
        self.g2d: list[Tensor] = []
        offset = 0
        for i, size in enumerate(sizes):
            p = self.flat[offset : offset + k * size].view(k, size)
            for r, seed in enumerate(seeds):
                p[r] = inits[seed][i].reshape(-1).to(device, dtype)
            self.p2d.append(p)
            self.g2d.append(self.grad[offset : offset + k * size].view(k, size))
            offset += k * size
        # The same storage as the layers want it: conv weights with the run folded into the
        # output channels, conv biases [K * out], Linear weights [K, out, in], biases [K, 1, out].
        c1w, c1b, c2w, c2b = self.p2d[:4]
        self.conv = [
            (c1w.view(k * 6, 1, 5, 5), c1b.view(k * 6)),
            (c2w.view(k * 16, 6, 5, 5), c2b.view(k * 16)),
        ]
        self.linear = [
            (self.p2d[i].view(k, *SHAPES[i]), self.p2d[i + 1].view(k, 1, SHAPES[i + 1][0]))
            for i in (4, 6, 8)
        ]
        self.dead_col = torch.zeros(k, 1, dtype=torch.bool, device=device)
        self.live = torch.ones(k, dtype=torch.bool, device=device)
        self.onehot_train = F.one_hot(data.train_y, N_CLASSES).to(dtype)
        self.onehot_valid = F.one_hot(data.valid_y, N_CLASSES).to(dtype)
        self.images_train = data.train_x.view(-1, 1, SIDE, SIDE)  # views, not copies
        self.images_valid = data.valid_x.view(-1, 1, SIDE, SIDE)

    def params(self, run: int) -> list[Tensor]:
        return [p[run].reshape(shape).clone() for p, shape in zip(self.p2d, SHAPES, strict=True)]

    def forward(self, images: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """Logits [K, rows, 10]: images [rows, 1, 28, 28] shared by the runs, or [rows, K, 28,
        28] one image per run; params: (conv1 w, b, conv2 w, b, fc1 w, b, fc2 w, b, fc3 w, b) in
        the layouts of self.conv / self.linear (the stored ones when None)."""
        k = self.k
        if params is None:
            params = [t for pair in (*self.conv, *self.linear) for t in pair]
        c1w, c1b, c2w, c2b, *fc = params
        rows = images.shape[0]
        # With several runs, channels-last activations: on the CPU, max-pooling and the grouped
        # convolution over K * 6 channels run several times faster in it; and for a batch shared
        # by the runs, conv1 is one matmul of the batch's 5x5 patches (unfolded once) with every
        # run's 6 filters, whose [rows * 28 * 28, K * 6] result already is that layout (and the
        # patches need no gradient). One or two runs are faster as the plain module runs them.
        if k < CHANNELS_LAST_RUNS:
            h = F.conv2d(images, c1w, c1b, padding=2, groups=1 if images.shape[1] == 1 else k)
        elif images.shape[1] == 1:
            patches = F.unfold(images, 5, padding=2).transpose(1, 2).reshape(-1, 25)
            h = torch.addmm(c1b, patches, c1w.view(k * 6, 25).T)
            h = h.view(rows, SIDE, SIDE, k * 6).permute(0, 3, 1, 2)
        else:
            h = F.conv2d(images, c1w, c1b, padding=2, groups=k)
            h = h.contiguous(memory_format=torch.channels_last)
        # ReLU after the pooling rather than before: the same values and gradients (ReLU is
        # monotonic, and both give 0 where the window's max is <= 0) on a quarter of the elements.
        h = F.relu(F.max_pool2d(h, 2))
        h = F.relu(F.max_pool2d(F.conv2d(h, c2w, c2b, groups=k), 2))  # [rows, K * 16, 5, 5]
        h = h.contiguous().view(h.shape[0], k, 400).transpose(0, 1)  # [K, rows, 400]
        for i in range(3):
            w, b = fc[2 * i], fc[2 * i + 1]
            h = torch.baddbmm(b, h, w.mT)
            if i < 2:
                h = F.relu(h)
        return h

    def evaluate(self) -> tuple[Tensor, Tensor]:
        k, n = self.k, self.data.n_valid
        chunk = max(1, min(n, EVAL_CHUNK_ELEMENTS // (k * 6 * SIDE * SIDE)))
        loss = torch.zeros(k, device=self.device, dtype=self.dtype)
        correct = torch.zeros(k, device=self.device, dtype=torch.int64)
        for lo in range(0, n, chunk):
            logits = self.forward(self.images_valid[lo : lo + chunk])
            logp = torch.log_softmax(logits, 2)
            loss -= (logp * self.onehot_valid[lo : lo + chunk]).sum((1, 2))
            correct += (logits.argmax(2) == self.data.valid_y[lo : lo + chunk]).sum(1)
        return loss, correct

    def make_step(self, fused: int) -> StepFn:
        """step(idx, loss_row, coef): forward, loss sums, autograd backward into self.grad.

        A run whose loss is not finite is marked dead; a dead run's gradient is set to exactly 0
        (autograd may give it NaN where its forward overflowed), so optimizers leave it alone.
        """
        if fused:
            raise ValueError("StackedCNN folds no optimizer update into its step")
        k = self.k
        stored = [t for pair in (*self.conv, *self.linear) for t in pair]
        grads = [g.view(t.shape) for g, t in zip(self.g2d, stored, strict=True)]
        live, dead_col = self.live, self.dead_col
        dead_flat = dead_col.view(-1)
        images, onehot_train = self.images_train, self.onehot_train
        neg_inf = -math.inf

        def step(idx: Tensor, loss_row: Tensor, coef: Tensor) -> None:
            if idx.dim() == 1:  # one batch shared by every run
                x = images.index_select(0, idx)  # [b, 1, 28, 28]
                onehot = onehot_train.index_select(0, idx)  # [b, 10], broadcast over runs
            else:  # a batch per run: run r's images as input channel r
                b = idx.shape[1]
                flat_idx = idx.reshape(-1)
                x = images.index_select(0, flat_idx).view(k, b, SIDE, SIDE).transpose(0, 1)
                onehot = onehot_train.index_select(0, flat_idx).view(k, b, N_CLASSES)
            with torch.enable_grad():
                leaves = [t.detach().requires_grad_() for t in stored]
                logp = torch.log_softmax(self.forward(x, leaves), 2)  # [K, b, 10]
                picked = (logp * onehot).sum((1, 2))  # minus each run's summed loss
                objective = -(picked * coef.view(-1)).sum()
                computed = torch.autograd.grad(objective, leaves)
            loss_row.copy_(picked.detach())
            live.logical_and_(loss_row > neg_inf)
            torch.logical_not(live, out=dead_flat)
            for g, c in zip(grads, computed, strict=True):
                g.copy_(c)
            for g in self.g2d:
                g.masked_fill_(dead_col, 0.0)

        return step


def _layers(config: RunConfig) -> list[str]:
    """LeNet's layers as nn.Sequential items, for images [N, 1, 28, 28] as torchvision gives
    them (the same parameters() order as LeNet(), so the same initial weights)."""
    return [
        "nn.Conv2d(1, 6, 5, padding=2)", "nn.ReLU()", "nn.MaxPool2d(2)",
        "nn.Conv2d(6, 16, 5)", "nn.ReLU()", "nn.MaxPool2d(2)",
        "nn.Flatten()",
        "nn.Linear(400, 120)", "nn.ReLU()",
        "nn.Linear(120, 84)", "nn.ReLU()",
        "nn.Linear(84, 10)",
    ]  # fmt: skip


#: Multiply-adds per sample of one LeNet forward (conv1, conv2, the Linear layers).
_WORK = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10

FAMILY = ModelFamily(
    name="cnn",
    title="LeNet-5",
    build=StackedCNN,
    module=lambda config: LeNet(),
    shape=lambda config: "LeNet-5: conv 6@5x5, pool, conv 16@5x5, pool, 120-84-10",
    uses_hidden=False,
    folds_sgd=False,
    work=lambda config: _WORK,
    layers=_layers,
)
