"""Write small but real IDX files (the MNIST format) for tests.

IDX: a big-endian uint32 magic (2051 for uint8 images with 3 dimensions, 2049 for uint8 labels
with 1 dimension), one big-endian uint32 per dimension, then the raw bytes. Files go through
torchvision's own parser in the tests, so they must be byte-exact.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
VALID_IMAGES = "t10k-images-idx3-ubyte"
VALID_LABELS = "t10k-labels-idx1-ubyte"

Layout = Literal["flat", "torchvision"]


def idx_bytes(data: Tensor, *, magic: int | None = None) -> bytes:
    """The IDX encoding of a uint8 tensor (magic from its rank unless given)."""
    if data.dtype != torch.uint8:
        raise TypeError(f"IDX test files hold uint8 data (got {data.dtype})")
    if magic is None:
        magic = 0x0800 + data.dim()
    header = struct.pack(f">I{data.dim()}I", magic, *data.shape)
    return header + data.contiguous().numpy().tobytes()


def write_idx(path: Path, data: Tensor, *, gz: bool = False, magic: int | None = None) -> Path:
    """Write ``data`` as an IDX file at ``path`` (plus ``.gz`` and gzip-compressed when ``gz``)."""
    payload = idx_bytes(data, magic=magic)
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload, compresslevel=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


@dataclass
class IdxSet:
    """What ``write_dataset`` wrote: the tensors and the file paths by standard name."""

    train_x: Tensor
    train_y: Tensor
    valid_x: Tensor
    valid_y: Tensor
    folder: Path
    paths: dict[str, Path] = field(default_factory=dict)


def make_split(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random uint8 28x28 images and labels covering every class 0..9 when n >= 10."""
    images = torch.randint(0, 256, (n, 28, 28), generator=generator, dtype=torch.uint8)
    labels = (torch.arange(n) % 10)[torch.randperm(n, generator=generator)].to(torch.uint8)
    return images, labels


def write_dataset(
    root: Path,
    *,
    n_train: int = 64,
    n_valid: int = 16,
    gz: bool = False,
    layout: Layout = "flat",
    class_name: str = "MNIST",
    seed: int = 0,
) -> IdxSet:
    """Write the four standard files under ``root`` (flat, or torchvision's ``<Class>/raw``)."""
    gen = torch.Generator().manual_seed(seed)
    train_x, train_y = make_split(n_train, gen)
    valid_x, valid_y = make_split(n_valid, gen)
    folder = root if layout == "flat" else root / class_name / "raw"
    paths = {
        name: write_idx(folder / name, data, gz=gz)
        for name, data in (
            (TRAIN_IMAGES, train_x),
            (TRAIN_LABELS, train_y),
            (VALID_IMAGES, valid_x),
            (VALID_LABELS, valid_y),
        )
    }
    return IdxSet(train_x, train_y.long(), valid_x, valid_y.long(), folder, paths)
