"""One training epoch of the engine against honest peers, side by side in one process (a script,
not a test).

Peers, timed in the same process right before the engine:
(a) a competent plain-PyTorch loop: data resident as tensors on the device, a `randperm` per epoch
    and index batches, the `nn.Module` (MLP 784-64-32-10 or LeNet-5), torch.optim.SGD(lr=0.1),
    a torch scheduler (StepLR) stepped per epoch, no DataLoader, no per-step `.item()` (losses
    summed on the device), validation under no_grad;
(b) with --tutorial (mlp only): the tutorial's loop as written (PIL images through ToTensor,
    DataLoader(batch_size=32, shuffle=True), `loss.item()` every step).
The engine trains 1 run, then K runs (16 for mlp, 8 for cnn) of mixed schedules in one pass;
the ratios are per-run throughput: engine 1 run vs one peer loop, engine K runs vs K sequential
peer loops. The machine's fp32 matmul peak (a large `torch.mm`, timed here too) gives the share
of it the K-run pass reaches and, next to each ratio, its ceiling: the ratio the engine would reach
if one run's matmul/conv FLOPs (`train_step_flops`) all ran at that peak.
Where CUDA is present the engine is also timed on the GPU with 1 and 64 runs, against the peer
loop on the GPU.

Data are synthetic and MNIST-shaped (60,000 train, 10,000 valid), so nothing is downloaded.
Timings on a shared machine are noisy: compare the ratios printed by one invocation.

    python bench/epoch_speed.py [--model mlp|cnn] [--runs K] [--threads N] [--repeat 2]
                                [--tutorial] [--device cpu|cuda] [--json PATH]
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
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lrtui.data import DeviceDataset, RawDataset, synthetic, to_device
from lrtui.engine import MODELS, Event, RunEnded, train
from lrtui.model import OptimizerConfig, RunConfig, layer_shapes
from lrtui.report import write_file
from lrtui.schedulers import parse_spec

#: The K runs: the tutorial's optimizer (SGD, lr 0.1) under different schedules of every cadence.
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
DEFAULT_RUNS = {"mlp": 16, "cnn": 8}


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


def tutorial_loop(raw: RawDataset, device: torch.device) -> float:
    """Seconds for one epoch of the tutorial's training + validation loops (MLP)."""
    torch.manual_seed(0)
    trainloader = DataLoader(PilDataset(raw.train_x, raw.train_y), batch_size=32, shuffle=True)
    validloader = DataLoader(PilDataset(raw.valid_x, raw.valid_y), batch_size=32, shuffle=True)
    model = MODELS["mlp"].module(RunConfig()).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    start = time.perf_counter()
    train_loss, valid_loss = 0.0, 0.0
    model.train()
    for data, label in trainloader:
        data, label = data.to(device), label.to(device)
        optimizer.zero_grad()
        train_step_loss = loss(model(data), label)
        train_step_loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        train_loss += train_step_loss.item() * data.size(0)
    model.eval()
    for data, label in validloader:
        data, label = data.to(device), label.to(device)
        valid_loss += loss(model(data), label).item() * data.size(0)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peer_loop(data: DeviceDataset, model_name: str, batch: int = 32) -> float:
    """Seconds for one epoch of a competent plain-PyTorch loop (see the module docstring)."""
    device = data.device
    torch.manual_seed(0)
    model = MODELS[model_name].module(RunConfig(model=model_name)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)
    generator = torch.Generator(device=device).manual_seed(0)
    x, y = data.train_x, data.train_y
    _sync(device)
    start = time.perf_counter()
    total = torch.zeros((), device=device)
    for idx in torch.randperm(data.n_train, generator=generator, device=device).split(batch):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        total += loss.detach() * idx.numel()
    scheduler.step()
    with torch.no_grad():
        valid = F.cross_entropy(model(data.valid_x), data.valid_y, reduction="sum")
    _ = (total.item(), valid.item())  # the epoch's one look at the numbers
    _sync(device)
    return time.perf_counter() - start


def engine_configs(runs: int, device: str, model: str) -> list[RunConfig]:
    return [
        RunConfig(
            dataset="synthetic",
            model=model,
            optimizer=OptimizerConfig("sgd"),
            lr=0.1,
            epochs=1,
            device=device,
            scheduler=parse_spec(MIXED_SPECS[i % len(MIXED_SPECS)]),
            label=f"{i}",
        )
        for i in range(runs)
    ]


def engine_epoch(data: DeviceDataset, runs: int, model: str) -> float:
    """Seconds for one epoch (training + validation) of `runs` runs trained together."""
    ended: list[RunEnded] = []

    def on_event(event: Event) -> None:
        if isinstance(event, RunEnded):
            ended.append(event)

    configs = engine_configs(runs, str(data.device), model)
    _sync(data.device)
    start = time.perf_counter()
    train(configs, on_event, data=data)
    _sync(data.device)
    seconds = time.perf_counter() - start
    bad = [e for e in ended if e.status != "finished"]
    if bad:
        raise SystemExit(f"engine run did not finish: {bad[0]}")
    return seconds


def matmul_peak(device: torch.device, n: int = 2048, reps: int = 10) -> float:
    """The machine's fp32 matmul rate in FLOP/s: the best of `reps` n x n torch.mm."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    out = torch.empty(n, n, device=device)
    torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def train_step_flops(model: str) -> tuple[int, int]:
    """(training, validation) matmul/conv FLOPs per sample of one run: 2 x multiply-adds.

    A layer of m multiply-adds per sample costs m in the forward, m for its weight gradient and m
    for its input gradient, except the first layer (the MLP's first Linear, LeNet's conv1), whose
    input needs no gradient. Biases count as an input of ones (the MLP's [W | b] matmul); pooling,
    ReLU, softmax and the optimizer are not counted (they are not matmuls).
    """
    if model == "mlp":
        layers = [o * (i + 1) for o, i in layer_shapes((64, 32))]  # 784-64-32-10
    else:  # LeNet-5: conv1, conv2 (multiply-adds per output pixel x pixels), fc1, fc2, fc3
        layers = [6 * 28 * 28 * 26, 16 * 10 * 10 * 151, 120 * 401, 84 * 121, 10 * 85]
    forward = sum(layers)
    return 2 * (3 * forward - layers[0]), 2 * forward


def epoch_flops(model: str, n_train: int, n_valid: int) -> float:
    """Matmul/conv FLOPs of one run's epoch: every training sample's step, every validation
    sample's forward."""
    train_flops, valid_flops = train_step_flops(model)
    return n_train * train_flops + n_valid * valid_flops


def ceiling_ratio(peer_s: float, run_flops: float, peak: float) -> float:
    """The per-run ratio against the peer loop the engine would reach if its whole pass (any
    number of runs) did nothing but its matmuls, all at the measured peak: peer seconds / (one
    run's FLOPs / peak FLOP/s). No target above it is reachable on this machine."""
    return peer_s / (run_flops / peak)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", choices=tuple(MODELS), default="mlp")
    parser.add_argument("--runs", type=int, help="runs in the multi-run pass (mlp 16, cnn 8)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch.set_num_threads for every CPU measurement (default: each measurement runs "
        "with 1 thread and with torch's default, and keeps its best)",
    )
    parser.add_argument("--repeat", type=int, default=2, help="take the best of N timings each")
    parser.add_argument("--tutorial", action="store_true", help="also time the tutorial's loop")
    parser.add_argument(
        "--gpu-runs", type=int, default=64, help="runs of the many-run pass on CUDA"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    model = args.model
    runs = args.runs or DEFAULT_RUNS[model]
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    thread_options = [args.threads] if args.threads else sorted({1, torch.get_num_threads()})
    if device.type != "cpu":
        thread_options = [torch.get_num_threads()]
    raw = synthetic(60000, 10000, seed=0)
    data = to_device(raw, device)

    # Warm up what is paid once per process (torch.optim, the allocator, kernels, cudnn).
    small = to_device(synthetic(512, 128, seed=1), device)
    peer_loop(small, model)
    engine_epoch(small, 1, model)
    engine_epoch(small, runs, model)

    # Small ops on a shared 2-core machine can run faster on one thread (no fork/join waits on a
    # busy core) while big ones gain from two: each measurement gets its best thread count.
    def best(fn: Any, *fn_args: Any) -> tuple[float, int]:
        results = []
        for threads in thread_options:
            torch.set_num_threads(threads)
            results += [(fn(*fn_args), threads) for _ in range(max(1, args.repeat))]
        return min(results)

    peer_s, peer_t = best(peer_loop, data, model)
    single_s, single_t = best(engine_epoch, data, 1, model)
    multi_s, multi_t = best(engine_epoch, data, runs, model)
    rows = [  # name, runs, seconds, threads, whether it is the engine (gets a ceiling)
        ("plain PyTorch loop (resident data)", 1, peer_s, peer_t, False),
        ("lrtui engine, 1 run", 1, single_s, single_t, True),
        (f"lrtui engine, {runs} runs", runs, multi_s, multi_t, True),
    ]
    # The honest ceiling: one run's epoch FLOPs at the machine's fp32 matmul peak (2 threads).
    torch.set_num_threads(max(thread_options))
    peak = matmul_peak(device)
    run_flops = epoch_flops(model, data.n_train, data.n_valid)
    ceiling = ceiling_ratio(peer_s, run_flops, peak)
    achieved = runs * run_flops / multi_s
    result: dict[str, Any] = {
        "model": model,
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"threads, torch {torch.__version__}",
        "peer_loop_s": round(peer_s, 4),
        "single_run_s": round(single_s, 4),
        "multi_run_s": round(multi_s, 4),
        "runs": runs,
        "ratio_single": round(peer_s / single_s, 2),
        "ratio_per_run": round(peer_s * runs / multi_s, 2),
        "threads": {"peer_loop": peer_t, "single_run": single_t, "multi_run": multi_t},
        "matmul_peak_gflops": round(peak / 1e9, 1),
        "epoch_gflop_per_run": round(run_flops / 1e9, 2),
        "ceiling_ratio": round(ceiling, 2),
        "multi_run_gflops": round(achieved / 1e9, 1),
        "fraction_of_peak": round(achieved / peak, 3),
    }
    if args.tutorial and model == "mlp":
        tut_s, tut_t = best(tutorial_loop, raw, device)
        rows.insert(0, ("tutorial loop (PIL + DataLoader)", 1, tut_s, tut_t, False))
        result["tutorial_loop_s"] = round(tut_s, 4)
    if device.type == "cuda" and args.gpu_runs:
        many_s, _ = best(engine_epoch, data, args.gpu_runs, model)
        rows.append((f"lrtui engine, {args.gpu_runs} runs", args.gpu_runs, many_s, 0, True))
        result.update(many_runs=args.gpu_runs, many_run_s=round(many_s, 4),
                      ratio_many_per_run=round(peer_s * args.gpu_runs / many_s, 2))  # fmt: skip

    print(f"{model}: one epoch (train + validation), 60,000 + 10,000 synthetic MNIST-shaped, "
          f"batch 32, on {result['device']}")  # fmt: skip
    print(f"{'':36} {'runs':>5} {'threads':>8} {'seconds':>9} {'s/run':>8} {'vs peer/run':>12} "
          f"{'at peak':>8}")  # fmt: skip
    for name, n, seconds, threads, engine in rows:
        ratio = peer_s * n / seconds
        shown = str(threads) if threads else "-"
        at_peak = f"{ceiling:7.2f}x" if engine else f"{'-':>8}"
        print(f"{name:36} {n:5d} {shown:>8} {seconds:9.3f} {seconds / n:8.3f} {ratio:11.2f}x "
              f"{at_peak}")  # fmt: skip
    print(f"at peak: the ratio if the pass did only its {run_flops / 1e9:.1f} GFLOP of matmuls "
          f"per run at the fp32 matmul peak, {result['matmul_peak_gflops']} GFLOP/s; the "
          f"{runs}-run pass reaches {result['multi_run_gflops']} GFLOP/s = "
          f"{result['fraction_of_peak']:.2f} of it")  # fmt: skip
    if args.json:
        write_file(Path(args.json), json.dumps(result, indent=2) + "\n")  # as lrtui writes
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
