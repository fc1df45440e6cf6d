"""Models for the benchmarks: the reference baselines when they exist, else the same
architectures with random weights (speed does not depend on the weights' values)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "reference" / "manifest.json"


def _conv(
    nodes: list,
    inits: list,
    x: str,
    cin: int,
    cout: int,
    k: int,
    stride: int,
    pads: list[int],
    rng: np.random.Generator,
    name: str,
) -> str:
    w = rng.normal(0, (2 / (cin * k * k)) ** 0.5, (cout, cin, k, k)).astype(np.float32)
    inits += [
        numpy_helper.from_array(w, f"{name}.w"),
        numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.b"),
    ]
    nodes.append(
        helper.make_node(
            "Conv", [x, f"{name}.w", f"{name}.b"], [f"{name}.c"], strides=[stride] * 2, pads=pads
        )
    )
    nodes.append(helper.make_node("Relu", [f"{name}.c"], [f"{name}.r"]))
    return f"{name}.r"


def _dense(
    nodes: list,
    inits: list,
    x: str,
    fin: int,
    fout: int,
    rng: np.random.Generator,
    name: str,
    relu: bool = True,
) -> str:
    w = rng.normal(0, (2 / fin) ** 0.5, (fin, fout)).astype(np.float32)
    inits += [
        numpy_helper.from_array(w, f"{name}.w"),
        numpy_helper.from_array(np.zeros(fout, np.float32), f"{name}.b"),
    ]
    nodes.append(helper.make_node("Gemm", [x, f"{name}.w", f"{name}.b"], [f"{name}.g"]))
    if not relu:
        return f"{name}.g"
    nodes.append(helper.make_node("Relu", [f"{name}.g"], [f"{name}.r"]))
    return f"{name}.r"


def _model(nodes: list, inits: list, shape: list, out: str) -> bytes:
    g = helper.make_graph(
        nodes,
        "bench",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def mnist_cnn_deep() -> bytes:
    """The course's deep MNIST CNN (286,940 params), channels-first, Keras 'same' pads."""
    rng = np.random.default_rng(0)
    nodes: list = []
    inits: list = []
    x = _conv(nodes, inits, "x", 1, 10, 5, 2, [1, 1, 2, 2], rng, "c1")
    x = _conv(nodes, inits, x, 10, 40, 5, 2, [1, 1, 2, 2], rng, "c2")
    x = _conv(nodes, inits, x, 40, 80, 5, 1, [2, 2, 2, 2], rng, "c3")
    nodes.append(helper.make_node("Flatten", [x], ["flat"]))
    x = _dense(nodes, inits, "flat", 80 * 7 * 7, 50, rng, "d1")
    return _model(nodes, inits, [1, 28, 28], _dense(nodes, inits, x, 50, 10, rng, "d2", relu=False))


def cifar10_cnn() -> bytes:
    """Three blocks of two 3x3 convs + max-pool (32, 64, 128), Dense(512), Dense(10)."""
    rng = np.random.default_rng(0)
    nodes: list = []
    inits: list = []
    x, cin = "x", 3
    for i, f in enumerate((32, 64, 128)):
        x = _conv(nodes, inits, x, cin, f, 3, 1, [1, 1, 1, 1], rng, f"b{i}a")
        x = _conv(nodes, inits, x, f, f, 3, 1, [1, 1, 1, 1], rng, f"b{i}b")
        nodes.append(
            helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2])
        )
        x, cin = f"p{i}", f
    nodes.append(helper.make_node("Flatten", [x], ["flat"]))
    x = _dense(nodes, inits, "flat", 128 * 4 * 4, 512, rng, "d1")
    return _model(
        nodes, inits, [3, 32, 32], _dense(nodes, inits, x, 512, 10, rng, "d2", relu=False)
    )


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
