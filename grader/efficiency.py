"""Efficiency columns and a Keras-style summary, from the graph alone (no run needed).

params: every floating-point constant the model holds: initializers (weights, biases, batch-norm
statistics, as Keras' model.summary() counts them, non-trainable included), Constant nodes, the
same inside subgraphs and model-local functions, and quantized (integer) weights; one-element
constants (an epsilon, a clip bound) are settings, not weights, and are left out. A file cannot
make its figures smaller by moving weights out of the initializer list.
MACs per image: Conv, ConvTranspose, Gemm and MatMul, from shapes inferred from the input alone
(the batch dimension set to 1, or a fixed batch divided out); shapes the file declares for
intermediate values and outputs are dropped first, so they cannot stand in for the real ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import onnx
from onnx import AttributeProto, TensorProto

FLOAT_TYPES = {
    getattr(TensorProto, name)
    for name in (
        "FLOAT",
        "FLOAT16",
        "DOUBLE",
        "BFLOAT16",
        "FLOAT8E4M3FN",
        "FLOAT8E4M3FNUZ",
        "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ",
        "FLOAT4E2M1",
    )
    if hasattr(TensorProto, name)
}
# Inputs that hold a quantized model's integer weights: (operator, input positions).
_QUANTIZED_SLOTS = {
    "DequantizeLinear": (0,),
    "QLinearConv": (0, 3),
    "QLinearMatMul": (0, 3),
    "ConvInteger": (0, 1),
    "MatMulInteger": (0, 1),
}
_HIDDEN_OPS = {"Constant", "Identity", "Shape", "Cast", "Unsqueeze", "Squeeze", "Gather", "Concat"}
MAX_SUMMARY_ROWS = 300


def _printable(name: str) -> str:
    """A name from the file as it may be shown and stored: no control characters, bounded."""
    return "".join(c for c in name if c.isprintable())[:120]


def _constant_size(node: onnx.NodeProto) -> tuple[int, int]:
    """A Constant node's (element type, element count); (0, 0) when it holds no tensor."""
    for a in node.attribute:
        if a.name == "value" and a.type == AttributeProto.TENSOR:
            return a.t.data_type, math.prod(a.t.dims)
        if a.name == "value_float":
            return TensorProto.FLOAT, 1
        if a.name == "value_floats":
            return TensorProto.FLOAT, len(a.floats)
    return 0, 0


def _scope_constants(
    initializers: Iterable[TensorProto], nodes: list[onnx.NodeProto]
) -> dict[str, int]:
    """The parameters of one scope (a graph or a function body), by the name they are read as:
    float initializers and Constant nodes, and integer ones in a quantized weight's slot."""
    typed: dict[str, tuple[int, int]] = {
        t.name: (t.data_type, math.prod(t.dims)) for t in initializers
    }
    for node in nodes:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
            typed[node.output[0]] = _constant_size(node)
    quantized = {
        node.input[i]
        for node in nodes
        for i in _QUANTIZED_SLOTS.get(node.op_type, ())
        if i < len(node.input)
    }
    # A one-element constant (an epsilon, a clip bound, a scale a converter writes) is an
    # operator's setting, not a weight: Keras' summary leaves such values out too, and a forged
    # one-element "weight" cannot stand for a model's count.
    return {
        name: count
        for name, (dtype, count) in typed.items()
        if count > 1
        and (dtype in FLOAT_TYPES or (name in quantized and dtype != TensorProto.STRING))
    }


def _subgraphs(nodes: list[onnx.NodeProto]) -> Iterator[onnx.GraphProto]:
    for node in nodes:
        for a in node.attribute:
            if a.HasField("g"):
                yield a.g
            yield from a.graphs


def _graph_params(graph: onnx.GraphProto) -> int:
    total = sum(_scope_constants(list(graph.initializer), list(graph.node)).values())
    return total + sum(_graph_params(g) for g in _subgraphs(list(graph.node)))


def count_params(model: onnx.ModelProto) -> int:
    total = _graph_params(model.graph)
    for fn in model.functions:
        nodes = list(fn.node)
        total += sum(_scope_constants([], nodes).values())
        total += sum(_graph_params(g) for g in _subgraphs(nodes))
    return total


def _from_input_only(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy without the shapes the file declares for intermediate values and outputs (a forged
    (1, 1) on a MatMul would otherwise stand), its input's symbolic batch set to 1."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.value_info[:]
    for output in m.graph.output:
        if output.type.HasField("tensor_type"):
            output.type.tensor_type.ClearField("shape")
    init = {t.name for t in m.graph.initializer}
    for inp in m.graph.input:
        if inp.name in init:
            continue
        dims = inp.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = 1
    return m


def _shapes(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    """Shapes inferred from the input alone."""
    m = _from_input_only(model)
    try:
        m = onnx.shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)
    except MemoryError:
        raise  # the figures are unavailable, not zero (the analysis child says so)
    except Exception:  # noqa: BLE001 - inference is best effort; MACs then count what is known
        pass
    out: dict[str, list[int | None]] = {}
    for vi in (*m.graph.input, *m.graph.value_info, *m.graph.output):
        tt = vi.type.tensor_type
        if vi.type.HasField("tensor_type") and tt.HasField("shape"):
            out[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    for t in m.graph.initializer:
        out[t.name] = list(t.dims)
    for node in m.graph.node:
        if node.op_type == "Constant" and node.output:
            for a in node.attribute:
                if a.name == "value" and a.type == AttributeProto.TENSOR:
                    out[node.output[0]] = list(a.t.dims)
    return out


def _known(dims: list[int | None] | None) -> list[int] | None:
    if dims is None:
        return None
    known = [d for d in dims if d is not None]
    return known if len(known) == len(dims) else None


def _node_macs(node: onnx.NodeProto, shapes: dict[str, list[int | None]]) -> int:
    out = _known(shapes.get(node.output[0])) if node.output else None
    if out is None:
        return 0
    if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 1:
        w = _known(shapes.get(node.input[1]))
        if not w:
            return 0
        if node.op_type == "Conv":
            return math.prod(out) * math.prod(w[1:])
        x = _known(shapes.get(node.input[0]))
        return math.prod(x) * math.prod(w[1:]) if x else 0
    if node.op_type in ("Gemm", "MatMul"):
        a = _known(shapes.get(node.input[0]))
        if not a:
            return 0
        trans_a = any(at.name == "transA" and at.i for at in node.attribute)
        k = a[-2] if node.op_type == "Gemm" and trans_a else a[-1]
        return math.prod(out) * k
    return 0


def analyse(model: onnx.ModelProto, *, batch: int = 1) -> dict[str, Any]:
    """params, MACs per image and the summary rows. `batch`: the input's fixed batch size (its
    shapes are inferred with it, and the MACs divided by it)."""
    shapes = _shapes(model)
    batch = max(batch, 1)
    constants = _scope_constants(list(model.graph.initializer), list(model.graph.node))
    rows: list[dict[str, Any]] = []
    macs = 0
    for i, node in enumerate(model.graph.node):
        node_macs = _node_macs(node, shapes) // batch
        macs += node_macs
        params = sum(constants.get(name, 0) for name in node.input)
        if node.op_type in _HIDDEN_OPS and not params:
            continue
        dims = shapes.get(node.output[0]) if node.output else None
        shape = (
            "?"
            if dims is None
            else "("
            + ", ".join("N" if (j == 0 or d is None) else str(d) for j, d in enumerate(dims))
            + ")"
        )
        if len(rows) < MAX_SUMMARY_ROWS:
            rows.append(
                {
                    "layer": _printable(node.name) or f"{node.op_type.lower()}_{i}",
                    "op": _printable(node.op_type),
                    "output_shape": shape,
                    "params": params,
                    "macs": node_macs,
                }
            )
    return {"params": count_params(model), "macs": macs, "summary": rows}


def format_summary(rows: list[dict[str, Any]], params: int) -> str:
    """The summary as text, like Keras' model.summary()."""
    lines = [f"{'Layer (op)':<40}{'Output Shape':<22}{'Param #':>12}", "=" * 74]
    for r in rows:
        name = f"{r['layer']} ({r['op']})"[:39]
        lines.append(f"{name:<40}{r['output_shape']:<22}{r['params']:>12,}")
    lines += ["=" * 74, f"Total params: {params:,}"]
    return "\n".join(lines)
