"""Keras layers that combine or reshape tensors: merges, Flatten (channels last first, as
Keras flattens), Reshape."""

from __future__ import annotations

import math

import numpy as np

from grader.keras.layers import Builder
from grader.keras.net import Call, Net, channels_first, keras_axis


def merge(net: Net, call: Call, major: int) -> None:
    xs = [net.tensors[t] for t in call.inputs]
    shape = net.shapes[xs[0]]
    if len(xs) < 2:
        raise call.unsupported("a merge of fewer than two tensors")
    if call.cls == "Concatenate":
        axis = keras_axis(call.get("axis", -1), len(shape), call)
        dims = [net.shapes[x][axis] for x in xs]
        total = None if any(d is None for d in dims) else sum(d for d in dims if d is not None)
        y = net.op("Concat", xs, call.layer, axis=axis)
        net.set(call, y, [*shape[:axis], total, *shape[axis + 1 :]])
        return
    if call.cls == "Subtract":
        if len(xs) != 2:
            raise call.unsupported("Subtract of more than two tensors")
        y = net.op("Sub", xs, call.layer)
    elif call.cls == "Multiply":
        y = xs[0]
        for i, other in enumerate(xs[1:]):
            y = net.op("Mul", [y, other], call.layer if i == len(xs) - 2 else f"{call.layer}/mul")
    else:
        op = {"Add": "Sum", "Average": "Sum", "Maximum": "Max", "Minimum": "Min"}[call.cls]
        y = net.op(op, xs, call.layer if call.cls != "Average" else f"{call.layer}/sum")
        if call.cls == "Average":
            y = net.op("Mul", [y, net.const("inv_n", 1.0 / len(xs))], call.layer)
    net.set(call, y, shape)


def flatten(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    if channels_first(call) and len(shape) > 2:  # Keras moves the channels last first
        x = net.transpose(x, [0, *range(2, len(shape)), 1], f"{call.layer}/to_channels_last")
        shape = net.shapes[x]
    rest = shape[1:]
    n = None if any(d is None for d in rest) else math.prod(d for d in rest if d is not None)
    net.set(call, net.op("Flatten", [x], call.layer, axis=1), [shape[0], n])


def reshape(net: Net, call: Call, major: int) -> None:
    x, shape = net.x(call)
    target = call.get("target_shape")
    if not isinstance(target, list) or not all(
        isinstance(d, int) and (d > 0 or d == -1) for d in target
    ):
        raise call.unsupported(f"target_shape {target!r}")
    out: list[int | None] = list(target)
    if -1 in target and all(d is not None for d in shape[1:]):
        known = math.prod(d for d in target if d != -1)
        out[target.index(-1)] = math.prod(d for d in shape[1:] if d is not None) // max(known, 1)
    y = net.op("Reshape", [x, net.const("shape", [0, *target], np.int64)], call.layer)
    net.set(call, y, [shape[0], *(None if d == -1 else d for d in out)])


LAYERS: dict[str, Builder] = {
    **dict.fromkeys(
        ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"), merge
    ),
    "Flatten": flatten,
    "Reshape": reshape,
}
