"""Dataclass messages from the training, range-test and preview workers to the UI thread.

The training worker posts one message per engine event (toolong-style: `Progress` floods merge
through `can_replace`, so a slow UI only ever draws the newest progress). `job` tells one train()
call from the next, so late messages of a stopped job never touch a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from lrtui.app.session import PreviewCurve
from lrtui.engine import EpochEnd, Progress, RunEnded, RunStarted, StepChunk
from lrtui.lrfind import RangeTestProgress


@dataclass
class RunBegan(Message):
    """A run of the job started; `run_id` is its store id (the Recorder wrote it already)."""

    job: int
    run_id: int
    event: RunStarted


@dataclass
class StepsArrived(Message):
    """A chunk of per-step LRs (and momentum) of one run."""

    job: int
    run_id: int
    event: StepChunk


@dataclass
class EpochDone(Message):
    """One run finished an epoch (already committed to the store)."""

    job: int
    run_id: int
    event: EpochEnd


@dataclass
class RunFinished(Message):
    """One run ended: finished, stopped, diverged or failed."""

    job: int
    run_id: int
    event: RunEnded


@dataclass
class RunDropped(Message):
    """Another process deleted a run of the job from the store: it is no longer written."""

    job: int
    run_id: int
    text: str


@dataclass
class ProgressUpdated(Message):
    """Where the job stands; a newer one replaces an older one still in the queue."""

    job: int
    event: Progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProgressUpdated) and message.job == self.job


@dataclass
class PreviewReady(Message):
    """The form's exact schedule, computed off the UI thread; `token` drops stale results."""

    token: int
    curve: PreviewCurve | None
    error: str | None = None

    def can_replace(self, message: Message) -> bool:
        # Preview threads can finish out of order: only a newer form's preview supersedes this.
        return isinstance(message, PreviewReady) and message.token >= self.token


@dataclass
class RangeTestProgressed(Message):
    """Where the range test `job` stands; a newer one replaces an older one still queued."""

    job: int
    progress: RangeTestProgress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RangeTestProgressed) and message.job == self.job
