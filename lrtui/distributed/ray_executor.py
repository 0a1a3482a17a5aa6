"""Run passes of a sweep as Ray tasks, streaming their events to the driver, the only writer.

Each pass is one Ray task (`max_retries=0`: a retried pass would train and report its runs twice)
that asks for one CPU, and one GPU when its runs train on CUDA. On the worker it calls the same
run core as a local run: `runner.prepare` loads the worker's own copy of the dataset (its cache,
`--data-dir` on shared storage, or the sample) and checks the configs, `runner.run_engine` trains.
Every engine event goes into the session's `ray.util.queue.Queue` as `(sweep id, pass, event)`;
the driver drains the queue while the tasks run and records each event through a `Recorder`
(one per pass, one batch id for the whole sweep) before handing it on, so `lrtui runs` and the
app see a Ray sweep as they see a local one, while it trains.

Run indexes: the engine numbers the runs of a pass from 0; the driver renumbers them across the
sweep (pass 1's run 0 is run len(pass 0)), so `RunStarted.run`, the store's batch index and the
returned list follow the order of the passes. Progress events keep their pass's own layout.

Faults, all recorded so every run of the sweep ends with a row and a reason:
- a task that fails (its worker died, its node died, it could not load the dataset) ends the runs
  of its pass `failed` with the reason; the other passes go on;
- `control.stop()` (the CLI's Ctrl+C) cancels the tasks (`ray.cancel`) and ends the open runs
  `stopped`, with the engine's wording;
- a driver-side Ray call that fails (the cluster or the queue gone) ends the open runs
  `interrupted` and raises ClusterLostError; what was recorded stays.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import uuid4

from lrtui.engine import EpochEnd, Event, Progress, RunEnded, RunStarted, RunStatus, StepChunk
from lrtui.engine.control import Control
from lrtui.model import RunConfig
from lrtui.numbering import epoch_number
from lrtui.recorder import Recorder
from lrtui.schedulers import resolve
from lrtui.store import RunGroup, Store

#: Seconds the driver waits on the queue per round (how late an event may be shown).
POLL_S = 0.05
#: Seconds the driver waits for cancelled tasks to end (and their last events to arrive).
CANCEL_WAIT_S = 10.0
#: Seconds to wait for a cluster's address to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 5.0
#: What `--ray` accepts, said in its error message.
ADDRESS_RULE = "must be local, auto, HOST:PORT or ray://HOST:PORT"
_HOST_PORT = re.compile(r"^(ray://)?[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?:[0-9]{1,5}$")


class RayMissingError(ImportError):
    """Ray is not installed here (it is the optional extra `ray`)."""

    def __init__(self) -> None:
        super().__init__("Ray is not installed: pip install 'lrtui[ray]'")


class RayConnectError(Exception):
    """Ray could not be started or reached; str() is one line."""


class ClusterLostError(Exception):
    """The driver lost the Ray cluster (or the event queue) while the sweep trained."""


@dataclass(frozen=True)
class PassPlaced:
    """A pass's task started on a worker: where it trains (the first item it sends)."""

    index: int  # the pass, in the order given
    node: str  # the worker's host name
    ip: str  # the node's address in the cluster
    pid: int  # the worker process


def check_address(text: str) -> str:
    """`--ray`'s value, stripped: local, auto, HOST:PORT or ray://HOST:PORT; ValueError (one
    line, the rule and the value) otherwise. Needs no Ray, so bad input is refused without it."""
    value = text.strip()
    if value in ("local", "auto"):
        return value
    match = _HOST_PORT.match(value)
    if match is None or not 1 <= int(value.rsplit(":", 1)[1]) <= 65535:
        raise ValueError(f"{ADDRESS_RULE} (got {text!r})")
    return value


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayMissingError() from None
    return ray


def connect(address: str, *, num_cpus: int | None = None) -> str:
    """Start (`local`: with this machine's CPUs and GPUs, or `num_cpus`) or join (`auto`, an
    address) a Ray cluster. A cluster's workers get this lrtui package shipped to them
    (`py_modules`), so they run the driver's code; a local Ray's workers import it from here
    (its folder put on their PYTHONPATH: no upload). Returns a line saying what was joined.
    RayMissingError without Ray; RayConnectError when the cluster cannot be reached."""
    ray = _ray()
    package = Path(__file__).resolve().parents[1]
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": "warning",
    }
    if address == "local":
        path = os.pathsep.join(p for p in (str(package.parent), os.environ.get("PYTHONPATH")) if p)
        # address="local": a new Ray even when this machine has a cluster file (ray.init()
        # would join it, or retry a dead one's address for minutes).
        options |= {
            "address": "local",
            "num_cpus": num_cpus,
            "runtime_env": {"env_vars": {"PYTHONPATH": path}},
        }
    else:
        options |= {"address": address, "runtime_env": {"py_modules": [str(package)]}}
    _ray_messages_to_stderr()
    if address not in ("local", "auto"):
        _check_reachable(address)
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        line = _first_line(exc)
        raise RayConnectError(f"cannot reach the Ray cluster at {address}: {line}") from None
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    nodes = len([n for n in ray.nodes() if n.get("Alive")])
    where = "a local Ray" if address == "local" else f"the Ray cluster at {address}"
    return f"{where}: {nodes} node{'s' * (nodes != 1)}, {cpus} CPUs, {gpus} GPUs"


def _check_reachable(address: str) -> None:
    """RayConnectError at once when nothing listens at HOST:PORT: ray.init itself retries an
    unreachable address for minutes."""
    host, port = address.removeprefix("ray://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise RayConnectError(f"cannot reach the Ray cluster at {address}: {why}") from None


def _ray_messages_to_stderr() -> None:
    """Ray's driver prints the cluster's error messages ("(raylet) A worker died ...") on
    stdout, from a thread of its own; lrtui's stdout is its output (JSON lines, the table), so
    they go to stderr instead. Ray keeps no switch for it (log_to_driver leaves these on): this
    wraps its printing function, and does nothing if a Ray version has none by that name."""
    module = sys.modules.get("ray._private.worker")
    original = getattr(module, "print_to_stdstream", None)
    if original is None or getattr(original, "lrtui_stderr", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr.lrtui_stderr = True  # type: ignore[attr-defined]
    module.print_to_stdstream = to_stderr  # type: ignore[union-attr]


def disconnect() -> None:
    """Leave the cluster (a local one stops with it); nothing when Ray is absent or not started."""
    with suppress(RayMissingError):
        ray = _ray()
        _REMOTE.pop("queue", None)  # its actor ends with the session
        if ray.is_initialized():
            ray.shutdown()


# ------------------------------------------------------------------------------- the worker


def _train_pass(
    index: int, configs: list[RunConfig], settings: dict[str, Any], queue: Any
) -> list[RunEnded]:
    """One pass on a Ray worker: the run core with every event sent to the driver's queue."""
    import ray

    from lrtui import runner

    ip: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
    node = socket.gethostname()
    sweep = settings["sweep"]
    queue.put((sweep, index, PassPlaced(index, node, ip, os.getpid())))
    # Ray shows a task only the GPU it was given, as cuda:0.
    configs = [replace(c, device="cuda") if c.device.startswith("cuda:") else c for c in configs]
    engine_kw = dict(settings.get("engine", {}))
    prepared = runner.prepare(
        configs,
        data_dir=settings.get("data_dir"),
        independent_seeds=bool(settings.get("independent_seeds", False)),
        dry_run=False,  # the driver stepped every schedule already
    )

    def send(event: Event) -> None:
        if isinstance(event, RunStarted):
            event = replace(event, device=f"{event.device} (ray node {node})")
        queue.put((sweep, index, event))

    return runner.run_engine(prepared, send, None, **engine_kw)


_REMOTE: dict[str, Any] = {}


def _remote_pass() -> Any:
    """`_train_pass` as a Ray remote function, made once (Ray is imported only when used)."""
    if "pass" not in _REMOTE:
        _REMOTE["pass"] = _ray().remote(max_retries=0)(_train_pass)
    return _REMOTE["pass"]


def _shared_queue() -> Any:
    """The event queue of this Ray session, made once: its actor takes seconds to start, and
    the app may start many sweeps. Items carry their sweep's id, so late items of a cancelled
    sweep are dropped by the next one."""
    if "queue" not in _REMOTE:
        from ray.util.queue import Queue

        _REMOTE["queue"] = Queue(actor_options={"num_cpus": 0})
    return _REMOTE["queue"]


def _wants_gpu(configs: Sequence[RunConfig], cluster_gpus: float) -> int:
    device = configs[0].device
    if device.startswith("cuda"):
        return 1
    return 1 if device == "auto" and cluster_gpus >= 1 else 0


# ------------------------------------------------------------------------------- the driver


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def failure_reason(exc: BaseException) -> str:
    """Why a pass's task failed, in one line ('the Ray worker died: ...', 'DatasetError: ...')."""
    ray = _ray()
    errors = ray.exceptions
    if isinstance(exc, errors.RayTaskError):
        cause = getattr(exc, "cause", None)
        if cause is not None:
            return f"on its Ray worker: {type(cause).__name__}: {_first_line(cause)}"
    if isinstance(exc, errors.WorkerCrashedError):
        return f"the Ray worker died: {_first_line(exc)}"
    if isinstance(exc, errors.NodeDiedError):
        return f"the Ray node died: {_first_line(exc)}"
    return f"on Ray: {type(exc).__name__}: {_first_line(exc)}"


def stop_reason(epochs_done: int, epochs: int, *, started: bool) -> str:
    """The engine's wording for a run stopped by the user (a cancelled task stops mid-epoch)."""
    if not started:
        return f"stopped by user before epoch 1 of {epochs}"
    if epochs_done >= epochs:
        return f"stopped by user after epoch {epochs_done} of {epochs}"
    return f"stopped by user during epoch {epoch_number(epochs_done)} of {epochs}"


class _PassState:
    """What the driver has recorded of one pass."""

    def __init__(self, offset: int, configs: list[RunConfig], recorder: Recorder) -> None:
        self.offset = offset
        self.configs = configs
        self.recorder = recorder
        self.started: set[int] = set()  # sweep run indexes
        self.epochs_done: dict[int, int] = {}
        self.ended: dict[int, RunEnded] = {}

    @property
    def runs(self) -> range:
        return range(self.offset, self.offset + len(self.configs))


class RaySweep:
    """One sweep on Ray: `run()` submits a task per pass and records their events as they come.

    `tasks` (the Ray ObjectRef of each pass, once submitted) and `queue` (the session's event
    queue) are public so tests and tools can watch them; nothing else should touch them."""

    def __init__(
        self,
        passes: Sequence[Sequence[RunConfig]],
        *,
        data_dir: str | None = None,
        independent_seeds: bool | Sequence[bool] = False,
        steps_per_epoch: Sequence[int | None] | None = None,
        groups: Sequence[Sequence[RunGroup | None]] | None = None,
        **engine_kw: Any,
    ) -> None:
        self.passes = [list(p) for p in passes]
        if not self.passes or not all(self.passes):
            raise ValueError("a Ray sweep needs at least one pass, and no empty pass")
        self.data_dir = data_dir
        # per pass (lrtui.runner.PassPlan.independent_seeds), or one value for every pass
        self.independent_seeds = (
            [independent_seeds] * len(self.passes)
            if isinstance(independent_seeds, bool)
            else list(independent_seeds)
        )
        self.groups = list(groups) if groups is not None else [None] * len(self.passes)
        self.steps_per_epoch = list(steps_per_epoch or [None] * len(self.passes))
        self.engine_kw = engine_kw
        self.batch_id = uuid4().hex
        self.tasks: list[Any] = []
        self.queue: Any = None

    def run(
        self,
        store: Store,
        on_event: Callable[[Event, int | None], None],
        control: Control | None = None,
        *,
        on_deleted: Callable[[int, str], None] | None = None,
        before_record: Callable[[Event], Event] | None = None,
        on_placed: Callable[[PassPlaced], None] | None = None,
    ) -> list[RunEnded]:
        """Train every pass on Ray; returns each run's RunEnded in sweep order. Events are
        recorded first, then handed to on_event(event, store id; None for Progress) and
        `on_placed` hears where each pass's task started. ClusterLostError: see the module."""
        ray = _ray()
        from ray.util.queue import Empty

        self.control = control if control is not None else Control()
        self.on_event, self.before_record, self.on_placed = on_event, before_record, on_placed
        with ExitStack() as stack:
            self.states: list[_PassState] = []
            offset = 0
            for index, configs in enumerate(self.passes):
                recorder = stack.enter_context(
                    Recorder(
                        store, batch_id=self.batch_id, on_deleted=on_deleted,
                        groups=self.groups[index],
                    )
                )
                self.states.append(_PassState(offset, configs, recorder))
                offset += len(configs)
            try:
                self.queue = _shared_queue()
                gpus = float(ray.cluster_resources().get("GPU", 0))
                settings = {"sweep": self.batch_id, "data_dir": self.data_dir,
                            "engine": self.engine_kw}  # fmt: skip
                remote = _remote_pass()
                self.tasks = [
                    remote.options(num_cpus=1, num_gpus=_wants_gpu(configs, gpus)).remote(
                        i, configs, {**settings, "independent_seeds": self.independent_seeds[i]},
                        self.queue,
                    )
                    for i, configs in enumerate(self.passes)
                ]
                self._watch(ray, Empty)
            except (ray.exceptions.RaySystemError, ray.exceptions.RayActorError,
                    ConnectionError) as exc:  # fmt: skip
                self._lost(ray, exc)
            except BaseException:  # a second Ctrl+C, a store error: no task trains on unseen
                for task in self.tasks:
                    with suppress(Exception):
                        ray.cancel(task)
                raise
        return [state.ended[run] for state in self.states for run in state.runs]

    # ---- the loop

    def _watch(self, ray: Any, empty: type[Exception]) -> None:
        pending = {task: i for i, task in enumerate(self.tasks)}
        while pending:
            if self.control.stopped:
                self._cancel(ray, empty, list(pending))
                return
            # Which tasks ended, before draining: a task returns only after its last put was
            # taken in, so what it sent is in the queue by now.
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
            self._drain(empty, block=not ready)
            for task in ready:
                index = pending.pop(task)
                try:
                    ray.get(task)
                except ray.exceptions.TaskCancelledError:
                    self._end_open(index, "stopped")
                except ray.exceptions.RayError as exc:
                    self._end_open(index, "failed", failure_reason(exc))
                else:
                    self._end_open(index, "failed", "its Ray task ended without ending this run")

    def _drain(self, empty: type[Exception], *, block: bool) -> None:
        items: list[tuple[str, int, Any]] = []
        if block:
            with suppress(empty):
                items.append(self.queue.get(timeout=POLL_S))
        count = self.queue.qsize()
        if count:
            items += self.queue.get_nowait_batch(count)
        for sweep, index, item in items:
            if sweep != self.batch_id:
                continue  # a late item of an earlier, cancelled sweep
            if isinstance(item, PassPlaced):
                if self.on_placed is not None:
                    self.on_placed(item)
            else:
                self._record(index, item)

    def _record(self, index: int, event: Event) -> None:
        state = self.states[index]
        if isinstance(event, RunStarted | StepChunk | EpochEnd | RunEnded):
            event = replace(event, run=event.run + state.offset)
        if self.before_record is not None:
            event = self.before_record(event)
        state.recorder(event)  # on disk before anyone shows it
        if isinstance(event, RunStarted):
            state.started.add(event.run)
        elif isinstance(event, EpochEnd):
            state.epochs_done[event.run] = event.epoch + 1
        elif isinstance(event, RunEnded):
            state.ended[event.run] = event
        run_id = None if isinstance(event, Progress) else state.recorder.run_ids.get(event.run)
        self.on_event(event, run_id)

    # ---- faults

    def _end_open(self, index: int, status: RunStatus, reason: str = "") -> None:
        """End every run of a pass that has no RunEnded yet (a run that never started gets its
        row first, so the sweep's history has every run)."""
        state = self.states[index]
        for run in state.runs:
            if run in state.ended:
                continue
            config = state.configs[run - state.offset]
            done = state.epochs_done.get(run, 0)
            if run not in state.started:
                self._record(index, self._never_started(index, run - state.offset))
            why = reason
            if status == "stopped":
                why = stop_reason(done, config.epochs, started=run in state.started)
            self._record(index, RunEnded(run - state.offset, status, why, done))

    def _never_started(self, index: int, run: int) -> RunStarted:
        """The RunStarted a run would have sent, from the driver's knowledge of it."""
        config = self.passes[index][run]
        spe = self.steps_per_epoch[index] if index < len(self.steps_per_epoch) else None
        if spe:
            with suppress(Exception):  # the driver checked it; keep the config as given if not
                spec = resolve(config.scheduler, epochs=config.epochs, steps_per_epoch=spe)
                config = replace(config, scheduler=spec)
        return RunStarted(run, config, f"{config.device} (ray)", config.dataset, None, spe or 0)

    def _cancel(self, ray: Any, empty: type[Exception], tasks: list[Any]) -> None:
        """Stop asked: cancel the tasks, take in what they sent, end the rest `stopped`."""
        for task in tasks:
            with suppress(Exception):
                ray.cancel(task)
        ray.wait(tasks, num_returns=len(tasks), timeout=CANCEL_WAIT_S)
        self._drain(empty, block=False)
        for index in range(len(self.states)):
            self._end_open(index, "stopped")

    def _lost(self, ray: Any, exc: BaseException) -> None:
        _REMOTE.pop("queue", None)
        with suppress(Exception):
            ray.kill(self.queue.actor)
        for task in self.tasks:
            with suppress(Exception):
                ray.cancel(task, force=True)
        reason = f"lost the Ray cluster: {_first_line(exc)}"
        for state in self.states:  # what was recorded stays; the open runs end interrupted
            state.recorder.close("interrupted", reason)
        raise ClusterLostError(reason) from None


def train_passes(
    passes: Sequence[Sequence[RunConfig]],
    store: Store,
    on_event: Callable[[Event, int | None], None],
    control: Control | None = None,
    *,
    data_dir: str | None = None,
    independent_seeds: bool | Sequence[bool] = False,
    steps_per_epoch: Sequence[int | None] | None = None,
    groups: Sequence[Sequence[RunGroup | None]] | None = None,
    on_deleted: Callable[[int, str], None] | None = None,
    before_record: Callable[[Event], Event] | None = None,
    on_placed: Callable[[PassPlaced], None] | None = None,
    **engine_kw: Any,
) -> list[RunEnded]:
    """`RaySweep(passes, ...).run(store, on_event, control, ...)`: the passes trained on the
    Ray cluster `connect` joined, recorded in `store` (see the module)."""
    sweep = RaySweep(
        passes,
        data_dir=data_dir,
        independent_seeds=independent_seeds,
        steps_per_epoch=steps_per_epoch,
        groups=groups,
        **engine_kw,
    )
    return sweep.run(
        store,
        on_event,
        control,
        on_deleted=on_deleted,
        before_record=before_record,
        on_placed=on_placed,
    )
