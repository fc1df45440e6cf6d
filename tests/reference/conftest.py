"""Shared fixtures for the reference-model tests (onnx, onnxruntime and numpy only).

The held-out sets are the ones bundled in data/ (the full 10,000-image MNIST and CIFAR-10 JPEG-copy
test sets), so every clone runs the same tests with the same thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MNIST_DIR = ROOT / "data" / "mnist"
CIFAR_ZIP = ROOT / "data" / "cifar10" / "cifar10-jpeg-test.zip"


def _load(path: Path, split: str):  # type: ignore[no-untyped-def]
    from grader.datasets import load_dataset

    return load_dataset(path, split=split)


@pytest.fixture(scope="session")
def mnist_test():  # type: ignore[no-untyped-def]
    return _load(MNIST_DIR, "test")


@pytest.fixture(scope="session")
def cifar_test():  # type: ignore[no-untyped-def]
    return _load(CIFAR_ZIP, "test")
