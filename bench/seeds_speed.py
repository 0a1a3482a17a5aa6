"""4 schedules x 8 seeds = 32 runs in one vectorized pass against 32 sequential plain-PyTorch loops,
side by side in one process (a script, not a test).

The engine trains the 32 runs as `lrtui run -s A -s B -s C -s D --seeds 8` does: per-run seeds
(run i of every schedule shares initial weights and data order with run i of the others), one pass.
The peer is bench/epoch_speed.py's competent plain-PyTorch loop (resident data, randperm batches,
nn.Module, torch.optim.SGD, a torch scheduler, no per-step `.item()`), run 32 times one after the
other. The ratio is per-run throughput: peer seconds x 32 / engine seconds. Data are synthetic,
MNIST-shaped.
Timings on a shared machine are noisy: compare the ratio printed by one invocation.

    python bench/seeds_speed.py [--model mlp|cnn] [--train 60000] [--device cpu|cuda] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from epoch_speed import _sync, peer_loop  # the one peer loop of the benchmarks

from lrtui.data import DeviceDataset, synthetic, to_device
from lrtui.engine import MODELS, Event, RunEnded, train
from lrtui.model import RunConfig
from lrtui.report import write_file
from lrtui.schedulers import parse_spec

#: The tutorial's four schedulers.
SCHEDULES = (
    "StepLR:step_size=10,gamma=0.1",
    "MultiStepLR:milestones=[10,30],gamma=0.1",
    "ExponentialLR:gamma=0.1",
    "ReduceLROnPlateau:patience=5",
)
SEEDS = 8


def seeded_configs(device: str, model: str) -> list[RunConfig]:
    """Schedule-major, seed-minor, as `lrtui run --seeds 8` plans them."""
    return [
        RunConfig(
            dataset="synthetic", model=model, epochs=1, device=device, seed=seed,
            scheduler=parse_spec(spec), label=f"{spec} seed={seed}",
        )
        for spec in SCHEDULES
        for seed in range(SEEDS)
    ]


def engine_epoch(data: DeviceDataset, model: str) -> float:
    ended: list[RunEnded] = []

    def on_event(event: Event) -> None:
        if isinstance(event, RunEnded):
            ended.append(event)

    configs = seeded_configs(str(data.device), model)
    _sync(data.device)
    start = time.perf_counter()
    train(configs, on_event, data=data, independent_seeds=True)
    _sync(data.device)
    seconds = time.perf_counter() - start
    bad = [e for e in ended if e.status != "finished"]
    if bad:
        raise SystemExit(f"engine run did not finish: {bad[0]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", choices=tuple(MODELS), default="mlp")
    parser.add_argument("--train", type=int, default=60000, help="training samples (60,000)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = to_device(synthetic(args.train, 10000, seed=0), device)
    small = to_device(synthetic(512, 128, seed=1), device)
    peer_loop(small, args.model)  # warm up kernels, the allocator, torch.optim
    engine_epoch(small, args.model)

    runs = len(SCHEDULES) * SEEDS
    peer_s = sum(peer_loop(data, args.model) for _ in range(runs))
    engine_s = engine_epoch(data, args.model)
    samples = args.train + 10000
    result: dict[str, Any] = {
        "model": args.model,
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"threads, torch {torch.__version__}",
        "runs": runs,
        "train_samples": args.train,
        "peer_sequential_s": round(peer_s, 3),
        "engine_one_pass_s": round(engine_s, 3),
        "peer_samples_per_s_per_run": round(samples * runs / peer_s),
        "engine_samples_per_s_per_run": round(samples * runs / engine_s),
        "ratio_per_run": round(peer_s / engine_s, 2),
    }
    what = f"{runs} runs (4 schedules x {SEEDS} seeds), one epoch of {args.train:,} + 10,000"
    print(f"{args.model}: {what} synthetic samples, batch 32, on {result['device']}")
    print(f"{'':40} {'seconds':>9} {'samples/s per run':>18}")
    print(f"{'32 sequential plain-PyTorch loops':40} {peer_s:9.2f} "
          f"{result['peer_samples_per_s_per_run']:18,}")  # fmt: skip
    print(f"{'lrtui engine, 32 runs in one pass':40} {engine_s:9.2f} "
          f"{result['engine_samples_per_s_per_run']:18,}")  # fmt: skip
    print(f"per-run throughput: {result['ratio_per_run']}x the plain loop")
    if args.json:
        write_file(Path(args.json), json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
