"""Shared fixtures for the grading engine's tests: real data, a trained model, a sandbox pool.

The trained model is a softmax regression fitted here in NumPy on 10,000 MNIST training images (the
held-out t10k images are never used for fitting), then exported in whatever form a test needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from grader_helpers import Frames, linear_model, raw, record_sends

from grader.datasets import Dataset, load_dataset
from grader.sandbox import SandboxPool

REPO = Path(__file__).resolve().parents[2]
MNIST_DIR = REPO / "data" / "mnist"
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mnist_test() -> Dataset:
    return load_dataset(MNIST_DIR, split="test")


@pytest.fixture(scope="session")
def mnist_small(mnist_test: Dataset) -> Dataset:
    """The first 2,000 held-out images: enough for stable accuracies, quick to run."""
    return mnist_test.subset(np.arange(2000), name="mnist-small")


@pytest.fixture(scope="session")
def mnist_sample() -> Dataset:
    """Public training images (the bundled first 1,000): the diagnosis sample."""
    return load_dataset(MNIST_DIR, split="train")


def _softmax_regression(x: np.ndarray, y: np.ndarray, steps: int, lr: float) -> tuple[Any, Any]:
    """Full-batch gradient descent with momentum: ~0.9 on MNIST test in about two seconds."""
    n, d = x.shape
    w = np.zeros((d, 10), np.float32)
    b = np.zeros(10, np.float32)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    onehot = np.eye(10, dtype=np.float32)[y]
    for _ in range(steps):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / n
        vw = 0.9 * vw + x.T @ g
        vb = 0.9 * vb + g.sum(axis=0)
        w -= lr * vw
        b -= lr * vb
    return w, b


@pytest.fixture(scope="session")
def trained() -> tuple[np.ndarray, np.ndarray]:
    """(W (784, 10), b (10,)) of a softmax regression on [0,1] pixels, ~0.9 on MNIST test."""
    src = SHARED_MNIST if (SHARED_MNIST / "train-images-idx3-ubyte.gz").exists() else MNIST_DIR
    train = load_dataset(src, split="train")
    n = min(len(train), 10_000)
    x = train.images[:n].reshape(n, -1).astype(np.float32) / 255.0
    return _softmax_regression(x, train.labels[:n], steps=60, lr=0.5)


@pytest.fixture(scope="session")
def trained_bytes(trained: tuple[np.ndarray, np.ndarray]) -> bytes:
    return raw(linear_model(*trained, ["N", 1, 28, 28]))


@pytest.fixture(scope="session")
def pool() -> Iterator[SandboxPool]:
    p = SandboxPool(warm=True)
    yield p
    p.close()


# ---------------------------------------------------------------------------------------------
# Synthetic CIFAR-shaped data: a template classifier that is right only in one pixel order
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cifar_templates() -> np.ndarray:
    """(10, 32, 32, 3) float templates in [-1, 1], one per class."""
    return np.random.default_rng(7).uniform(-1, 1, size=(10, 32, 32, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def cifar_synth(cifar_templates: np.ndarray) -> Dataset:
    rng = np.random.default_rng(8)
    labels = np.arange(300) % 10
    noise = rng.normal(0, 30, size=(300, 32, 32, 3))
    images = np.clip(127.5 + 90 * cifar_templates[labels] + noise, 0, 255).astype(np.uint8)
    from grader.datasets.base import CIFAR10_CLASSES

    return Dataset("cifar-synth", images, labels, list(CIFAR10_CLASSES))


@pytest.fixture(scope="session")
def cifar_weights(cifar_templates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W (3072, 10) matching templates in H, W, C order (for [0,1] inputs)."""
    return cifar_templates.reshape(10, -1).T.copy(), np.zeros(10, np.float32)


@pytest.fixture
def sent_to_child(monkeypatch: pytest.MonkeyPatch) -> Frames:
    """Every frame the grader sends to its sandbox children during the test: (header, arrays)."""
    return record_sends(monkeypatch)
