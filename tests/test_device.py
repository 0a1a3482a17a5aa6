"""engine.describe_device: the device line of the app's form, from the engine's own resolution."""

from __future__ import annotations

import pytest
import torch

from lrtui.engine import describe_device


@pytest.fixture
def no_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A machine with one CUDA device, as torch.cuda reports it; records get_device_name calls."""
    asked: list[object] = []

    def name(device: object) -> str:
        asked.append(device)
        return "NVIDIA H100 80GB HBM3"

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", name)
    return asked


@pytest.mark.usefixtures("no_accelerator")
def test_cpu_only_machine() -> None:
    assert describe_device("cpu") == ("cpu (no CUDA)", True)
    assert describe_device("auto") == ("cpu (no CUDA)", True)
    assert describe_device("cuda") == (
        "CUDA is not available on this machine (got 'cuda')",
        False,
    )
    assert describe_device("mps") == ("MPS is not available on this machine (got 'mps')", False)


def test_a_device_torch_cannot_parse_is_refused_not_raised() -> None:
    text, ok = describe_device("gpu0")
    assert not ok and "gpu0" in text


def test_cuda_is_named_after_the_device(one_gpu: list[object]) -> None:
    assert describe_device("auto") == ("cuda:0 NVIDIA H100 80GB HBM3", True)
    assert describe_device("cuda") == ("cuda:0 NVIDIA H100 80GB HBM3", True)
    assert one_gpu == [torch.device("cuda", 0)] * 2
    assert describe_device("cpu") == ("cpu", True)  # CUDA is there: no "(no CUDA)" note
    assert describe_device("cuda:1") == ("there are 1 CUDA devices (got 'cuda:1')", False)


@pytest.mark.gpu
def test_real_cuda_device() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA here")
    text, ok = describe_device("cuda")
    assert ok and text == f"cuda:{torch.cuda.current_device()} {torch.cuda.get_device_name()}"
