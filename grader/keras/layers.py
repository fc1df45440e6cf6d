"""Keras layers without a spatial window: dense, activations, normalisation, merges, shapes.

Semantics follow Keras' layer code (keras/src/layers/...), Keras 3 unless the file says Keras 2:
- BatchNormalization: gamma * (x - mean) / sqrt(var + epsilon) + beta on `axis`;
- Normalization: (x - mean) / max(sqrt(var), 1e-7) (backend.epsilon());
- hard_sigmoid: Keras 3 relu6(x + 3) / 6, Keras 2 clip(0.2 x + 0.5, 0, 1);
- gelu is the exact erf form (approximate=False, the default of both);
- the activation string leaky_relu has slope 0.2, the LeakyReLU layer 0.3.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.keras.net import Call, Net, Shape, keras_axis

_SIMPLE = {
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softplus": "Softplus",
    "softsign": "Softsign",
    "elu": "Elu",
    "selu": "Selu",
    "exponential": "Exp",
}


def activation_name(value: Any, call: Call) -> str:
    """ "relu", or Keras 3's {"class_name": "function", "config": "relu"}."""
    if value is None:
        return "linear"
    if isinstance(value, dict):
        value = value.get("config") if value.get("class_name") in ("function", None) else None
    if not isinstance(value, str):
        raise call.unsupported("a custom activation")
    return value.lower()


def activate(net: Net, x: str, kind: str, call: Call, major: int) -> str:
    name = f"{call.layer}/{kind}"
    if kind == "linear":
        return x
    if kind in _SIMPLE:
        return net.op(_SIMPLE[kind], [x], name)
    if kind == "relu6":
        return net.op("Clip", [x, net.const("zero", 0.0), net.const("six", 6.0)], name)
    if kind == "leaky_relu":
        return net.op("LeakyRelu", [x], name, alpha=0.2)
    if kind in ("swish", "silu"):
        return net.op("Mul", [x, net.op("Sigmoid", [x], f"{name}/sigmoid")], name)
    if kind in ("hard_sigmoid", "hard_silu", "hard_swish"):
        alpha = 0.2 if major < 3 else 1.0 / 6.0
        hs = net.op("HardSigmoid", [x], f"{name}/hs", alpha=alpha, beta=0.5)
        return hs if kind == "hard_sigmoid" else net.op("Mul", [x, hs], name)
    if kind == "gelu":
        erf = net.op(
            "Erf",
            [net.op("Mul", [x, net.const("r", 1 / math.sqrt(2))], f"{name}/s")],
            f"{name}/erf",
        )
        one = net.op("Add", [erf, net.const("one", 1.0)], f"{name}/1p")
        return net.op("Mul", [net.op("Mul", [x, one], f"{name}/x"), net.const("half", 0.5)], name)
    if kind == "mish":
        soft = net.op("Softplus", [x], f"{name}/softplus")
        return net.op("Mul", [x, net.op("Tanh", [soft], f"{name}/tanh")], name)
    if kind in ("softmax", "log_softmax"):
        return net.op("Softmax" if kind == "softmax" else "LogSoftmax", [x], name, axis=-1)
    raise call.unsupported(f"activation {kind!r}")


def _finish(net: Net, call: Call, y: str, shape: Shape, major: int) -> None:
    kind = activation_name(call.config.get("activation"), call)
    net.set(call, activate(net, y, kind, call, major), shape)


def _weights(call: Call, n: int) -> list[np.ndarray]:
    if len(call.weights) < n:
        raise call.unsupported(
            f"a file with {len(call.weights)} weight arrays where {n} are needed (missing weights)"
        )
    return call.weights


def dense(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    use_bias = call.get("use_bias", True)
    ws = _weights(call, 2 if use_bias else 1)
    kernel = ws[0]
    if kernel.ndim != 2 or (shape[-1] is not None and kernel.shape[0] != shape[-1]):
        raise call.unsupported(f"a kernel of shape {kernel.shape} on input {shape}")
    w = net.weight(f"{call.layer}/kernel", kernel)
    b = [net.weight(f"{call.layer}/bias", ws[1])] if use_bias else []
    if len(shape) == 2:
        y = net.op("Gemm", [x, w, *b], call.layer)
    else:
        y = net.op("MatMul", [x, w], f"{call.layer}/matmul" if b else call.layer)
        if b:
            y = net.op("Add", [y, *b], call.layer)
    _finish(net, call, y, [*shape[:-1], int(kernel.shape[1])], major)


def activation_layer(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    cls = call.cls
    if cls == "Activation":
        _finish(net, call, x, shape, major)
        return
    if cls == "Softmax":
        axis = keras_axis(call.get("axis", -1), len(shape), call)
        y = net.op("Softmax", [x], call.layer, axis=axis)
    elif cls == "ELU":
        y = net.op("Elu", [x], call.layer, alpha=float(call.get("alpha", 1.0)))
    elif cls == "LeakyReLU":
        slope = call.get("negative_slope", call.get("alpha", 0.3))
        y = net.op("LeakyRelu", [x], call.layer, alpha=float(slope))
    elif cls == "ReLU":
        if float(call.get("threshold", 0.0)) != 0.0:
            raise call.unsupported("a threshold")
        slope = float(call.get("negative_slope", 0.0))
        y = (
            net.op("LeakyRelu", [x], call.layer, alpha=slope)
            if slope
            else net.op("Relu", [x], call.layer)
        )
        if call.config.get("max_value") is not None:
            top = net.const("max", float(call.config["max_value"]))
            y = net.op("Min", [y, top], f"{call.layer}/max_value")
    else:  # PReLU: alpha has the input's shape without the batch (1 on shared axes)
        alpha = _weights(call, 1)[0]
        y = net.op("PRelu", [x, net.weight(f"{call.layer}/alpha", alpha)], call.layer)
    net.set(call, y, shape)


def _broadcast(value: np.ndarray, axis: int, rank: int) -> np.ndarray:
    shape = [1] * rank
    shape[axis] = -1
    return value.reshape(shape[1:]) if value.size > 1 else value.reshape(())


def batch_norm(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    axis = keras_axis(call.get("axis", -1), len(shape), call)
    scale, center = call.get("scale", True), call.get("center", True)
    ws = list(_weights(call, 2 + int(scale) + int(center)))
    gamma = ws.pop(0) if scale else None
    beta = ws.pop(0) if center else None
    moved = len(shape) == 4 and axis == 3 and x in net.nchw
    if moved:  # after a convolution: normalise its NCHW output, no transposes in between
        x, axis, shape = net.nchw[x], 1, [shape[0], shape[3], shape[1], shape[2]]
    rank, name = len(shape), call.layer

    def param(key: str, value: np.ndarray) -> str:
        return net.weight(f"{name}/{key}", _broadcast(value, axis, rank))

    m, v = param("moving_mean", ws[0]), param("moving_variance", ws[1])
    eps = net.const("eps", float(call.get("epsilon", 1e-3)))
    std = net.op("Sqrt", [net.op("Add", [v, eps], f"{name}/var_eps")], f"{name}/std")
    inv = net.op("Reciprocal", [std], f"{name}/inv")
    if gamma is not None:
        inv = net.op("Mul", [inv, param("gamma", gamma)], f"{name}/scale")
    y = net.op("Mul", [net.op("Sub", [x, m], f"{name}/centre"), inv], name)
    if beta is not None:
        y = net.op("Add", [y, param("beta", beta)], f"{name}/shift")
    if moved:
        y, shape = net.to_nhwc(y, shape, f"{name}/to_nhwc")
    net.set(call, y, shape)


def layer_norm(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    rank = len(shape)
    raw = call.get("axis", -1)
    axes = sorted(keras_axis(a, rank, call) for a in (raw if isinstance(raw, list) else [raw]))
    if axes != list(range(axes[0], rank)) or axes[0] == 0:
        raise call.unsupported(f"axis {raw!r} (only the last axes)")
    if call.get("rms_scaling", False):
        raise call.unsupported("rms_scaling")
    scale, center = call.get("scale", True), call.get("center", True)
    ws = list(_weights(call, int(scale) + int(center)))
    norm_shape = [d or 1 for d in shape[axes[0] :]]
    gamma = ws.pop(0).reshape(norm_shape) if scale else np.ones(norm_shape, np.float32)
    inputs = [x, net.weight(f"{call.layer}/gamma", gamma) if scale else net.const("ones", gamma)]
    if center:
        inputs.append(net.weight(f"{call.layer}/beta", ws.pop(0).reshape(norm_shape)))
    eps = float(call.get("epsilon", 1e-3))
    y = net.op("LayerNormalization", inputs, call.layer, axis=axes[0], epsilon=eps)
    net.set(call, y, shape)


def rescaling(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    scale = np.asarray(call.get("scale", 1.0), np.float32)
    offset = np.asarray(call.get("offset", 0.0), np.float32)
    y = net.op("Mul", [x, net.const("scale", scale)], call.layer)
    if np.any(offset != 0):
        y = net.op("Add", [y, net.const("offset", offset)], f"{call.layer}/offset")
    net.set(call, y, shape)


def normalization(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    if call.get("invert", False):
        raise call.unsupported("invert=True")
    raw = call.get("axis", -1)
    axes = [keras_axis(a, len(shape), call) for a in (raw if isinstance(raw, list) else [raw])]
    if call.config.get("mean") is not None and call.config.get("variance") is not None:
        mean = np.asarray(call.config["mean"], np.float32)
        var = np.asarray(call.config["variance"], np.float32)
    else:
        mean, var = _weights(call, 2)[:2]
    bshape = [shape[a] if a in axes else 1 for a in range(1, len(shape))]
    try:
        mean = np.broadcast_to(
            mean.reshape([d or 1 for d in bshape]) if mean.size > 1 else mean,
            [d or 1 for d in bshape],
        )
        var = np.broadcast_to(
            var.reshape([d or 1 for d in bshape]) if var.size > 1 else var, mean.shape
        )
    except ValueError:
        raise call.unsupported(f"mean of shape {mean.shape} on input {shape}") from None
    denom = np.maximum(np.sqrt(var.astype(np.float64)), 1e-7)
    y = net.op("Sub", [x, net.weight(f"{call.layer}/mean", mean)], f"{call.layer}/centre")
    y = net.op("Div", [y, net.weight(f"{call.layer}/std", denom)], call.layer)
    net.set(call, y, shape)


def identity(net: Net, call: Call, major: int) -> None:
    """Dropout, noise and the Random* augmentations: the identity at inference."""
    x, shape = net.x(call)
    net.set(call, x, shape)


Builder = Callable[[Net, Call, int], None]
IDENTITY = (
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
)
LAYERS: dict[str, Builder] = {
    **dict.fromkeys(IDENTITY, identity),
    "Dense": dense,
    **dict.fromkeys(
        ("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU"), activation_layer
    ),
    "BatchNormalization": batch_norm,
    "LayerNormalization": layer_norm,
    "Rescaling": rescaling,
    "Normalization": normalization,
}
