"""Datasets as `.npz` files holding X (N, H, W[, C]) uint8 and y (N,) integers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.datasets.base import Dataset, default_classes
from grader.errors import DatasetError, Rejected
from grader.npzsafe import open_npz


def load_npz(path: Path) -> Dataset:
    try:
        arrays = open_npz(path.read_bytes(), max_total_bytes=2 << 30)
    except Rejected as e:
        raise DatasetError(e.code, f"{path.name}: {e.message}") from e
    if "X" not in arrays or "y" not in arrays:
        raise DatasetError("bad_npz", f"{path.name}: needs arrays X and y, has {sorted(arrays)}")
    x, y = arrays["X"], arrays["y"]
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DatasetError("bad_npz", f"X must be (N, H, W) or (N, H, W, C), not {x.shape}")
    if x.dtype != np.uint8:
        if np.issubdtype(x.dtype, np.floating) and x.size and float(np.nanmax(x)) <= 1.0:
            x = np.round(x * 255)
        x = np.clip(x, 0, 255).astype(np.uint8)
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError("bad_npz", f"y must hold integer labels, not {y.dtype}")
    if "classes" in arrays:
        classes = [str(c) for c in arrays["classes"]]
    else:
        classes = default_classes(int(y.max()) + 1 if y.size else 0, x.shape)
        if len(classes) < 10 and x.shape[-1] in (1, 3):
            classes = default_classes(10, x.shape)
    return Dataset(path.stem, x, y.astype(np.int64), classes)
