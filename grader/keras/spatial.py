"""Keras 2-D layers with a window: convolutions, pooling, padding, resizing.

A channels-last tensor is transposed to NCHW around each ONNX Conv/Pool and back (onnxruntime
removes the pairs that meet). `padding="same"` pads as TensorFlow does: total =
max((ceil(in/s) - 1) * s + (k - 1) * d + 1 - in, 0), the smaller half first, so stride 2 pads
(top, bottom) = (1, 2) where the total is odd (grader.npnet.same_pads). Resizing is TensorFlow's
`tf.image.resize` without antialiasing: half-pixel centres, bilinear (ONNX Resize) or nearest
(a Gather of the rows and columns TensorFlow picks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grader.keras.layers import _weights, activate, activation_name
from grader.keras.net import Call, Net, Shape, channels_first, pair
from grader.npnet import same_pads


def _nchw(net: Net, call: Call) -> tuple[str, Shape, bool]:
    x, shape = net.x(call)
    if len(shape) != 4:
        raise call.unsupported(f"an input of shape {shape} (it needs (N, H, W, C))")
    if channels_first(call):
        return x, shape, False
    nchw = [shape[0], shape[3], shape[1], shape[2]]
    if x in net.nchw:  # the previous window layer's output before it went back to NHWC
        return net.nchw[x], nchw, True
    return net.transpose(x, [0, 3, 1, 2], f"{call.layer}/to_nchw"), nchw, True


def _back(net: Net, call: Call, y: str, shape: Shape, moved: bool) -> tuple[str, Shape]:
    net.shapes[y] = shape
    if not moved:
        return y, shape
    return net.to_nhwc(y, shape, f"{call.layer}/to_nhwc")


def _window(
    call: Call,
    hw: tuple[int | None, int | None],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[list[int], tuple[int | None, int | None]]:
    padding = str(call.get("padding", "valid")).lower()
    pads: list[list[int]] = []
    out: list[int | None] = []
    for size, k, s, d in zip(hw, kernel, stride, dilation, strict=True):
        eff = (k - 1) * d + 1
        if padding == "same":
            if size is None:
                if s != 1:
                    raise call.unsupported(
                        "padding 'same' with a stride on an input of unknown size"
                    )
                pads.append([(eff - 1) // 2, eff - 1 - (eff - 1) // 2])
                out.append(None)
                continue
            pads.append(list(same_pads(size, eff, s)))
            out.append(math.ceil(size / s))
        elif padding == "valid":
            pads.append([0, 0])
            out.append(None if size is None else (size - eff) // s + 1)
        else:
            raise call.unsupported(f"padding {padding!r}")
        last = out[-1]
        if last is not None and last <= 0:
            raise call.unsupported(f"a {k}x{k} window on a {hw} input")
    return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]], (out[0], out[1])


def conv(net: Net, call: Call, major: int) -> None:
    x, shape, moved = _nchw(net, call)
    cin = shape[1]
    stride = pair(call.get("strides", 1), call, "strides")
    dilation = pair(call.get("dilation_rate", 1), call, "dilation_rate")
    if stride != (1, 1) and dilation != (1, 1):
        raise call.unsupported("strides and dilation together")
    use_bias = call.get("use_bias", True)
    ws = list(_weights(call, (2 if call.cls == "SeparableConv2D" else 1) + int(use_bias)))
    name = call.layer
    if call.cls in ("Conv2D", "Convolution2D"):
        kernel = ws[0]  # (kh, kw, in / groups, out)
        groups = int(call.get("groups", 1))
        w = kernel.transpose(3, 2, 0, 1)
    else:  # depthwise (kh, kw, in, multiplier): output channel c * multiplier + m
        dk = ws[0]
        if cin is not None and dk.shape[2] != cin:
            raise call.unsupported(f"a depthwise kernel {dk.shape} on {cin} channels")
        groups = int(dk.shape[2])
        kernel = dk
        w = dk.reshape(dk.shape[0], dk.shape[1], 1, -1).transpose(3, 2, 0, 1)
    if kernel.ndim != 4:
        raise call.unsupported(f"a kernel of shape {kernel.shape}")
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    pads, (oh, ow) = _window(call, (shape[2], shape[3]), (kh, kw), stride, dilation)
    attrs: dict[str, Any] = {
        "kernel_shape": [kh, kw],
        "strides": list(stride),
        "dilations": list(dilation),
        "pads": pads,
        "group": groups,
    }
    if call.cls == "SeparableConv2D":
        y = net.op(
            "Conv", [x, net.weight(f"{name}/depthwise_kernel", w)], f"{name}/depthwise", **attrs
        )
        pk = ws[1]  # (1, 1, in * multiplier, out)
        inputs = [y, net.weight(f"{name}/pointwise_kernel", pk.transpose(3, 2, 0, 1))]
        if use_bias:
            inputs.append(net.weight(f"{name}/bias", ws[2]))
        y, cout = net.op("Conv", inputs, name, kernel_shape=[1, 1]), int(pk.shape[3])
    else:
        inputs = [x, net.weight(f"{name}/kernel", w)]
        if use_bias:
            inputs.append(net.weight(f"{name}/bias", ws[-1]))
        y, cout = net.op("Conv", inputs, name, **attrs), int(w.shape[0])
    kind = activation_name(call.config.get("activation"), call)
    if kind not in ("softmax", "log_softmax"):  # elementwise: applied before going back to NHWC
        y = activate(net, y, kind, call, major)
        kind = "linear"
    y, out_shape = _back(net, call, y, [shape[0], cout, oh, ow], moved)
    net.set(call, activate(net, y, kind, call, major), out_shape)


def pool(net: Net, call: Call, major: int) -> None:
    x, shape, moved = _nchw(net, call)
    size = pair(call.get("pool_size", 2), call, "pool_size")
    stride = pair(call.get("strides") or list(size), call, "strides")
    pads, (oh, ow) = _window(call, (shape[2], shape[3]), size, stride, (1, 1))
    attrs: dict[str, Any] = {"kernel_shape": list(size), "strides": list(stride), "pads": pads}
    if call.cls.startswith("MaxPool"):
        y = net.op("MaxPool", [x], call.layer, **attrs)
    else:  # TensorFlow averages over the cells inside the image only
        y = net.op("AveragePool", [x], call.layer, count_include_pad=0, **attrs)
    y, out_shape = _back(net, call, y, [shape[0], shape[1], oh, ow], moved)
    net.set(call, y, out_shape)


def global_pool(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    if len(shape) != 4:
        raise call.unsupported(f"an input of shape {shape}")
    axes = [2, 3] if channels_first(call) else [1, 2]
    keep = bool(call.get("keepdims", False))
    op = "ReduceMax" if call.cls.startswith("GlobalMax") else "ReduceMean"
    y = net.op(op, [x], call.layer, axes=axes, keepdims=int(keep))
    out = (
        [1 if i in axes else d for i, d in enumerate(shape)]
        if keep
        else [d for i, d in enumerate(shape) if i not in axes]
    )
    net.set(call, y, out)


def _spatial_axes(call: Call) -> tuple[int, int]:
    return (2, 3) if channels_first(call) else (1, 2)


def zero_padding(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    raw = call.get("padding", 1)
    if isinstance(raw, int):
        (t, b), (left, r) = (raw, raw), (raw, raw)
    elif isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, int) for v in raw):
        (t, b), (left, r) = (raw[0], raw[0]), (raw[1], raw[1])
    elif (
        isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(v, list) and len(v) == 2 for v in raw)
    ):
        (t, b), (left, r) = raw[0], raw[1]
    else:
        raise call.unsupported(f"padding {raw!r}")
    ah, aw = _spatial_axes(call)
    begin, end = [0, 0, 0, 0], [0, 0, 0, 0]
    begin[ah], end[ah], begin[aw], end[aw] = t, b, left, r
    y = net.op("Pad", [x, net.const("pads", begin + end, np.int64)], call.layer, mode="constant")
    out = list(shape)
    out[ah] = None if shape[ah] is None else shape[ah] + t + b  # type: ignore[operator]
    out[aw] = None if shape[aw] is None else shape[aw] + left + r  # type: ignore[operator]
    net.set(call, y, out)


def _nearest_index(size: int, new_size: int) -> np.ndarray:
    """TensorFlow's nearest neighbour with half-pixel centres, in float32 as its kernel computes
    it: floor((i + 0.5) * (size / new_size)), clamped (26 -> 11 picks column 12 where exact
    arithmetic gives 13)."""
    scale = np.float32(size) / np.float32(new_size)
    pos = (np.arange(new_size, dtype=np.float32) + np.float32(0.5)) * scale
    return np.clip(np.floor(pos).astype(np.int64), 0, size - 1)


def resizing(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    if call.get("crop_to_aspect_ratio", False) or call.get("pad_to_aspect_ratio", False):
        raise call.unsupported("crop_to_aspect_ratio / pad_to_aspect_ratio")
    if call.get("antialias", False):
        raise call.unsupported("antialias")
    mode = str(call.get("interpolation", "bilinear"))
    h, w = int(call.get("height", 0)), int(call.get("width", 0))
    if mode not in ("bilinear", "nearest") or h <= 0 or w <= 0 or len(shape) != 4:
        raise call.unsupported(f"interpolation {mode!r} to {h}x{w}")
    ah, aw = _spatial_axes(call)
    out = list(shape)
    out[ah], out[aw] = h, w
    if mode == "nearest":  # the rows and columns TensorFlow picks, as it computes them
        y = x
        for axis, size, new_size in ((ah, shape[ah], h), (aw, shape[aw], w)):
            if size is None:
                raise call.unsupported("an input of unknown size")
            index = net.const("index", _nearest_index(size, new_size), np.int64)
            y = net.op("Gather", [y, index], f"{call.layer}/axis{axis}", axis=axis)
        net.set(call, y, out)
        return
    if any(d is None for d in out[1:]):
        raise call.unsupported("an input of unknown size")
    shape_of = net.op("Shape", [x], f"{call.layer}/shape")
    b0, b1 = net.const("b0", [0], np.int64), net.const("b1", [1], np.int64)
    batch = net.op("Slice", [shape_of, b0, b1], f"{call.layer}/batch")
    rest = net.const("sizes", out[1:], np.int64)
    sizes = net.op("Concat", [batch, rest], f"{call.layer}/sizes", axis=0)
    attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    y = net.op("Resize", [x, "", "", sizes], call.layer, **attrs)
    net.set(call, y, out)


LAYERS = {
    "Conv2D": conv,
    "Convolution2D": conv,
    "DepthwiseConv2D": conv,
    "SeparableConv2D": conv,
    "MaxPooling2D": pool,
    "MaxPool2D": pool,
    "AveragePooling2D": pool,
    "AvgPool2D": pool,
    "GlobalAveragePooling2D": global_pool,
    "GlobalAvgPool2D": global_pool,
    "GlobalMaxPooling2D": global_pool,
    "GlobalMaxPool2D": global_pool,
    "ZeroPadding2D": zero_padding,
    "Resizing": resizing,
}
