"""NumPy networks: weights plus a JSON layer spec in an `.npz`, converted to ONNX (no code runs).

The `architecture` entry is a 0-d string array holding JSON:
  {"format": "podium.npnet", "version": 2, "input_shape": [784] | [28, 28, 1] | ...,
   "input_layout": "hwc" | "chw", "preprocess": "unit" | {"mean": [...], "std": [...]},
   "layers": [{"type": "dense", "name": "fc1"}, {"type": "relu"}, ...]}
`input_layout` (default hwc): images enter as (H, W, C), or (C, H, W) with chw; a flat input holds
its pixels in that order. Version 1 is the same without the options marked (2) below; version 2
refuses keys it does not know. `save()` writes the file from a plain list of layers.
Weights, named "<layer name>.<array>":
  dense      W (in, out), y = x @ W + b; or (out, in) with "weight_layout": "out_in" (2), as
             PyTorch and column-vector code store it; b (out,) or (out, 1) (2); "bias": false (2)
  conv2d     W (kh, kw, in_c, out_c), or (out_c, in_c, kh, kw) with "weight_layout": "oihw" (2);
             b and "bias" as dense; "stride" (int or [sh, sw]); "padding" same|valid, or (2) an
             int or [rows, cols] of zeros on each side, as PyTorch's padding=
  batchnorm  gamma, beta, mean, var (channels,); "epsilon" (default 0.001, as Keras)
  normalize  mean, std (broadcast over the last axis)     y = (x - mean) / std
Without weights: relu, sigmoid, tanh, leaky_relu ("alpha", default 0.01), softmax; dropout (the
identity, or (2) "mode": "scale" multiplies by 1 - "rate", for dropout that did not rescale
while training); flatten ("order" (2): hwc or chw, default the input_layout); maxpool2d and
avgpool2d ("pool", "stride" default = pool, "padding" valid|same, or (2) explicit as conv2d's).
`padding: same` pads as Keras/TensorFlow do: total = max((ceil(in/s) - 1) * s + k - in, 0), the
smaller half before, so stride 2 on 28 pixels with k=5 pads (1, 2).
The spec's preprocess and input_layout become the model's `podium.*` metadata, read as an ONNX
file's own (an upload's declaration wins).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.errors import Rejected
from grader.npnet_save import save
from grader.npnet_spec import input_layout, metadata, parse_spec, same_pads
from grader.npzsafe import open_npz
from grader.prepared import Variant

if TYPE_CHECKING:
    import onnx

    from grader.npnet_layers import Builder

__all__ = ["Variant", "convert", "npz_to_onnx", "parse_spec", "same_pads", "save"]

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
