"""Shared fixtures for the grading engine's tests: real data, a trained model, a sandbox pool.

The trained model is the committed `mnist_logreg` baseline's weights (reference/models/), exported
in whatever form a test needs: the same model in every clone, with or without data beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from grader.datasets import Dataset, load_dataset
from grader.preprocess import PRESETS
from grader.sandbox import SandboxPool
from testsupport.frames import Frames, record_sends
from testsupport.onnx_build import linear_model, raw

REPO = Path(__file__).resolve().parents[2]
MNIST_DIR = REPO / "data" / "mnist"


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


@pytest.fixture(scope="session")
def trained() -> tuple[np.ndarray, np.ndarray]:
    """(W (784, 10), b (10,)) of the committed `mnist_logreg` baseline, for [0,1] pixel inputs.

    Read from reference/models/ (trained on the full MNIST training set, never on t10k) so that
    every clone tests the same model: ~0.92 on the bundled MNIST test set. The baseline was trained
    on `mnist`-normalised inputs; its normalisation is folded into W and b here."""
    graph = onnx.load(REPO / "reference" / "models" / "mnist_logreg.onnx").graph
    (gemm,) = [n for n in graph.node if n.op_type == "Gemm"]
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    assert attrs.get("transB") == 1 and attrs.get("alpha", 1.0) == 1.0 == attrs.get("beta", 1.0)
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    weight, bias = init[gemm.input[1]].astype(np.float32), init[gemm.input[2]].astype(np.float32)
    mean, std = PRESETS["mnist"]
    w = (weight.T / np.float32(std[0])).astype(np.float32)
    b = (bias - np.float32(mean[0] / std[0]) * weight.sum(axis=1)).astype(np.float32)
    return w, b


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
