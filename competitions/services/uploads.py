"""Upload handling shared by students' submissions and baselines: display names, the checks
known before reading the file, and storing it under its UUID name."""

from __future__ import annotations

import errno
import logging
import re
import unicodedata
from collections.abc import Callable
from pathlib import PurePath
from typing import Protocol

from django.conf import settings
from django.core.files.base import ContentFile

from competitions.errors import Refused, ServiceError
from competitions.models import Competition, Submission

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "npz", "keras")
FORMAT_LABELS = {
    "onnx": "ONNX (.onnx)",
    "npz": "NumPy network (.npz)",
    "keras": "Keras model (.keras or .h5, as model.save wrote it)",
}
# The file's extension names its format; the engine reads a Keras file's layout (zip or HDF5)
# from its content (grader/prepare.KERAS_SUFFIXES).
EXTENSIONS = {"onnx": "onnx", "npz": "npz", "keras": "keras", "h5": "keras", "hdf5": "keras"}

type Refuse = Callable[[str, str], Refused]
"""Builds the refusal to raise (a student's upload also records it for the flood limit)."""


class UploadLike(Protocol):
    """What the services read of an upload (Django's UploadedFile, or a file opened by a command)."""

    @property
    def name(self) -> str | None: ...

    @property
    def size(self) -> int | None: ...

    def read(self, size: int = -1) -> bytes: ...


def filename_sanitize(name: str) -> str:
    """Display text only (the stored file gets a UUID name): base name, safe characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFKC", base)
    # Brackets, plus and comma stay ("model (final).onnx"): the name is escaped wherever shown.
    base = re.sub(r"[^\w.\-()\[\]+, ]+", "_", base).strip(" .") or "model"
    if len(base) > 100:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 100 - len(ext) - 1] + dot + ext) if dot else base[:100]
    return base


def upload_format(name: str) -> str:
    """The format a file name declares ("" when none)."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return EXTENSIONS.get(ext, "")


def formats_text(formats: list[str]) -> str:
    """What to upload, in words: ".onnx or .npz or .keras/.h5"."""
    exts = {f: "/".join("." + e for e, g in EXTENSIONS.items() if g == f) for f in FORMATS}
    return " or ".join(exts.get(f, "." + f) for f in formats)


def upload_name_checked(*, competition: Competition, upload: UploadLike, refuse: Refuse) -> str:
    """The sanitized name, once the format and the size (known before reading) are allowed."""
    name = filename_sanitize(upload.name or "")
    fmt = upload_format(name)
    allowed = competition.allowed_formats or list(FORMATS)
    if fmt not in allowed:
        raise refuse("bad_format", f"Upload a {formats_text(allowed)} file.")
    if (upload.size or 0) > settings.PODIUM_MAX_UPLOAD_MB * 1024 * 1024:
        raise refuse("too_large", f"The file is over {settings.PODIUM_MAX_UPLOAD_MB} MB.")
    return name


class StorageUnavailable(ServiceError):
    """Our storage could not keep the file (disk full, I/O error): nothing was recorded."""


def upload_store(sub: Submission, name: str, data: bytes) -> None:
    """Write the upload under its UUID name; on a storage error remove any partial file and
    tell the student clearly (no row exists yet, no quota is used)."""
    storage = sub.file.storage
    target = sub.file.field.generate_filename(sub, name)
    try:
        sub.file.name = storage.save(
            target, ContentFile(data), max_length=sub.file.field.max_length
        )
    except OSError as e:
        logger.error("could not store upload %s (%s)", target, e)
        try:
            storage.delete(target)
        except OSError:
            pass
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageUnavailable(
                "storage_full",
                "The server has no space left to store your file. Nothing was recorded and no "
                "submission was used; please try again later.",
            ) from e
        raise StorageUnavailable(
            "storage_error",
            "The server could not store your file. Nothing was recorded and no submission was "
            "used; please try again later.",
        ) from e
