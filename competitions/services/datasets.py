"""Importing held-out datasets: any format the engine loads, stored as its canonical npz."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np
from django.contrib.auth.models import User
from django.core.files.base import ContentFile, File
from django.db import transaction

from competitions.dataset_cache import preview_grid_png
from competitions.errors import Refused
from competitions.models import HeldOutDataset
from grader.datasets import detect_format, load_dataset
from grader.datasets.base import Dataset
from grader.errors import DatasetError


class DatasetWarnings(Refused):
    """The dataset loads, but looks wrong or is already there: imported only once confirmed."""

    def __init__(self, warnings: list[str]) -> None:
        super().__init__("dataset_warnings", " ".join(warnings))
        self.warnings = warnings


def dataset_warnings(*, dataset: Dataset) -> list[str]:
    """What an instructor should look at before importing: classes without a single image
    (labels 20..29 make 30 classes, 20 of them empty) and content already imported."""
    warnings = []
    counts = np.bincount(dataset.labels, minlength=len(dataset.classes))
    empty = [str(c) for c, n in zip(dataset.classes, counts, strict=False) if n == 0]
    if empty:
        present = np.flatnonzero(counts)
        shown = ", ".join(empty[:12]) + (", …" if len(empty) > 12 else "")
        warnings.append(
            f"{len(empty)} of {len(dataset.classes)} classes have no images ({shown}); the labels "
            f"present run from {present.min()} to {present.max()}. Models are scored on "
            f"{len(dataset.classes)} classes: if the labels should start at 0, fix them first."
        )
    same = HeldOutDataset.objects.filter(sha256=dataset.sha256).values_list("name", flat=True)
    if same:
        names = ", ".join(repr(n) for n in same)
        warnings.append(f"The same images and labels are already imported as {names}.")
    return warnings


def dataset_import(
    *,
    path: Path,
    name: str,
    split: str = "test",
    user: User | None = None,
    replace: bool = False,
    confirmed: bool = True,
) -> HeldOutDataset:
    """Load `path` (file or directory) with the engine, store it, record checksum and preview.

    Unless `confirmed`, a dataset with warnings (`dataset_warnings`) is refused with them
    (DatasetWarnings). Importing the same content under the same name again returns the
    existing record."""
    try:
        fmt = detect_format(path)
        dataset = load_dataset(path, split=split, fmt=fmt, name=name)
    except DatasetError as e:
        raise Refused(e.code, e.message) from e
    if not confirmed:
        warnings = dataset_warnings(dataset=dataset)
        if warnings:
            raise DatasetWarnings(warnings)
    existing = HeldOutDataset.objects.filter(name=name).first()
    if existing is not None:
        if existing.sha256 == dataset.sha256:
            return existing
        if not replace:
            raise Refused("name_taken", f"A different dataset is already called {name!r}.")
    sample = None
    if split != "train" and fmt != "npz":
        try:  # the public training sample, when the source has one (diagnosis only, not scores)
            sample = load_dataset(path, split="train", fmt=fmt, name=f"{name} (train sample)")
        except DatasetError:
            sample = None
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "dataset.npz"
        dataset.save_npz(npz)
        data = npz.read_bytes()
        if sample is not None:
            if len(sample) > 2000:
                sample = sample.subset(np.arange(2000))
            sample.save_npz(Path(tmp) / "sample.npz")
            sample_data = (Path(tmp) / "sample.npz").read_bytes()
    record = existing or HeldOutDataset(name=name)
    record.source_format = fmt
    record.split = split
    record.n_images = len(dataset)
    record.sha256 = dataset.sha256
    record.file_sha256 = hashlib.sha256(data).hexdigest()
    record.file_bytes = len(data)
    record.classes = list(dataset.classes)
    record.image_shape = list(dataset.image_shape)
    record.created_by = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        record.file.save("dataset.npz", File(ContentFile(data)), save=False)
        record.preview.save("preview.png", ContentFile(preview_grid_png(dataset)), save=False)
        if sample is not None:
            record.sample.save("sample.npz", ContentFile(sample_data), save=False)
            record.sample_sha256 = sample.sha256
        record.save()
    return record


def dataset_import_uploads(
    *,
    files: list,
    name: str,
    split: str = "test",
    user: User | None = None,
    confirmed: bool = False,
) -> HeldOutDataset:
    """Uploaded file(s) from the instructor form: one file, or several (e.g. MNIST's IDX pair),
    written under their sanitized names into a temporary directory and loaded from there."""
    if not files:
        raise Refused("no_file", "Choose at least one file.")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for upload in files:
            safe = Path(upload.name or "").name.replace("/", "_") or "upload.bin"
            target = Path(tmp) / safe
            with target.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            paths.append(target)
        source = paths[0] if len(paths) == 1 else Path(tmp)
        return dataset_import(path=source, name=name, split=split, user=user, confirmed=confirmed)
