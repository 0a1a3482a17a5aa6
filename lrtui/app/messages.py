"""Dataclass messages from the training, range-test and preview workers to the UI thread.

The training worker posts one `EngineEvent` per engine event (toolong-style: `Progress` floods
merge through `can_replace`, so a slow UI only ever draws the newest progress). `job` tells one
train() call from the next, so late messages of a stopped job never touch a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.message_pump import MessagePump

from lrtui.engine import Event, Progress
from lrtui.lrfind import RangeTestProgress
from lrtui.session import PreviewCurve


@dataclass
class EngineEvent(Message):
    """One engine event of training job `job` (`run_id`: its run's store id, None for Progress;
    the Recorder wrote it already). The session applies it (`lrtui.session.TrainingJobs.apply`).
    A newer Progress replaces an older one of the same job still in the queue."""

    job: int
    run_id: int | None
    event: Event

    def can_replace(self, message: Message) -> bool:
        return (isinstance(self.event, Progress) and isinstance(message, EngineEvent)
                and isinstance(message.event, Progress) and message.job == self.job)


@dataclass
class PassStarted(Message):
    """Pass `index` of `passes` of training job `job` starts, with `runs` runs in it."""

    job: int
    index: int
    passes: int
    runs: int


@dataclass
class RunDropped(Message):
    """Another process deleted a run of the job from the store: it is no longer written."""

    job: int
    run_id: int
    text: str


@dataclass
class TrainingNotice(Message):
    """A line for the log about training job `job` that is no engine event (where it trains)."""

    job: int
    text: str


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


@dataclass
class LrChosen(Message):
    """The range-test view asks for an LR in the form: field `key` ("lr", "param:max_lr",
    "param:base_lr") set to `value`, after switching the scheduler to `switch_to` if given. The
    App owns the form; it answers `reply_to` with an `LrApplied`."""

    key: str
    value: float
    switch_to: str | None
    source: str
    reply_to: MessagePump


@dataclass
class LrApplied(Message):
    """What the form did with an `LrChosen`, in one line, and its scheduler now."""

    line: str
    scheduler: str
