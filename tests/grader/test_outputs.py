"""Output forms: logits, probabilities, log-probabilities, class indices, extra unit dims, ZipMap."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import grader
from grader.datasets import Dataset
from grader.errors import Rejected
from grader.outputs import interpret
from grader.sandbox import SandboxPool
from testsupport.hostile import odd_outputs
from testsupport.onnx_build import OUTPUT_FORMS, Weights, init, linear_model, make_model, raw, vi

EXPECTED_KIND = {
    "logits": "logits",
    "probabilities": "probabilities",
    "log_probabilities": "log_probabilities",
    "class_indices": "class_indices",
    "n1k": "logits",
    "nk11": "logits",
}


@pytest.fixture(scope="module")
def logits_result(trained: Weights, mnist_small: Dataset, pool: SandboxPool) -> grader.GradeResult:
    return grader.grade(
        raw(linear_model(*trained, ["N", 784], layout="flat_hwc")), "m.onnx", mnist_small, pool=pool
    )


@pytest.mark.parametrize("form", OUTPUT_FORMS)
def test_every_output_form_gives_the_same_predictions(
    form: str,
    trained: Weights,
    mnist_small: Dataset,
    pool: SandboxPool,
    logits_result: grader.GradeResult,
) -> None:
    model = raw(linear_model(*trained, ["N", 784], layout="flat_hwc", output=form))
    r = grader.grade(model, "m.onnx", mnist_small, pool=pool)
    assert r.output_kind == EXPECTED_KIND[form]
    np.testing.assert_array_equal(r.predictions, logits_result.predictions)
    assert r.accuracy == logits_result.accuracy
    if form == "class_indices":
        assert r.scores["log_loss"] is None and r.probabilities is None
        assert r.scores["softmax_applied"] is False
    else:
        assert r.scores["log_loss"] == pytest.approx(logits_result.scores["log_loss"], rel=1e-4)
        assert r.scores["softmax_applied"] is (EXPECTED_KIND[form] == "logits")
        np.testing.assert_allclose(r.probabilities, logits_result.probabilities, atol=1e-5)


def test_logits_log_loss_is_the_softmax_cross_entropy(
    logits_result: grader.GradeResult, mnist_small: Dataset, trained: Weights
) -> None:
    w, b = trained
    z = (mnist_small.images.reshape(len(mnist_small), -1) / 255.0) @ w + b
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    expected = -logp[np.arange(len(mnist_small)), mnist_small.labels].mean()
    assert logits_result.scores["log_loss"] == pytest.approx(expected, rel=1e-4)
    assert any("softmax applied" in n for n in logits_result.adaptation)


def test_sklearn_style_label_and_zipmap_probabilities(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool, logits_result: grader.GradeResult
) -> None:
    w, b = trained
    nodes = [
        helper.make_node("Gemm", ["x", "W", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["output_label"], axis=1, keepdims=0),
        helper.make_node(
            "ZipMap",
            ["probabilities"],
            ["output_probability"],
            domain="ai.onnx.ml",
            classlabels_int64s=list(range(10)),
        ),
    ]
    zipmap_type = helper.make_sequence_type_proto(
        helper.make_map_type_proto(
            TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
        )
    )
    model = make_model(
        nodes,
        [vi("x", ["N", 784])],
        [
            vi("output_label", ["N"], TensorProto.INT64),
            helper.make_value_info("output_probability", zipmap_type),
        ],
        [init("W", w), init("B", b)],
        extra_opsets=[("ai.onnx.ml", 1)],
    )
    r = grader.grade(raw(model), "sk.onnx", mnist_small, pool=pool)
    assert r.output_kind == "probabilities"
    assert r.scores["log_loss"] is not None and r.scores["softmax_applied"] is False
    np.testing.assert_array_equal(r.predictions, logits_result.predictions)
    np.testing.assert_allclose(r.probabilities, logits_result.probabilities, atol=1e-5)


# --- interpret() on hand-made arrays -------------------------------------------------------------


def test_interpret_squeezes_leading_unit_dims() -> None:
    z = np.random.default_rng(0).normal(size=(1, 5, 10)).astype(np.float32)
    got = interpret({"y": z}, 5, 10)
    np.testing.assert_array_equal(got.predictions, z[0].argmax(axis=1))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_interpret_refuses_non_finite_scores(bad: float) -> None:
    z = np.zeros((4, 10), np.float32)
    z[2, 3] = bad
    with pytest.raises(Rejected) as info:
        interpret({"y": z}, 4, 10)
    assert info.value.code == "non_finite"
    assert "1 of 4 images" in info.value.message


def test_interpret_refuses_class_indices_out_of_range() -> None:
    with pytest.raises(Rejected) as info:
        interpret({"y": np.array([0, 3, 12], np.int64)}, 3, 10)
    assert info.value.code == "bad_output"
    assert "outside 0..9" in info.value.message and "12" in info.value.message


def test_interpret_refuses_wrong_class_count_at_run_time() -> None:
    with pytest.raises(Rejected) as info:
        interpret({"scores": np.zeros((4, 7), np.float32)}, 4, 10)
    assert info.value.code == "bad_output"
    assert "scores (4, 7)" in info.value.message


def test_interpret_tells_probabilities_from_logits() -> None:
    p = np.full((3, 10), 0.1, np.float32)
    assert interpret({"p": p}, 3, 10).kind == "probabilities"
    assert interpret({"lp": np.log(p)}, 3, 10).kind == "log_probabilities"
    assert interpret({"z": p * 50}, 3, 10).kind == "logits"


NAMES = {
    "string": "text",
    "sequence": "seq",
    "optional": "opt",
}  # as testsupport.hostile names them


@pytest.mark.parametrize(
    "kinds", [("string",), ("sequence",), ("optional",), ("string", "sequence")]
)
def test_string_sequence_and_optional_outputs_beside_scores_are_ignored_and_said(
    kinds: tuple[str, ...], trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    result = grader.grade(odd_outputs(trained, kinds), "m.onnx", mnist_small, pool=pool)
    assert result.accuracy > 0.85 and result.output_kind == "logits"
    notes = [n for n in result.adaptation if n.startswith("outputs ignored")]
    assert len(notes) == 1 and all(f"'{NAMES[k]}'" in notes[0] for k in kinds), result.adaptation


def test_a_model_whose_only_output_is_text_is_bad_output(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    with pytest.raises(Rejected) as info:
        grader.grade(
            odd_outputs(trained, ("string",), keep_scores=False), "m.onnx", mnist_small, pool=pool
        )
    assert info.value.code == "bad_output"
    assert "tensor(string)" in info.value.message
