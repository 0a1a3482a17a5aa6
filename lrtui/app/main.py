"""Entry point of the terminal app: open the store, build the app, run it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from typing import Any, NoReturn

from textual.app import App

from lrtui.data import DATASETS, DEFAULT_DATASET, DataFileError, check_data_dir
from lrtui.store import Store, StoreError, resolve_db_path


def run_app(args: argparse.Namespace) -> int:
    """`lrtui` with no subcommand. Bad input: one line on stderr, exit code 2."""
    given = getattr(args, "dataset", None)
    dataset = DEFAULT_DATASET if given is None else given  # "" is refused below, not replaced
    if dataset not in DATASETS:
        print(f"lrtui: error: --dataset: must be one of {', '.join(DATASETS)} (got {dataset})",
              file=sys.stderr)
        return 2
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None:
        try:
            check_data_dir(data_dir)
        except DataFileError as exc:
            print(f"lrtui: error: {exc}", file=sys.stderr)
            return 2
    try:
        store = Store(resolve_db_path(getattr(args, "db", None)))
    except StoreError as exc:
        print(f"lrtui: error: {exc}", file=sys.stderr)
        return 2
    from lrtui.app.app import LrtuiApp
    from lrtui.app.form import FormValues

    try:
        app = LrtuiApp(store=store, default_dataset=dataset,
                       data_dir=getattr(args, "data_dir", None),
                       initial=FormValues(dataset=dataset))
        run_without_waiting_for_threads(app)
        if app.writing:  # a stopped training writes its runs' end; a preview writes nothing
            join_threads(QUIT_GRACE_S)
    finally:
        store.close()
    leave_now(0)


def leave_now(code: int) -> NoReturn:
    """End the process at once, q / ctrl+c within a second: the store is closed and the output
    flushed, and neither a worker still busy (a preview in a long epoch, a stuck device) nor the
    interpreter's teardown of torch (~1 s on a busy machine) may keep it alive after the screen
    is gone."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


#: How long quitting waits for a stopped training (or range test) to write its end to the store
#: before the process leaves anyway (a stuck device must not keep it alive).
QUIT_GRACE_S = 0.5


def run_without_waiting_for_threads(app: App[Any]) -> None:
    """`app.run()` on its own event loop: `asyncio.run` would wait at the end for every thread
    worker, however long it still computes, after the screen is already gone."""
    loop = asyncio.new_event_loop()
    try:
        app.run(loop=loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()  # shuts the thread pool down without waiting for it


def join_threads(timeout_s: float) -> list[threading.Thread]:
    """Wait up to `timeout_s` in all for the other non-daemon threads (a stopped training writes
    its last status); those still running."""
    deadline = time.monotonic() + timeout_s
    others = [t for t in threading.enumerate()
              if t is not threading.current_thread() and not t.daemon]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in others if t.is_alive()]
