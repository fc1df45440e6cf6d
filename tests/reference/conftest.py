"""Shared fixtures for the reference-model tests (onnx, onnxruntime and numpy only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_DEFAULT_SHARED = ROOT / "shared" if (ROOT / "shared").is_dir() else ROOT.parent / "shared"
SHARED = Path(os.environ.get("PODIUM_SHARED", _DEFAULT_SHARED))
MNIST_DIR = Path(os.environ.get("PODIUM_MNIST", SHARED / "datasets" / "mnist"))
CIFAR_ZIP = Path(os.environ.get("PODIUM_CIFAR10", SHARED / "datasets" / "cifar10-jpeg.zip"))


def _load(path: Path, split: str):  # type: ignore[no-untyped-def]
    if not path.exists():
        pytest.skip(f"{path} is not here")
    from grader.datasets import load_dataset

    return load_dataset(path, split=split)


@pytest.fixture(scope="session")
def mnist_test():  # type: ignore[no-untyped-def]
    return _load(MNIST_DIR, "test")


@pytest.fixture(scope="session")
def cifar_test():  # type: ignore[no-untyped-def]
    return _load(CIFAR_ZIP, "test")
