"""The Dataset type and its content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.errors import DatasetError

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
MNIST_CLASSES = [str(i) for i in range(10)]


def dataset_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """Hash of the decoded content, so the same data in two file formats hashes the same."""
    h = hashlib.sha256()
    h.update(f"podium-dataset-v1 {images.shape} ".encode())
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return h.hexdigest()


@dataclass
class Dataset:
    """Images as uint8 (N, H, W, C) and integer labels (N,)."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    sha256: str = field(default="")
    # Only the first `scored` images count for the scores and the diagnosis; the rest are only
    # predicted, in the same run (the platform's robustness track appends corrupted copies and
    # scores them itself). None: all of them.
    scored: int | None = None

    @property
    def n_scored(self) -> int:
        return len(self) if self.scored is None else self.scored

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise DatasetError("bad_images", "images must be uint8 with shape (N, H, W, C)")
        if self.images.shape[3] not in (1, 3):
            raise DatasetError(
                "bad_images", f"images must have 1 or 3 channels, not {self.images.shape[3]}"
            )
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (self.images.shape[0],):
            raise DatasetError(
                "bad_labels",
                f"{self.images.shape[0]} images but labels of shape {self.labels.shape}",
            )
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise DatasetError("bad_labels", f"labels must lie in 0..{len(self.classes) - 1}")
        if not self.sha256:
            self.sha256 = dataset_sha256(self.images, self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        h, w, c = self.images.shape[1:]
        return (int(h), int(w), int(c))

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, indices: np.ndarray, name: str | None = None) -> Dataset:
        return Dataset(
            name or self.name, self.images[indices], self.labels[indices], list(self.classes)
        )

    def save_npz(self, path: str | Path) -> None:
        """Write a cache file (uncompressed: loads in milliseconds)."""
        np.savez(
            path,
            X=self.images,
            y=self.labels,
            classes=np.array(self.classes),
            name=np.array(self.name),
            sha256=np.array(self.sha256),
        )

    @classmethod
    def load_npz(cls, path: str | Path) -> Dataset:
        with np.load(path, allow_pickle=False) as z:
            classes = [str(c) for c in z["classes"]] if "classes" in z else MNIST_CLASSES
            name = str(z["name"]) if "name" in z else Path(path).stem
            ds = cls(name, z["X"], z["y"], classes)
            if "sha256" in z and str(z["sha256"]) != ds.sha256:
                raise DatasetError("hash_mismatch", f"{path}: content does not match its hash")
            return ds


def default_classes(n: int, image_shape: tuple[int, ...]) -> list[str]:
    if n == 10 and image_shape[-1] == 3:
        return list(CIFAR10_CLASSES)
    return [str(i) for i in range(n)]
