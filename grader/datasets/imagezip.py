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
# The decoded pixels, read from the images' headers before any is decoded: a zip of identical
# 512x512 PNGs compresses about 500 to 1, so compressed sizes bound nothing (3.2 MB once became
# 4.6 GB in the web request). CIFAR-10's test set decodes to 30 MB, MNIST's to 7.8 MB.
MAX_DECODED_BYTES = 256 << 20
MAX_IMAGE_FILE = 16 << 20  # one image file; a 512x512 RGB BMP is 0.8 MB
_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_GRAY = ("L", "1", "I;16")


def _class_order(names: set[str]) -> list[str]:
    if names == set(CIFAR10_CLASSES):
        return list(CIFAR10_CLASSES)
    if all(n.isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)


def _members(zf: zipfile.ZipFile, name: str, split: str) -> list[tuple[str, zipfile.ZipInfo]]:
    members: list[tuple[str, zipfile.ZipInfo]] = []
    total = 0
    for info in zf.infolist():
        parts = info.filename.split("/")
        if info.is_dir() or len(parts) != 3 or parts[0] != split:
            continue
        if not parts[2].lower().endswith(_EXTS) or ".." in parts:
            continue
        if info.file_size > MAX_IMAGE_FILE:
            raise DatasetError("too_large", f"{info.filename}: {info.file_size:,} bytes")
        total += info.file_size
        members.append((parts[1], info))
    if not members:
        raise DatasetError("not_found", f"{name}: no images under {split}/<class>/")
    if len(members) > MAX_IMAGES or total > MAX_UNCOMPRESSED:
        raise DatasetError("too_large", f"{name}: {len(members)} images, {total:,} bytes")
    return members


def _not_an_image(info: zipfile.ZipInfo, e: Exception) -> DatasetError:
    return DatasetError(
        "not_an_image", f"{info.filename} is not an image this server can read ({e})"[:300]
    )


def _shape(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int, int]:
    """(height, width, channels) from the image's header alone; nothing is decoded."""
    from PIL import Image

    try:
        with zf.open(info) as f, Image.open(f) as im:
            width, height = im.size
            channels = 1 if im.mode in _GRAY else 3
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise _not_an_image(info, e) from e
    if max(width, height) > MAX_SIDE:
        raise DatasetError("too_large", f"{info.filename}: {width}x{height} pixels")
    return height, width, channels


def _check_shapes(
    zf: zipfile.ZipFile, members: list[tuple[str, zipfile.ZipInfo]]
) -> tuple[int, int, int]:
    """Every image's header read first: one shape for all, and the decoded total under the cap."""
    shape = _shape(zf, members[0][1])
    for _cls, info in members[1:]:
        other = _shape(zf, info)
        if other != shape:
            raise DatasetError(
                "mixed_shapes", f"{info.filename} is {other}, the first image was {shape}"
            )
    decoded = len(members) * shape[0] * shape[1] * shape[2]
    if decoded > MAX_DECODED_BYTES:
        raise DatasetError(
            "too_large",
            f"{len(members)} images of {shape[1]}x{shape[0]}x{shape[2]} would decode to "
            f"{decoded / 2**20:,.0f} MB; the limit is {MAX_DECODED_BYTES >> 20} MB",
        )
    return shape


def _decode(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: np.ndarray) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(zf.read(info))) as im:
            arr = np.asarray(im.convert("L" if out.shape[-1] == 1 else "RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise _not_an_image(info, e) from e
    if arr.shape[:2] != out.shape[:2]:  # a header that lied about the size
        raise DatasetError("mixed_shapes", f"{info.filename} decoded to {arr.shape}")
    out[...] = arr.reshape(out.shape)


def load_image_zip(path: Path, *, split: str = "test") -> Dataset:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DatasetError("bad_zip", f"{path.name}: not a zip file") from e
    with zf:
        members = _members(zf, path.name, split)
        classes = _class_order({c for c, _ in members})
        index = {c: i for i, c in enumerate(classes)}
        members.sort(key=lambda m: (index[m[0]], m[1].filename))
        images = np.empty((len(members), *_check_shapes(zf, members)), dtype=np.uint8)
        for i, (_cls, info) in enumerate(members):
            _decode(zf, info, images[i])
    labels = np.array([index[c] for c, _ in members], dtype=np.int64)
    return Dataset(f"{path.stem}-{split}", images, labels, classes)
