"""Throughput of a sweep's passes on a local Ray against the same passes one after another here
(a script, not a test).

N passes (each K runs of mixed schedules, MLP 784-64-32-10, mnist-sample, E epochs) are trained
(a) one after another in this process through the run core (`runner.prepare` + `runner.train`),
(b) as Ray tasks on a local Ray with W CPU workers (`lrtui.distributed.train_passes`), each pass
    one task asking for one CPU, events streamed back and recorded here.
Ray's start (`ray.init`) and the workers' first start (a process per worker importing torch) are
timed apart from the sweep: a warm-up pass of one run trains first on every worker. Both sides
record into a SQLite store, as `lrtui run` does. Timings on a shared machine are noisy: compare
the numbers of one invocation, and say what else ran.

    python bench/ray_scaling.py [--passes N] [--runs K] [--epochs E] [--workers W] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lrtui import runner
from lrtui.distributed import connect, disconnect, train_passes
from lrtui.engine import Event
from lrtui.model import RunConfig
from lrtui.report import write_file
from lrtui.schedulers import parse_spec
from lrtui.store import Store

SPECS = (
    "StepLR", "CosineAnnealingLR", "ExponentialLR:gamma=0.9", "ConstantLR",
    "MultiStepLR:milestones=[2,4]", "LinearLR", "PolynomialLR", "OneCycleLR:max_lr=0.2",
)  # fmt: skip


def ignore(event: Event, run_id: int | None) -> None:
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--runs", type=int, default=4, help="runs per pass")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    def config(i: int, epochs: int) -> RunConfig:
        return RunConfig(dataset="mnist-sample", device="cpu", epochs=epochs,
                         scheduler=parse_spec(SPECS[i % len(SPECS)]), label=f"r{i}")  # fmt: skip

    passes = [[config(p * args.runs + i, args.epochs) for i in range(args.runs)]
              for p in range(args.passes)]  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="lrtui-ray-bench-"))
    with Store(folder / "here.db") as store:
        t0 = time.perf_counter()
        for configs in passes:
            runner.train(runner.prepare(configs), store, ignore)
        one_after_another = time.perf_counter() - t0

    t0 = time.perf_counter()
    cluster = connect("local", num_cpus=args.workers)
    ray_start = time.perf_counter() - t0
    try:
        with Store(folder / "ray.db") as store:
            warm = [[config(0, 1)] for _ in range(args.workers)]
            t0 = time.perf_counter()
            train_passes(warm, store, ignore)
            workers_start = time.perf_counter() - t0
            t0 = time.perf_counter()
            ended = train_passes(passes, store, ignore)
            on_ray = time.perf_counter() - t0
    finally:
        disconnect()
    assert all(e.status == "finished" for e in ended), ended
    samples = args.passes * args.runs * args.epochs * 4000  # mnist-sample: 4,000 training digits
    result: dict[str, Any] = {
        "passes": args.passes,
        "runs_per_pass": args.runs,
        "epochs": args.epochs,
        "workers": args.workers,
        "cluster": cluster,
        "one_after_another_s": round(one_after_another, 2),
        "ray_s": round(on_ray, 2),
        "speedup": round(one_after_another / on_ray, 2),
        "run_samples_per_s_here": round(samples / one_after_another),
        "run_samples_per_s_ray": round(samples / on_ray),
        "ray_start_s": round(ray_start, 2),
        "ray_workers_start_s": round(workers_start, 2),
        "threads_here": runner.prepare(passes[0]).threads,  # None: torch's own
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "load": list(os.getloadavg()),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        write_file(Path(args.json), json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
