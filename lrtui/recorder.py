"""Engine events → run history: the callback that writes a training call to the store as it goes.

Each run's row is inserted at RunStarted (status `running`); every EpochEnd commits that epoch
and its per-step LRs in one transaction; RunEnded closes the row. A process killed mid-training
therefore loses at most the epoch in progress; the next Store() open marks the run `interrupted`.

A run that another process deletes while it trains (`lrtui runs delete --force`) is no longer
written (`on_deleted` hears of it once) and the others go on; any other store error (the file
deleted or replaced, a full disk, a damaged file) propagates and stops the training.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any

import torch

from lrtui.engine import EpochEnd, Event, Progress, RunEnded, RunStarted, StepChunk, family_of
from lrtui.store import (
    EpochRecord,
    NewRun,
    RunDeletedError,
    RunGroup,
    Status,
    StepsRecord,
    Store,
    StoreError,
)


def _merge_chunks(chunks: list[StepChunk]) -> tuple[int, list[float], list[float] | None]:
    """(first in-epoch step, LRs, momenta) of one epoch's chunks, in step order."""
    ordered = sorted(chunks, key=lambda c: c.first_step)
    lr: list[float] = []
    momentum: list[float] | None = [] if all(c.momentum is not None for c in ordered) else None
    for chunk in ordered:
        lr.extend(chunk.lr)
        if momentum is not None and chunk.momentum is not None:
            momentum.extend(chunk.momentum)
    return ordered[0].first_step, lr, momentum


class Recorder:
    """The `on_event` callback for one `train()` call (all its runs share one batch id).

    Call it with every event, on the training thread; Progress events are ignored. Use it as a
    context manager (or call close()) so runs that never got a RunEnded — an exception in training,
    Ctrl-C — are closed as `failed` / `interrupted` instead of staying `running`.
    Store errors propagate: losing history silently would be worse than stopping. The one
    exception is a run deleted by another process: `on_deleted(engine run, message)` is called
    once and that run is no longer written (the engine still trains it; its events go on).
    """

    def __init__(
        self,
        store: Store,
        *,
        batch_id: str | None = None,
        on_deleted: Callable[[int, str], None] | None = None,
        groups: Sequence[RunGroup | None] | None = None,
    ) -> None:
        self.store = store
        #: engine run index -> its group (seeds and sweeps), stored with the run.
        self.groups = list(groups) if groups is not None else []
        self.batch_id = batch_id or uuid.uuid4().hex
        self.on_deleted = on_deleted
        #: engine runs whose store row another process deleted, with the message said about it.
        self.deleted: dict[int, str] = {}
        #: engine run index → store run id, filled as RunStarted events arrive.
        self.run_ids: dict[int, int] = {}
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}  # engine run → time.monotonic() at RunStarted
        self._pending: dict[int, list[StepChunk]] = {}  # engine run → chunks of epochs in progress
        self._open: set[int] = set()  # engine runs started and not yet ended
        # Optimizer steps per epoch (shared by the runs of one call), to number steps globally:
        # from Progress, or from the chunks of the first complete epoch.
        self._steps_per_epoch: int | None = None

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, RunStarted):
                self._run_started(event)
            elif isinstance(event, StepChunk):
                if event.run not in self.deleted:
                    self._pending.setdefault(event.run, []).append(event)
            elif isinstance(event, EpochEnd):
                if event.run not in self.deleted:
                    self._written(event.run, lambda: self._epoch_end(event))
            elif isinstance(event, RunEnded):
                if event.run in self.deleted:
                    self._open.discard(event.run)
                else:
                    self._written(event.run, lambda: self._run_ended(event))
            elif isinstance(event, Progress) and self._steps_per_epoch is None:
                self._steps_per_epoch = event.steps_per_epoch

    def _written(self, run: int, write: Callable[[], None]) -> None:
        """Do one write of `run`; a run deleted meanwhile is dropped from the record, once."""
        try:
            write()
        except RunDeletedError as exc:
            self.deleted[run] = str(exc)
            self._open.discard(run)
            self._pending.pop(run, None)
            if self.on_deleted is not None:
                self.on_deleted(run, str(exc))

    def _run_started(self, event: RunStarted) -> None:
        config = event.config
        run_id = self.store.start_run(
            NewRun(
                batch_id=self.batch_id,
                batch_index=event.run,
                label=config.label,
                scheduler=str(config.scheduler),
                optimizer=config.optimizer.name,
                lr=config.lr,
                dataset=event.dataset,
                device=event.device,
                epochs=config.epochs,
                config=config.to_dict(),
                torch_version=torch.__version__,
                notice=event.notice,
                model=config.model,
                model_shape=family_of(config).shape(config),
                **_group_fields(self.groups[event.run] if event.run < len(self.groups) else None),
            )
        )
        if event.steps_per_epoch and self._steps_per_epoch is None:
            self._steps_per_epoch = event.steps_per_epoch
        self.run_ids[event.run] = run_id
        self._started[event.run] = time.monotonic()
        self._pending[event.run] = []
        self._open.add(event.run)

    def _take_steps(self, run: int, epoch: int, *, complete: bool) -> StepsRecord | None:
        """The epoch's pending chunks as one row numbered by global step (StepChunk.first_step
        counts within the epoch). None when there are none, or when an unfinished epoch cannot
        be placed because the steps per epoch are still unknown."""
        chunks = self._pending.get(run, [])
        mine = [c for c in chunks if c.epoch == epoch]
        self._pending[run] = [c for c in chunks if c.epoch != epoch]
        if not mine:
            return None
        first, lr, momentum = _merge_chunks(mine)
        if complete and first == 0 and self._steps_per_epoch is None:
            self._steps_per_epoch = len(lr)
        spe = self._steps_per_epoch
        if spe is None and epoch > 0:
            return None
        return StepsRecord(
            epoch=epoch,
            first_step=epoch * (spe or 0) + first,
            lr=tuple(lr),
            momentum=None if momentum is None else tuple(momentum),
        )

    def _epoch_end(self, event: EpochEnd) -> None:
        self.store.record_epoch(
            self.run_ids[event.run],
            epoch_record(event),
            self._take_steps(event.run, event.epoch, complete=True),
            steps_per_epoch=self._steps_per_epoch,
        )

    def _run_ended(self, event: RunEnded) -> None:
        self._end(event.run, event.status, event.reason)

    def _end(self, run: int, status: Status, reason: str) -> None:
        run_id = self.run_ids[run]
        # Steps of an epoch that never ended (stopped or diverged midway) are kept: they are the
        # LRs the run really used before it stopped.
        for epoch in sorted({c.epoch for c in self._pending.get(run, [])}):
            steps = self._take_steps(run, epoch, complete=False)
            if steps is not None:
                self.store.record_steps(run_id, steps)
        self.store.end_run(
            run_id,
            status,
            reason,
            seconds=time.monotonic() - self._started[run],
            steps_per_epoch=self._steps_per_epoch,
        )
        self._open.discard(run)

    def close(self, status: Status = "interrupted", reason: str = "") -> list[int]:
        """End every run still open with `status`; returns their store ids."""
        with self._lock:
            closed = []
            for run in sorted(self._open):
                why = reason or "training ended before this run did"
                self._written(run, partial(self._end, run, status, why))
                if run not in self.deleted:
                    closed.append(self.run_ids[run])
            return closed

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # Already unwinding: closing must not replace the first error with a second one (a
        # full disk or a deleted file fails the closing writes too).
        try:
            if isinstance(exc, KeyboardInterrupt):
                self.close("interrupted", "interrupted by Ctrl-C")
            elif isinstance(exc, StoreError):
                self.close("interrupted", f"the run history could not be written: {exc}")
            else:
                self.close("failed", f"{type(exc).__name__}: {exc}")
        except StoreError:
            pass


def epoch_record(event: EpochEnd) -> EpochRecord:
    """The store's row for an epoch-end event (the app's charts keep the same rows)."""
    plateau = event.plateau
    return EpochRecord(
        epoch=event.epoch,
        train_loss=event.train_loss,
        valid_loss=event.valid_loss,
        valid_acc=event.valid_acc,
        lr=event.lr,
        momentum=event.momentum,
        seconds=event.seconds,
        plateau_best=None if plateau is None else plateau.best,
        plateau_num_bad_epochs=None if plateau is None else plateau.num_bad_epochs,
        plateau_cooldown_counter=None if plateau is None else plateau.cooldown_counter,
    )


def _group_fields(group: RunGroup | None) -> dict[str, Any]:
    """NewRun's group columns for a run (none for a run outside any group)."""
    if group is None:
        return {}
    return {
        "group_id": group.id,
        "group_label": group.label,
        "seed_index": group.seed_index,
        "sweep": group.sweep,
    }
