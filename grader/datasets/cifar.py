"""CIFAR-10 in its python-pickle and binary formats (https://www.cs.toronto.edu/~kriz/cifar.html).

The python batches are pickles. Unpickling untrusted data runs code, so they are read through an
unpickler that admits only the types a genuine batch holds: dicts, lists, bytes, str, numbers and
NumPy arrays. Anything else (os.system, builtins.eval, ...) is refused.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from grader.datasets.base import CIFAR10_CLASSES, Dataset
from grader.errors import DatasetError

MAX_MEMBER_BYTES = 400 << 20
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    # pickle protocol 5 (Python 3.8+'s highest): frombuffer + reshape; an object dtype is refused
    # by frombuffer itself
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


def _latin1_encode(text: Any, encoding: str = "latin1") -> bytes:
    """Protocol 2 has no bytes opcode: Python 3 pickles bytes as _codecs.encode(str, 'latin1').
    Only that use is admitted (other codecs, e.g. zlib or base64, have no place in a batch)."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise DatasetError("unsafe_pickle", "the batch file uses _codecs.encode unexpectedly")
    return text.encode("latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise DatasetError(
            "unsafe_pickle",
            f"the batch file asks to load {module}.{name}; only NumPy arrays are allowed",
        )


def restricted_loads(data: bytes) -> Any:
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DatasetError:
        raise
    except Exception as e:  # malformed pickles raise many kinds of errors
        raise DatasetError("bad_pickle", f"not a CIFAR-10 batch: {type(e).__name__}: {e}") from e


def _batch_names(split: str, binary: bool) -> list[str]:
    ext = ".bin" if binary else ""
    if split == "test":
        return [f"test_batch{ext}"]
    if split == "train":
        return [f"data_batch_{i}{ext}" for i in range(1, 6)]
    raise DatasetError("bad_split", f"CIFAR-10 split must be test or train, not {split!r}")


def _read_members(path: Path, names: list[str]) -> list[bytes]:
    """The named batch files from a directory, a tar(.gz) archive, or `path` itself."""
    if path.is_file() and tarfile.is_tarfile(path):
        out: dict[str, bytes] = {}
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                base = m.name.rsplit("/", 1)[-1]
                if base in names and m.isfile():
                    if m.size > MAX_MEMBER_BYTES:
                        raise DatasetError("too_large", f"{m.name}: {m.size} bytes")
                    f = tar.extractfile(m)
                    assert f is not None
                    out[base] = f.read()
        missing = [n for n in names if n not in out]
        if missing:
            raise DatasetError("not_found", f"{path.name}: no {', '.join(missing)}")
        return [out[n] for n in names]
    if path.is_file():
        return [path.read_bytes()]
    found = []
    for n in names:
        p = path / n
        if not p.exists():
            raise DatasetError("not_found", f"{path}: no {n}")
        found.append(p.read_bytes())
    return found


def _to_nhwc(flat: np.ndarray) -> np.ndarray:
    # Both formats store each image as 1024 red, 1024 green, 1024 blue bytes (CHW).
    return flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()


def load_cifar_python(path: Path, *, split: str = "test") -> Dataset:
    images, labels = [], []
    for raw in _read_members(path, _batch_names(split, binary=False)):
        batch = restricted_loads(raw)
        if not isinstance(batch, dict):
            raise DatasetError("bad_pickle", "a CIFAR-10 batch is a dict")
        data = batch.get(b"data", batch.get("data"))
        lbls = batch.get(b"labels", batch.get("labels"))
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
            raise DatasetError("bad_pickle", "batch 'data' must be a uint8 array (N, 3072)")
        if data.shape[1] != 3072 or lbls is None or len(lbls) != data.shape[0]:
            raise DatasetError("bad_pickle", "batch 'data' and 'labels' do not match")
        images.append(_to_nhwc(data))
        labels.append(np.asarray(lbls, dtype=np.int64))
    return Dataset(
        f"cifar10-{split}", np.concatenate(images), np.concatenate(labels), list(CIFAR10_CLASSES)
    )


def load_cifar_binary(path: Path, *, split: str = "test") -> Dataset:
    images, labels = [], []
    for raw in _read_members(path, _batch_names(split, binary=True)):
        if len(raw) % 3073:
            raise DatasetError("bad_binary", f"{len(raw)} bytes is not a whole number of records")
        rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
        labels.append(rec[:, 0].astype(np.int64))
        images.append(_to_nhwc(rec[:, 1:]))
    return Dataset(
        f"cifar10-{split}", np.concatenate(images), np.concatenate(labels), list(CIFAR10_CLASSES)
    )
