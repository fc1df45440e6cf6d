"""Every way an upload is refused: the exact code and a message a student can act on."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, helper

import grader
from grader import validate
from grader.datasets import Dataset
from grader.errors import Rejected
from grader.sandbox import SandboxPool
from grader.types import Limits
from testsupport.hostile import external_tensor, gemm_model
from testsupport.onnx_build import Weights, bare_tensor, init, linear_model, make_model, raw, vi


def rejected(data: bytes, filename: str = "model.onnx", **kw: object) -> Rejected:
    with pytest.raises(Rejected) as info:
        grader.check_upload(data, filename, **kw)  # type: ignore[arg-type]
    return info.value


def small_linear(**kw: object) -> onnx.ModelProto:
    w = np.random.default_rng(0).normal(size=(784, 10)).astype(np.float32)
    return linear_model(w, np.zeros(10, np.float32), ["N", 1, 28, 28], **kw)  # type: ignore[arg-type]


# --- not ONNX at all ----------------------------------------------------------------------------


def test_random_bytes_are_not_onnx() -> None:
    data = bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8))
    data = b"\x07" + data[1:]  # never the byte an ONNX file starts with
    e = rejected(data)
    assert e.code == "not_onnx"
    assert "not an ONNX" in e.message


def test_zip_renamed_to_onnx_is_not_onnx_and_says_zip() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model.h5", b"weights")
    e = rejected(buf.getvalue())
    assert e.code == "not_onnx"
    assert "zip" in e.message and ".npz" in e.message


@pytest.mark.parametrize("filename", ["model.onnx", "net.npz"])
def test_empty_file_is_refused(filename: str) -> None:
    e = rejected(b"", filename)
    assert e.code == "empty_file"
    assert "empty" in e.message


def test_real_model_cut_in_half_is_truncated(trained_bytes: bytes) -> None:
    e = rejected(trained_bytes[: len(trained_bytes) // 2])
    assert e.code == "truncated"
    assert "upload it again" in e.message


# --- external data --------------------------------------------------------------------------------

EXTERNAL_PATHS = ["../../../../etc/passwd", "/etc/passwd", "*/_ORT_MEM_ADDR_/*"]


def assert_external(e: Rejected, location: str) -> None:
    assert e.code == "external_data"
    assert "inside the file" in e.message
    if "_ORT_MEM_ADDR_" in location:
        assert "in-memory" in e.message
    else:
        assert location in e.message


@pytest.mark.parametrize("location", EXTERNAL_PATHS)
def test_external_data_in_initializer_is_refused(location: str) -> None:
    e = rejected(raw(gemm_model([], [external_tensor("W", location)])))
    assert_external(e, location)
    assert "initializer 'W'" in e.message


@pytest.mark.parametrize("location", EXTERNAL_PATHS)
def test_external_data_in_constant_attribute_is_refused(location: str) -> None:
    const = helper.make_node("Constant", [], ["W"], value=external_tensor("w", location))
    e = rejected(raw(gemm_model([const], [])))
    assert_external(e, location)
    assert "attribute 'value'" in e.message


def _subgraph_with(location: str, as_initializer: bool) -> onnx.GraphProto:
    if as_initializer:
        nodes = [helper.make_node("Identity", ["w_in"], ["w_out"])]
        inits = [external_tensor("w_in", location)]
    else:
        nodes = [helper.make_node("Constant", [], ["w_out"], value=external_tensor("w", location))]
        inits = []
    return helper.make_graph(nodes, "sub", [], [vi("w_out", [784, 10])], inits)


@pytest.mark.parametrize("location", EXTERNAL_PATHS)
@pytest.mark.parametrize("as_initializer", [True, False])
def test_external_data_inside_if_subgraph_is_refused(location: str, as_initializer: bool) -> None:
    branch = _subgraph_with(location, as_initializer)
    cond = helper.make_node(
        "Constant", [], ["cond"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True])
    )
    if_node = helper.make_node("If", ["cond"], ["W"], then_branch=branch, else_branch=branch)
    e = rejected(raw(gemm_model([cond, if_node], [])))
    assert_external(e, location)


@pytest.mark.parametrize("location", EXTERNAL_PATHS)
def test_external_data_inside_loop_body_is_refused(location: str) -> None:
    body_nodes = [
        helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        helper.make_node("Constant", [], ["w"], value=external_tensor("w", location)),
        helper.make_node("Identity", ["w"], ["scan_w"]),
    ]
    body = helper.make_graph(
        body_nodes,
        "body",
        [vi("i", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL)],
        [vi("cond_out", [], TensorProto.BOOL), vi("scan_w", [784, 10])],
    )
    nodes = [
        helper.make_node(
            "Constant", [], ["trip"], value=helper.make_tensor("t", TensorProto.INT64, [], [1])
        ),
        helper.make_node("Loop", ["trip", ""], ["Ws"], body=body),
        helper.make_node("ReduceSum", ["Ws", "ax0"], ["W"], keepdims=0),
    ]
    model = gemm_model(nodes, [init("ax0", [0], np.int64)])
    assert_external(rejected(raw(model)), location)


# --- sparse tensors ---------------------------------------------------------------------------


def test_sparse_initializer_with_huge_dense_shape_is_refused() -> None:
    values = helper.make_tensor("W_values", TensorProto.FLOAT, [1], [1.0])
    indices = helper.make_tensor("W_indices", TensorProto.INT64, [1], [0])
    sparse = helper.make_sparse_tensor(values, indices, [2**27])
    model = gemm_model([], [init("W", np.zeros((784, 10)))])
    model.graph.sparse_initializer.append(sparse)
    e = rejected(raw(model))
    assert e.code == "sparse_tensor"
    assert "sparse" in e.message


def test_sparse_attribute_is_refused() -> None:
    values = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
    indices = helper.make_tensor("i", TensorProto.INT64, [1], [0])
    sparse = helper.make_sparse_tensor(values, indices, [784, 10])
    const = helper.make_node("Constant", [], ["W"], sparse_value=sparse)
    assert const.attribute[0].type == AttributeProto.SPARSE_TENSOR
    e = rejected(raw(gemm_model([const], [])))
    assert e.code == "sparse_tensor"
    assert "sparse" in e.message


# --- operators, sizes, versions -------------------------------------------------------------


def test_custom_domain_passes_onnx_checker_but_not_the_grader() -> None:
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("EvilOp", ["flat"], ["y"], domain="evil.domain"),
    ]
    model = make_model(
        nodes, [vi("x", ["N", 1, 28, 28])], [vi("y", ["N", 10])], extra_opsets=[("evil.domain", 1)]
    )
    onnx.checker.check_model(model)  # onnx itself has no objection
    e = rejected(raw(model))
    assert e.code == "custom_domain"
    assert "evil.domain:EvilOp" in e.message


def test_declared_huge_initializer_without_data_is_refused() -> None:
    t = bare_tensor("W", [2**33])
    e = rejected(raw(gemm_model([], [t])))
    assert e.code == "initializer_too_large"
    assert "8,589,934,592" in e.message


def test_raw_data_shorter_than_declared_is_refused() -> None:
    t = init("W", np.zeros((784, 10)))
    t.raw_data = t.raw_data[:100]
    e = rejected(raw(gemm_model([], [t])))
    assert e.code == "initializer_data_short"
    assert "'W'" in e.message and "7,840" in e.message


def test_ir_14_is_lowered_and_scores(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    model = linear_model(*trained, ["N", 1, 28, 28], ir=14)
    info = grader.check_upload(raw(model), "m.onnx")
    assert any("IR version 14 lowered to 13" in n for n in info["adaptation"])
    result = grader.grade(raw(model), "m.onnx", mnist_small, pool=pool)
    assert result.accuracy > 0.85
    assert any("IR version 14 lowered" in n for n in result.adaptation)


def test_opset_beyond_runtime_is_refused() -> None:
    e = rejected(raw(small_linear(opset=validate.MAX_OPSET + 1, ir=13)))
    assert e.code == "unsupported_opset"
    assert f"opset_version={validate.MAX_OPSET}" in e.message


@pytest.mark.parametrize(("ir", "opset"), [(3, 8), (4, 9), (5, 10), (6, 10), (7, 11)])
def test_old_exports_load_and_score(
    ir: int, opset: int, trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    w, b = trained
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W", "B"], ["y"]),
    ]
    inits = [init("W", w), init("B", b)]
    inputs = [vi("x", ["N", 1, 28, 28])]
    if ir < 4:  # IR 3 requires every initializer to be listed as a graph input as well
        inputs += [vi("W", [784, 10]), vi("B", [10])]
    model = make_model(nodes, inputs, [vi("y", ["N", 10])], inits, opset=opset, ir=ir)
    result = grader.grade(raw(model), "old.onnx", mnist_small, pool=pool)
    assert result.accuracy > 0.85
    assert result.params == 7850


def test_dynamo_style_local_function_is_accepted(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    domain = "pkg.onnxscript.torch_lib"
    fn = helper.make_function(
        domain,
        "aten_linear",
        ["input", "weight", "bias"],
        ["out"],
        [helper.make_node("Gemm", ["input", "weight", "bias"], ["out"])],
        [helper.make_opsetid("", 18)],
    )
    w, b = trained
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("aten_linear", ["flat", "W", "B"], ["y"], domain=domain),
    ]
    model = make_model(
        nodes,
        [vi("x", ["s0", 1, 28, 28])],
        [vi("y", ["s0", 10])],
        [init("W", w), init("B", b)],
        opset=18,
        ir=10,
        extra_opsets=[(domain, 1)],
        functions=[fn],
    )
    assert grader.check_upload(raw(model), "dynamo.onnx")["layout"] == "nchw"
    assert grader.grade(raw(model), "dynamo.onnx", mnist_small, pool=pool).accuracy > 0.85


def test_images_plus_labels_inputs_are_too_many() -> None:
    nodes = [
        helper.make_node("Flatten", ["images"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W"], ["logits"]),
        helper.make_node("ArgMax", ["logits"], ["pred"], axis=1, keepdims=0),
        helper.make_node("Equal", ["pred", "labels"], ["hit"]),
        helper.make_node("Cast", ["hit"], ["hitf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["hitf"], ["accuracy"], keepdims=0),
    ]
    model = make_model(
        nodes,
        [vi("images", ["N", 28, 28, 1]), vi("labels", ["N"], TensorProto.INT64)],
        [vi("accuracy", [])],
        [init("W", np.zeros((784, 10)))],
    )
    e = rejected(raw(model))
    assert e.code == "too_many_inputs"
    assert "'images', 'labels'" in e.message and "Labels never go to a model" in e.message


def test_seven_class_output_is_bad_output() -> None:
    w = np.zeros((784, 7), np.float32)
    e = rejected(raw(linear_model(w, np.zeros(7, np.float32), ["N", 1, 28, 28])))
    assert e.code == "bad_output"
    assert "(N, 7)" in e.message and "10 classes" in e.message


def test_nan_weights_are_non_finite_when_run(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    w = trained[0].copy()
    w[:, 3] = np.nan
    model = raw(linear_model(w, trained[1], ["N", 1, 28, 28]))
    grader.check_upload(model, "nan.onnx")  # statically fine
    with pytest.raises(Rejected) as info:
        grader.grade(model, "nan.onnx", mnist_small, pool=pool)
    assert info.value.code == "non_finite"
    assert "NaN" in info.value.message and f"of {len(mnist_small)} images" in info.value.message


def test_integer_class_index_output_is_accepted_and_scored(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    model = raw(linear_model(*trained, ["N", 1, 28, 28], output="class_indices"))
    result = grader.grade(model, "idx.onnx", mnist_small, pool=pool)
    assert result.output_kind == "class_indices"
    assert result.accuracy > 0.85


def test_int32_input_is_bad_dtype() -> None:
    e = rejected(raw(small_linear(input_dtype=TensorProto.INT32)))
    assert e.code == "bad_dtype"
    assert "INT32" in e.message and "float32" in e.message


def test_file_over_size_limit_is_refused_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_parse(data: bytes) -> onnx.ModelProto:
        raise AssertionError("parsed a file over the size limit")

    monkeypatch.setattr(validate, "parse_model", must_not_parse)
    data = b"\x08" + bytes(2 << 20)
    e = rejected(data, limits=Limits(max_file_mb=1))
    assert e.code == "too_large"
    assert "limit is 1 MB" in e.message
    e = rejected(data, "big.npz", limits=Limits(max_file_mb=1))
    assert e.code == "too_large"
