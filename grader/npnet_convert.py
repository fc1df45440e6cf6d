"""Converting a NumPy network (`.npz`, spec in grader.npnet) to ONNX, and the variants the
diagnosis may try. onnx is imported when a conversion runs, never at import, so that
`grader.npnet.save` needs NumPy only.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.errors import Rejected
from grader.npnet_spec import input_layout, metadata, parse_spec
from grader.npzsafe import open_npz
from grader.prepared import Variant

if TYPE_CHECKING:
    import onnx

    from grader.npnet_layers import Builder

OPSET = 17
IR_VERSION = 8
VARIANT_MAX_BYTES = 64 << 20  # the other flatten order is tried for nets this size (a copy each)


def _build(arrays: dict[str, np.ndarray], spec: dict[str, Any]) -> tuple[onnx.ModelProto, Builder]:
    from onnx import TensorProto, helper

    from grader.npnet_layers import Builder

    layout = input_layout(spec)
    b = Builder(arrays, spec["input_shape"], layout)
    for i, layer in enumerate(spec["layers"]):
        if not isinstance(layer, dict):
            raise Rejected("npz_invalid", f"layer {i} must be an object like {{'type': 'relu'}}")
        b.layer(layer, i, strict=spec.get("version", 1) == 2)
    b.apply_scale()
    if b.layout != "flat" or len(b.shape) != 1:
        raise Rejected(
            "npz_invalid", f"the network ends in shape {b.shape}; it must end in class scores"
        )
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *spec["input_shape"]])
    y = helper.make_tensor_value_info(b.cur, TensorProto.FLOAT, ["N", b.shape[0]])
    graph = helper.make_graph(b.nodes, "npnet", [x], [y], b.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="podium-npnet"
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, metadata(spec))
    return model, b


def _other_flatten_order(spec: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The spec with every flatten in the other order, and that order."""
    default = input_layout(spec)
    other = copy.deepcopy(spec)
    orders = set()
    for layer in other["layers"]:
        if isinstance(layer, dict) and str(layer.get("type", "")).lower() == "flatten":
            layer["order"] = "chw" if layer.get("order", default) == "hwc" else "hwc"
            orders.add(layer["order"])
    return other, "/".join(sorted(orders))


def convert(
    data: bytes, *, max_total_bytes: int = 512 << 20
) -> tuple[onnx.ModelProto, list[Variant]]:
    """The ONNX model, and the readings the diagnosis may try when it scores poorly: the other
    flatten order when the net flattens a multi-channel image (a C, H, W flatten declared as
    H, W, C is accepted and scores near chance; the diagnosis then says which order works)."""
    arrays = open_npz(data, max_total_bytes=max_total_bytes)
    spec = parse_spec(arrays)
    model, built = _build(arrays, spec)
    variants: list[Variant] = []
    if built.flatten_matters and sum(a.nbytes for a in arrays.values()) <= VARIANT_MAX_BYTES:
        other_spec, order = _other_flatten_order(spec)
        other, _ = _build(arrays, other_spec)
        advice = (
            f'declare "order": "{order}" on the flatten layer '
            f'(grader.npnet.save(..., flatten_order="{order}"))'
        )
        variants.append(Variant(f"flatten order {order}", advice, other.SerializeToString()))
    return model, variants


def npz_to_onnx(data: bytes, *, max_total_bytes: int = 512 << 20) -> onnx.ModelProto:
    """Convert a NumPy network to an ONNX model; raises Rejected with the reason.
    `max_total_bytes`: what its arrays may hold decompressed (a zip bomb stops there)."""
    arrays = open_npz(data, max_total_bytes=max_total_bytes)
    return _build(arrays, parse_spec(arrays))[0]
