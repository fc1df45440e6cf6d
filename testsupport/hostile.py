"""Models built to hurt the grader: memory bombs, endless loops, slow graphs, external-data
references. Each is a valid ONNX file; what it does is what the sandbox must survive or refuse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from testsupport.mnist import mnist_io_model, tensor
from testsupport.onnx_build import Weights, bare_tensor, init, make_model, raw, vi


def with_side_branch(weights: Weights, side: list[onnx.NodeProto], inits: list[Any]) -> bytes:
    """logits + 0 * side(x): the side branch depends on the input, so it cannot be folded away."""
    w, b = weights
    nodes = [
        helper.make_node("Gemm", ["x", "W", "B"], ["logits"]),
        helper.make_node("ReduceMin", ["x"], ["xmin"], keepdims=0),
        *side,  # reads "xmin", writes the scalar "side"
        helper.make_node("Mul", ["side", "zero"], ["nothing"]),
        helper.make_node("Add", ["logits", "nothing"], ["y"]),
    ]
    return raw(
        make_model(
            nodes,
            [vi("x", ["N", 784])],
            [vi("y", ["N", 10])],
            [init("W", w), init("B", b), init("zero", 0.0), *inits],
        )
    )


def expand_bomb(weights: Weights) -> bytes:
    side = [
        helper.make_node("Expand", ["xmin", "big_shape"], ["big"]),  # [2^30, 4] float: 16 GiB
        helper.make_node("ReduceSum", ["big"], ["side"], keepdims=0),
    ]
    return with_side_branch(weights, side, [init("big_shape", [2**30, 4], np.int64)])


def constant_of_shape_bomb(weights: Weights) -> bytes:
    side = [
        helper.make_node("Shape", ["xmin"], ["s0"]),  # () -> [], data-dependent enough
        helper.make_node("Concat", ["s0", "n"], ["shape"], axis=0),
        helper.make_node(
            "ConstantOfShape",
            ["shape"],
            ["big"],
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        ),
        helper.make_node("ReduceSum", ["big"], ["bigsum"], keepdims=0),
        helper.make_node("Add", ["bigsum", "xmin"], ["side"]),
    ]
    return with_side_branch(weights, side, [init("n", [2**31], np.int64)])


def endless_loop(weights: Weights) -> bytes:
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v_in", "one"], ["v_out"]),
        ],
        "body",
        [vi("i", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL), vi("v_in", [])],
        [vi("cond_out", [], TensorProto.BOOL), vi("v_out", [])],
        [init("one", 1.0)],
    )
    side = [helper.make_node("Loop", ["trip", "", "xmin"], ["side"], body=body)]
    return with_side_branch(weights, side, [init("trip", 2**62, np.int64)])


def external_tensor(name: str, location: str) -> TensorProto:
    t = bare_tensor(name, [784, 10])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(784 * 10 * 4))):
        entry = t.external_data.add()
        entry.key, entry.value = k, v
    return t


def gemm_model(extra_nodes: list[onnx.NodeProto], inits: list[TensorProto]) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"]),
        *extra_nodes,
        helper.make_node("Gemm", ["flat", "W"], ["y"]),
    ]
    return make_model(nodes, [vi("x", ["N", 1, 28, 28])], [vi("y", ["N", 10])], inits)


def slow_model(trips: int, *, n: int = 128, pad_mb: float = 0.0) -> bytes:
    """A linear classifier plus a Loop of `trips` (n x n) MatMul+Tanh steps on a state derived
    from the input (so nothing folds it away); the loop adds 0 to the logits. About 0.27 ms per
    trip on one core: 20000 trips grade in about 5.5 s. pad_mb adds an unused-looking weight to
    make the file larger (it is multiplied by 0 too)."""
    rng = np.random.default_rng(0)
    m = (rng.normal(0, 1, (n, n)) / np.sqrt(n)).astype(np.float32)
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["s_in", "M"], ["mm"]),
            helper.make_node("Tanh", ["mm"], ["s_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [n, n]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [n, n]),
        ],
    )
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
        helper.make_node("ReduceMean", ["flat"], ["mean"], keepdims=0),
        helper.make_node("Expand", ["mean", "SHAPE"], ["s0"]),
        helper.make_node("Loop", ["TRIPS", "COND", "s0"], ["s_final"], body=body),
        helper.make_node("ReduceMean", ["s_final"], ["sm"], keepdims=0),
        helper.make_node("Mul", ["sm", "ZERO"], ["z"]),
        helper.make_node("Add", ["logits", "z"], ["output"]),
    ]
    w = rng.normal(0, 0.01, (784, 10)).astype(np.float32)
    inits = [
        tensor("W", w),
        tensor("B", np.zeros(10, np.float32)),
        tensor("M", m),
        tensor("SHAPE", np.array([n, n], np.int64)),
        tensor("TRIPS", np.array(trips, np.int64)),
        tensor("COND", np.array(True)),
        tensor("ZERO", np.array(0.0, np.float32)),
    ]
    if pad_mb:
        k = int(pad_mb * 1024 * 1024 / 4 / 10)
        inits.append(tensor("PAD", rng.normal(0, 1, (k, 10)).astype(np.float32)))
        nodes[-2:] = [
            helper.make_node("ReduceMean", ["PAD"], ["pm"], keepdims=0),
            helper.make_node("Add", ["sm", "pm"], ["smp"]),
            helper.make_node("Mul", ["smp", "ZERO"], ["z"]),
            helper.make_node("Add", ["logits", "z"], ["output"]),
        ]
    return mnist_io_model(nodes, inits, "slow")


def _with_linear(
    weights: Weights, side: list[onnx.NodeProto], inits: list[Any], **kw: Any
) -> bytes:
    """A linear classifier on the flattened image plus `side` nodes reading "flat" and writing the
    float scalar "side", added to the logits times 0 (so it must run, and changes nothing)."""
    w, b = weights
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
        *side,
        helper.make_node("Mul", ["side", "zero"], ["nothing"]),
        helper.make_node("Add", ["logits", "nothing"], ["y"]),
    ]
    inits = [init("W", w), init("B", b), init("zero", 0.0), *inits]
    model = make_model(nodes, [vi("x", ["N", 1, 28, 28])], [vi("y", ["N", 10])], inits, **kw)
    return raw(model)


def dangling_node(weights: Weights, op: str = "LabelEncoder") -> bytes:
    """A linear classifier beside an ai.onnx.ml node with an empty input name: onnx 1.23's shape
    inference dereferences the missing input and dies with SIGSEGV (LabelEncoder, DictVectorizer)."""
    w, b = weights
    attrs: dict[str, Any] = (
        {"keys_int64s": [1], "values_int64s": [2]}
        if op == "LabelEncoder"
        else {"int64_vocabulary": [1, 2]}
    )
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W", "B"], ["y"]),
        helper.make_node(op, [""], ["junk"], domain="ai.onnx.ml", **attrs),
    ]
    model = make_model(
        nodes,
        [vi("x", ["N", 1, 28, 28])],
        [vi("y", ["N", 10])],
        [init("W", w), init("B", b)],
        extra_opsets=[("ai.onnx.ml", 3)],
    )
    return raw(model)


def nested_functions(weights: Weights, depth: int, domain: str = "local.fn") -> bytes:
    """Model-local functions f1..f<depth>, each calling the previous one twice: the inlined graph,
    and the work of shape inference over it, doubles with every level (2**depth)."""
    fns = [
        helper.make_function(
            domain,
            "f0",
            ["a"],
            ["b"],
            [helper.make_node("Relu", ["a"], ["b"])],
            [helper.make_opsetid("", 17)],
        )
    ]
    for i in range(1, depth + 1):
        body = [
            helper.make_node(f"f{i - 1}", ["a"], ["m"], domain=domain),
            helper.make_node(f"f{i - 1}", ["m"], ["b"], domain=domain),
        ]
        fns.append(
            helper.make_function(
                domain,
                f"f{i}",
                ["a"],
                ["b"],
                body,
                [helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)],
            )
        )
    side = [
        helper.make_node(f"f{depth}", ["flat"], ["deep"], domain=domain),
        helper.make_node("ReduceSum", ["deep"], ["side"], keepdims=0),
    ]
    return _with_linear(weights, side, [], extra_opsets=[(domain, 1)], functions=fns)


def concat_doubling(weights: Weights, k: int) -> bytes:
    """Shape(x) concatenated with itself k times: 4 * 2**k integers. Cheap to run (2**22 int64 is
    32 MB), but onnx's data propagation holds each as a shape dimension: gigabytes by k = 23."""
    side = [helper.make_node("Shape", ["x"], ["s0"])]
    for i in range(k):
        side.append(helper.make_node("Concat", [f"s{i}", f"s{i}"], [f"s{i + 1}"], axis=0))
    side += [
        helper.make_node("Cast", [f"s{k}"], ["sf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["sf"], ["side"], keepdims=0),
    ]
    return _with_linear(weights, side, [])


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    tag, size, out = (number << 3) | 2, len(payload), bytearray()
    for value in (tag, size):
        while value > 0x7F:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out) + payload


def empty_nodes(weights: Weights, count: int) -> bytes:
    """A valid linear model followed by a second `graph` field of `count` empty NodeProtos, which
    protobuf merges into the first: 2 bytes per operator, millions of messages when parsed."""
    w, b = weights
    base = raw(
        make_model(
            [
                helper.make_node("Flatten", ["x"], ["flat"]),
                helper.make_node("Gemm", ["flat", "W", "B"], ["y"]),
            ],
            [vi("x", ["N", 1, 28, 28])],
            [vi("y", ["N", 10])],
            [init("W", w), init("B", b)],
        )
    )
    return base + _field(7, b"\x0a\x00" * count)


def _if_branch(nodes: list[onnx.NodeProto], out: str) -> onnx.GraphProto:
    return helper.make_graph(nodes, "branch", [], [vi(out, None)])


def function_hiding(
    weights: Weights,
    hidden: onnx.NodeProto,
    *,
    domain: str = "local.fn",
    default: onnx.AttributeProto | None = None,
) -> bytes:
    """A model-local function whose body holds an If whose branch runs `hidden` (reading "a",
    writing "h"): the shape in which a contrib or custom operator, or a default attribute
    holding external or sparse data, slipped past a validator that read only top-level nodes."""
    branch = _if_branch([hidden], "h")
    body = [
        helper.make_node("ReduceMin", ["a"], ["amin"], keepdims=0),
        helper.make_node("Greater", ["amin", "amin"], ["never"]),
        helper.make_node("If", ["never"], ["hv"], then_branch=branch, else_branch=branch),
        helper.make_node("Identity", ["a"], ["b"]),
    ]
    fn = helper.make_function(
        domain,
        "hide",
        ["a"],
        ["b"],
        body,
        [helper.make_opsetid("", 17)]
        + ([helper.make_opsetid(hidden.domain, 1)] if hidden.domain else []),
        attribute_protos=[default] if default is not None else None,
    )
    side = [
        helper.make_node("hide", ["flat"], ["hidden_out"], domain=domain),
        helper.make_node("ReduceSum", ["hidden_out"], ["side"], keepdims=0),
    ]
    return _with_linear(weights, side, [], extra_opsets=[(domain, 1)], functions=[fn])


def odd_outputs(weights: Weights, kinds: tuple[str, ...], *, keep_scores: bool = True) -> bytes:
    """A linear classifier with extra outputs that cannot be class scores: "string" (Cast to
    text), "sequence" (a sequence of tensors), "optional" (an optional tensor)."""
    w, b = weights
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W", "B"], ["y"]),
    ]
    outs = [vi("y", ["N", 10])] if keep_scores else []
    for kind in kinds:
        if kind == "string":
            nodes.append(helper.make_node("Cast", ["y"], ["text"], to=TensorProto.STRING))
            outs.append(vi("text", ["N", 10], TensorProto.STRING))
        elif kind == "sequence":
            nodes.append(helper.make_node("SequenceConstruct", ["y", "y"], ["seq"]))
            outs.append(
                helper.make_value_info(
                    "seq", helper.make_sequence_type_proto(helper.make_tensor_type_proto(1, None))
                )
            )
        elif kind == "optional":
            nodes.append(helper.make_node("Optional", ["y"], ["opt"]))
            outs.append(
                helper.make_value_info(
                    "opt", helper.make_optional_type_proto(helper.make_tensor_type_proto(1, None))
                )
            )
    model = make_model(nodes, [vi("x", ["N", 1, 28, 28])], outs, [init("W", w), init("B", b)])
    return raw(model)
