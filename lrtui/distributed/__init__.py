"""Sweeps past one machine: passes of runs trained as Ray tasks, recorded by the driver.

`ray_executor` runs each pass (runs that train together in one vectorized call) as one Ray task
that calls the same run core as a local run (`lrtui.runner.prepare` + `run_engine`) on its worker;
the events stream back through a Ray queue while the tasks train, and the driver, the only writer,
records them in the one SQLite store. Ray is an optional extra (`pip install 'lrtui[ray]'`): this
package imports it only when a sweep starts, so the rest of lrtui never needs it.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first used: the executor needs torch, the form's choice does not
    from lrtui.distributed.ray_executor import (
        ClusterLostError,
        PassPlaced,
        RayConnectError,
        RayMissingError,
        RaySweep,
        check_address,
        connect,
        disconnect,
        train_passes,
    )

__all__ = [
    "ClusterLostError",
    "PassPlaced",
    "RayConnectError",
    "RayMissingError",
    "RaySweep",
    "check_address",
    "connect",
    "disconnect",
    "train_passes",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lrtui.distributed import ray_executor

        return getattr(ray_executor, name)
    raise AttributeError(f"module 'lrtui.distributed' has no attribute {name!r}")
