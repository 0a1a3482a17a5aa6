"""Training on Ray as a device choice of the app's form (`ray:auto`, `ray:local`), and how the
driver checks the runs it sends.

The rule lives here, beside the executor it selects, and needs neither torch nor Ray: the form
offers the choices and says what each one does before anything is joined or started.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import replace

from lrtui.model import RunConfig

PREFIX = "ray:"
#: The form's Ray choices: the running cluster (`ray start --head`), or a Ray started here.
CHOICES: tuple[str, ...] = ("ray:auto", "ray:local")
#: The device each run asks for on its worker (a worker with a GPU trains on it).
WORKER_DEVICE = "auto"


def address_of(device: str) -> str | None:
    """The Ray address a device choice names (`ray:auto` -> `auto`), or None for a plain device."""
    return device.removeprefix(PREFIX) if device.startswith(PREFIX) else None


def describe(address: str) -> tuple[str, bool]:
    """The form's line for a Ray choice, and whether it can train from here (Ray installed)."""
    if importlib.util.find_spec("ray") is None:
        return "Ray is not installed: pip install 'lrtui[ray]'", False
    if address == "local":
        return "a local Ray with this machine's CPUs/GPUs, one task per pass", True
    return "the running Ray cluster (ray start --head), one task per pass", True


def checked_here(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """The configs as the driver checks them before a Ray sweep: on its CPU (the devices are the
    workers', and the driver needs no GPU of its own)."""
    return [replace(c, device="cpu") for c in configs]
