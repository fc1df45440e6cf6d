"""Dataset loaders, each on small synthetic files written in the official format."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from grader.datasets import Dataset, load_dataset
from grader.datasets.base import CIFAR10_CLASSES
from grader.errors import DatasetError

REPO = Path(__file__).resolve().parents[2]


def idx_bytes(a: np.ndarray) -> bytes:
    return b"\x00\x00\x08" + bytes([a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


@pytest.fixture(scope="module")
def mnist_like() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), np.arange(12, dtype=np.uint8) % 10


@pytest.fixture(scope="module")
def cifar_like() -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) sorted by label, as an image-folder zip orders them."""
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(10), 2)
    return rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), labels


def chw_rows(images: np.ndarray) -> np.ndarray:
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def write_cifar_python(
    path: Path, images: np.ndarray, labels: np.ndarray, protocol: int = 2
) -> None:
    """Protocol 2 as the official files (written by Python 2); Python 3 writes bytes through
    _codecs.encode in that protocol."""
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [int(v) for v in labels],
        b"data": chw_rows(images),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
    }
    path.write_bytes(pickle.dumps(batch, protocol=protocol))


# --- MNIST IDX ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_directory(tmp_path: Path, gz: bool, mnist_like: tuple) -> None:
    images, labels = mnist_like
    for name, arr in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        data = idx_bytes(arr)
        if gz:
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (tmp_path / name).write_bytes(data)
    ds = load_dataset(tmp_path)
    assert ds.images.shape == (12, 28, 28, 1) and ds.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.images[..., 0], images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.classes == [str(i) for i in range(10)]


def test_mnist_images_file_finds_its_labels(tmp_path: Path, mnist_like: tuple) -> None:
    images, labels = mnist_like
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    assert len(load_dataset(tmp_path / "t10k-images-idx3-ubyte")) == 12


def test_mnist_header_declaring_more_than_the_data_is_refused(
    tmp_path: Path, mnist_like: tuple
) -> None:
    images, labels = mnist_like
    data = idx_bytes(images)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(data[: -28 * 28])  # one image short
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    assert info.value.code == "bad_idx"
    assert "header declares 9408 bytes" in info.value.message


def test_mnist_images_and_labels_counts_must_match(tmp_path: Path, mnist_like: tuple) -> None:
    images, labels = mnist_like
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:11]))
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    assert info.value.code == "bad_idx" and "do not match" in info.value.message


def test_bundled_mnist_test_set_loads() -> None:
    ds = load_dataset(REPO / "data" / "mnist")
    assert ds.images.shape == (10000, 28, 28, 1)
    assert np.bincount(ds.labels).min() > 800


# --- CIFAR-10 python batches ------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_python_batch_in_a_directory(
    tmp_path: Path, cifar_like: tuple, protocol: int
) -> None:
    images, labels = cifar_like
    write_cifar_python(tmp_path / "test_batch", images, labels, protocol)
    ds = load_dataset(tmp_path)
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.classes == CIFAR10_CLASSES


def test_cifar_python_batch_in_a_tar_gz(tmp_path: Path, cifar_like: tuple) -> None:
    images, labels = cifar_like
    write_cifar_python(tmp_path / "test_batch", images, labels)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "test_batch", arcname="cifar-10-batches-py/test_batch")
    ds = load_dataset(archive)
    np.testing.assert_array_equal(ds.images, images)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar_batch_that_would_run_os_system_is_refused_and_nothing_runs(
    tmp_path: Path, protocol: int
) -> None:
    marker = tmp_path / "pwned"
    batch = {b"data": _Evil(marker), b"labels": [0]}
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=protocol))
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    assert info.value.code == "unsafe_pickle"
    assert "system" in info.value.message
    assert not marker.exists()


def test_cifar_batch_abusing_codecs_is_refused(tmp_path: Path) -> None:
    # _codecs.encode is admitted for protocol 2's bytes only, with latin1: no other codec
    payload = b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcq\x01X\x06\x00\x00\x00base64q\x02\x86q\x03Rq\x04."
    (tmp_path / "test_batch").write_bytes(payload)
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    assert info.value.code == "unsafe_pickle"


def test_cifar_batch_with_wrong_data_shape_is_refused(tmp_path: Path) -> None:
    (tmp_path / "test_batch").write_bytes(
        pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2)
    )
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    assert info.value.code == "bad_pickle"


# --- CIFAR-10 binary, npz, image zips --------------------------------------------------------------


def write_cifar_binary(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    rec = np.concatenate([labels.astype(np.uint8)[:, None], chw_rows(images)], axis=1)
    path.write_bytes(rec.tobytes())


def test_cifar_binary(tmp_path: Path, cifar_like: tuple) -> None:
    images, labels = cifar_like
    write_cifar_binary(tmp_path / "test_batch.bin", images, labels)
    ds = load_dataset(tmp_path)
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)


def test_cifar_binary_with_partial_record_is_refused(tmp_path: Path, cifar_like: tuple) -> None:
    images, labels = cifar_like
    write_cifar_binary(tmp_path / "test_batch.bin", images, labels)
    (tmp_path / "test_batch.bin").write_bytes((tmp_path / "test_batch.bin").read_bytes()[:-5])
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path)
    assert info.value.code == "bad_binary"


def test_npz_dataset(tmp_path: Path, mnist_like: tuple) -> None:
    images, labels = mnist_like
    np.savez(tmp_path / "d.npz", X=images, y=labels.astype(np.int64))
    ds = load_dataset(tmp_path / "d.npz")
    assert ds.images.shape == (12, 28, 28, 1)
    np.testing.assert_array_equal(ds.labels, labels)


def test_npz_dataset_without_y_is_refused(tmp_path: Path, mnist_like: tuple) -> None:
    np.savez(tmp_path / "d.npz", X=mnist_like[0])
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "d.npz")
    assert info.value.code == "bad_npz" and "X and y" in info.value.message


def write_image_zip(path: Path, images: np.ndarray, labels: np.ndarray, classes: list[str]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for i, (img, lbl) in enumerate(zip(images, labels, strict=True)):
            buf = io.BytesIO()
            Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(buf, format="PNG")
            z.writestr(f"test/{classes[lbl]}/{i:04d}.png", buf.getvalue())


def test_image_zip_uses_cifar_class_order(tmp_path: Path, cifar_like: tuple) -> None:
    images, labels = cifar_like
    write_image_zip(tmp_path / "c.zip", images, labels, CIFAR10_CLASSES)
    ds = load_dataset(tmp_path / "c.zip")
    assert ds.classes == CIFAR10_CLASSES  # the official order, not alphabetical
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)


def test_image_zip_orders_digit_classes_numerically(tmp_path: Path) -> None:
    images = np.random.default_rng(5).integers(0, 256, (12, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(12)
    write_image_zip(tmp_path / "d.zip", images, labels, [str(i) for i in range(12)])
    ds = load_dataset(tmp_path / "d.zip")
    assert ds.classes == [str(i) for i in range(12)]  # "10" after "9"
    np.testing.assert_array_equal(ds.images, images)


def test_content_hash_is_the_same_across_formats(tmp_path: Path, cifar_like: tuple) -> None:
    images, labels = cifar_like
    (tmp_path / "py").mkdir()
    (tmp_path / "bin").mkdir()
    write_cifar_python(tmp_path / "py" / "test_batch", images, labels)
    write_cifar_binary(tmp_path / "bin" / "test_batch.bin", images, labels)
    np.savez(tmp_path / "d.npz", X=images, y=labels)
    write_image_zip(tmp_path / "c.zip", images, labels, CIFAR10_CLASSES)
    hashes = {
        load_dataset(p).sha256
        for p in (tmp_path / "py", tmp_path / "bin", tmp_path / "d.npz", tmp_path / "c.zip")
    }
    assert len(hashes) == 1
    changed = images.copy()
    changed[0, 0, 0, 0] ^= 1
    assert Dataset("x", changed, labels, list(CIFAR10_CLASSES)).sha256 not in hashes


def test_dataset_cache_round_trip_checks_its_hash(tmp_path: Path, cifar_like: tuple) -> None:
    ds = Dataset("c", *cifar_like, list(CIFAR10_CLASSES))
    ds.save_npz(tmp_path / "cache.npz")
    assert Dataset.load_npz(tmp_path / "cache.npz").sha256 == ds.sha256


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "nope")
    assert info.value.code == "not_found"


def _png(side: int, value: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def identical_pngs_zip(path: Path, count: int, side: int = 512) -> Path:
    """The issue's zip: `count` identical side x side PNGs (about 500:1 against decoded)."""
    png = _png(side)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(count):
            z.writestr(f"test/{'ab'[i % 2]}/{i:05d}.png", png)
    return path


_PEAK = """
import json, sys, time
from pathlib import Path
from grader.datasets import load_dataset
from grader.errors import DatasetError
t0 = time.monotonic()
try:
    load_dataset(Path(sys.argv[1]))
    code = "loaded"
except DatasetError as e:
    code, message = e.code, e.message
# VmHWM, not ru_maxrss: ru_maxrss keeps the forking parent's size across exec (a large pytest
# process made this read 427 MB for a child that never held more than ~60 MB).
status = Path("/proc/self/status").read_text()
peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) * 1024
print(json.dumps({"code": code, "message": message, "s": time.monotonic() - t0, "peak": peak}))
"""


def test_zip_of_identical_large_pngs_is_refused_by_decoded_size_before_decoding(
    tmp_path: Path,
) -> None:
    bomb = identical_pngs_zip(tmp_path / "bomb.zip", 2000)
    assert bomb.stat().st_size < 8 << 20  # ~3 MB that would decode to 1.5 GB
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(bomb)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    got = json.loads(out.stdout)
    assert got["code"] == "too_large" and "would decode to 1,500 MB" in got["message"], got
    assert "limit is 256 MB" in got["message"]
    assert got["peak"] < 300 << 20, got  # the process, Python and NumPy included
    assert got["s"] < 30, got


def test_image_zip_just_under_the_decoded_cap_loads(tmp_path: Path) -> None:
    ds = load_dataset(identical_pngs_zip(tmp_path / "ok.zip", 40, side=256))
    assert ds.images.shape == (40, 256, 256, 3) and int(ds.images.max()) == 128


@pytest.mark.parametrize("payload", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_png_that_is_not_an_image_is_refused_with_its_name(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("test/cat/0001.png", _png(8))
        z.writestr("test/dog/0002.png", payload)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.code == "not_an_image"
    assert "test/dog/0002.png is not an image" in info.value.message


def test_truncated_png_is_refused_when_decoded(tmp_path: Path) -> None:
    path = tmp_path / "cut.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("test/cat/0001.png", _png(8))
        z.writestr("test/dog/0002.png", _png(64, 7)[:-30])
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.code in ("not_an_image", "mixed_shapes")
