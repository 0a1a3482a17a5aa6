"""Sweeps past one machine: passes of runs trained as Ray tasks, recorded by the driver.

`ray_executor` runs each pass (runs that train together in one vectorized call) as one Ray task
that calls the same run core as a local run (`lrtui.runner.prepare` + `run_engine`) on its worker;
the events stream back through a Ray queue while the tasks train, and the driver, the only writer,
records them in the one SQLite store. Ray is an optional extra (`pip install 'lrtui[ray]'`): this
package imports it only when a sweep starts, so the rest of lrtui never needs it.
"""

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
