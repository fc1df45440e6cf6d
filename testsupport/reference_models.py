"""Models for the benchmarks: the reference baselines when they exist, else the same
architectures with random weights (speed does not depend on the weights' values)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "reference" / "manifest.json"
# the course's models saved by real Keras (reference/keras_fixtures/), for the Keras bench rows
KERAS_COURSE = REPO / "tests" / "grader" / "keras_fixtures" / "course"


class _Graph:
    """An ONNX graph built layer by layer, with He-initialised random weights (seeded)."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(0)

    def _weights(self, name: str, w: np.ndarray, cout: int) -> None:
        self.inits += [
            numpy_helper.from_array(w, f"{name}.w"),
            numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.b"),
        ]

    def conv(
        self, x: str, name: str, *, cin: int, cout: int, k: int, stride: int, pads: list[int]
    ) -> str:
        w = self.rng.normal(0, (2 / (cin * k * k)) ** 0.5, (cout, cin, k, k)).astype(np.float32)
        self._weights(name, w, cout)
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}.w", f"{name}.b"],
                [f"{name}.c"],
                strides=[stride] * 2,
                pads=pads,
            )
        )
        self.nodes.append(helper.make_node("Relu", [f"{name}.c"], [f"{name}.r"]))
        return f"{name}.r"

    def dense(self, x: str, name: str, *, fin: int, fout: int, relu: bool = True) -> str:
        w = self.rng.normal(0, (2 / fin) ** 0.5, (fin, fout)).astype(np.float32)
        self._weights(name, w, fout)
        self.nodes.append(helper.make_node("Gemm", [x, f"{name}.w", f"{name}.b"], [f"{name}.g"]))
        if not relu:
            return f"{name}.g"
        self.nodes.append(helper.make_node("Relu", [f"{name}.g"], [f"{name}.r"]))
        return f"{name}.r"

    def add(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def model(self, shape: list[int], out: str) -> bytes:
        g = helper.make_graph(
            self.nodes,
            "bench",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 10])],
            self.inits,
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m.SerializeToString()


def mnist_cnn_deep() -> bytes:
    """The course's deep MNIST CNN (286,940 params), channels-first, Keras 'same' pads."""
    g = _Graph()
    x = g.conv("x", "c1", cin=1, cout=10, k=5, stride=2, pads=[1, 1, 2, 2])
    x = g.conv(x, "c2", cin=10, cout=40, k=5, stride=2, pads=[1, 1, 2, 2])
    x = g.conv(x, "c3", cin=40, cout=80, k=5, stride=1, pads=[2, 2, 2, 2])
    x = g.add("Flatten", [x], "flat")
    x = g.dense(x, "d1", fin=80 * 7 * 7, fout=50)
    return g.model([1, 28, 28], g.dense(x, "d2", fin=50, fout=10, relu=False))


def cifar10_cnn() -> bytes:
    """Three blocks of two 3x3 convs + max-pool (32, 64, 128), Dense(512), Dense(10)."""
    g = _Graph()
    x, cin = "x", 3
    for i, f in enumerate((32, 64, 128)):
        x = g.conv(x, f"b{i}a", cin=cin, cout=f, k=3, stride=1, pads=[1, 1, 1, 1])
        x = g.conv(x, f"b{i}b", cin=f, cout=f, k=3, stride=1, pads=[1, 1, 1, 1])
        x = g.add("MaxPool", [x], f"p{i}", kernel_shape=[2, 2], strides=[2, 2])
        cin = f
    x = g.add("Flatten", [x], "flat")
    x = g.dense(x, "d1", fin=128 * 4 * 4, fout=512)
    return g.model([3, 32, 32], g.dense(x, "d2", fin=512, fout=10, relu=False))


def bench_models() -> list[tuple[str, str, bytes, str]]:
    """(name, dataset, model bytes, origin) for each model to measure."""
    out: list[tuple[str, str, bytes, str]] = []
    if MANIFEST.exists():
        manifest = json.loads(MANIFEST.read_text())
        entries = manifest.get("models", []) if isinstance(manifest, dict) else manifest
        for entry in entries:
            path = REPO / entry["file"]
            if not path.exists():
                path = REPO / "reference" / entry["file"]
            if path.suffix == ".onnx" and path.exists():
                out.append(
                    (entry["name"], entry["dataset"], path.read_bytes(), "reference baseline")
                )
    names = {n for n, *_ in out}
    if "mnist_cnn_deep" not in names:
        out.append(
            ("mnist_cnn_deep", "mnist", mnist_cnn_deep(), "same architecture, random weights")
        )
    if "cifar10_cnn_bn" not in names:
        out.append(("cifar10_cnn", "cifar10", cifar10_cnn(), "same architecture, random weights"))
    return out


def onnx_meta(data: bytes) -> dict[str, str]:
    m = onnx.load_from_string(data)
    return {p.key: p.value for p in m.metadata_props}
