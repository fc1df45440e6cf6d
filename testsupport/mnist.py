"""MNIST data and small trained models for tests and benchmarks, from the bundled data/mnist only.

The models are softmax regressions fitted by a few full-batch gradient steps in NumPy on MNIST
training images (never the t10k test images they are scored on), so their scores are real and
non-trivial: about 0.6 (1 step) to 0.9 (50 steps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from testsupport.procs import ROOT

MNIST_DIR = ROOT / "data" / "mnist"
N_TEST = 400  # held-out images in the web suite's competitions: enough for a split, fast to grade


def mnist_dir() -> Path:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        raise FileNotFoundError(f"MNIST files not found under {MNIST_DIR}")
    return MNIST_DIR


def mnist_subset_npz(path: Path, n: int = 500) -> Path:
    """The first n MNIST test images as an npz the engine imports."""
    from grader.datasets import load_dataset

    ds = load_dataset(mnist_dir(), split="test")
    np.savez(path, X=ds.images[:n], y=ds.labels[:n])
    return path


def tensor(name: str, array: Any) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def mnist_io_model(nodes: list[onnx.NodeProto], inits: list[Any], name: str) -> bytes:
    """A checked model from `input` (N, 1, 28, 28) float to `output` (N, 10); IR 8, opset 17."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 10])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # onnx 1.23 writes IR 14 by default; onnxruntime 1.31 reads up to 13
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def fit_logreg(
    images: np.ndarray, labels: np.ndarray, steps: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A few full-batch softmax-regression gradient steps on pixel/255."""
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    y = np.eye(10, dtype=np.float32)[labels]
    w = np.random.default_rng(seed).normal(0, 0.01, (x.shape[1], 10)).astype(np.float32)
    b = np.zeros(10, np.float32)
    for _ in range(steps):
        z = x @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        g = (p - y) / len(x)
        w -= 0.5 * x.T @ g
        b -= 0.5 * g.sum(0)
    return w, b


def logreg_onnx(w: np.ndarray, b: np.ndarray, *, softmax: bool = True) -> bytes:
    """input (N, 1, 28, 28) float -> Flatten -> Gemm -> [Softmax] -> output."""
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits" if softmax else "output"]),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["output"], axis=1))
    inits = [tensor("W", w.astype(np.float32)), tensor("B", b.astype(np.float32))]
    return mnist_io_model(nodes, inits, "logreg")


def logreg_models(steps: tuple[int, ...] = (1, 3, 8, 20, 50)) -> list[bytes]:
    """One logit model per entry of `steps`, fitted on 1000 MNIST training images: of increasing
    accuracy (about 0.6 to 0.9)."""
    from grader.datasets import load_dataset

    ds = load_dataset(mnist_dir(), split="train")
    images, labels = ds.images[:1000], ds.labels[:1000]
    return [logreg_onnx(*fit_logreg(images, labels, n), softmax=False) for n in steps]
