"""Entry point of the terminal app: open the store, build the app, run it."""

from __future__ import annotations

import argparse
import sys

from lrtui.data import DATASETS, DEFAULT_DATASET, DataFileError, check_data_dir
from lrtui.store import Store, StoreError, resolve_db_path


def run_app(args: argparse.Namespace) -> int:
    """`lrtui` with no subcommand. Bad input: one line on stderr, exit code 2."""
    dataset = getattr(args, "dataset", None) or DEFAULT_DATASET
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
        app.run()
    finally:
        store.close()
    return 0
