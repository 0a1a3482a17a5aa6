"""One training epoch, three ways, side by side in one process (a script, not a test).

(a) the tutorial's loop as written: a torchvision-style Dataset returning PIL images through
    transforms.ToTensor, DataLoader(batch_size=32, shuffle=True), the nn.Module MLP 784-64-32-10,
    torch.optim.SGD(lr=0.1), `loss.item() * batch` every step, then its validation loop (over the
    valid set: the tutorial's `test` is a NameError);
(b) lrtui's engine with 1 run (SGD, lr 0.1, StepLR), data resident on the device;
(c) the engine with 16 runs of mixed schedulers (SGD, lr 0.1, as the tutorial; --optimizers mixed
    adds momentum, Adam and AdamW runs) in one vectorized pass.
Where CUDA is present the engine is also timed with 1 and 64 runs on the GPU.

Data are synthetic and MNIST-shaped (60,000 train, 10,000 valid), so nothing is downloaded.
Timings on a shared machine are noisy: compare the ratios printed by one invocation.

    python bench/epoch_speed.py [--runs 16] [--threads N] [--repeat 2]
                                [--optimizers sgd|mixed] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lrtui.data import DeviceDataset, RawDataset, synthetic, to_device
from lrtui.engine import Event, RunEnded, train
from lrtui.model import OptimizerConfig, RunConfig
from lrtui.report import write_file
from lrtui.schedulers import parse_spec

#: The 16 runs of (c): the tutorial's optimizer (SGD, lr 0.1) under 16 different schedules of
#: every cadence (epoch, batch, metric).
MIXED_SPECS: tuple[str, ...] = (
    "StepLR:step_size=10,gamma=0.1",
    "MultiStepLR:milestones=[10,30],gamma=0.1",
    "ExponentialLR:gamma=0.9",
    "ReduceLROnPlateau:patience=5",
    "CosineAnnealingLR",
    "ConstantLR:factor=0.5,total_iters=2",
    "LinearLR:start_factor=0.25",
    "PolynomialLR:power=2.0",
    "OneCycleLR:max_lr=0.5,cycle_momentum=false",
    "CyclicLR:base_lr=0.01,max_lr=0.2,cycle_momentum=false",
    "CosineAnnealingWarmRestarts:T_0=2",
    "LambdaLR:lr_lambda='0.95**epoch'",
    "MultiplicativeLR:lr_lambda='0.9'",
    "StepLR:step_size=2,gamma=0.5",
    "ExponentialLR:gamma=0.5",
    "ReduceLROnPlateau:patience=0,factor=0.5",
)
#: With --optimizers mixed, runs cycle through these (momentum and Adam cost more per step).
OPTIMIZER_MIX: tuple[tuple[str, float, float], ...] = (
    ("sgd", 0.0, 0.1),
    ("sgd", 0.9, 0.02),
    ("adam", 0.0, 0.001),
    ("adamw", 0.0, 0.001),
)


class PilDataset(Dataset[tuple[Tensor, int]]):
    """What torchvision.datasets.MNIST does per item: a PIL image, then the transform."""

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        self.data = images
        self.targets = labels
        self.transform = transforms.Compose([transforms.ToTensor()])

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        img, target = self.data[index], int(self.targets[index])
        pil = Image.fromarray(img.numpy())  # mode "L" for 2-D uint8
        return self.transform(pil), target


class Net(nn.Module):
    """The tutorial's model, verbatim apart from style."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 64)
        self.fc2 = nn.Linear(64, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x: Tensor) -> Tensor:
        batch_size = x.size(0)
        x = x.view(batch_size, -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        out: Tensor = self.out(x)
        return out


def seed_loop(raw: RawDataset, device: torch.device) -> float:
    """Seconds for one epoch of the tutorial's training + validation loops."""
    torch.manual_seed(0)
    trainloader = DataLoader(PilDataset(raw.train_x, raw.train_y), batch_size=32, shuffle=True)
    validloader = DataLoader(PilDataset(raw.valid_x, raw.valid_y), batch_size=32, shuffle=True)
    model = Net().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    start = time.perf_counter()
    train_loss, valid_loss = 0.0, 0.0
    model.train()
    for data, label in trainloader:
        data, label = data.to(device), label.to(device)
        optimizer.zero_grad()
        target = model(data)
        train_step_loss = loss(target, label)
        train_step_loss.backward()
        optimizer.step()
        train_loss += train_step_loss.item() * data.size(0)
    model.eval()
    for data, label in validloader:
        data, label = data.to(device), label.to(device)
        target = model(data)
        valid_step_loss = loss(target, label)
        valid_loss += valid_step_loss.item() * data.size(0)
    return time.perf_counter() - start


def engine_configs(runs: int, device: str, mixed: bool = False) -> list[RunConfig]:
    configs = []
    for i in range(runs):
        spec = MIXED_SPECS[i % len(MIXED_SPECS)]
        name, momentum, lr = OPTIMIZER_MIX[i % len(OPTIMIZER_MIX)] if mixed else ("sgd", 0.0, 0.1)
        if momentum and "cycle_momentum=false" in spec:
            spec = spec.replace(",cycle_momentum=false", "")
        configs.append(
            RunConfig(
                dataset="synthetic",
                optimizer=OptimizerConfig(name, momentum=momentum),  # type: ignore[arg-type]
                lr=lr,
                epochs=1,
                device=device,
                scheduler=parse_spec(spec),
                label=f"{i}",
            )
        )
    return configs


def engine_epoch(
    data: DeviceDataset, runs: int, device: torch.device, mixed: bool = False
) -> float:
    """Seconds for one epoch (training + validation) of `runs` runs trained together."""
    ended: list[RunEnded] = []

    def on_event(event: Event) -> None:
        if isinstance(event, RunEnded):
            ended.append(event)

    configs = engine_configs(runs, str(device), mixed)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    train(configs, on_event, data=data, fast=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    bad = [e for e in ended if e.status != "finished"]
    if bad:
        raise SystemExit(f"engine run did not finish: {bad[0]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=16, help="runs in the multi-run pass (c)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch.set_num_threads for every measurement (default: each measurement runs with "
        "1 thread and with torch's default, and keeps its best)",
    )
    parser.add_argument(
        "--optimizers",
        choices=("sgd", "mixed"),
        default="sgd",
        help="optimizers of the multi-run pass: all plain SGD (the tutorial's), or a mix of "
        "SGD, SGD with momentum, Adam and AdamW",
    )
    parser.add_argument("--repeat", type=int, default=2, help="take the best of N timings each")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    thread_options = [args.threads] if args.threads else sorted({1, torch.get_num_threads()})
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    raw = synthetic(60000, 10000, seed=0)
    data = to_device(raw, device)
    cpu_data = to_device(raw, "cpu") if device.type == "cuda" else data
    mixed = args.optimizers == "mixed"

    # Warm up what is paid once per process (torch.optim imports, allocator, kernels).
    torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    small = to_device(synthetic(512, 128, seed=1), device)
    engine_epoch(small, 1, device)
    engine_epoch(small, args.runs, device, mixed)

    # Small ops on a shared 2-core machine can run faster on one thread (no fork/join waits on a
    # busy core) while big matmuls like two: each measurement gets its best thread count.
    def best(fn: Any, *fn_args: Any) -> tuple[float, int]:
        results = []
        for threads in thread_options:
            torch.set_num_threads(threads)
            results += [(fn(*fn_args), threads) for _ in range(max(1, args.repeat))]
        return min(results)

    cpu = torch.device("cpu")
    seed_s, seed_t = best(seed_loop, raw, cpu)
    single_s, single_t = best(engine_epoch, cpu_data, 1, cpu)
    multi_s, multi_t = best(engine_epoch, cpu_data, args.runs, cpu, mixed)
    result: dict[str, Any] = {
        "device": "cpu",
        "seed_loop_s": round(seed_s, 4),
        "single_run_s": round(single_s, 4),
        "multi_run_s": round(multi_s, 4),
        "runs": args.runs,
        "speedup_single": round(seed_s / single_s, 2),
        "speedup_per_run": round(seed_s * args.runs / multi_s, 2),
        "optimizers": args.optimizers,
        "threads": {"seed_loop": seed_t, "single_run": single_t, "multi_run": multi_t},
    }
    rows = [
        ("tutorial loop (PIL + DataLoader)", 1, seed_s, seed_t),
        ("lrtui engine, 1 run", 1, single_s, single_t),
        (f"lrtui engine, {args.runs} runs", args.runs, multi_s, multi_t),
    ]
    if device.type == "cuda":
        engine_epoch(data, 64, device, mixed)  # warm-up
        gpu_single, _ = best(engine_epoch, data, 1, device)
        gpu_64, _ = best(engine_epoch, data, 64, device, mixed)
        result.update(
            device=torch.cuda.get_device_name(device),
            gpu_single_run_s=round(gpu_single, 4),
            gpu_64_runs_s=round(gpu_64, 4),
            gpu_speedup_single=round(seed_s / gpu_single, 2),
            gpu_speedup_per_run=round(seed_s * 64 / gpu_64, 2),
        )
        rows += [
            ("lrtui engine on GPU, 1 run", 1, gpu_single, 0),
            ("lrtui engine on GPU, 64 runs", 64, gpu_64, 0),
        ]

    print("one epoch (train + validation), 60,000 + 10,000 synthetic MNIST-shaped, batch 32")
    print(f"{'':36} {'runs':>5} {'threads':>8} {'seconds':>9} {'s/run':>8} {'speedup/run':>12}")
    for name, runs, seconds, threads in rows:
        speedup = seed_s * runs / seconds
        shown = str(threads) if threads else "-"
        print(
            f"{name:36} {runs:5d} {shown:>8} {seconds:9.3f} {seconds / runs:8.3f} {speedup:11.1f}x"
        )
    if args.json:
        write_file(Path(args.json), json.dumps(result, indent=2) + "\n")  # as lrtui writes
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
