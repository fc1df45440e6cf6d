"""Helpers for the competitions suite: real data, real ONNX models, waiting on real grading.

Models are tiny Flatten+Gemm(+Softmax) logistic regressions with weights fitted by a few NumPy
gradient steps on MNIST training images, so their scores are non-trivial (about 0.8 to 0.9).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[2]
MNIST_DIRS = [ROOT / "data" / "mnist"]
N_TEST = 400  # held-out images in the test competitions: enough for a split, fast to grade


def mnist_dir() -> Path:
    for d in MNIST_DIRS:
        if (d / "t10k-images-idx3-ubyte.gz").exists():
            return d
    pytest.skip("MNIST files not found under data/mnist")


def logreg_onnx(w: np.ndarray, b: np.ndarray, *, softmax: bool = True) -> bytes:
    """Input (N, 1, 28, 28) float -> Flatten -> Gemm -> [Softmax]; IR 10, opset 17."""
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits" if softmax else "output"]),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["output"], axis=1))
    graph = helper.make_graph(
        nodes,
        "logreg",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", w.shape[1]])],
        initializer=[
            helper.make_tensor("W", TensorProto.FLOAT, w.shape, w.astype(np.float32).ravel()),
            helper.make_tensor("B", TensorProto.FLOAT, b.shape, b.astype(np.float32).ravel()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model.SerializeToString()


def fit_logreg(images: np.ndarray, labels: np.ndarray, steps: int, seed: int = 0):
    """A few full-batch softmax-regression gradient steps on pixel/255."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    y = np.eye(10, dtype=np.float32)[labels]
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.01, (x.shape[1], 10)).astype(np.float32)
    b = np.zeros(10, np.float32)
    for _ in range(steps):
        z = x @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g = (p - y) / len(x)
        w -= 0.5 * x.T @ g
        b -= 0.5 * g.sum(0)
    return w, b


def upload(data: bytes, name: str = "model.onnx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def wait_done(submission_id, timeout: float = 60.0):
    from competitions.models import Submission

    def done():
        s = Submission.objects.get(pk=submission_id)
        return s if s.is_done else None

    return wait_for(done, timeout)
