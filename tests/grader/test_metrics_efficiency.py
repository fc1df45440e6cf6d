"""Scores on a hand-checked example; parameter and MAC counts on a hand-computed model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper

import grader
from grader.efficiency import analyse, count_params, format_summary
from grader.metrics import compute_scores
from testsupport.onnx_build import init, make_model, raw, vi


def test_scores_on_a_hand_checked_example() -> None:
    labels = np.array([0, 0, 1, 1, 2])
    preds = np.array([0, 1, 1, 1, 0])
    probs = np.array(
        [[0.8, 0.1, 0.1], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]
    )
    s = compute_scores(labels, preds, probs, n_classes=3)
    assert s["accuracy"] == pytest.approx(0.6)
    assert s["n_images"] == 5
    assert s["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]  # rows: true class
    assert s["per_class_accuracy"] == [0.5, 1.0, 0.0]
    # F1 per class: 2PR/(P+R) = 0.5, 0.8 (P=2/3, R=1), 0 -> macro 1.3 / 3
    assert s["macro_f1"] == pytest.approx(1.3 / 3)
    expected = -(math.log(0.8) + math.log(0.4) + math.log(0.7) + math.log(0.6) + math.log(0.25)) / 5
    assert s["log_loss"] == pytest.approx(expected)


def test_expected_calibration_error_on_a_hand_computed_example() -> None:
    labels = np.array([0, 1, 1, 1])
    probs = np.array([[0.95, 0.05], [0.97, 0.03], [0.35, 0.65], [0.62, 0.38]])
    s = compute_scores(labels, probs.argmax(axis=1), probs, n_classes=2)
    # Confidences 0.95 (right), 0.97 (wrong) fall in bin 15 of 15, (14/15, 1]: confidence 0.96,
    # accuracy 0.5; 0.65 (right) and 0.62 (wrong) in bin 10, (0.6, 2/3]: 0.635 against 0.5.
    # ECE = 2/4 * |0.5 - 0.96| + 2/4 * |0.5 - 0.635| = 0.23 + 0.0675.
    assert s["ece"] == pytest.approx(0.2975)
    assert [(b["low"], b["count"]) for b in s["reliability"]] == [
        (pytest.approx(9 / 15), 2),
        (pytest.approx(14 / 15), 2),
    ]
    assert s["reliability"][1]["confidence"] == pytest.approx(0.96)
    assert s["reliability"][1]["accuracy"] == pytest.approx(0.5)


def test_ece_is_zero_for_a_calibrated_toy_and_absent_without_probabilities() -> None:
    # Four images at confidence 0.75, three of them right: exactly calibrated.
    probs = np.array([[0.75, 0.25]] * 4)
    s = compute_scores(np.array([0, 0, 0, 1]), np.zeros(4, dtype=int), probs, n_classes=2)
    assert s["ece"] == pytest.approx(0.0)
    none = compute_scores(np.array([0]), np.array([0]), None, n_classes=2)
    assert none["ece"] is None and none["reliability"] is None


def test_absent_class_is_none_and_left_out_of_macro_f1() -> None:
    s = compute_scores(np.array([0, 0]), np.array([0, 1]), None, n_classes=3)
    assert s["per_class_accuracy"] == [0.5, None, None]
    assert s["macro_f1"] == pytest.approx(2 / 3)  # class 0 only: P=1, R=0.5
    assert s["log_loss"] is None


def test_log_loss_clips_zero_probabilities() -> None:
    s = compute_scores(np.array([1]), np.array([0]), np.array([[1.0, 0.0]]), n_classes=2)
    assert s["log_loss"] == pytest.approx(-math.log(1e-15))


def conv_bn_gemm() -> bytes:
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "cw", "cb"], ["c"], kernel_shape=[3, 3]),  # (N, 4, 6, 6)
        helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),  # (N, 144)
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"]),
    ]
    inits = [
        init("cw", rng.normal(size=(4, 1, 3, 3))),
        init("cb", np.zeros(4)),
        init("g", np.ones(4)),
        init("be", np.zeros(4)),
        init("m", np.zeros(4)),
        init("v", np.ones(4)),
        init("shape", [-1, 144], np.int64),  # not a parameter: an integer shape
        init("fw", rng.normal(size=(144, 10))),
        init("fb", np.zeros(10)),
    ]
    return raw(make_model(nodes, [vi("x", ["N", 1, 8, 8])], [vi("y", ["N", 10])], inits))


def test_params_count_float_initializers_as_keras_does() -> None:
    import onnx

    model = onnx.load_from_string(conv_bn_gemm())
    # conv 4*1*3*3 + 4, batch norm 4 * (gamma, beta, mean, var), dense 144*10 + 10
    assert count_params(model) == 36 + 4 + 16 + 1440 + 10
    info = grader.check_upload(conv_bn_gemm(), "m.onnx", image_shape=(8, 8, 1))
    assert info["params"] == 1506


def test_macs_of_conv_and_gemm_by_hand() -> None:
    import onnx

    eff = analyse(onnx.load_from_string(conv_bn_gemm()))
    conv_macs = (4 * 6 * 6) * (1 * 3 * 3)  # each output element: in_channels * kh * kw
    gemm_macs = 10 * 144
    assert eff["macs"] == conv_macs + gemm_macs
    by_op = {row["op"]: row for row in eff["summary"]}
    assert by_op["Conv"]["macs"] == conv_macs and by_op["Conv"]["params"] == 40
    assert by_op["Conv"]["output_shape"] == "(N, 4, 6, 6)"
    assert by_op["BatchNormalization"]["params"] == 16
    assert by_op["Gemm"]["macs"] == gemm_macs and by_op["Gemm"]["output_shape"] == "(N, 10)"
    text = format_summary(eff["summary"], eff["params"])
    assert "Total params: 1,506" in text


def test_matmul_macs() -> None:
    import onnx

    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    m = make_model(
        nodes, [vi("x", ["N", 784])], [vi("y", ["N", 10])], [init("w", np.zeros((784, 10)))]
    )
    assert analyse(onnx.load_from_string(raw(m)))["macs"] == 7840
