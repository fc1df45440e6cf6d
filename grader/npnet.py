"""NumPy networks: weights plus a JSON layer spec in an `.npz`, converted to ONNX (no code runs).

The `architecture` entry is a 0-d string array holding JSON:
  {"format": "podium.npnet", "version": 1, "input_shape": [784] | [28, 28, 1] | ...,
   "preprocess": "unit", "layers": [{"type": "dense", "name": "fc1"}, {"type": "relu"}, ...]}
Images enter channel-last (H, W, C); flat inputs are flattened in H, W, C order.
Weights, named "<layer name>.<array>":
  dense      W (in, out), b (out,)              y = x @ W + b
  conv2d     W (kh, kw, in_c, out_c), b (out_c,); "stride" (int or [sh, sw]), "padding" same|valid
  batchnorm  gamma, beta, mean, var (channels,); "epsilon" (default 0.001, as Keras)
  normalize  mean, std (broadcast over the last axis)     y = (x - mean) / std
Without weights: relu, sigmoid, tanh, leaky_relu ("alpha", default 0.01), softmax, dropout (no-op),
flatten, maxpool2d and avgpool2d ("pool", "stride" default = pool, "padding" valid|same).
`padding: same` pads as Keras/TensorFlow do: total = max((ceil(in/s) - 1) * s + k - in, 0), the
smaller half before, so stride 2 on 28 pixels with k=5 pads (1, 2).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from grader.errors import Rejected
from grader.npzsafe import open_npz

OPSET = 17
IR_VERSION = 8
MAX_LAYERS = 500
MAX_SPEC_BYTES = 1 << 20  # the JSON spec of 500 layers fits in a few KB
MAX_SPEC_DEPTH = 8  # {layers: [{mean: [..]}]} is 4 deep
ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pair(v: Any, what: str) -> tuple[int, int]:
    vals = [v, v] if isinstance(v, int) else list(v) if isinstance(v, list) else None
    if not vals or len(vals) != 2 or not all(isinstance(x, int) and x > 0 for x in vals):
        raise Rejected("npz_invalid", f"{what} must be a positive integer or a pair, not {v!r}")
    return vals[0], vals[1]


class _Builder:
    def __init__(self, arrays: dict[str, np.ndarray], input_shape: list[int]) -> None:
        self.arrays = arrays
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.cur = "input"
        self.shape = list(input_shape)  # without batch; image state is (H, W, C) or (C, H, W)
        self.layout = "nhwc" if len(input_shape) == 3 else "flat"
        self.n = 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def weight(self, layer: str, key: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        full = f"{layer}.{key}"
        if full not in self.arrays:
            raise Rejected("npz_invalid", f"layer {layer!r} needs an array named {full!r}")
        a = self.arrays[full]
        if not np.issubdtype(a.dtype, np.number):
            raise Rejected("npz_invalid", f"{full!r} must be numeric, not {a.dtype}")
        if shape is not None and tuple(a.shape) != shape:
            raise Rejected("npz_invalid", f"{full!r} has shape {tuple(a.shape)}, expected {shape}")
        return a.astype(np.float32)

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> None:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, [self.cur, *inputs], [out], name=out, **attrs))
        self.cur = out

    def to_nchw(self, what: str) -> None:
        if self.layout == "flat":
            raise Rejected(
                "npz_invalid", f"{what} needs an image input (H, W, C), not a flat vector"
            )
        if self.layout == "nhwc":
            self.op("Transpose", [], perm=[0, 3, 1, 2])
            h, w, c = self.shape
            self.shape, self.layout = [c, h, w], "nchw"

    def channels(self) -> int:
        return self.shape[0] if self.layout == "nchw" else self.shape[-1]

    def layer(self, spec: dict[str, Any], i: int) -> None:
        kind = str(spec.get("type", "")).lower()
        lname = str(spec.get("name", f"layer{i}"))
        build = LAYERS.get(kind)
        if build is None:
            raise Rejected("npz_invalid", f"layer {i} has unknown type {kind!r}")
        build(self, spec, lname, kind)

    # Every layer builder takes (spec, layer name, type) so that one table can dispatch them all.
    def activation(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.op(ACTIVATIONS[kind], [])

    def leaky_relu(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.op("LeakyRelu", [], alpha=float(spec.get("alpha", 0.01)))

    def softmax(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.op("Softmax", [], axis=-1 if self.layout != "nchw" else 1)

    def dropout(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        pass  # inference only: dropout is the identity

    def flatten(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        if self.layout == "nchw":  # back to channel-last first: Keras flattens H, W, C
            self.op("Transpose", [], perm=[0, 2, 3, 1])
            ch, hh, ww = self.shape
            self.shape = [hh, ww, ch]
        self.op("Flatten", [], axis=1)
        self.shape, self.layout = [math.prod(self.shape)], "flat"

    def dense(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        if self.layout != "flat":
            raise Rejected(
                "npz_invalid", f"dense layer {lname!r} follows an image: add a flatten layer"
            )
        w = self.weight(lname, "W")
        if w.ndim != 2 or w.shape[0] != self.shape[0]:
            raise Rejected(
                "npz_invalid", f"{lname}.W is {w.shape}; the input has {self.shape[0]} features"
            )
        b = self.weight(lname, "b", (w.shape[1],))
        self.op("Gemm", [self.const(f"{lname}.W", w), self.const(f"{lname}.b", b)])
        self.shape = [w.shape[1]]

    def conv2d(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.to_nchw(f"conv2d layer {lname!r}")
        w = self.weight(lname, "W")
        c = self.shape[0]
        if w.ndim != 4 or w.shape[2] != c:
            raise Rejected(
                "npz_invalid", f"{lname}.W is {w.shape}; expected (kh, kw, {c}, out_channels)"
            )
        b = self.weight(lname, "b", (w.shape[3],))
        kernel = self.const(f"{lname}.W", w.transpose(3, 2, 0, 1))
        inputs = [kernel, self.const(f"{lname}.b", b)]
        self.spatial("Conv", spec, lname, kernel=w.shape[:2], default_stride=1, inputs=inputs)
        self.shape[0] = w.shape[3]

    def pool(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.to_nchw(f"{kind} layer {lname!r}")
        pool = _pair(spec.get("pool", 2), f"{lname} pool")
        op = "MaxPool" if kind == "maxpool2d" else "AveragePool"
        self.spatial(
            op, spec, lname, kernel=pool, default_stride=pool, inputs=[], kernel_shape=list(pool)
        )

    def batchnorm(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        ch = self.channels() if self.layout != "flat" else self.shape[0]
        params = [self.weight(lname, k, (ch,)) for k in ("gamma", "beta", "mean", "var")]
        if self.layout == "nhwc":
            self.to_nchw("batchnorm")
        eps = float(spec.get("epsilon", 1e-3))
        names = [
            self.const(f"{lname}.{k}", p)
            for k, p in zip(("gamma", "beta", "mean", "var"), params, strict=True)
        ]
        self.op("BatchNormalization", names, epsilon=eps)

    def normalize(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        mean, std = self.arrays.get(f"{lname}.mean"), self.arrays.get(f"{lname}.std")
        if mean is None or std is None:
            raise Rejected(
                "npz_invalid", f"normalize layer {lname!r} needs {lname}.mean and {lname}.std"
            )
        mean, std = mean.astype(np.float32), std.astype(np.float32)
        if (std == 0).any():
            raise Rejected("npz_invalid", f"{lname}.std has zeros")
        if self.layout == "nchw" and mean.ndim == 1:
            mean, std = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)
        self.op("Sub", [self.const(f"{lname}.mean", mean)])
        self.op("Div", [self.const(f"{lname}.std", std)])

    def spatial(
        self,
        op: str,
        spec: dict[str, Any],
        lname: str,
        *,
        kernel: tuple[int, int],
        default_stride: int | tuple[int, int],
        inputs: list[str],
        **attrs: Any,
    ) -> None:
        stride = _pair(
            spec.get(
                "stride",
                default_stride if isinstance(default_stride, int) else list(default_stride),
            ),
            f"{lname} stride",
        )
        padding = str(spec.get("padding", "valid")).lower()
        c, h, w = self.shape
        if padding == "same":
            (pt, pb), (pl, pr) = (
                same_pads(h, kernel[0], stride[0]),
                same_pads(w, kernel[1], stride[1]),
            )
            oh, ow = math.ceil(h / stride[0]), math.ceil(w / stride[1])
        elif padding == "valid":
            pt = pb = pl = pr = 0
            oh, ow = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
        else:
            raise Rejected(
                "npz_invalid", f"{lname}: padding must be 'same' or 'valid', not {padding!r}"
            )
        if oh <= 0 or ow <= 0:
            raise Rejected(
                "npz_invalid", f"{lname}: a {kernel} window does not fit a {h}x{w} input"
            )
        self.op(op, inputs, strides=list(stride), pads=[pt, pl, pb, pr], **attrs)
        self.shape = [c, oh, ow]


LayerBuilder = Callable[[_Builder, dict[str, Any], str, str], None]
LAYERS: dict[str, LayerBuilder] = {
    **dict.fromkeys(ACTIVATIONS, _Builder.activation),
    "leaky_relu": _Builder.leaky_relu,
    "softmax": _Builder.softmax,
    "dropout": _Builder.dropout,
    "flatten": _Builder.flatten,
    "dense": _Builder.dense,
    "conv2d": _Builder.conv2d,
    "maxpool2d": _Builder.pool,
    "avgpool2d": _Builder.pool,
    "batchnorm": _Builder.batchnorm,
    "normalize": _Builder.normalize,
}


def json_depth(text: str) -> int:
    """The deepest nesting of brackets outside strings, read before json.loads builds anything
    (a deep or huge structure costs memory and recursion before any count can be checked)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _spec_text(arrays: dict[str, np.ndarray]) -> str:
    arch = arrays["architecture"]
    if arch.dtype.kind not in "US" or arch.size != 1:
        raise Rejected("npz_invalid", "'architecture' must be one string holding the JSON spec")
    if arch.nbytes > MAX_SPEC_BYTES:
        raise Rejected(
            "npz_invalid",
            f"'architecture' is {arch.nbytes:,} bytes; a layer spec needs at most {MAX_SPEC_BYTES:,}",
        )
    text = str(arch.reshape(()).item())
    if json_depth(text) > MAX_SPEC_DEPTH:
        raise Rejected("npz_invalid", f"'architecture' nests deeper than {MAX_SPEC_DEPTH} levels")
    return text


def parse_spec(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if "architecture" not in arrays:
        raise Rejected("npz_invalid", "the .npz has no 'architecture' entry (the JSON layer spec)")
    try:
        spec = json.loads(_spec_text(arrays))
    except (ValueError, TypeError, RecursionError) as e:
        raise Rejected("npz_invalid", f"'architecture' is not valid JSON: {e}") from e
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        raise Rejected("npz_invalid", "'architecture' must be an object with a 'layers' list")
    shape = spec.get("input_shape")
    if (
        not isinstance(shape, list)
        or len(shape) not in (1, 3)
        or not all(isinstance(d, int) and d > 0 for d in shape)
    ):
        raise Rejected(
            "npz_invalid", "'input_shape' must be [features] or [height, width, channels]"
        )
    if len(spec["layers"]) > MAX_LAYERS:
        raise Rejected("npz_invalid", f"{len(spec['layers'])} layers; at most {MAX_LAYERS}")
    return spec


def npz_to_onnx(data: bytes, *, max_total_bytes: int = 512 << 20) -> onnx.ModelProto:
    """Convert a NumPy network to an ONNX model; raises Rejected with the reason.
    `max_total_bytes`: what its arrays may hold decompressed (a zip bomb stops there)."""
    arrays = open_npz(data, max_total_bytes=max_total_bytes)
    spec = parse_spec(arrays)
    b = _Builder(arrays, spec["input_shape"])
    for i, layer in enumerate(spec["layers"]):
        if not isinstance(layer, dict):
            raise Rejected("npz_invalid", f"layer {i} must be an object like {{'type': 'relu'}}")
        b.layer(layer, i)
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
    meta = {"podium.layout": "flat_hwc" if len(spec["input_shape"]) == 1 else "nhwc"}
    if isinstance(spec.get("preprocess"), str):
        meta["podium.preprocess"] = spec["preprocess"]
    helper.set_model_props(model, meta)
    return model
