"""Input layouts and batch modes: the same weights, fed every way a framework exports them."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import grader
from grader.datasets import Dataset
from grader.errors import Rejected
from grader.sandbox import SandboxPool
from testsupport.onnx_build import Weights, linear_model, raw

MNIST_LAYOUTS = [
    ("nchw", ["N", 1, 28, 28]),
    ("nhwc", ["N", 28, 28, 1]),
    ("nhw", ["N", 28, 28]),
    ("flat_hwc", ["N", 784]),
]


@pytest.fixture(scope="module")
def reference_predictions(trained: Weights, mnist_small: Dataset, pool: SandboxPool) -> np.ndarray:
    r = grader.grade(
        raw(linear_model(*trained, ["N", 1, 28, 28])), "m.onnx", mnist_small, pool=pool
    )
    assert r.accuracy > 0.85
    assert r.predictions is not None
    return r.predictions


@pytest.mark.parametrize(("layout", "shape"), MNIST_LAYOUTS)
def test_mnist_layout_is_detected_and_predictions_match(
    layout: str,
    shape: list,
    trained: Weights,
    mnist_small: Dataset,
    pool: SandboxPool,
    reference_predictions: np.ndarray,
) -> None:
    model = raw(linear_model(*trained, shape, layout=layout))
    assert grader.check_upload(model, "m.onnx")["layout"] == layout
    r = grader.grade(model, "m.onnx", mnist_small, pool=pool)
    assert r.layout == layout and r.batch_mode == "dynamic"
    np.testing.assert_array_equal(r.predictions, reference_predictions)


@pytest.mark.parametrize("batch", [1, 10])
def test_fixed_batch_runs_in_chunks_and_trims_padding(
    batch: int,
    trained: Weights,
    mnist_small: Dataset,
    pool: SandboxPool,
    reference_predictions: np.ndarray,
) -> None:
    ds = mnist_small.subset(np.arange(25))  # 25 is not a multiple of 10: the last chunk is padded
    r = grader.grade(raw(linear_model(*trained, [batch, 1, 28, 28])), "m.onnx", ds, pool=pool)
    assert r.batch_mode == "fixed"
    assert r.predictions is not None and r.predictions.shape == (25,)
    assert r.probabilities is not None and r.probabilities.shape == (25, 10)
    assert r.n_images == 25
    np.testing.assert_array_equal(r.predictions, reference_predictions[:25])
    assert any(f"fixed batch of {batch}" in n for n in r.adaptation)


@pytest.mark.parametrize(
    ("shape", "layout"), [([1, 28, 28], "nchw"), ([784], "flat_hwc"), ([28, 28, 1], "nhwc")]
)
def test_input_without_batch_dimension_runs_one_image_at_a_time(
    shape: list,
    layout: str,
    trained: Weights,
    mnist_small: Dataset,
    pool: SandboxPool,
    reference_predictions: np.ndarray,
) -> None:
    ds = mnist_small.subset(np.arange(30))
    model = linear_model(*trained, shape, layout=layout)
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [10]
    r = grader.grade(raw(model), "m.onnx", ds, pool=pool)
    assert r.predictions is not None and r.predictions.shape == (30,)
    np.testing.assert_array_equal(r.predictions, reference_predictions[:30])


def test_wrong_image_size_is_refused_with_the_expected_shapes(trained: Weights) -> None:
    w = np.zeros((32 * 32, 10), np.float32)
    with pytest.raises(Rejected) as info:
        grader.check_upload(raw(linear_model(w, trained[1], ["N", 1, 32, 32])), "m.onnx")
    assert info.value.code == "bad_input"
    assert "(N,1,28,28)" in info.value.message and "(N,784)" in info.value.message


def test_declared_layout_that_does_not_fit_is_refused(trained: Weights) -> None:
    with pytest.raises(Rejected) as info:
        grader.check_upload(
            raw(linear_model(*trained, ["N", 784], layout="flat_hwc")), "m.onnx", layout="nchw"
        )
    assert info.value.code == "bad_layout"
    assert "(N, 784)" in info.value.message


# --- CIFAR-10 shapes: a template classifier that is right in exactly one pixel order ----------

CIFAR = (32, 32, 3)


@pytest.mark.parametrize(
    ("layout", "shape"),
    [("nchw", ["N", 3, 32, 32]), ("nhwc", ["N", 32, 32, 3]), ("flat_hwc", ["N", 3072])],
)
def test_cifar_layouts_score_high(
    layout: str, shape: list, cifar_weights: Weights, cifar_synth: Dataset, pool: SandboxPool
) -> None:
    model = raw(linear_model(*cifar_weights, shape, layout=layout, image_shape=CIFAR))
    r = grader.grade(model, "c.onnx", cifar_synth, pool=pool)
    assert r.layout == layout
    assert r.accuracy > 0.95


def test_flat_cifar_input_defaults_to_hwc_order_and_says_so(cifar_weights: Weights) -> None:
    info = grader.check_upload(
        raw(linear_model(*cifar_weights, ["N", 3072], layout="flat_hwc", image_shape=CIFAR)),
        "c.onnx",
        image_shape=CIFAR,
    )
    assert info["layout"] == "flat_hwc"
    assert any("declare flat_chw" in n for n in info["adaptation"])


@pytest.mark.parametrize("model_order", ["flat_hwc", "flat_chw"])
def test_flat_cifar_scores_high_only_with_the_right_declaration(
    model_order: str, cifar_weights: Weights, cifar_synth: Dataset, pool: SandboxPool
) -> None:
    model = raw(linear_model(*cifar_weights, ["N", 3072], layout=model_order, image_shape=CIFAR))
    right = grader.grade(model, "c.onnx", cifar_synth, layout=model_order, pool=pool)
    wrong_order = "flat_chw" if model_order == "flat_hwc" else "flat_hwc"
    wrong = grader.grade(model, "c.onnx", cifar_synth, layout=wrong_order, pool=pool)
    assert right.accuracy > 0.95
    assert wrong.accuracy < 0.4
    default = grader.grade(model, "c.onnx", cifar_synth, pool=pool)
    assert default.layout == "flat_hwc"
    assert default.accuracy == (right.accuracy if model_order == "flat_hwc" else wrong.accuracy)


def test_flat_chw_from_model_metadata(
    cifar_weights: Weights, cifar_synth: Dataset, pool: SandboxPool
) -> None:
    model = linear_model(
        *cifar_weights,
        ["N", 3072],
        layout="flat_chw",
        image_shape=CIFAR,
        meta={"podium.layout": "flat_chw"},
    )
    r = grader.grade(raw(model), "c.onnx", cifar_synth, pool=pool)
    assert r.layout == "flat_chw" and r.accuracy > 0.95


def test_cifar_predictions_identical_in_every_layout(
    cifar_weights: Weights, cifar_synth: Dataset, pool: SandboxPool
) -> None:
    preds = []
    for layout, shape in [
        ("nchw", ["N", 3, 32, 32]),
        ("nhwc", ["N", 32, 32, 3]),
        ("flat_hwc", ["N", 3072]),
        ("flat_chw", ["N", 3072]),
    ]:
        model = raw(linear_model(*cifar_weights, shape, layout=layout, image_shape=CIFAR))
        preds.append(
            grader.grade(model, "c.onnx", cifar_synth, layout=layout, pool=pool).predictions
        )
    for p in preds[1:]:
        np.testing.assert_array_equal(p, preds[0])


def test_uint8_input_gets_raw_pixels_without_preprocessing(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool, reference_predictions: np.ndarray
) -> None:
    w, b = trained
    model = linear_model(w / 255.0, b, ["N", 784], layout="flat_hwc", input_dtype=TensorProto.UINT8)
    cast = helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT)
    for node in model.graph.node:  # the graph reads the cast, not the uint8 input
        node.input[:] = ["xf" if i == "x" else i for i in node.input]
    model.graph.node.insert(0, cast)
    r = grader.grade(raw(model), "u8.onnx", mnist_small, preprocess="mnist", pool=pool)
    assert any("uint8: raw pixels fed" in n for n in r.adaptation)
    assert np.mean(r.predictions == reference_predictions) > 0.995


@pytest.mark.parametrize("dtype", [TensorProto.DOUBLE, TensorProto.FLOAT16])
def test_float64_and_float16_inputs_are_converted(
    dtype: int,
    trained: Weights,
    mnist_small: Dataset,
    pool: SandboxPool,
    reference_predictions: np.ndarray,
) -> None:
    model = linear_model(*trained, ["N", 784], layout="flat_hwc", input_dtype=dtype)
    cast = helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT)
    for node in model.graph.node:
        node.input[:] = ["xf" if i == "x" else i for i in node.input]
    model.graph.node.insert(0, cast)
    r = grader.grade(raw(model), "m.onnx", mnist_small, pool=pool)
    assert np.mean(r.predictions == reference_predictions) > 0.995
