"""Held-out datasets on disk: import, worker-side cache by content hash, preview images.

Stored datasets are the engine's canonical npz (Dataset.save_npz), whatever the imported format,
so workers load them in milliseconds. Each process keeps a small in-memory memo too.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models.fields.files import FieldFile
from PIL import Image

from competitions.models import HeldOutDataset
from grader.datasets import Dataset

_MEMO: dict[str, Dataset] = {}
_MEMO_MAX = 4
CACHE_WRITE_TRIES = 3  # another worker's cleanup, or a transient error, may free the space
CACHE_RETRY_S = 0.5
STALE_PART_S = 3600  # a .part this old was left by a worker killed mid-write (none writes so long)


class DatasetCacheFull(Exception):
    """The worker could not write a dataset to its cache (disk full, or another I/O error),
    after retries: the platform's failure, never the student's."""


def dataset_cache_path(*, sha256: str) -> Path:
    return Path(settings.PODIUM_DATASET_CACHE) / f"{sha256}.npz"


def _write_cache(path: Path, field: FieldFile) -> None:
    """Copy the stored dataset into the cache through a `.part` file, renamed when whole; a
    failed write removes its `.part` and is tried again, then raises DatasetCacheFull."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(path.parent)
    error: OSError | None = None
    for attempt in range(CACHE_WRITE_TRIES):
        if attempt:
            time.sleep(CACHE_RETRY_S * attempt)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
            with os.fdopen(fd, "wb") as out, field.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, path)
            return
        except OSError as e:
            error = e
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
    raise DatasetCacheFull(
        f"could not write {path.name} to the dataset cache after {CACHE_WRITE_TRIES} tries: {error}"
    ) from error


def _remove_stale_parts(cache: Path) -> None:
    """Partial files of writers that died (killed while copying) would hold the space for good."""
    now = time.time()
    for part in cache.glob("*.part"):
        try:
            if now - part.stat().st_mtime > STALE_PART_S:
                part.unlink()
        except OSError:
            pass  # another worker removed it first


def _cached(sha256: str, field: FieldFile) -> Dataset:
    if sha256 in _MEMO:
        return _MEMO[sha256]
    path = dataset_cache_path(sha256=sha256)
    if not path.exists():
        _write_cache(path, field)
    dataset = Dataset.load_npz(path)  # checks the content against its hash
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.pop(next(iter(_MEMO)))
    _MEMO[sha256] = dataset
    return dataset


def dataset_load(*, record: HeldOutDataset) -> Dataset:
    """The decoded dataset of a record, from the process memo, the var/ cache or storage."""
    return _cached(record.sha256, record.file)


def dataset_load_sample(*, record: HeldOutDataset) -> Dataset | None:
    """The public training sample used for the engine's preprocessing diagnosis, if any."""
    if not record.sample or not record.sample_sha256:
        return None
    return _cached(record.sample_sha256, record.sample)


def image_png(image: np.ndarray, *, scale: int = 2) -> bytes:
    """One (H, W, C) uint8 image as PNG bytes, enlarged by `scale`."""
    arr = image[..., 0] if image.shape[-1] == 1 else image
    pic = Image.fromarray(arr)
    pic = pic.resize((pic.width * scale, pic.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    return buf.getvalue()


def image_data_uri(image: np.ndarray, *, scale: int = 2) -> str:
    return "data:image/png;base64," + base64.b64encode(image_png(image, scale=scale)).decode()


def preview_grid_png(dataset: Dataset, *, per_class: int = 8, scale: int = 2) -> bytes:
    """A grid: one row per class, the first `per_class` images of that class."""
    h, w, c = dataset.image_shape
    rows = len(dataset.classes)
    grid = np.full((rows * (h + 2), per_class * (w + 2), c), 255, dtype=np.uint8)
    for k in range(rows):
        idx = np.flatnonzero(dataset.labels == k)[:per_class]
        for j, i in enumerate(idx):
            grid[k * (h + 2) : k * (h + 2) + h, j * (w + 2) : j * (w + 2) + w] = dataset.images[i]
    return image_png(grid, scale=scale)


def robustness_load(*, record: HeldOutDataset, seed: int) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The corrupted copies of a held-out set's images for the robustness track
    (grader.corruptions), made once per content hash, seed and corruption version, then cached
    beside the dataset (worker-side only: never served)."""
    from grader.corruptions import VERSION, robustness_set

    key = f"{record.sha256}-robust-v{VERSION}-{seed}"
    path = Path(settings.PODIUM_DATASET_CACHE) / f"{key}.npz"
    if path.exists():
        with np.load(path) as z:
            robust = Dataset(key, z["images"], z["labels"], list(z["classes"]))
            return robust, z["source"], z["kind"]
    robust, source, kind = robustness_set(dataset_load(record=record), seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    with os.fdopen(fd, "wb") as out:
        np.savez(
            out,
            images=robust.images,
            labels=robust.labels,
            classes=np.array(robust.classes),
            source=source,
            kind=kind,
        )
    os.replace(tmp, path)
    return robust, source, kind
