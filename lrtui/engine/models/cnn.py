"""LeNet-5 (ReLU, max-pooling) as K stacked runs, with a hand-written backward.

The K runs' parameters live layer after layer in one flat buffer, each layer [K, ...] (conv1's
weight is [K * 6, 1, 5, 5], a view), so one step runs every run at once:
- conv1 is a matmul of the batch's 5x5 patches (25 shifted copies of the images, `patches`) with
  the filters: for a batch shared by the runs one matmul with all K * 6 filters, for a batch per
  run a batched one; its output [rows * 784, K * 6] is channels-last, and its weight gradient is
  one matmul of the same patches with the output's gradient;
- pooling (`max_pool2d_with_indices` and its backward, which routes the gradient to each window's
  first maximum, as MaxPool2d) and conv2, a grouped convolution (groups=K, run r's 6 channels to
  its 16) differentiated by `aten.convolution_backward`, run channels-last (the CPU's grouped
  convolution and pooling are several times faster so);
- the three Linear layers are batched matmuls over [K, rows, features], as in the MLP.
ReLU runs after each pooling rather than before: the same values and gradients (ReLU is monotonic,
and both give 0 where the window's max is <= 0) on a quarter of the elements. Every run's part of
every op depends only on its own weights, so each run's gradient is exactly its own.
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
#: Below this many runs sharing a batch, conv1's matmuls take their other order (see forward).
FEW_RUNS = 4
#: Side of an image with conv1's padding of 2 on every edge.
PADDED = SIDE + 4
#: Elements per evaluation chunk of conv1's outputs (K runs x rows x 6 x 28 x 28) or patches:
#: chunks that stay in a CPU's cache evaluate about twice as fast as 16M-element ones (measured).
EVAL_CHUNK_ELEMENTS = 1 << 20
#: ... but at least this many rows per chunk (many runs on a GPU: fewer, larger launches).
EVAL_CHUNK_MIN_ROWS = 32


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
        self.images_valid = data.valid_x.view(-1, SIDE, SIDE)  # a view, not a copy
        self._padded: dict[int, Tensor] = {}  # zero-bordered image buffers, per row count

    def params(self, run: int) -> list[Tensor]:
        return [p[run].reshape(shape).clone() for p, shape in zip(self.p2d, SHAPES, strict=True)]

    def patches(self, images: Tensor, groups: int) -> Tensor:
        """conv1's 5x5 patches of images [groups * rows, 28, 28] (zero padding 2), transposed:
        [groups, 25, rows * 784], one column per output pixel (image, y, x), one row per kernel
        offset (each row a shifted copy of the images, so the copy moves runs of 28 pixels)."""
        rows = images.shape[0] // groups
        padded = self._padded.get(images.shape[0])
        if padded is None:  # zero borders written once; the interior is overwritten per call
            padded = torch.zeros(
                images.shape[0], PADDED, PADDED, device=self.device, dtype=self.dtype
            )
            self._padded[images.shape[0]] = padded
        padded[:, 2 : SIDE + 2, 2 : SIDE + 2] = images
        s = PADDED
        shifted = padded.as_strided(
            (groups, 5, 5, rows, SIDE, SIDE), (rows * s * s, s, 1, s * s, s, 1)
        )
        return shifted.reshape(groups, 25, rows * SIDE * SIDE)

    def forward(self, images: Tensor, per_run: bool, saved: list[Tensor] | None = None) -> Tensor:
        """Logits [K, rows, 10] of images [rows, 28, 28] shared by the runs, or (per_run) [K *
        rows, 28, 28], run r's batch at rows [r * rows, (r + 1) * rows). `saved`, when given,
        receives what the backward needs: the patches, conv1's output and pooling indices,
        conv2's input, conv2's output and pooling indices, then each Linear layer's input."""
        k = self.k
        (c1w, c1b), (c2w, c2b) = self.conv
        rows = images.shape[0] // k if per_run else images.shape[0]
        pixels = rows * SIDE * SIDE
        # conv1's output [rows * 784, K * 6], channels-last: filters x patches, then transposed
        # (with the bias added) when the filters are few, as one matmul the other way round
        # when they are many (each order is the faster one there, measured on the CPU).
        patches = self.patches(images, k if per_run else 1)  # [K or 1, 25, rows * 784]
        if per_run:
            h = torch.empty(pixels, k, 6, device=self.device, dtype=self.dtype)
            torch.add(torch.bmm(c1w.view(k, 6, 25), patches).permute(2, 0, 1), c1b.view(k, 6),
                      out=h)  # fmt: skip
        elif k < FEW_RUNS:
            h = torch.empty(pixels, k * 6, device=self.device, dtype=self.dtype)
            torch.add(torch.mm(c1w.view(k * 6, 25), patches[0]).T, c1b, out=h)
        else:
            h = torch.addmm(c1b, patches[0].T, c1w.view(k * 6, 25).T)
        h1 = h.view(rows, SIDE, SIDE, k * 6).permute(0, 3, 1, 2)  # channels-last
        a1, where1 = F.max_pool2d_with_indices(h1, [2, 2])  # [rows, K * 6, 14, 14]
        a1.relu_()
        h2 = F.conv2d(a1, c2w, c2b, groups=k)  # [rows, K * 16, 10, 10]
        a2, where2 = F.max_pool2d_with_indices(h2, [2, 2])
        a2.relu_()
        h = a2.view(rows, k, 16, 5, 5).transpose(0, 1).reshape(k, rows, 400)  # [K, rows, 400]
        if saved is not None:
            saved += [patches, h1, where1, a1, h2, where2, h]
        for i, (w, b) in enumerate(self.linear):
            h = torch.baddbmm(b, h, w.mT)
            if i < 2:
                h.relu_()
                if saved is not None:
                    saved.append(h)
        return h

    def evaluate(self) -> tuple[Tensor, Tensor]:
        k, n = self.k, self.data.n_valid
        per_row = max(k * 6, 25) * SIDE * SIDE
        chunk = min(n, max(EVAL_CHUNK_MIN_ROWS, EVAL_CHUNK_ELEMENTS // per_row))
        loss = torch.zeros(k, device=self.device, dtype=self.dtype)
        correct = torch.zeros(k, device=self.device, dtype=torch.int64)
        images = self.images_valid
        for lo in range(0, n, chunk):
            logits = self.forward(images[lo : lo + chunk], per_run=False)
            logp = torch.log_softmax(logits, 2)
            loss -= (logp * self.onehot_valid[lo : lo + chunk]).sum((1, 2))
            correct += (logits.argmax(2) == self.data.valid_y[lo : lo + chunk]).sum(1)
        return loss, correct

    def make_step(self, fused: int) -> StepFn:
        """step(idx, loss_row, coef): forward, loss sums, the hand-written backward into
        self.grad: the gradient of coef[r] x (run r's summed loss), coef = 1 / b.

        A run whose loss is not finite is marked dead; a dead run's gradient is set to exactly 0
        (it may be NaN where its forward overflowed), so optimizers leave it alone.
        """
        if fused:
            raise ValueError("StackedCNN folds no optimizer update into its step")
        k = self.k
        c2w = self.conv[1][0]
        c1_grad, c1b_grad, c2_grad, c2b_grad = self.g2d[:4]
        linear_grads = [
            (self.g2d[i].view(k, *SHAPES[i]), self.g2d[i + 1].view(k, 1, SHAPES[i + 1][0]))
            for i in (4, 6, 8)
        ]
        weights = [w for w, _ in self.linear]
        live, dead_col = self.live, self.dead_col
        dead_flat = dead_col.view(-1)
        dead3 = dead_col.view(-1, 1, 1)
        images, onehot_train = self.data.train_x.view(-1, SIDE, SIDE), self.onehot_train
        neg_inf = torch.tensor(-math.inf, device=self.device, dtype=self.dtype)
        conv_backward = torch.ops.aten.convolution_backward
        pool_backward = torch.ops.aten.max_pool2d_with_indices_backward
        threshold_backward = torch.ops.aten.threshold_backward
        c1_grad_t = torch.empty(k, 25, 6, device=self.device, dtype=self.dtype)  # transposed

        def step(idx: Tensor, loss_row: Tensor, coef: Tensor) -> None:
            per_run = idx.dim() == 2
            b = idx.shape[-1]
            flat_idx = idx.reshape(-1)
            onehot = onehot_train.index_select(0, flat_idx)  # [b, 10] shared, or [K * b, 10]
            if per_run:
                onehot = onehot.view(k, b, N_CLASSES)
            saved: list[Tensor] = []
            logits = self.forward(images.index_select(0, flat_idx), per_run, saved)
            patches, h1, where1, a1, h2, where2, flat, f1, f2 = saved
            logp = torch.log_softmax(logits, 2)  # [K, b, 10]
            torch.sum(logp * onehot, dim=(1, 2), out=loss_row)  # minus each run's summed loss
            live.logical_and_(loss_row > neg_inf)
            torch.logical_not(live, out=dead_flat)
            g = logp.exp_().sub_(onehot).mul_(coef).masked_fill_(dead3, 0.0)  # d loss / d logits
            # The Linear layers, last first: weight and bias gradients, then the input's.
            for w, (w_grad, b_grad), h_in in zip(
                reversed(weights), reversed(linear_grads), (f2, f1, flat), strict=True
            ):
                torch.bmm(g.mT, h_in, out=w_grad)
                torch.sum(g, 1, keepdim=True, out=b_grad)
                g = threshold_backward(torch.bmm(g, w), h_in, 0)  # ReLU after the pooling
            # g [K, b, 400] -> conv2's pooled output [b, K * 16, 5, 5], channels-last like h2.
            g = g.view(k, b, 16, 25).permute(1, 3, 0, 2).reshape(b, 5, 5, k * 16)
            g = pool_backward(g.permute(0, 3, 1, 2), h2, [2, 2], [2, 2], [0, 0], [1, 1], False,
                              where2)  # fmt: skip
            g, w2_grad, b2_grad = conv_backward(
                g, a1, c2w, [k * 16], [1, 1], [0, 0], [1, 1], False, [0, 0], k,
                [True, True, True],
            )  # fmt: skip
            c2_grad.view_as(w2_grad).copy_(w2_grad)
            c2b_grad.view(-1).copy_(b2_grad)
            g = threshold_backward(g, a1, 0)  # [b, K * 6, 14, 14]: ReLU after pooling 1
            # conv1: its output's gradient [b * 784, K * 6] (channels-last), times the patches.
            g = pool_backward(g, h1, [2, 2], [2, 2], [0, 0], [1, 1], False, where1)
            g = g.permute(0, 2, 3, 1).reshape(-1, k * 6)
            if per_run:  # [K, 6, b * 784] x [K, b * 784, 25]
                torch.bmm(g.view(-1, k, 6).permute(1, 2, 0), patches.mT,
                          out=c1_grad.view(k, 6, 25))  # fmt: skip
            elif k < FEW_RUNS:
                torch.mm(g.T, patches[0].T, out=c1_grad.view(k * 6, 25))
            else:  # [25, K * 6], then transposed
                torch.mm(patches[0], g, out=c1_grad_t.view(25, k * 6))
                c1_grad.view(k * 6, 25).copy_(c1_grad_t.view(25, k * 6).T)
            torch.sum(g, 0, out=c1b_grad.view(-1))
            for grad in self.g2d:
                grad.masked_fill_(dead_col, 0.0)

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
