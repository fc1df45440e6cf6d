"""Efficiency columns and a Keras-style summary, from the graph alone (no run needed).

params: elements of floating-point initializers (weights, biases, batch-norm statistics, as Keras'
model.summary() counts them, non-trainable included). MACs per image: Conv, ConvTranspose, Gemm
and MatMul, from shapes inferred with the batch dimension set to 1.
"""

from __future__ import annotations

import math
from typing import Any

import onnx
from onnx import TensorProto

FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
_HIDDEN_OPS = {"Constant", "Identity", "Shape", "Cast", "Unsqueeze", "Squeeze", "Gather", "Concat"}
MAX_SUMMARY_ROWS = 300


def _printable(name: str) -> str:
    """A name from the file as it may be shown and stored: no control characters, bounded."""
    return "".join(c for c in name if c.isprintable())[:120]


def count_params(model: onnx.ModelProto) -> int:
    return sum(math.prod(t.dims) for t in model.graph.initializer if t.data_type in FLOAT_TYPES)


def _shapes(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    init = {t.name for t in m.graph.initializer}
    for inp in m.graph.input:
        if inp.name in init:
            continue
        dims = inp.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = 1
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


def analyse(model: onnx.ModelProto) -> dict[str, Any]:
    """params, MACs per image and the summary rows."""
    shapes = _shapes(model)
    float_init = {
        t.name: math.prod(t.dims) for t in model.graph.initializer if t.data_type in FLOAT_TYPES
    }
    rows: list[dict[str, Any]] = []
    macs = 0
    for i, node in enumerate(model.graph.node):
        node_macs = _node_macs(node, shapes)
        macs += node_macs
        params = sum(float_init.get(name, 0) for name in node.input)
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
