"""The validator walks model-local functions as it walks the graph: their bodies, the subgraphs in
them, their default attributes and their opset imports. Only standard domains execute."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import AttributeProto, helper

import grader
from grader.errors import Rejected
from testsupport.hostile import external_tensor, function_hiding
from testsupport.onnx_build import Weights, bare_tensor


def refused(data: bytes) -> Rejected:
    with pytest.raises(Rejected) as info:
        grader.check_upload(data, "model.onnx")
    return info.value


def fused_matmul() -> helper.NodeProto:
    return helper.make_node("FusedMatMul", ["a", "a"], ["h"], domain="com.microsoft")


def test_contrib_operator_in_an_if_inside_a_function_named_com_microsoft_is_refused(
    trained: Weights,
) -> None:
    e = refused(function_hiding(trained, fused_matmul(), domain="com.microsoft"))
    assert e.code == "custom_domain"
    assert "com.microsoft" in e.message


def test_contrib_operator_hidden_in_a_local_function_is_refused(trained: Weights) -> None:
    e = refused(function_hiding(trained, fused_matmul()))
    assert e.code == "custom_domain" and "com.microsoft:FusedMatMul" in e.message


def test_custom_operator_hidden_in_a_local_function_is_custom_domain(trained: Weights) -> None:
    evil = helper.make_node("EvilOp", ["a"], ["h"], domain="evil.domain")
    e = refused(function_hiding(trained, evil))
    assert e.code == "custom_domain" and "evil.domain:EvilOp" in e.message


def test_external_data_in_a_function_default_attribute_is_refused(trained: Weights) -> None:
    default = helper.make_attribute("w", external_tensor("w", "/etc/passwd"))
    e = refused(function_hiding(trained, helper.make_node("Relu", ["a"], ["h"]), default=default))
    assert e.code == "external_data" and "/etc/passwd" in e.message


def test_sparse_tensor_in_a_function_default_attribute_is_refused(trained: Weights) -> None:
    values = bare_tensor("v", [1])
    values.float_data.append(1.0)
    indices = bare_tensor("i", [1], 7)  # INT64
    indices.int64_data.append(0)
    sparse = helper.make_sparse_tensor(values, indices, [2**40])
    default = helper.make_attribute("s", sparse)
    assert default.type == AttributeProto.SPARSE_TENSOR
    e = refused(function_hiding(trained, helper.make_node("Relu", ["a"], ["h"]), default=default))
    assert e.code == "sparse_tensor"


def test_a_plain_operator_hidden_the_same_way_is_accepted(trained: Weights) -> None:
    info = grader.check_upload(
        function_hiding(trained, helper.make_node("Relu", ["a"], ["h"])), "model.onnx"
    )
    # W and b; the one-element constant the hiding adds is a setting, not counted
    assert info["params"] == int(np.prod(trained[0].shape)) + trained[1].size
