"""Which device a run trains on, the form's line about it, and moving a dataset there."""

from __future__ import annotations

from dataclasses import replace

import torch

from lrtui.data import DeviceDataset


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA if available, else MPS, else CPU; an explicit device must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: CUDA is not available on this machine (got {name!r})")
        index = device.index if device.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device: there are {torch.cuda.device_count()} CUDA devices (got {name!r})"
            )
        return torch.device("cuda", index)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device: MPS is not available on this machine (got {name!r})")
    return device


def describe_device(name: str) -> tuple[str, bool]:
    """The line a device choice earns in the form, and whether training can use it here:
    ('cuda:0 NVIDIA H100', True), ('cpu (no CUDA)', True), or resolve_device's refusal without its
    'device: ' prefix ("CUDA is not available on this machine (got 'cuda')", False)."""
    try:
        device = resolve_device(name)
    except (ValueError, RuntimeError) as exc:  # RuntimeError: torch.device("nonsense")
        return str(exc).removeprefix("device: "), False
    if device.type == "cuda":
        return f"{device} {torch.cuda.get_device_name(device)}", True
    if device.type == "cpu":
        return ("cpu (no CUDA)" if not torch.cuda.is_available() else "cpu"), True
    return str(device), True


def on_device(data: DeviceDataset, device: torch.device, dtype: torch.dtype) -> DeviceDataset:
    """The dataset on `device` with float inputs of `dtype` (itself when already there)."""
    if data.device == device and data.train_x.dtype == dtype:
        return data
    return replace(
        data,
        train_x=data.train_x.to(device, dtype),
        train_y=data.train_y.to(device),
        valid_x=data.valid_x.to(device, dtype),
        valid_y=data.valid_y.to(device),
        device=device,
    )
