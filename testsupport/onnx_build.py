"""ONNX builders for the tests: small graphs written with onnx.helper, in any layout and output form.

Models are IR 8, opset 17 unless a test is about versions (onnx 1.23 writes IR 14 by default;
the pinned onnxruntime 1.31 reads at most IR 13).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR, OPSET = 8, 17
Weights = tuple[np.ndarray, np.ndarray]


def vi(name: str, shape: Sequence[int | str] | None, dtype: int = TensorProto.FLOAT) -> Any:
    return helper.make_tensor_value_info(name, dtype, None if shape is None else list(shape))


def init(name: str, value: Any, dtype: Any = np.float32) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    inits: Sequence[TensorProto] = (),
    *,
    opset: int = OPSET,
    ir: int = IR,
    extra_opsets: Sequence[tuple[str, int]] = (),
    functions: Sequence[onnx.FunctionProto] = (),
    meta: dict[str, str] | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), list(inits))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    model.ir_version = ir
    if meta:
        helper.set_model_props(model, meta)
    return model


def to_flat_nodes(
    layout: str, image_shape: tuple[int, int, int], src: str = "x"
) -> list[onnx.NodeProto]:
    """Nodes taking input `src` in `layout` to 'flat' (N, H*W*C) in H, W, C order."""
    h, w, c = image_shape
    if layout == "nchw" and c > 1:
        return [
            helper.make_node("Transpose", [src], ["t"], perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", ["t", "flat_shape"], ["flat"]),
        ]
    if layout == "flat_chw" and c > 1:
        return [
            helper.make_node("Reshape", [src, "chw_shape"], ["chw"]),
            helper.make_node("Transpose", ["chw"], ["t"], perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", ["t", "flat_shape"], ["flat"]),
        ]
    return [helper.make_node("Reshape", [src, "flat_shape"], ["flat"])]


OUTPUT_FORMS = ("logits", "probabilities", "log_probabilities", "class_indices", "n1k", "nk11")


def linear_model(
    w: np.ndarray,
    b: np.ndarray,
    input_shape: Sequence[int | str],
    *,
    layout: str = "nchw",
    image_shape: tuple[int, int, int] = (28, 28, 1),
    output: str = "logits",
    input_dtype: int = TensorProto.FLOAT,
    opset: int = OPSET,
    ir: int = IR,
    meta: dict[str, str] | None = None,
    expects: tuple[Sequence[float], Sequence[float]] | None = None,
) -> onnx.ModelProto:
    """logits = flatten_hwc(x) @ w + b, fed in any layout, read out in any output form.

    `expects` (mean, std): the model undoes that normalisation first (x * std + mean), so it is
    right only when fed (pixel / 255 - mean) / std: a model trained with that preprocessing.
    Per-channel values broadcast over the last axis (use nhwc or one channel).
    """
    h, wd, c = image_shape
    batched = len(input_shape) == {"nchw": 4, "nhwc": 4, "nhw": 3}.get(layout, 2)
    inits = [
        init("W", w),
        init("B", b),
        init("flat_shape", [-1, h * wd * c], np.int64),
        init("chw_shape", [-1, c, h, wd], np.int64),
    ]
    nodes: list[onnx.NodeProto] = []
    src = "x"
    if expects is not None:
        inits += [init("pre_mean", expects[0]), init("pre_std", expects[1])]
        nodes += [
            helper.make_node("Mul", ["x", "pre_std"], ["x_scaled"]),
            helper.make_node("Add", ["x_scaled", "pre_mean"], ["x_unit"]),
        ]
        src = "x_unit"
    nodes += to_flat_nodes(layout, image_shape, src)
    nodes.append(helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]))
    k = w.shape[1]
    out_shape: list[int | str] = ["N", k]
    last = "logits"
    if not batched:
        inits.append(init("unbatch", [k], np.int64))
        nodes.append(helper.make_node("Reshape", ["logits", "unbatch"], ["logits1"]))
        last, out_shape = "logits1", [k]
    axis = 1 if batched else 0
    out_type = TensorProto.FLOAT
    if output == "probabilities":
        nodes.append(helper.make_node("Softmax", [last], ["y"], axis=axis))
    elif output == "log_probabilities":
        nodes.append(helper.make_node("LogSoftmax", [last], ["y"], axis=axis))
    elif output == "class_indices":
        nodes.append(helper.make_node("ArgMax", [last], ["y"], axis=axis, keepdims=0))
        out_type, out_shape = TensorProto.INT64, out_shape[:-1]
    elif output == "n1k":
        inits.append(init("ax1", [1], np.int64))
        nodes.append(helper.make_node("Unsqueeze", [last, "ax1"], ["y"]))
        out_shape = ["N", 1, k]
    elif output == "nk11":
        inits.append(init("ax23", [2, 3], np.int64))
        nodes.append(helper.make_node("Unsqueeze", [last, "ax23"], ["y"]))
        out_shape = ["N", k, 1, 1]
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"]))
    return make_model(
        nodes,
        [vi("x", input_shape, input_dtype)],
        [vi("y", out_shape, out_type)],
        inits,
        opset=opset,
        ir=ir,
        meta=meta,
    )


def bare_tensor(name: str, dims: Sequence[int], dtype: int = TensorProto.FLOAT) -> TensorProto:
    """A tensor that declares dims but holds no data (to be filled, or not, by the test)."""
    t = TensorProto()
    t.name, t.data_type = name, dtype
    t.dims.extend(dims)
    return t


def raw(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString()
