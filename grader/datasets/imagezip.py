"""Image-folder zips: `<split>/<class>/<file>.jpg|png`, one folder per class.

Classes are ordered as CIFAR-10's official labels when the folder names are CIFAR-10's, as
integers when they are digits, and alphabetically otherwise.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from grader.datasets.base import CIFAR10_CLASSES, Dataset
from grader.errors import DatasetError

MAX_IMAGES = 200_000
MAX_SIDE = 512
MAX_UNCOMPRESSED = 2 << 30
_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def _class_order(names: set[str]) -> list[str]:
    if names == set(CIFAR10_CLASSES):
        return list(CIFAR10_CLASSES)
    if all(n.isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)


def load_image_zip(path: Path, *, split: str = "test") -> Dataset:
    from PIL import Image  # Pillow is only needed for this format

    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DatasetError("bad_zip", f"{path.name}: not a zip file") from e
    members: list[tuple[str, zipfile.ZipInfo]] = []
    total = 0
    for info in zf.infolist():
        parts = info.filename.split("/")
        if info.is_dir() or len(parts) != 3 or parts[0] != split:
            continue
        if not parts[2].lower().endswith(_EXTS) or ".." in parts:
            continue
        total += info.file_size
        members.append((parts[1], info))
    if not members:
        raise DatasetError("not_found", f"{path.name}: no images under {split}/<class>/")
    if len(members) > MAX_IMAGES or total > MAX_UNCOMPRESSED:
        raise DatasetError("too_large", f"{path.name}: {len(members)} images, {total:,} bytes")
    classes = _class_order({c for c, _ in members})
    index = {c: i for i, c in enumerate(classes)}
    members.sort(key=lambda m: (index[m[0]], m[1].filename))
    images: list[np.ndarray] = []
    shape: tuple[int, ...] | None = None
    for _cls, info in members:
        with Image.open(io.BytesIO(zf.read(info))) as im:
            if max(im.size) > MAX_SIDE:
                raise DatasetError("too_large", f"{info.filename}: {im.size} pixels")
            mode = "L" if im.mode in ("L", "1", "I;16") else "RGB"
            arr = np.asarray(im.convert(mode), dtype=np.uint8)
        if arr.ndim == 2:
            arr = arr[..., None]
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise DatasetError(
                "mixed_shapes", f"{info.filename} is {arr.shape}, the first image was {shape}"
            )
        images.append(arr)
    labels = np.array([index[c] for c, _ in members], dtype=np.int64)
    return Dataset(f"{path.stem}-{split}", np.stack(images), labels, classes)
