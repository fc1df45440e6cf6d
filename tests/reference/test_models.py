"""The committed reference models: files, hashes, parameter counts, metadata, accuracy."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from reference import manifest
from reference.onnxcheck import accuracy, float_param_count, metadata, session, sha256_file
from reference.preprocess import ENGINE_LAYOUTS, LAYOUTS, PRESETS, prepare

# Keras model.summary() counts from the course (issue 4): total, trainable
KERAS_PARAMS = {
    "mnist_logreg": (7850, 7850),
    "mnist_mlp_50": (39760, 39760),
    "mnist_mlp_500x2": (648010, 648010),
    "mnist_mlp_512x3": (932362, 932362),
    "mnist_cnn_shallow": (98820, 98820),
    "mnist_cnn_deep": (286940, 286940),
    "mnist_cnn_deep_6k": (286940, 286940),
    "mnist_lenet_small": (9269, 9269),
    "cifar10_cnn_bn": (1345066, 1343146),
    "cifar10_logreg": (30730, 30730),
}
LAYOUT = {
    "mnist_logreg": "flat_hwc",
    "mnist_mlp_50": "flat_hwc",
    "mnist_mlp_500x2": "flat_hwc",
    "mnist_mlp_512x3": "flat_hwc",
    "mnist_cnn_shallow": "nchw",
    "mnist_cnn_deep": "nchw",
    "mnist_cnn_deep_6k": "nchw",
    "mnist_lenet_small": "nhwc",
    "cifar10_cnn_bn": "nhwc",
    "cifar10_logreg": "flat_hwc",
}
ENTRIES = {e["name"]: e for e in manifest.entries()}
ONNX_NAMES = sorted(n for n, e in ENTRIES.items() if e["format"] == "onnx")


def test_every_reference_model_is_in_the_manifest() -> None:
    missing = sorted(set(KERAS_PARAMS) - set(ENTRIES))
    assert not missing, f"not trained/exported yet: {missing}"
    assert "numpy_mlp" in ENTRIES


# Known shortfalls, each a strict xfail: the test fails as soon as the model reaches its target,
# so the mark cannot outlive the problem.
SHORT_OF_TARGET: dict[str, str] = {}  # none today (cifar10_cnn_bn: 0.8806 >= 0.87 since session 2)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=SHORT_OF_TARGET[n]))
        if n in SHORT_OF_TARGET
        else n
        for n in sorted(ENTRIES)
    ],
)
def test_reaches_its_target_accuracy(name: str) -> None:
    """The course's figure (CIFAR-10: 0.87 on the JPEG copy), on the full test set."""
    e = ENTRIES[name]
    if e["target_accuracy"] is not None:
        assert e["test_accuracy"] >= e["target_accuracy"], "below the target"


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_manifest_entry(name: str) -> None:
    e = ENTRIES[name]
    path = manifest.ROOT / e["file"]
    assert path.is_file()
    assert sha256_file(path) == e["sha256"]
    assert e["size_bytes"] == path.stat().st_size
    assert e["dataset"] in ("mnist", "cifar10")
    assert e["preprocess"] in PRESETS and e["layout"] in LAYOUTS
    assert set(LAYOUTS) <= set(ENGINE_LAYOUTS)
    assert e["train_size"] + e["val_size"] > 0 and e["test_size"] == 10000
    assert 0 < e["val_accuracy"] <= 1 and 0 < e["test_accuracy"] <= 1
    if e["dataset"] == "cifar10":
        assert e["test_data"] == "CIFAR-10 (JPEG copy)"
    if name in KERAS_PARAMS:
        assert (e["params"], e["trainable_params"]) == KERAS_PARAMS[name]
        assert e["layout"] == LAYOUT[name]
    json.dumps(e)  # plain JSON


@pytest.mark.parametrize("name", ONNX_NAMES)
def test_onnx_file(name: str) -> None:
    e = ENTRIES[name]
    path = manifest.ROOT / e["file"]
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert model.ir_version <= 10
    assert all(o.version <= 26 for o in model.opset_import if o.domain in ("", "ai.onnx"))
    # the engine counts parameters as the elements of floating-point initializers
    assert float_param_count(model) == e["params"] == KERAS_PARAMS[name][0]
    meta = metadata(model)
    assert meta["podium.preprocess"] == e["preprocess"]
    assert meta["podium.layout"] == e["layout"]
    assert not model.graph.initializer or all(not i.external_data for i in model.graph.initializer)
    # loads in onnxruntime and takes any batch size
    sess = session(path)
    h, w, c = (28, 28, 1) if e["dataset"] == "mnist" else (32, 32, 3)
    images = np.random.default_rng(0).integers(0, 256, (3, h, w, c), dtype=np.uint8)
    x = prepare(images, e["preprocess"], e["layout"])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert out.shape == (3, 10) and np.isfinite(out).all()
    one = sess.run(None, {sess.get_inputs()[0].name: x[:1]})[0]
    np.testing.assert_allclose(one, out[:1], rtol=1e-4, atol=1e-5)
    if e["output"] == "probabilities":
        np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(n for n in ONNX_NAMES if ENTRIES[n]["dataset"] == "mnist"))
def test_mnist_accuracy_matches_manifest(name: str, mnist_test) -> None:  # type: ignore[no-untyped-def]
    e = ENTRIES[name]
    assert mnist_test.sha256 == e["test_sha256"]
    acc = accuracy(
        manifest.ROOT / e["file"],
        mnist_test.images,
        mnist_test.labels,
        e["preprocess"],
        e["layout"],
    )
    assert abs(acc - e["test_accuracy"]) <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", sorted(n for n in ONNX_NAMES if ENTRIES[n]["dataset"] == "cifar10")
)
def test_cifar_accuracy_matches_manifest(name: str, cifar_test) -> None:  # type: ignore[no-untyped-def]
    e = ENTRIES[name]
    assert cifar_test.sha256 == e["test_sha256"]
    acc = accuracy(
        manifest.ROOT / e["file"],
        cifar_test.images,
        cifar_test.labels,
        e["preprocess"],
        e["layout"],
    )
    assert abs(acc - e["test_accuracy"]) <= 1e-4


def _macs_from_onnx(model: onnx.ModelProto) -> int:
    """Conv and Gemm MACs per image from ONNX shape inference with the batch set to 1."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True, data_prop=True)
    shapes = {
        vi.name: [
            d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim
        ]
        for vi in (*m.graph.input, *m.graph.value_info, *m.graph.output)
    }
    shapes.update({t.name: list(t.dims) for t in m.graph.initializer})
    total = 0
    for node in m.graph.node:
        if node.op_type not in ("Conv", "Gemm"):
            continue
        out, x, w = shapes[node.output[0]], shapes[node.input[0]], shapes[node.input[1]]
        assert None not in out and None not in x, f"{node.op_type} shape unknown after inference"
        total += int(np.prod(out)) * (int(np.prod(w[1:])) if node.op_type == "Conv" else x[-1])
    return total


@pytest.mark.parametrize("name", ONNX_NAMES)
def test_macs_are_visible_to_shape_inference(name: str) -> None:
    e = ENTRIES[name]
    assert _macs_from_onnx(onnx.load(str(manifest.ROOT / e["file"]))) == e["macs"]
