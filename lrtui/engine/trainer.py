"""Training calls: K run configs, each with its own real torch scheduler, in one vectorized pass.

Each run's LR (and momentum / beta1 where a scheduler cycles it) is read once per epoch from its
own `lrtui.schedulers.ScheduleDriver` into tables that the stacked optimizers use step by step, so
the result equals the plain PyTorch loop (nn.Module, torch.optim, scheduler.step()) to rounding;
tests/test_engine.py and tests/test_cnn.py check it in float64. The host reads the device's losses
only at reporting points (about every PROGRESS_EVERY_S seconds and at each epoch end).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import torch
from torch import Tensor

from lrtui.data import DeviceDataset, load_with_fallback, to_device
from lrtui.engine.control import Control
from lrtui.engine.devices import on_device, resolve_device
from lrtui.engine.events import (
    EpochEnd,
    Event,
    Progress,
    RunEnded,
    RunStarted,
    RunStatus,
    StepChunk,
)
from lrtui.engine.loop import Pass, steps_per_epoch
from lrtui.engine.models import MODELS, family_of
from lrtui.engine.optim import optimizer_class
from lrtui.model import RunConfig, validate_config
from lrtui.numbering import counted, epoch_number, step_number
from lrtui.schedulers import PlateauState, ScheduleDriver, resolve

#: Seconds between Progress events (and between the host's looks at the device's loss sums).
PROGRESS_EVERY_S = 0.25
#: Loss checks per epoch for the divergence rule (RunConfig.diverge_loss / diverge_checks).
LOSS_CHECKS_PER_EPOCH = 4
#: Below this much work per step (runs x multiply-adds per sample) a CPU step runs on one thread.
SMALL_STEP_WORK = 150_000


def cpu_threads(k: int, hidden: Sequence[int], model: str = "mlp") -> int | None:
    """Intra-op threads for training k runs on the CPU: 1 when a step is small, else torch's own.

    A step of one or a few runs is a chain of small ops; on more than one thread each of them
    waits for the others at a fork/join, which costs far more than it saves, and a great deal on
    a machine whose other cores are busy. Big stacked matmuls (many runs) do gain from threads.
    """
    work = MODELS[model].work(RunConfig(model=model, hidden=tuple(hidden)))
    return 1 if k * work < SMALL_STEP_WORK else None


def check_batch(configs: Sequence[RunConfig], *, independent_seeds: bool = False) -> None:
    """Raise ValueError unless the configs can train together in one vectorized pass."""
    if not configs:
        raise ValueError("train: no run configs given")
    first = configs[0]
    shared = ["model", "dataset", "batch_size", "epochs", "device"]
    for i, config in enumerate(configs):
        problems = validate_config(config)
        if problems:
            field, message = next(iter(problems.items()))
            raise ValueError(f"run {i}: {field}: {message}")
    if family_of(first).uses_hidden:
        shared.insert(2, "hidden")
    if not independent_seeds:
        shared.append("seed")
    for i, config in enumerate(configs):
        for name in shared:
            if getattr(config, name) != getattr(first, name):
                hint = " (or pass independent_seeds=True)" if name == "seed" else ""
                raise ValueError(
                    f"runs trained together must share {name}{hint}: run 0 has "
                    f"{getattr(first, name)!r}, run {i} has {getattr(config, name)!r}"
                )


def _stop_reason(epochs_done: int, epochs: int, *, during: int | None = None) -> str:
    """Why a run ended `stopped`, counting epochs from 1 like the logs ('9 of 25 done'):
    'stopped by user during epoch 10 of 25' (inside 0-based epoch `during`), else
    'stopped by user after epoch 9 of 25' ('before epoch 1 of 25' when none had run)."""
    if during is not None:
        return f"stopped by user during epoch {epoch_number(during)} of {epochs}"
    if epochs_done == 0:
        return f"stopped by user before epoch 1 of {epochs}"
    return f"stopped by user after epoch {epochs_done} of {epochs}"


def _failure_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, torch.OutOfMemoryError):
        return f"out of memory: {text} (try fewer runs or a smaller batch)"
    return f"{type(exc).__name__}: {text}"


class _CallbackError(Exception):
    """Wraps an exception raised by on_event so the loop never mistakes it for a device error."""


class _Settings:
    """Restores torch's global switches a call changed (threads, TF32) when it ends."""

    def __init__(self, device: torch.device, threads: int | None, fast: bool) -> None:
        self.device, self.threads, self.fast = device, threads, fast
        self.previous_threads: int | None = None
        self.previous_precision: str | None = None

    def __enter__(self) -> None:
        if self.fast and self.device.type == "cuda":
            self.previous_precision = torch.backends.cuda.matmul.fp32_precision
            torch.backends.cuda.matmul.fp32_precision = "tf32"
        if self.threads is not None and self.device.type == "cpu":
            self.previous_threads = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        if self.previous_precision is not None:
            torch.backends.cuda.matmul.fp32_precision = self.previous_precision
        if self.previous_threads is not None:
            torch.set_num_threads(self.previous_threads)


class Trainer:
    """One training call: K run configs trained together. `train()` is `Trainer(...).run()`.

    After (or during) `run()`, `params(run)` gives a run's parameters in the plain module's
    `parameters()` order and layout (e.g. MLP(hidden): weight [out, in], bias [out]), to compare
    with a plain PyTorch loop.

    Defaults: every run starts from the weights `torch.manual_seed(seed); Module()` draws
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
        self._pass: Pass | None = None

    def run(self) -> list[RunEnded]:
        """Train every run to its end; returns each run's RunEnded, in config order.

        An exception raised by `on_event` stops training and propagates unchanged. A RuntimeError
        from torch in the loop (out of memory, a device error) ends every live run `failed`.
        """
        try:
            with _Settings(self.device, self.threads, self.fast), torch.no_grad():
                return _EpochLoop(self).run()
        except _CallbackError as exc:
            cause = exc.__cause__
            assert cause is not None
            raise cause from None

    def params(self, run: int) -> list[Tensor]:
        """Copies of the run's parameters, in the plain module's `parameters()` order."""
        if self._pass is None:
            raise RuntimeError("Trainer.params: run() has not started")
        return self._pass.model.params(self._pass.internal(run))

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
        return on_device(data, self.device, self.dtype), self._notice


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


class _EpochLoop:
    """The epochs of one Trainer.run(); indexes here are internal run positions (Pass.order)."""

    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        self.control = trainer.control
        self.k = len(trainer.configs)
        first = trainer.configs[0]
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
            for c in t.configs
        ]
        for i, config in enumerate(t.configs):
            spec = resolve(config.scheduler, epochs=self.epochs, steps_per_epoch=self.spe)
            t.emit(
                RunStarted(
                    i,
                    replace(config, scheduler=spec),
                    str(t.device),
                    data.name,
                    notice,
                    self.spe,
                )
            )
        self.ext = list(range(self.k))
        try:
            cycles = [d.cycles_momentum for d in drivers]
            self.pass_ = Pass(
                t.configs, data, independent_seeds=t.independent_seeds, cycles_momentum=cycles
            )
            t._pass = self.pass_
            self.ext = self.pass_.order
            self.configs = self.pass_.configs
            self.drivers: list[ScheduleDriver | None] = [drivers[i] for i in self.ext]
            self.has_momentum = [
                optimizer_class(c).has_momentum(c) or bool(d and d.cycles_momentum)
                for c, d in zip(self.configs, self.drivers, strict=True)
            ]
            self.setup_loss_checks()
            self.loop()
        except RuntimeError as exc:
            reason = _failure_reason(exc)
            for j in range(self.k):
                if j not in self.ended:
                    self.end_run(j, "failed", reason, self.epochs_done)
        return [self.ended[self.ext.index(i)] for i in range(self.k)]

    # ---- the loop

    def setup_loss_checks(self) -> None:
        """The divergence rule's state, on the device: a check every `check_every` steps (and
        at each epoch's end) compares each run's mean loss per sample since the last check with
        its diverge_loss; `diverge_checks` checks over it in a row freeze the run."""
        dev, dt = self.t.device, self.t.dtype
        self.check_every = max(1, self.spe // LOSS_CHECKS_PER_EPOCH)
        limits = [c.diverge_loss for c in self.configs]
        self.checking = any(math.isfinite(x) for x in limits)
        self.limit = torch.tensor(limits, dtype=torch.float64).to(dev, dt)
        self.checks_needed = torch.tensor([c.diverge_checks for c in self.configs], device=dev)
        self.streak = torch.zeros(self.k, dtype=torch.int64, device=dev)
        self.froze_at = torch.full((self.k,), -1, dtype=torch.int64, device=dev)
        self.froze_loss = torch.zeros(self.k, dtype=dt, device=dev)
        self.last_check = 0

    def check_loss(self, epoch: int, loss_rows: Tensor, done: int) -> None:
        """One check of the divergence rule, on the device (no host sync)."""
        lo, self.last_check = self.last_check, done
        samples = min(done * self.batch, self.n_train) - lo * self.batch
        mean = loss_rows[lo:done].sum(0).div_(-samples)
        self.streak.add_(1).mul_(mean > self.limit)
        model = self.pass_.model
        newly = (self.streak >= self.checks_needed).logical_and_(model.live)
        self.froze_at.masked_fill_(newly, epoch * self.spe + done)
        torch.where(newly, mean, self.froze_loss, out=self.froze_loss)
        model.live.logical_and_(newly.logical_not_())
        torch.logical_not(model.live, out=model.dead_col.view(-1))

    def mark_dead(self, j: int) -> None:
        """Freeze a run's weights from now on (it ended for a reason other than divergence)."""
        self.pass_.freeze(j)

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
        self.pass_.plan(lrs, moms, epoch * self.spe)

    def loop(self) -> None:
        k, spe = self.k, self.spe
        control = self.control
        total_steps = spe * self.epochs
        self.elapsed = 0.0
        for epoch in range(self.epochs):
            if control.stopped or len(self.ended) == k:
                break
            self.plan(epoch)
            loss_rows = torch.zeros(spe, k, device=self.t.device, dtype=self.t.dtype)
            t0 = last_report = self.t0 = time.perf_counter()
            self.last_check = 0

            def after_step(
                done: int, paused: float, epoch: int = epoch, rows: Tensor = loss_rows
            ) -> bool:
                nonlocal last_report
                if self.checking and (done % self.check_every == 0 or done == spe):
                    self.check_loss(epoch, rows, done)
                now = time.perf_counter()
                if now - last_report < PROGRESS_EVERY_S:
                    return False
                last_report = now
                self.progress(epoch, done, rows, now - self.t0 - paused, total_steps)
                return len(self.ended) == k  # every run diverged: nothing left to train

            done, paused = self.pass_.run(spe, loss_rows, control, after_step)
            seconds = time.perf_counter() - t0 - paused
            if done < spe:  # stopped inside the epoch (or every run ended)
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
                self.end_run(j, "finished", counted(self.epochs, "epoch"), self.epochs)

    # ---- reporting points

    def diverged(self, epoch: int, loss_rows: Tensor, done: int, live: list[bool]) -> None:
        """Report the runs found dead since the last look (StepChunk of the steps they took):
        a loss that turned NaN/inf, or one that stayed above the run's diverge_loss."""
        froze_at: list[int] | None = None
        for j in range(self.k):
            if live[j] or j in self.ended:
                continue
            if self.checking:
                if froze_at is None:
                    froze_at = self.froze_at.tolist()
                if froze_at[j] >= 0:
                    self.exploded(j, epoch, froze_at[j] - epoch * self.spe)
                    continue
            column = loss_rows[:done, j]
            bad = (~torch.isfinite(column)).nonzero()
            taken = int(bad[0, 0]) if bad.numel() else done
            value = float(column[taken]) if taken < done else math.nan
            self.chunk(j, epoch, taken)
            self.end_run(
                j,
                "diverged",
                f"loss became {-value} in epoch {epoch_number(epoch)} of {self.epochs}, step "
                f"{step_number(taken)}",
                self.epochs_done,
            )

    def exploded(self, j: int, epoch: int, taken: int) -> None:
        """End a run the divergence rule froze after step `taken` of the epoch."""
        config = self.configs[j]
        loss = float(self.froze_loss[j])
        self.chunk(j, epoch, taken)
        self.end_run(
            j,
            "diverged",
            f"loss {loss:.4g} stayed above {config.diverge_loss:.4g} for {config.diverge_checks}"
            f" loss check{'s' if config.diverge_checks != 1 else ''} in a row (epoch"
            f" {epoch_number(epoch)} of {self.epochs}, step {taken})",
            self.epochs_done,
        )

    def progress(
        self, epoch: int, done: int, loss_rows: Tensor, seconds: float, total_steps: int
    ) -> None:
        sums = (-loss_rows[:done].sum(0)).tolist()
        live = self.pass_.model.live.tolist()
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
        live = self.pass_.model.live.tolist()
        self.diverged(epoch, loss_rows, done, live)
        for j in range(self.k):
            if j not in self.ended:
                self.chunk(j, epoch, done)
                reason = _stop_reason(self.epochs_done, self.epochs, during=epoch)
                self.end_run(j, "stopped", reason, self.epochs_done)

    def end_epoch(self, epoch: int, loss_rows: Tensor, t0: float, paused: float) -> None:
        valid_loss_t, correct_t = self.pass_.model.evaluate()
        train_sum = (-loss_rows.sum(0)).tolist()
        valid_sum = valid_loss_t.tolist()
        correct = correct_t.tolist()
        live = self.pass_.model.live.tolist()
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

    The same step loop (`lrtui.engine.loop.Pass`) as `train`, without schedulers, epochs or
    evaluation: one batch a step in the engine's data order (a fresh `randperm` every
    `steps_per_epoch` steps from the shared seed's generator), fresh initial weights, and each
    run's momentum or beta1 constant from its config. Built for the LR range test
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
    data = on_device(data, device, dtype)
    with _Settings(device, threads, False), torch.no_grad():
        return _train_steps(configs, lrs, on_losses, control, data, report_every)


def _train_steps(
    configs: Sequence[RunConfig],
    lrs: Sequence[Sequence[float]],
    on_losses: Callable[[int, list[list[float]]], Iterable[int] | None],
    control: Control,
    data: DeviceDataset,
    report_every: int,
) -> int:
    k, steps = len(configs), len(lrs[0])
    pass_ = Pass(configs, data)
    position = {run: j for j, run in enumerate(pass_.order)}
    table = torch.tensor([list(lrs[i]) for i in pass_.order], dtype=torch.float64).T
    constant = [optimizer_class(c).initial_momentum(c) for c in pass_.configs]
    moms = torch.tensor(constant, dtype=torch.float64).repeat(steps, 1)
    sizes = pass_.batch_rows(0, steps)
    pass_.plan(table, moms, 0)
    loss_rows = torch.zeros(steps, k, device=data.device, dtype=data.train_x.dtype)
    reported = 0

    def report(done: int) -> bool:
        """Hand the new losses to on_losses; freeze what it asks; True when every run is frozen."""
        nonlocal reported
        # 0 - x rather than -x: a loss of exactly 0 reads +0.0, not -0.0.
        chunk = ((0.0 - loss_rows[reported:done].to(torch.float64).cpu()) / sizes[reported:done]).T
        rows = chunk.tolist()
        freeze = on_losses(reported, [rows[position[i]] for i in range(k)])
        reported = done
        for run in freeze or ():
            pass_.freeze(position[run])
        return not bool(pass_.model.live.any())

    def after_step(done: int, paused: float) -> bool:
        return done % report_every == 0 and done < steps and report(done)

    done, _ = pass_.run(steps, loss_rows, control, after_step)
    if done > reported:
        report(done)
    return done
