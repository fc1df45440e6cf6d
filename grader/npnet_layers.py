"""The layers of a NumPy network, each turned into ONNX nodes (grader.npnet documents the spec).

The builder tracks the shape without the batch axis and its layout: "flat", "nhwc" (H, W, C) or
"nchw" (C, H, W). Weights keep the orientation a layer declares wherever ONNX takes it as it
is (Gemm's transB for (out, in); Conv's own OIHW); only Keras-style kernels are transposed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from grader.errors import Rejected
from grader.npnet_spec import choice, pads, pair

ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
# Options each layer type takes; a version 2 spec refuses any other key (grader.npnet_spec).
OPTIONS: dict[str, set[str]] = {
    **{k: set() for k in (*ACTIVATIONS, "softmax", "normalize")},
    "leaky_relu": {"alpha"},
    "dropout": {"rate", "mode"},
    "flatten": {"order"},
    "dense": {"weight_layout", "bias"},
    "conv2d": {"weight_layout", "bias", "stride", "padding"},
    "maxpool2d": {"pool", "stride", "padding"},
    "avgpool2d": {"pool", "stride", "padding"},
    "batchnorm": {"epsilon"},
}


class Builder:
    def __init__(
        self, arrays: dict[str, np.ndarray], input_shape: list[int], input_layout: str
    ) -> None:
        self.arrays = arrays
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.cur = "input"
        self.shape = list(input_shape)  # without batch; image state is (H, W, C) or (C, H, W)
        image = "nchw" if input_layout == "chw" else "nhwc"
        self.layout = image if len(input_shape) == 3 else "flat"
        self.input_layout = input_layout
        self.n = 0
        self.flatten_matters = False  # a flatten whose order changes the result (the diagnosis)
        # A scaling dropout's factor, not yet applied: the next dense layer takes it as Gemm's
        # alpha (a flatten between them commutes with it), so it adds no constant to the
        # parameter count; before any other layer, or at the end, it becomes a Mul.
        self.scale = 1.0

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

    def bias(self, spec: dict[str, Any], lname: str, out: int) -> list[str]:
        """The bias input ([] with `bias: false`); (out,), (out, 1) and (1, out) all read as (out,)."""
        if spec.get("bias", True) is False:
            if f"{lname}.b" in self.arrays:
                raise Rejected(
                    "npz_invalid", f"layer {lname!r} declares bias: false but has {lname}.b"
                )
            return []
        if spec.get("bias", True) is not True:
            raise Rejected("npz_invalid", f"{lname}: bias must be true or false")
        b = self.weight(lname, "b")
        if b.size != out or sum(d != 1 for d in b.shape) > 1:
            raise Rejected(
                "npz_invalid",
                f"'{lname}.b' has shape {tuple(b.shape)}, expected ({out},) (or ({out}, 1))",
            )
        return [self.const(f"{lname}.b", b.reshape(out))]

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

    def layer(self, spec: dict[str, Any], i: int, *, strict: bool) -> None:
        kind = str(spec.get("type", "")).lower()
        lname = str(spec.get("name", f"layer{i}"))
        build = LAYERS.get(kind)
        if build is None:
            raise Rejected("npz_invalid", f"layer {i} has unknown type {kind!r}")
        unknown = set(spec) - OPTIONS[kind] - {"type", "name"}
        if strict and unknown:
            known = ", ".join(sorted(OPTIONS[kind])) or "none"
            raise Rejected(
                "npz_invalid",
                f"layer {i} ({kind}) has unknown option(s) {', '.join(sorted(unknown))}; "
                f"its options: {known}",
            )
        if kind not in ("dense", "flatten", "dropout"):
            self.apply_scale()
        build(self, spec, lname, kind)

    def apply_scale(self) -> None:
        if self.scale != 1.0:
            self.op("Mul", [self.const("dropout.keep", np.array(self.scale, np.float32))])
            self.scale = 1.0

    # Every layer builder takes (spec, layer name, type) so that one table can dispatch them all.
    def activation(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.op(ACTIVATIONS[kind], [])

    def leaky_relu(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.op("LeakyRelu", [], alpha=float(spec.get("alpha", 0.01)))

    def softmax(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.op("Softmax", [], axis=-1 if self.layout != "nchw" else 1)

    def dropout(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        # Inverted dropout scaled while training: the identity at test time. Dropout that did not
        # ("mode": "scale") multiplies by the keep probability at test time instead.
        if choice(spec, "mode", ("inverted", "scale"), lname) == "inverted":
            return
        rate = spec.get("rate")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise Rejected(
                "npz_invalid",
                f"{lname}: mode scale needs the drop probability 'rate' in [0, 1), not {rate!r}",
            )
        self.scale *= 1.0 - rate

    def flatten(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        other = "chw" if self.input_layout == "hwc" else "hwc"
        order = choice(spec, "order", (self.input_layout, other), lname)
        if self.layout != "flat":
            self.flatten_matters |= self.channels() > 1 and math.prod(self.shape) > self.channels()
        if self.layout == "nchw" and order == "hwc":
            self.op("Transpose", [], perm=[0, 2, 3, 1])
            ch, hh, ww = self.shape
            self.shape = [hh, ww, ch]
        elif self.layout == "nhwc" and order == "chw":
            self.op("Transpose", [], perm=[0, 3, 1, 2])
            hh, ww, ch = self.shape
            self.shape = [ch, hh, ww]
        self.op("Flatten", [], axis=1)
        self.shape, self.layout = [math.prod(self.shape)], "flat"

    def dense(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        if self.layout != "flat":
            raise Rejected(
                "npz_invalid", f"dense layer {lname!r} follows an image: add a flatten layer"
            )
        out_in = choice(spec, "weight_layout", ("in_out", "out_in"), lname) == "out_in"
        w = self.weight(lname, "W")
        n = self.shape[0]
        if w.ndim != 2 or w.shape[1 if out_in else 0] != n:
            raise Rejected("npz_invalid", _dense_mismatch(lname, w.shape, n, out_in=out_in))
        out = w.shape[0 if out_in else 1]
        inputs = [self.const(f"{lname}.W", w), *self.bias(spec, lname, out)]
        attrs: dict[str, Any] = {"transB": 1} if out_in else {}
        if self.scale != 1.0:
            attrs["alpha"], self.scale = self.scale, 1.0
        self.op("Gemm", inputs, **attrs)
        self.shape = [out]

    def conv2d(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.to_nchw(f"conv2d layer {lname!r}")
        oihw = choice(spec, "weight_layout", ("hwio", "oihw"), lname) == "oihw"
        w = self.weight(lname, "W")
        c = self.shape[0]
        if w.ndim != 4 or w.shape[1 if oihw else 2] != c:
            raise Rejected("npz_invalid", _conv_mismatch(lname, w.shape, c, oihw=oihw))
        kernel = w if oihw else w.transpose(3, 2, 0, 1)
        out = kernel.shape[0]
        inputs = [self.const(f"{lname}.W", kernel), *self.bias(spec, lname, out)]
        self.spatial("Conv", spec, lname, kernel=kernel.shape[2:], default_stride=1, inputs=inputs)
        self.shape[0] = out

    def pool(self, spec: dict[str, Any], lname: str, kind: str) -> None:
        self.to_nchw(f"{kind} layer {lname!r}")
        pool = pair(spec.get("pool", 2), f"{lname} pool")
        op = "MaxPool" if kind == "maxpool2d" else "AveragePool"
        attrs: dict[str, Any] = {"kernel_shape": list(pool)}
        padding = spec.get("padding", "valid")
        if not isinstance(padding, str):
            ph, pw = pair(padding, f"{lname} padding", least=0)
            if 2 * ph > pool[0] or 2 * pw > pool[1]:  # onnxruntime refuses it, as PyTorch does
                raise Rejected(
                    "npz_invalid", f"{lname}: padding {padding!r} is over half the pool {pool}"
                )
            if op == "AveragePool":
                attrs["count_include_pad"] = 1  # explicit zeros count, as in PyTorch's AvgPool2d
        self.spatial(op, spec, lname, kernel=pool, default_stride=pool, inputs=[], **attrs)

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
        kernel: tuple[int, ...],
        default_stride: int | tuple[int, int],
        inputs: list[str],
        **attrs: Any,
    ) -> None:
        stride = pair(
            spec.get(
                "stride",
                default_stride if isinstance(default_stride, int) else list(default_stride),
            ),
            f"{lname} stride",
        )
        c, h, w = self.shape
        (pt, pb), (pl, pr) = pads(spec.get("padding", "valid"), lname, (h, w), kernel, stride)
        oh = (h + pt + pb - kernel[0]) // stride[0] + 1
        ow = (w + pl + pr - kernel[1]) // stride[1] + 1
        if h + pt + pb < kernel[0] or w + pl + pr < kernel[1]:
            raise Rejected(
                "npz_invalid", f"{lname}: a {tuple(kernel)} window does not fit a {h}x{w} input"
            )
        self.op(op, inputs, strides=list(stride), pads=[pt, pl, pb, pr], **attrs)
        self.shape = [c, oh, ow]


def _dense_mismatch(lname: str, shape: tuple[int, ...], n: int, *, out_in: bool) -> str:
    """What is wrong with a dense weight's shape, and the declaration that fixes it if one does."""
    shape = tuple(shape)
    want = f"(out, {n})" if out_in else f"({n}, out)"
    text = f"{lname}.W is {shape}; the input has {n} features, so expected {want}"
    if len(shape) == 2 and shape[0 if out_in else 1] == n:
        fix = "in_out (or leave it out)" if out_in else "out_in"
        return f"{text}: {shape} looks transposed: declare weight_layout: {fix}"
    return f"{text}; check the flatten before it and the layer order"


def _conv_mismatch(lname: str, shape: tuple[int, ...], c: int, *, oihw: bool) -> str:
    shape = tuple(shape)
    want = f"(out, {c}, kh, kw)" if oihw else f"(kh, kw, {c}, out)"
    text = f"{lname}.W is {shape}; the input has {c} channels, so expected {want}"
    if len(shape) == 4 and shape[2 if oihw else 1] == c:
        fix = "hwio (or leave it out)" if oihw else "oihw"
        return f"{text}: {shape} looks like the other orientation: declare weight_layout: {fix}"
    return text


LayerBuilder = Callable[[Builder, dict[str, Any], str, str], None]
LAYERS: dict[str, LayerBuilder] = {
    **dict.fromkeys(ACTIVATIONS, Builder.activation),
    "leaky_relu": Builder.leaky_relu,
    "softmax": Builder.softmax,
    "dropout": Builder.dropout,
    "flatten": Builder.flatten,
    "dense": Builder.dense,
    "conv2d": Builder.conv2d,
    "maxpool2d": Builder.pool,
    "avgpool2d": Builder.pool,
    "batchnorm": Builder.batchnorm,
    "normalize": Builder.normalize,
}
