"""`lrtui run --ray [ADDRESS]`: the command's hook into lrtui.distributed (kept apart from run.py
so the rest of the command stays one local path).

The driver checks every config as a local run would (on the CPU: it needs no GPU of its own),
joins Ray, and hands the passes to the Ray executor instead of `runner.train`; the printer, the
store and the exit codes are the local ones. Until the runs are split into passes that fit one
device (the seeds and sweeps work), the runs of one command are one pass, as they are locally.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lrtui.commands import UsageError, say
from lrtui.model import RunConfig

if TYPE_CHECKING:
    from lrtui.engine import Control, Event, RunEnded
    from lrtui.runner import Prepared
    from lrtui.store import RunGroup, Store


class RayRunError(Exception):
    """Ray could not be reached, or was lost while training: one line, exit 1."""


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="train on Ray, one task per pass: local (the default; starts Ray with this "
        "machine's CPUs and GPUs), auto (a running cluster, e.g. after `ray start --head`), "
        "HOST:PORT or ray://HOST:PORT; needs pip install 'lrtui[ray]'",
    )


def address_of(args: argparse.Namespace) -> str | None:
    """The checked `--ray` address, or None without --ray (bad value, or no Ray: UsageError)."""
    text = getattr(args, "ray", None)
    if text is None:
        return None
    from lrtui.distributed import check_address

    try:
        address = check_address(text)
    except ValueError as exc:
        raise UsageError(f"--ray: {exc}") from None
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UsageError("--ray: Ray is not installed: pip install 'lrtui[ray]'") from None
    return address


def join(address: str) -> None:
    """Start or join Ray before anything is written (RayRunError: one line, exit 1)."""
    from lrtui.distributed import RayConnectError, connect

    try:
        say(f"lrtui: training on {connect(address)}")
    except RayConnectError as exc:
        raise RayRunError(str(exc)) from None


def train(
    passes: Sequence[Sequence[RunConfig]],
    prepared: Sequence[Prepared],
    groups: Sequence[Sequence[RunGroup | None]],
    store: Store,
    on_event: Callable[[Event, int | None], None],
    control: Control,
    *,
    data_dir: str | None,
    on_deleted: Callable[[int, str], None],
    before_record: Callable[[Event], Event],
    before_say: Callable[[], None],
) -> list[RunEnded]:
    """Train the planned passes (`lrtui.runner.plan_passes`, checked here as `prepared`), one
    Ray task each, on the Ray `join` joined, then leave it; RayRunError when the cluster is
    lost. Runs are numbered across the passes in order, as the command numbers them."""
    from lrtui.distributed import ClusterLostError, PassPlaced, disconnect, train_passes

    firsts = [sum(len(p) for p in passes[:i]) for i in range(len(passes))]

    def on_placed(placed: PassPlaced) -> None:
        before_say()
        first = firsts[placed.index]
        last = first + len(passes[placed.index]) - 1
        runs = f"run {first}" if first == last else f"runs {first}-{last}"
        say(
            f"lrtui: pass {placed.index + 1} of {len(passes)} ({runs}) trains on "
            f"{placed.node} ({placed.ip}, pid {placed.pid})"
        )

    try:
        return train_passes(
            passes,
            store,
            on_event,
            control,
            data_dir=data_dir,
            independent_seeds=[p.independent_seeds for p in prepared],
            steps_per_epoch=[p.steps_per_epoch for p in prepared],
            groups=groups,
            on_deleted=on_deleted,
            before_record=before_record,
            on_placed=on_placed,
        )
    except ClusterLostError as exc:
        raise RayRunError(f"{exc}; what was recorded is kept in {store.path}") from None
    finally:
        disconnect()
