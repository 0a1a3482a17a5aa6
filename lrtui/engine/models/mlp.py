"""The tutorial's MLP (784-64-32-10 by default): the plain `nn.Module` (`MLP`) and the weights it
starts from (`init_params`), and the same network as K stacked runs with a hand-written backward.

Layout: each layer's weight and bias are one augmented matrix [W | b] of shape [out, in + 1] (the
bias last); activations run feature-major, [K, features + 1, batch] with a last row of ones, so a
layer is one matmul W @ h and its weight+bias gradient one matmul g @ h^T. Layers are stored one
after another, each [K, out, in + 1]. Plain SGD runs (no momentum, no weight decay) fold their
update into that gradient matmul (W += (-lr / b * g) @ h^T, in place); the other runs get their
gradients in a flat buffer for their optimizer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn

from lrtui.data import DeviceDataset
from lrtui.engine.models import ModelFamily, StepFn
from lrtui.model import IN_FEATURES, N_CLASSES, RunConfig, layer_shapes

#: Activation elements per evaluation chunk (K runs x rows x widest layer).
EVAL_CHUNK_ELEMENTS = 1 << 23


class MLP(nn.Module):
    """The tutorial's network: flatten, Linear+ReLU per hidden width, then Linear to 10 classes."""

    def __init__(self, hidden: tuple[int, ...] = (64, 32)) -> None:
        super().__init__()
        widths = (IN_FEATURES, *hidden, N_CLASSES)
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return cast(Tensor, self.layers(x.reshape(x.shape[0], -1)))


def init_params(hidden: tuple[int, ...], seed: int) -> list[Tensor]:
    """The parameters `torch.manual_seed(seed); MLP(hidden)` starts from, in `parameters()` order.

    Drawn in float32 on the CPU exactly as nn.Linear does (so `.to(dtype)` of the module matches),
    without disturbing the caller's global RNG state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MLP(hidden)
    return [p.detach().clone() for p in model.parameters()]


class StackedMLP:
    """The K runs' parameters, gradients and activation buffers, laid out for the step loop."""

    def __init__(
        self, configs: Sequence[RunConfig], seeds: Sequence[int], data: DeviceDataset
    ) -> None:
        k = len(configs)
        device, dtype = data.device, data.train_x.dtype
        self.k, self.device, self.dtype = k, device, dtype
        self.data = data
        hidden = configs[0].hidden
        self.sizes = layer_shapes(hidden)
        inits = {seed: init_params(hidden, seed) for seed in dict.fromkeys(seeds)}
        total = sum(k * o * (i + 1) for o, i in self.sizes)
        self.flat = torch.empty(total, dtype=dtype, device=device)
        self.grad = torch.zeros_like(self.flat)
        self.weights: list[Tensor] = []  # [K, out, in + 1] views of flat
        self.grads: list[Tensor] = []  # same views of grad
        offsets: list[tuple[int, int]] = []
        offset = 0
        for li, (fan_out, fan_in) in enumerate(self.sizes):
            size = k * fan_out * (fan_in + 1)
            w = self.flat[offset : offset + size].view(k, fan_out, fan_in + 1)
            for r, seed in enumerate(seeds):
                w[r, :, :fan_in] = inits[seed][2 * li].to(device, dtype)
                w[r, :, fan_in] = inits[seed][2 * li + 1].to(device, dtype)
            self.weights.append(w)
            self.grads.append(self.grad[offset : offset + size].view(k, fan_out, fan_in + 1))
            offsets.append((offset, size))
            offset += size
        # [K, n] views for the optimizer: one for the whole buffer when K == 1 (it is then one
        # run's contiguous parameters), one per layer otherwise.
        if k == 1:
            self.p2d = [self.flat.view(1, -1)]
            self.g2d = [self.grad.view(1, -1)]
        else:
            self.p2d = [self.flat[o : o + n].view(k, -1) for o, n in offsets]
            self.g2d = [self.grad[o : o + n].view(k, -1) for o, n in offsets]
        self.dead_col = torch.zeros(k, 1, dtype=torch.bool, device=device)
        self.live = torch.ones(k, dtype=torch.bool, device=device)
        self.onehot_train = nn.functional.one_hot(data.train_y, N_CLASSES).to(dtype)
        self.onehot_valid = nn.functional.one_hot(data.valid_y, N_CLASSES).to(dtype)
        self._acts: dict[int, list[tuple[Tensor, Tensor]]] = {}
        self._inputs: dict[int, tuple[Tensor, Tensor, Tensor, Tensor]] = {}

    def params(self, run: int) -> list[Tensor]:
        out: list[Tensor] = []
        for (_, fan_in), w in zip(self.sizes, self.weights, strict=True):
            out.append(w[run, :, :fan_in].clone())
            out.append(w[run, :, fan_in].clone())
        return out

    def act_buffers(self, rows: int) -> list[tuple[Tensor, Tensor]]:
        """Per hidden layer: a [K, out + 1, rows] buffer (last row ones) and its [:, :out]."""
        bufs = self._acts.get(rows)
        if bufs is None:
            bufs = []
            for fan_out, _ in self.sizes[:-1]:
                full = torch.ones(self.k, fan_out + 1, rows, device=self.device, dtype=self.dtype)
                bufs.append((full, full[:, :fan_out]))
            self._acts[rows] = bufs
        return bufs

    def input_buffer(self, rows: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Batch buffers with a ones column (the bias input): x [rows, in + 1], its [:, :in] to
        fill, x transposed [in + 1, rows] (last row ones) and its [:in] to fill."""
        bufs = self._inputs.get(rows)
        if bufs is None:
            fan_in = self.sizes[0][1]
            x = torch.ones(rows, fan_in + 1, device=self.device, dtype=self.dtype)
            x_t = torch.ones(fan_in + 1, rows, device=self.device, dtype=self.dtype)
            bufs = (x, x[:, :fan_in], x_t, x_t[:fan_in])
            self._inputs[rows] = bufs
        return bufs

    def forward(self, x: Tensor) -> Tensor:
        """Transposed logits [K, 10, rows] of inputs x [rows, in] shared by the runs; for eval."""
        h = x.T.expand(self.k, *x.T.shape)
        last = len(self.weights) - 1
        for i, (w, (_, fan_in)) in enumerate(zip(self.weights, self.sizes, strict=True)):
            h = torch.baddbmm(w[:, :, fan_in].unsqueeze(2), w[:, :, :fan_in], h)
            if i < last:
                h.clamp_min_(0)
        return h

    def evaluate(self) -> tuple[Tensor, Tensor]:
        k, n = self.k, self.data.n_valid
        widest = max(o for o, _ in self.sizes)
        chunk = max(1, min(n, EVAL_CHUNK_ELEMENTS // (k * widest)))
        loss = torch.zeros(k, device=self.device, dtype=self.dtype)
        correct = torch.zeros(k, device=self.device, dtype=torch.int64)
        x_all, y_all = self.data.valid_x, self.data.valid_y
        for lo in range(0, n, chunk):
            logits = self.forward(x_all[lo : lo + chunk])
            logp = torch.log_softmax(logits, 1)
            loss -= (logp * self.onehot_valid[lo : lo + chunk].T).sum((1, 2))
            correct += (logits.argmax(1) == y_all[lo : lo + chunk]).sum(1)
        return loss, correct

    def make_step(self, fused: int) -> StepFn:
        """The forward + backward of one training step, as a closure over precomputed views.

        The network runs feature-major: activations are [K, features + 1, b] with a last row of
        ones (the bias input), so every layer is one W @ h and the logits come out [K, 10, b]
        (log_softmax over a leading dim is vectorized along the batch). The batch rows are
        gathered into a buffer with a ones column (the bias input).

        Runs [0, fused) are plain SGD (no momentum, no weight decay): their coef is -lr / b and
        their update p += -lr * grad is folded into the weight-gradient matmul (an in-place
        baddbmm on the weights). The other runs get coef 1 / b and their gradient of the mean
        loss in self.grad, for their optimizer. A dead run's output gradient and activations are
        zeroed, so its gradient is exactly 0 even where its forward overflowed.
        """
        k = self.k
        n_layers = len(self.weights)
        weights = self.weights
        weights_nb_t = [
            w[:, :, :fan_in].mT for w, (_, fan_in) in zip(self.weights, self.sizes, strict=True)
        ]
        # Slices taken once; when every run (or none) is folded, no slicing per step at all.
        all_fused = fused == k
        fused_w = [w[:fused] for w in self.weights]
        rest_g = [g[fused:] for g in self.grads]
        # The first layer's input is shared when the runs share the batch: its forward and its
        # weight gradient are then one matmul over every run's rows ([K * out, in + 1]), a far
        # better shape than K small batched ones.
        out1, in1 = self.sizes[0][0], self.sizes[0][1] + 1
        w1_rows = self.weights[0].view(k * out1, in1)
        w1_fused_rows = w1_rows[: fused * out1]
        g1_rest_rows = self.grads[0][fused:].view(-1, in1)
        live = self.live
        dead_flat = self.dead_col.view(-1)
        dead3 = self.dead_col.view(-1, 1, 1)
        act_buffers = self.act_buffers
        input_buffer = self.input_buffer
        train_x, onehot_train = self.data.train_x, self.onehot_train
        threshold_backward = torch.ops.aten.threshold_backward
        neg_inf = torch.tensor(-math.inf, device=self.device, dtype=self.dtype)  # no per-step
        # wrapping of a Python scalar

        def step(idx: Tensor, loss_row: Tensor, coef: Tensor) -> None:
            shared = idx.dim() == 1
            if shared:  # one batch shared by every run
                b = idx.shape[0]
                x, x_body, _, _ = input_buffer(b)
                torch.index_select(train_x, 0, idx, out=x_body)
                onehot_t = onehot_train.index_select(0, idx).T
            else:  # a batch per run
                b = idx.shape[1]
                flat_idx = idx.reshape(-1)
                x, x_body, _, _ = input_buffer(k * b)
                torch.index_select(train_x, 0, flat_idx, out=x_body)
                x = x.view(k, b, -1)
                onehot_t = onehot_train.index_select(0, flat_idx).view(k, b, -1).mT
            bufs = act_buffers(b)
            if n_layers == 1:
                z = torch.mm(w1_rows, x.T).view(k, out1, b) if shared else torch.bmm(
                    weights[0], x.mT
                )
            else:
                full, body = bufs[0]
                if shared:
                    torch.clamp_min(torch.mm(w1_rows, x.T).view(k, out1, b), 0, out=body)
                else:
                    torch.clamp_min(torch.bmm(weights[0], x.mT), 0, out=body)
                h = full
                for i in range(1, n_layers - 1):
                    full, body = bufs[i]
                    torch.clamp_min(torch.bmm(weights[i], h), 0, out=body)
                    h = full
                z = torch.bmm(weights[-1], h)
            logp = torch.log_softmax(z, 1)  # [K, 10, b]
            torch.sum(logp * onehot_t, dim=(1, 2), out=loss_row)
            # The sum of log-probabilities is <= 0 or NaN; -inf or NaN: the run is dead (one
            # comparison where isfinite takes several ops).
            live.logical_and_(loss_row > neg_inf)
            torch.logical_not(live, out=dead_flat)
            g = logp.exp_().sub_(onehot_t).mul_(coef).masked_fill_(dead3, 0.0)
            for i in range(n_layers - 1):
                bufs[i][1].masked_fill_(dead3, 0.0)
            for li in range(n_layers - 1, 0, -1):
                below = bufs[li - 1]
                # before this layer's weights change
                g_next = threshold_backward(torch.bmm(weights_nb_t[li], g), below[1], 0)
                source = below[0].mT  # [K, b, fan_in + 1]
                if all_fused:
                    weights[li].baddbmm_(g, source)
                elif not fused:
                    torch.bmm(g, source, out=rest_g[li])
                else:
                    fused_w[li].baddbmm_(g[:fused], source[:fused])
                    torch.bmm(g[fused:], source[fused:], out=rest_g[li])
                g = g_next
            if shared:
                if all_fused:
                    w1_rows.addmm_(g.view(-1, b), x)
                elif not fused:
                    torch.mm(g.view(-1, b), x, out=g1_rest_rows)
                else:
                    w1_fused_rows.addmm_(g[:fused].reshape(-1, b), x)
                    torch.mm(g[fused:].reshape(-1, b), x, out=g1_rest_rows)
            else:
                if fused:
                    fused_w[0].baddbmm_(g[:fused], x[:fused])
                if fused < k:
                    torch.bmm(g[fused:], x[fused:], out=rest_g[0])

        return step


def _shape(config: RunConfig) -> str:
    return "-".join(str(w) for w in (IN_FEATURES, *config.hidden, N_CLASSES))


def _work(config: RunConfig) -> int:
    return sum(o * (i + 1) for o, i in layer_shapes(config.hidden))


def _layers(config: RunConfig) -> list[str]:
    """Flatten, then Linear (+ ReLU) per hidden width: MLP(hidden) as nn.Sequential items."""
    sizes = [IN_FEATURES, *config.hidden, N_CLASSES]
    items = ["nn.Flatten()"]
    for i in range(len(sizes) - 1):
        items.append(f"nn.Linear({sizes[i]}, {sizes[i + 1]})")
        if i < len(sizes) - 2:
            items.append("nn.ReLU()")
    return items


FAMILY = ModelFamily(
    name="mlp",
    title="MLP",
    build=StackedMLP,
    module=lambda config: MLP(config.hidden),
    shape=_shape,
    uses_hidden=True,
    folds_sgd=True,
    work=_work,
    layers=_layers,
)
