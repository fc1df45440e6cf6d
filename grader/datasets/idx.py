"""MNIST in the IDX format (http://yann.lecun.com/exdb/mnist/), gzipped or not."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from grader.datasets.base import MNIST_CLASSES, Dataset
from grader.errors import DatasetError

MAX_ITEMS = 10_000_000
_PREFIX = {"test": "t10k", "train": "train"}


def read_idx(path: Path, max_bytes: int = 1 << 31) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (type 0x08), checking the header against the data."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        header = f.read(4)
        if len(header) != 4 or header[:2] != b"\x00\x00":
            raise DatasetError("bad_idx", f"{path.name}: not an IDX file")
        if header[2] != 0x08:
            raise DatasetError("bad_idx", f"{path.name}: only unsigned-byte IDX data is supported")
        ndim = header[3]
        if not 1 <= ndim <= 4:
            raise DatasetError("bad_idx", f"{path.name}: {ndim} dimensions")
        dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
        size = int(np.prod(dims, dtype=np.int64))
        if dims[0] > MAX_ITEMS or size > max_bytes:
            raise DatasetError("too_large", f"{path.name}: declares {dims}, over the limit")
        data = f.read(size + 1)
    if len(data) != size:
        raise DatasetError(
            "bad_idx", f"{path.name}: header declares {size} bytes of data, file holds {len(data)}"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, f"{stem}.gz"):
        if (directory / name).exists():
            return directory / name
    raise DatasetError("not_found", f"{directory}: no {stem}[.gz]")


def load_mnist(path: Path, *, split: str = "test") -> Dataset:
    """`path` is a directory holding the four official files, or an images file beside its labels."""
    if path.is_dir():
        prefix = _PREFIX.get(split)
        if prefix is None:
            raise DatasetError("bad_split", f"MNIST split must be test or train, not {split!r}")
        img_path = _find(path, f"{prefix}-images-idx3-ubyte")
        lbl_path = _find(path, f"{prefix}-labels-idx1-ubyte")
    else:
        img_path = path
        lbl_path = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
        if lbl_path == img_path or not lbl_path.exists():
            raise DatasetError("not_found", f"{path.name}: no labels file beside it")
    images = read_idx(img_path)
    labels = read_idx(lbl_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            "bad_idx", f"images {images.shape} and labels {labels.shape} do not match"
        )
    return Dataset(
        f"mnist-{split}", images[..., None], labels.astype(np.int64), list(MNIST_CLASSES)
    )
