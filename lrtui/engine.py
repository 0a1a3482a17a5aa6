"""The training engine: K runs of the tutorial's MLP trained at once, each with its own scheduler.

Runs that share dataset, model shape, batch size, epochs and device are trained in one vectorized
pass: their parameters are stacked along a leading run axis and every layer is one batched matmul.
Forward and backward are written out by hand (no autograd) and the optimizer update is vectorized
over runs with per-run LR / momentum / beta1 read from tables that each run's real torch scheduler
fills once per epoch (`lrtui.schedulers.ScheduleDriver`). The result equals the plain PyTorch loop
(nn.Module, torch.optim, scheduler.step()) to rounding; tests/test_engine.py checks it in float64.

Nothing in the step loop waits for the device: losses are summed on the device and read only at
reporting points (about every PROGRESS_EVERY_S seconds and at each epoch end); a run whose loss
turns NaN/inf is frozen by an on-device mask and reported `diverged` at the next reporting point.

Layout: each layer's weight and bias are one augmented matrix [W | b] of shape [out, in + 1] (the
bias last); activations run feature-major, [K, features + 1, batch] with a last row of ones, so a
layer is one matmul W @ h and its weight+bias gradient one matmul g @ h^T. Layers are stored one
after another, each [K, out, in + 1]. Plain SGD runs (no momentum, no weight decay) fold their
update into that gradient matmul (W += (-lr / b * g) @ h^T, in place); the other runs get their
gradients in a flat buffer for the vectorized SGD / Adam / AdamW update.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor

from lrtui.data import DeviceDataset, load_with_fallback, to_device
from lrtui.model import N_CLASSES, RunConfig, init_params, layer_shapes, validate_config
from lrtui.schedulers import PlateauState, ScheduleDriver, resolve

__all__ = [
    "Control",
    "EpochEnd",
    "Event",
    "Progress",
    "RunEnded",
    "RunStarted",
    "StepChunk",
    "Trainer",
    "check_batch",
    "cpu_threads",
    "describe_device",
    "resolve_device",
    "steps_per_epoch",
    "train",
    "train_steps",
]

RunStatus = Literal["finished", "stopped", "diverged", "failed"]

#: Seconds between Progress events (and between the host's looks at the device's loss sums).
PROGRESS_EVERY_S = 0.25
#: Below this many stacked parameters (runs x parameters per run) a CPU step runs on one thread.
SMALL_STEP_PARAMS = 150_000
#: Activation elements per evaluation chunk (K runs x rows x widest layer).
EVAL_CHUNK_ELEMENTS = 1 << 23


# ------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class RunStarted:
    """A run begins: its resolved config (derived scheduler params filled) and what it runs on."""

    run: int
    config: RunConfig
    device: str
    dataset: str  # the dataset actually used (after any fallback)
    notice: str | None  # why the dataset differs from the one asked for, or None


@dataclass(frozen=True)
class StepChunk:
    """The LR (and momentum or beta1, when the run has one) of consecutive optimizer steps."""

    run: int
    epoch: int
    first_step: int  # index within the epoch of lr[0]
    lr: tuple[float, ...]
    momentum: tuple[float, ...] | None


@dataclass(frozen=True)
class Progress:
    """Emitted at most every PROGRESS_EVERY_S seconds during an epoch, for all runs at once."""

    epoch: int
    step: int  # optimizer steps done in this epoch
    steps_per_epoch: int
    global_step: int  # optimizer steps done in the whole call
    total_steps: int
    samples_per_s: (
        float  # training examples per second through the batch (counted once, not per run)
    )
    train_loss: tuple[
        float, ...
    ]  # per run: mean loss per sample so far this epoch (nan when ended)
    elapsed_s: float  # seconds of training so far (pauses excluded)


@dataclass(frozen=True)
class EpochEnd:
    """One run finished an epoch. Losses are means per sample; valid_acc is a fraction."""

    run: int
    epoch: int
    train_loss: float
    valid_loss: float
    valid_acc: float
    lr: float  # LR of the epoch's first step
    momentum: float | None  # momentum (SGD) or beta1 (Adam) of the first step; None without one
    seconds: float
    plateau: PlateauState | None  # ReduceLROnPlateau's state after this epoch's step


@dataclass(frozen=True)
class RunEnded:
    """The last event of a run."""

    run: int
    status: RunStatus
    reason: str
    epochs_done: int


Event = RunStarted | StepChunk | Progress | EpochEnd | RunEnded


# ------------------------------------------------------------------------------------ control


class Control:
    """Stop / pause / resume a training call from any thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stopped = False
        self._paused = False

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def paused(self) -> bool:
        return self._paused

    def wait_while_paused(self) -> None:
        """Block while paused; return on resume() or stop()."""
        with self._cond:
            while self._paused and not self._stopped:
                self._cond.wait()


# ------------------------------------------------------------------------------------ helpers


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA if available, else MPS, else CPU; an explicit device must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: CUDA is not available on this machine (got {name!r})")
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device: there are {torch.cuda.device_count()} CUDA devices (got {name!r})"
            )
        return torch.device("cuda", index)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device: MPS is not available on this machine (got {name!r})")
    return device


def describe_device(name: str) -> tuple[str, bool]:
    """The line a device choice earns in the form, and whether training can use it here:
    ('cuda:0 NVIDIA H100', True), ('cpu (no CUDA)', True), or resolve_device's refusal without its
    'device: ' prefix ("CUDA is not available on this machine (got 'cuda')", False)."""
    try:
        device = resolve_device(name)
    except (ValueError, RuntimeError) as exc:  # RuntimeError: torch.device("nonsense")
        return str(exc).removeprefix("device: "), False
    if device.type == "cuda":
        return f"{device} {torch.cuda.get_device_name(device)}", True
    if device.type == "cpu":
        return ("cpu (no CUDA)" if not torch.cuda.is_available() else "cpu"), True
    return str(device), True


def _stop_reason(epochs_done: int, epochs: int, *, during: int | None = None) -> str:
    """Why a run ended `stopped`, counting epochs from 1 like the logs ('9 of 25 done'):
    'stopped by user during epoch 10 of 25' (inside 0-based epoch `during`), else
    'stopped by user after epoch 9 of 25' ('before epoch 1 of 25' when none had run)."""
    if during is not None:
        return f"stopped by user during epoch {during + 1} of {epochs}"
    if epochs_done == 0:
        return f"stopped by user before epoch 1 of {epochs}"
    return f"stopped by user after epoch {epochs_done} of {epochs}"


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps per epoch, as a DataLoader with drop_last=False (last batch may be short)."""
    return -(-n_train // batch_size)


def cpu_threads(k: int, hidden: Sequence[int]) -> int | None:
    """Intra-op threads for training k runs on the CPU: 1 when a step is small, else torch's own.

    A step of one or a few runs is a chain of small ops; on more than one thread each of them
    waits for the others at a fork/join, which costs far more than it saves, and a great deal on
    a machine whose other cores are busy. Big stacked matmuls (many runs) do gain from threads.
    """
    params = sum(o * (i + 1) for o, i in layer_shapes(tuple(hidden)))
    return 1 if k * params < SMALL_STEP_PARAMS else None


def check_batch(configs: Sequence[RunConfig], *, independent_seeds: bool = False) -> None:
    """Raise ValueError unless the configs can train together in one vectorized pass."""
    if not configs:
        raise ValueError("train: no run configs given")
    first = configs[0]
    shared = ["dataset", "hidden", "batch_size", "epochs", "device"]
    if not independent_seeds:
        shared.append("seed")
    for i, config in enumerate(configs):
        problems = validate_config(config)
        if problems:
            field, message = next(iter(problems.items()))
            raise ValueError(f"run {i}: {field}: {message}")
        for name in shared:
            if getattr(config, name) != getattr(first, name):
                hint = " (or pass independent_seeds=True)" if name == "seed" else ""
                raise ValueError(
                    f"runs trained together must share {name}{hint}: run 0 has "
                    f"{getattr(first, name)!r}, run {i} has {getattr(config, name)!r}"
                )


def _failure_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, torch.OutOfMemoryError):
        return f"out of memory: {text} (try fewer runs or a smaller batch)"
    return f"{type(exc).__name__}: {text}"


class _CallbackError(Exception):
    """Wraps an exception raised by on_event so the loop never mistakes it for a device error."""


# -------------------------------------------------------------------------- optimizer updates


class _Family:
    """The runs of one optimizer family: a contiguous block [lo, hi) of the (internal) run axis."""

    def __init__(self, configs: Sequence[RunConfig], lo: int, hi: int, st: _Stack) -> None:
        self.lo, self.hi = lo, hi
        self.k = hi - lo
        self.p = [p[lo:hi] for p in st.p2d]
        self.g = [g[lo:hi] for g in st.g2d]
        self.dead = st.dead_col[lo:hi]
        self.device, self.dtype = st.device, st.dtype

    def column(self, values: Sequence[float]) -> Tensor:
        """A per-run constant as a [k, 1] device tensor that broadcasts over each run's row."""
        return (
            torch.tensor(list(values), dtype=torch.float64).view(-1, 1).to(self.device, self.dtype)
        )

    def plan(self, lrs: Tensor, moms: Tensor, first_step: int) -> None:
        """Coefficient tables for one epoch from [steps, k] float64 LR and momentum/beta1."""
        raise NotImplementedError

    def update(self, s: int) -> None:
        """Apply optimizer step `s` of the epoch to the family's runs (gradients are ready)."""
        raise NotImplementedError


class _SGD(_Family):
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

    def __init__(self, configs: Sequence[RunConfig], lo: int, hi: int, st: _Stack) -> None:
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


class _Adam(_Family):
    """torch.optim.Adam / AdamW (their single-tensor path) vectorized over runs.

    The host computes, per step and run, what torch computes in Python floats: bias_correction1
    = 1 - beta1**step with the beta1 the scheduler set for that step, step_size = lr /
    bias_correction1, bias_correction2 ** 0.5, and AdamW's decay factor 1 - lr * weight_decay.
    """

    def __init__(self, configs: Sequence[RunConfig], lo: int, hi: int, st: _Stack) -> None:
        super().__init__(configs, lo, hi, st)
        self.beta2 = torch.tensor([c.optimizer.betas[1] for c in configs], dtype=torch.float64)
        self.decoupled = torch.tensor([c.optimizer.name == "adamw" for c in configs])
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


# ---------------------------------------------------------------------------- stacked model


class _Stack:
    """The K runs' parameters, gradients and activation buffers, laid out for the step loop."""

    def __init__(
        self,
        configs: Sequence[RunConfig],
        independent_seeds: bool,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        k = len(configs)
        self.k, self.device, self.dtype = k, device, dtype
        hidden = configs[0].hidden
        self.sizes = layer_shapes(hidden)
        seeds = [c.seed for c in configs] if independent_seeds else [configs[0].seed] * k
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
        self._acts: dict[int, list[tuple[Tensor, Tensor]]] = {}
        self._inputs: dict[int, tuple[Tensor, Tensor, Tensor, Tensor]] = {}

    def run_params(self, run: int) -> list[Tensor]:
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

    def make_step(
        self, fused: int
    ) -> Callable[[Tensor, Tensor, Tensor, int, Tensor, Tensor], None]:
        """The forward + backward of one training step, as a closure over precomputed views.

        The network runs feature-major: activations are [K, features + 1, b] with a last row of
        ones (the bias input), so every layer is one W @ h and the logits come out [K, 10, b]
        (log_softmax over a leading dim is vectorized along the batch).

        step(x, x_t, onehot_t, b, loss_row, coef): the batch as [K (maybe expanded), b, in + 1]
        and transposed [K, in + 1, b]; targets transposed, [10, b] or [K, 10, b]; coef [K, 1, 1]
        scales each run's output gradient. It writes each run's sum of log-probabilities of the
        targets (minus the summed cross-entropy) into loss_row and marks runs whose loss is not
        finite dead, for good.

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
        fused_w = [w[:fused] for w in self.weights]
        rest_g = [g[fused:] for g in self.grads]
        live = self.live
        dead_flat = self.dead_col.view(-1)
        dead3 = self.dead_col.view(-1, 1, 1)
        act_buffers = self.act_buffers
        threshold_backward = torch.ops.aten.threshold_backward
        neg_inf = -math.inf

        def step(
            x: Tensor, x_t: Tensor, onehot_t: Tensor, b: int, loss_row: Tensor, coef: Tensor
        ) -> None:
            bufs = act_buffers(b)
            h = x_t
            for i in range(n_layers - 1):
                full, body = bufs[i]
                torch.clamp_min(torch.bmm(weights[i], h), 0, out=body)
                h = full
            logp = torch.log_softmax(torch.bmm(weights[-1], h), 1)  # [K, 10, b]
            torch.sum(logp * onehot_t, dim=(1, 2), out=loss_row)
            # The sum of log-probabilities is <= 0 or NaN; -inf or NaN: the run is dead.
            live.logical_and_(loss_row > neg_inf)
            torch.logical_not(live, out=dead_flat)
            g = logp.exp_().sub_(onehot_t).mul_(coef).masked_fill_(dead3, 0.0)
            for i in range(n_layers - 1):
                bufs[i][1].masked_fill_(dead3, 0.0)
            for li in range(n_layers - 1, -1, -1):
                below = bufs[li - 1] if li else None
                source = below[0].mT if below is not None else x  # [K, b, in + 1]
                if below is not None:  # before this layer's weights change
                    g_next = threshold_backward(torch.bmm(weights_nb_t[li], g), below[1], 0)
                if fused:
                    fused_w[li].baddbmm_(g[:fused], source[:fused])
                if fused < k:
                    torch.bmm(g[fused:], source[fused:], out=rest_g[li])
                if below is not None:
                    g = g_next

        return step


# ------------------------------------------------------------------------------------ trainer


class Trainer:
    """One training call: K run configs trained together. `train()` is `Trainer(...).run()`.

    After (or during) `run()`, `params(run)` gives a run's parameters in `MLP(hidden).parameters()`
    order and layout (weight [out, in], bias [out]), e.g. to compare with a plain PyTorch loop.

    Defaults: every run starts from the weights `torch.manual_seed(seed); MLP(hidden)` draws
    (float32, then converted to `dtype`) and sees the same data order: one `torch.randperm(n_train,
    generator=g, device=device)` per epoch, `g = torch.Generator(device).manual_seed(seed)` created
    once. With `independent_seeds=True` each run does both with its own seed.
    """

    def __init__(
        self,
        configs: Sequence[RunConfig],
        on_event: Callable[[Event], None],
        control: Control | None = None,
        *,
        data: DeviceDataset | None = None,
        data_dir: str | None = None,
        notice: str | None = None,
        independent_seeds: bool = False,
        dtype: torch.dtype = torch.float32,
        fast: bool = False,
        threads: int | None = None,
    ) -> None:
        check_batch(configs, independent_seeds=independent_seeds)
        self.configs = list(configs)
        self.on_event = on_event
        self.control = control if control is not None else Control()
        self.independent_seeds = independent_seeds
        self.dtype = dtype
        self.fast = fast
        self.device = resolve_device(self.configs[0].device)
        self._data = data
        self._data_dir = data_dir
        self._notice = notice
        self.threads = threads
        # Internal run order (set by run(): optimizer families as contiguous blocks of the stacked
        # run axis). Events always carry the caller's indexes.
        self.order = list(range(len(configs)))
        self._stack: _Stack | None = None

    def run(self) -> list[RunEnded]:
        """Train every run to its end; returns each run's RunEnded, in config order.

        An exception raised by `on_event` stops training and propagates unchanged. A RuntimeError
        from torch in the loop (out of memory, a device error) ends every live run `failed`.
        """
        previous = None
        if self.fast and self.device.type == "cuda":
            previous = torch.backends.cuda.matmul.fp32_precision
            torch.backends.cuda.matmul.fp32_precision = "tf32"
        previous_threads = None
        if self.threads is not None and self.device.type == "cpu":
            previous_threads = torch.get_num_threads()
            torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                return _Loop(self).run()
        except _CallbackError as exc:
            cause = exc.__cause__
            assert cause is not None
            raise cause from None
        finally:
            if previous is not None:
                torch.backends.cuda.matmul.fp32_precision = previous
            if previous_threads is not None:
                torch.set_num_threads(previous_threads)

    def params(self, run: int) -> list[Tensor]:
        """Copies of the run's parameters, in `MLP(hidden).parameters()` order."""
        if self._stack is None:
            raise RuntimeError("Trainer.params: run() has not started")
        return self._stack.run_params(self.order.index(run))

    def emit(self, event: Event) -> None:
        try:
            self.on_event(event)
        except BaseException as exc:
            raise _CallbackError() from exc

    def load_data(self) -> tuple[DeviceDataset, str | None]:
        data = self._data
        if data is None:
            raw, notice = load_with_fallback(self.configs[0].dataset, data_dir=self._data_dir)
            return to_device(raw, self.device, self.dtype), notice
        return _on(data, self.device, self.dtype), self._notice


def _on(data: DeviceDataset, device: torch.device, dtype: torch.dtype) -> DeviceDataset:
    """The dataset on `device` with float inputs of `dtype` (itself when already there)."""
    if data.device == device and data.train_x.dtype == dtype:
        return data
    return replace(
        data,
        train_x=data.train_x.to(device, dtype),
        train_y=data.train_y.to(device),
        valid_x=data.valid_x.to(device, dtype),
        valid_y=data.valid_y.to(device),
        device=device,
    )


def train(
    configs: Sequence[RunConfig],
    on_event: Callable[[Event], None],
    control: Control | None = None,
    *,
    data: DeviceDataset | None = None,
    data_dir: str | None = None,
    notice: str | None = None,
    independent_seeds: bool = False,
    dtype: torch.dtype = torch.float32,
    fast: bool = False,
    threads: int | None = None,
) -> list[RunEnded]:
    """Train the runs together (see Trainer); returns each run's RunEnded, in config order."""
    return Trainer(
        configs,
        on_event,
        control,
        data=data,
        data_dir=data_dir,
        notice=notice,
        independent_seeds=independent_seeds,
        dtype=dtype,
        fast=fast,
        threads=threads,
    ).run()


_FUSED, _SGD_KIND, _ADAM_KIND = 0, 1, 2


def _kind(config: RunConfig, cycles_momentum: bool) -> int:
    """Plain SGD (update folded into the gradient matmul), other SGD, or Adam/AdamW."""
    opt = config.optimizer
    if opt.name != "sgd":
        return _ADAM_KIND
    if opt.momentum == 0 and opt.weight_decay == 0 and not cycles_momentum:
        return _FUSED
    return _SGD_KIND


class _Loop:
    """The epoch/step loop of one Trainer.run(); indexes here are internal run positions."""

    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        self.control = trainer.control
        self.configs = list(trainer.configs)  # put in internal order by run()
        self.ext = list(range(len(self.configs)))  # internal position -> caller's run index
        self.k = len(self.configs)
        first = self.configs[0]
        self.batch = first.batch_size
        self.epochs = first.epochs
        self.ended: dict[int, RunEnded] = {}  # internal position -> its RunEnded
        self.epochs_done = 0
        self.lrs: list[list[float]] = [[] for _ in range(self.k)]
        self.moms: list[list[float]] = [[] for _ in range(self.k)]

    # ---- events

    def end_run(self, j: int, status: RunStatus, reason: str, epochs_done: int) -> None:
        event = RunEnded(self.ext[j], status, reason, epochs_done)
        self.ended[j] = event
        self.t.emit(event)

    def chunk(self, j: int, epoch: int, steps: int) -> None:
        if steps > 0:
            momentum = tuple(self.moms[j][:steps]) if self.has_momentum[j] else None
            self.t.emit(StepChunk(self.ext[j], epoch, 0, tuple(self.lrs[j][:steps]), momentum))

    # ---- setup

    def run(self) -> list[RunEnded]:
        t = self.t
        data, notice = t.load_data()
        self.data = data
        self.n_train = data.n_train
        self.spe = steps_per_epoch(data.n_train, self.batch)
        drivers = [
            ScheduleDriver(
                c.scheduler,
                epochs=self.epochs,
                steps_per_epoch=self.spe,
                base_lr=c.lr,
                optimizer=c.optimizer.shape(),
            )
            for c in self.configs
        ]
        # Internal order: plain SGD runs (folded update), other SGD runs, then Adam/AdamW runs,
        # so each optimizer family is a contiguous block of the stacked run axis.
        kinds = [_kind(c, d.cycles_momentum) for c, d in zip(self.configs, drivers, strict=True)]
        order = sorted(range(self.k), key=lambda i: kinds[i])
        t.order = order
        self.ext = order
        self.configs = [t.configs[i] for i in order]
        self.drivers: list[ScheduleDriver | None] = [drivers[i] for i in order]
        self.kinds = [kinds[i] for i in order]
        self.has_momentum = [
            c.optimizer.name != "sgd" or c.optimizer.momentum != 0 or bool(d and d.cycles_momentum)
            for c, d in zip(self.configs, self.drivers, strict=True)
        ]
        for i, config in enumerate(t.configs):
            spec = resolve(config.scheduler, epochs=self.epochs, steps_per_epoch=self.spe)
            t.emit(RunStarted(i, replace(config, scheduler=spec), str(t.device), data.name, notice))
        try:
            self.setup()
            self.loop()
        except RuntimeError as exc:
            reason = _failure_reason(exc)
            for j in range(self.k):
                if j not in self.ended:
                    self.end_run(j, "failed", reason, self.epochs_done)
        return [self.ended[self.ext.index(i)] for i in range(self.k)]

    def setup(self) -> None:
        t, k, dev, dt = self.t, self.k, self.t.device, self.t.dtype
        st = _Stack(self.configs, t.independent_seeds, dev, dt)
        t._stack = st
        self.st = st
        self.onehot_train = torch.nn.functional.one_hot(self.data.train_y, N_CLASSES).to(dt)
        self.onehot_valid = torch.nn.functional.one_hot(self.data.valid_y, N_CLASSES).to(dt)
        self.fused = self.kinds.count(_FUSED)
        n_sgd = self.fused + self.kinds.count(_SGD_KIND)
        self.families: list[_Family] = []
        if n_sgd > self.fused:
            self.families.append(_SGD(self.configs[self.fused : n_sgd], self.fused, n_sgd, st))
        if n_sgd < k:
            self.families.append(_Adam(self.configs[n_sgd:], n_sgd, k, st))
        seeds = [c.seed for c in self.configs] if t.independent_seeds else [self.configs[0].seed]
        self.gens = [torch.Generator(device=dev).manual_seed(seed) for seed in seeds]

    # ---- the loop

    def mark_dead(self, j: int) -> None:
        """Freeze a run's weights from now on (it ended for a reason other than divergence)."""
        self.st.live[j] = False
        self.st.dead_col[j] = True

    def plan(self, epoch: int) -> None:
        for j, driver in enumerate(self.drivers):
            if j in self.ended or driver is None:
                self.lrs[j] = [0.0] * self.spe
                self.moms[j] = [0.0] * self.spe
                continue
            try:
                self.lrs[j], self.moms[j] = driver.plan_epoch()
            except Exception as exc:  # a scheduler that fails ends its own run only
                self.drivers[j] = None
                self.mark_dead(j)
                self.end_run(j, "failed", f"scheduler: {_failure_reason(exc)}", epoch)
                self.lrs[j] = [0.0] * self.spe
                self.moms[j] = [0.0] * self.spe
        lrs = torch.tensor(self.lrs, dtype=torch.float64).T  # [steps, K]
        moms = torch.tensor(self.moms, dtype=torch.float64).T
        first_step = epoch * self.spe
        for fam in self.families:
            fam.plan(lrs[:, fam.lo : fam.hi], moms[:, fam.lo : fam.hi], first_step)
        # Output-gradient scale per step and run: 1 / b (the mean over the batch), times -lr for
        # the plain SGD runs whose update is folded into the weight-gradient matmul.
        sizes = torch.full((self.spe, 1), float(self.batch), dtype=torch.float64)
        sizes[-1] = self.n_train - (self.spe - 1) * self.batch
        coef = (1.0 / sizes).expand(self.spe, self.k).clone()
        coef[:, : self.fused] = -lrs[:, : self.fused] / sizes
        table = coef.to(self.t.device, self.t.dtype).view(self.spe, self.k, 1, 1)
        self.coef = list(table.unbind(0))

    def loop(self) -> None:
        k, spe, batch, n = self.k, self.spe, self.batch, self.n_train
        st, control = self.st, self.control
        shared = not self.t.independent_seeds
        dev = self.t.device
        total_steps = spe * self.epochs
        train_x, onehot_train = self.data.train_x, self.onehot_train
        input_buffer = st.input_buffer
        copy_t = k >= 4
        families = self.families
        step = st.make_step(self.fused)
        self.elapsed = 0.0
        for epoch in range(self.epochs):
            if control.stopped or len(self.ended) == k:
                break
            self.plan(epoch)
            if shared:
                perm = torch.randperm(n, generator=self.gens[0], device=dev)
            else:
                perm = torch.stack([torch.randperm(n, generator=g, device=dev) for g in self.gens])
            loss_rows = torch.zeros(spe, k, device=dev, dtype=self.t.dtype)
            t0 = time.perf_counter()
            paused = 0.0
            last_report = t0
            done = 0
            for s in range(spe):
                if control.stopped:
                    break
                if control.paused:
                    p0 = time.perf_counter()
                    control.wait_while_paused()
                    paused += time.perf_counter() - p0
                    if control.stopped:
                        break
                lo = s * batch
                hi = min(lo + batch, n)
                b = hi - lo
                if shared:
                    idx = perm[lo:hi]
                    x, x_body, x_t, x_t_body = input_buffer(b)
                    torch.index_select(train_x, 0, idx, out=x_body)
                    if copy_t:  # a contiguous transposed batch makes the K first-layer
                        x_t_body.copy_(x_body.T)  # matmuls faster than a transposed view
                    else:
                        x_t = x.T
                    x, x_t = x.expand(k, *x.shape), x_t.expand(k, *x_t.shape)
                    onehot_t = onehot_train.index_select(0, idx).T
                else:
                    idx = perm[:, lo:hi].reshape(-1)
                    x, x_body, _, _ = input_buffer(k * b)
                    torch.index_select(train_x, 0, idx, out=x_body)
                    x = x.view(k, b, -1)
                    x_t = x.mT
                    onehot_t = onehot_train.index_select(0, idx).view(k, b, -1).mT
                step(x, x_t, onehot_t, b, loss_rows[s], self.coef[s])
                for fam in families:
                    fam.update(s)
                done = s + 1
                now = time.perf_counter()
                if now - last_report >= PROGRESS_EVERY_S:
                    last_report = now
                    self.progress(epoch, done, loss_rows, now - t0 - paused, total_steps)
                    if len(self.ended) == k:  # every run diverged: nothing left to train
                        break
            seconds = time.perf_counter() - t0 - paused
            if done < spe:  # stopped inside the epoch
                self.elapsed += seconds
                self.stop_midway(epoch, done, loss_rows)
                return
            self.end_epoch(epoch, loss_rows, t0, paused)
            self.epochs_done = epoch + 1
        if control.stopped:
            for j in range(k):
                if j not in self.ended:
                    reason = _stop_reason(self.epochs_done, self.epochs)
                    self.end_run(j, "stopped", reason, self.epochs_done)
            return
        for j in range(k):
            if j not in self.ended:
                self.end_run(j, "finished", f"{self.epochs} epochs", self.epochs)

    # ---- reporting points

    def diverged(self, epoch: int, loss_rows: Tensor, done: int, live: list[bool]) -> None:
        """Report the runs found dead since the last look (StepChunk of the steps they took)."""
        for j in range(self.k):
            if live[j] or j in self.ended:
                continue
            column = loss_rows[:done, j]
            bad = (~torch.isfinite(column)).nonzero()
            taken = int(bad[0, 0]) if bad.numel() else done
            value = float(column[taken]) if taken < done else math.nan
            self.chunk(j, epoch, taken)
            self.end_run(
                j,
                "diverged",
                f"loss became {-value} in epoch {epoch + 1} of {self.epochs}, step {taken + 1}",
                self.epochs_done,
            )

    def progress(
        self, epoch: int, done: int, loss_rows: Tensor, seconds: float, total_steps: int
    ) -> None:
        sums = (-loss_rows[:done].sum(0)).tolist()
        live = self.st.live.tolist()
        self.diverged(epoch, loss_rows, done, live)
        seen = min(done * self.batch, self.n_train)
        losses = tuple(
            sums[j] / seen if live[j] and j not in self.ended else math.nan
            for j in self.ext_order()
        )
        self.t.emit(
            Progress(
                epoch=epoch,
                step=done,
                steps_per_epoch=self.spe,
                global_step=epoch * self.spe + done,
                total_steps=total_steps,
                samples_per_s=seen / seconds if seconds > 0 else 0.0,
                train_loss=losses,
                elapsed_s=self.elapsed + seconds,
            )
        )

    def ext_order(self) -> list[int]:
        """Internal positions listed in the caller's run order."""
        return [self.ext.index(i) for i in range(self.k)]

    def stop_midway(self, epoch: int, done: int, loss_rows: Tensor) -> None:
        live = self.st.live.tolist()
        self.diverged(epoch, loss_rows, done, live)
        for j in range(self.k):
            if j not in self.ended:
                self.chunk(j, epoch, done)
                reason = _stop_reason(self.epochs_done, self.epochs, during=epoch)
                self.end_run(j, "stopped", reason, self.epochs_done)

    def evaluate(self) -> tuple[Tensor, Tensor]:
        """Validation loss sums and correct counts per run, in large batches."""
        st, k = self.st, self.k
        n = self.data.n_valid
        widest = max(o for o, _ in st.sizes)
        chunk = max(1, min(n, EVAL_CHUNK_ELEMENTS // (k * widest)))
        loss = torch.zeros(k, device=self.t.device, dtype=self.t.dtype)
        correct = torch.zeros(k, device=self.t.device, dtype=torch.int64)
        x_all, y_all = self.data.valid_x, self.data.valid_y
        for lo in range(0, n, chunk):
            logits = st.forward(x_all[lo : lo + chunk])
            logp = torch.log_softmax(logits, 1)
            loss -= (logp * self.onehot_valid[lo : lo + chunk].T).sum((1, 2))
            correct += (logits.argmax(1) == y_all[lo : lo + chunk]).sum(1)
        return loss, correct

    def end_epoch(self, epoch: int, loss_rows: Tensor, t0: float, paused: float) -> None:
        valid_loss_t, correct_t = self.evaluate()
        train_sum = (-loss_rows.sum(0)).tolist()
        valid_sum = valid_loss_t.tolist()
        correct = correct_t.tolist()
        live = self.st.live.tolist()
        seconds = time.perf_counter() - t0 - paused
        self.elapsed += seconds
        self.diverged(epoch, loss_rows, self.spe, live)
        n_valid = self.data.n_valid
        for j in self.ext_order():
            if j in self.ended:
                continue
            driver = self.drivers[j]
            assert driver is not None
            valid_loss = valid_sum[j] / n_valid
            self.chunk(j, epoch, self.spe)
            plateau: PlateauState | None = None
            ok = math.isfinite(valid_loss)
            if ok:
                try:
                    driver.end_epoch(valid_loss if driver.cadence == "metric" else None)
                    plateau = driver.plateau_state()
                except Exception as exc:
                    self.t.emit(
                        self.epoch_event(j, epoch, train_sum, valid_loss, correct, seconds, None)
                    )
                    self.mark_dead(j)
                    self.end_run(j, "failed", f"scheduler: {_failure_reason(exc)}", epoch + 1)
                    continue
            self.t.emit(
                self.epoch_event(j, epoch, train_sum, valid_loss, correct, seconds, plateau)
            )
            if not ok:
                self.mark_dead(j)
                self.end_run(j, "diverged", f"validation loss became {valid_loss}", epoch + 1)

    def epoch_event(
        self,
        j: int,
        epoch: int,
        train_sum: list[float],
        valid_loss: float,
        correct: list[int],
        seconds: float,
        plateau: PlateauState | None,
    ) -> EpochEnd:
        return EpochEnd(
            run=self.ext[j],
            epoch=epoch,
            train_loss=train_sum[j] / self.n_train,
            valid_loss=valid_loss,
            valid_acc=correct[j] / self.data.n_valid,
            lr=self.lrs[j][0],
            momentum=self.moms[j][0] if self.has_momentum[j] else None,
            seconds=seconds,
            plateau=plateau,
        )


# ------------------------------------------------------------------- steps with given LRs


def train_steps(
    configs: Sequence[RunConfig],
    lrs: Sequence[Sequence[float]],
    on_losses: Callable[[int, list[list[float]]], Iterable[int] | None],
    control: Control | None = None,
    *,
    data: DeviceDataset,
    report_every: int = 10,
    dtype: torch.dtype = torch.float32,
    threads: int | None = None,
) -> int:
    """Train the runs together for len(lrs[i]) optimizer steps, run i at LR lrs[i][s] on step s.

    The same stacked step and vectorized optimizers as `train`, without schedulers, epochs or
    evaluation: one batch a step in the engine's data order (a fresh `randperm` every
    `steps_per_epoch` steps from the shared seed's generator), fresh `init_params` weights, and
    each run's momentum or beta1 constant from its config. Built for the LR range test
    (`lrtui.lrfind`), which supplies its exponential sweep as the table.

    Every `report_every` steps, and once more for the steps left when the loop ends, the host
    reads the device's losses: `on_losses(first_step, losses)` gets losses[i] = run i's mean loss
    per sample of each step since the last call (NaN/inf as computed: a run whose loss is not
    finite is frozen on the device at once). It returns the runs to freeze from the next step on
    (their weights stay as they are), or None. The loop ends after the last step, when every run
    is frozen, or on `control.stop()`; it returns the number of steps taken.
    """
    check_batch(configs)
    k = len(configs)
    if len(lrs) != k:
        raise ValueError(f"lrs: one LR sequence per run ({k}) (got {len(lrs)})")
    steps = len(lrs[0])
    if steps < 1 or any(len(row) != steps for row in lrs):
        raise ValueError("lrs: every run needs the same number of steps, at least 1")
    if report_every < 1:
        raise ValueError(f"report_every: must be an integer >= 1 (got {report_every})")
    control = control if control is not None else Control()
    device = resolve_device(configs[0].device)
    data = _on(data, device, dtype)
    previous_threads = None
    if threads is not None and device.type == "cpu":
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            return _train_steps(configs, lrs, on_losses, control, data, report_every, dtype)
    finally:
        if previous_threads is not None:
            torch.set_num_threads(previous_threads)


def _train_steps(
    configs: Sequence[RunConfig],
    lrs: Sequence[Sequence[float]],
    on_losses: Callable[[int, list[list[float]]], Iterable[int] | None],
    control: Control,
    data: DeviceDataset,
    report_every: int,
    dtype: torch.dtype,
) -> int:
    k, steps, dev = len(configs), len(lrs[0]), data.device
    batch, n = configs[0].batch_size, data.n_train
    spe = steps_per_epoch(n, batch)
    # Internal order as in Trainer.run: plain SGD (folded update), other SGD, Adam/AdamW.
    kinds = [_kind(c, False) for c in configs]
    order = sorted(range(k), key=kinds.__getitem__)
    position = {run: j for j, run in enumerate(order)}
    internal = [configs[i] for i in order]
    st = _Stack(internal, False, dev, dtype)
    fused = kinds.count(_FUSED)
    n_sgd = fused + kinds.count(_SGD_KIND)
    families: list[_Family] = []
    if n_sgd > fused:
        families.append(_SGD(internal[fused:n_sgd], fused, n_sgd, st))
    if n_sgd < k:
        families.append(_Adam(internal[n_sgd:], n_sgd, k, st))
    table = torch.tensor([list(lrs[i]) for i in order], dtype=torch.float64).T  # [steps, K]
    constant = [
        c.optimizer.momentum if c.optimizer.name == "sgd" else c.optimizer.betas[0]
        for c in internal
    ]
    moms = torch.tensor(constant, dtype=torch.float64).repeat(steps, 1)
    for fam in families:
        fam.plan(table[:, fam.lo : fam.hi], moms[:, fam.lo : fam.hi], 0)
    # Rows of each step's batch (the last batch of a pass over the data may be short).
    sizes = torch.full((steps, 1), float(batch), dtype=torch.float64)
    sizes[torch.arange(steps) % spe == spe - 1] = float(n - (spe - 1) * batch)
    coef = (1.0 / sizes).expand(steps, k).clone()
    coef[:, :fused] = -table[:, :fused] / sizes
    coefs = list(coef.to(dev, dtype).view(steps, k, 1, 1).unbind(0))
    onehot_train = torch.nn.functional.one_hot(data.train_y, N_CLASSES).to(dtype)
    train_x = data.train_x
    gen = torch.Generator(device=dev).manual_seed(internal[0].seed)
    step = st.make_step(fused)
    copy_t = k >= 4
    loss_rows = torch.zeros(steps, k, device=dev, dtype=dtype)
    reported = 0
    perm = torch.empty(0, dtype=torch.int64, device=dev)

    def report(done: int) -> bool:
        """Hand the new losses to on_losses; freeze what it asks; True when every run is frozen."""
        nonlocal reported
        # 0 - x rather than -x: a loss of exactly 0 reads +0.0, not -0.0.
        chunk = ((0.0 - loss_rows[reported:done].to(torch.float64).cpu()) / sizes[reported:done]).T
        rows = chunk.tolist()
        freeze = on_losses(reported, [rows[position[i]] for i in range(k)])
        reported = done
        for run in freeze or ():
            j = position[run]
            st.live[j] = False
            st.dead_col[j] = True
        return not bool(st.live.any())

    done = 0
    for s in range(steps):
        if control.paused:
            control.wait_while_paused()
        if control.stopped:
            break
        i = s % spe
        if i == 0:
            perm = torch.randperm(n, generator=gen, device=dev)
        idx = perm[i * batch : min(i * batch + batch, n)]
        b = idx.numel()
        x, x_body, x_t, x_t_body = st.input_buffer(b)
        torch.index_select(train_x, 0, idx, out=x_body)
        if copy_t:
            x_t_body.copy_(x_body.T)
        else:
            x_t = x.T
        onehot_t = onehot_train.index_select(0, idx).T
        step(x.expand(k, *x.shape), x_t.expand(k, *x_t.shape), onehot_t, b, loss_rows[s], coefs[s])
        for fam in families:
            fam.update(s)
        done = s + 1
        if done % report_every == 0 and done < steps and report(done):
            return done
    if done > reported:
        report(done)
    return done
