"""The ONNX graph under construction: tensors as Keras has them (channels last unless a layer
says otherwise), their shapes with the batch first, weights as initializers and every other
constant as a Constant node (so the parameter count is Keras' own: Rescaling's scale is none)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from grader.errors import Rejected

type Shape = list[int | None]  # batch first


@dataclass
class Call:
    """One application of a Keras layer."""

    layer: str
    cls: str
    config: dict[str, Any]
    inputs: list[str]  # tensor ids
    output: str  # tensor id
    position: int  # 1-based, in the model's layer list
    weights: list[np.ndarray]

    def where(self) -> str:
        return f"layer {self.position} {self.layer!r} ({self.cls})"

    def unsupported(self, what: str) -> Rejected:
        return Rejected("keras_unsupported", f"{self.where()}: {what} is not supported")

    def get(self, key: str, default: Any = None) -> Any:
        value = self.config.get(key, default)
        return default if value is None else value


class Net:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.tensors: dict[str, str] = {}  # Keras tensor id -> ONNX value name
        self.shapes: dict[str, Shape] = {}  # ONNX value name -> shape
        self.used: set[str] = set()
        self.nchw: dict[str, str] = {}  # a channels-last value -> the NCHW value it came from

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name

    def weight(self, name: str, value: np.ndarray) -> str:
        out = self.fresh(name)
        arr = np.ascontiguousarray(value, dtype=np.float32)
        self.inits.append(numpy_helper.from_array(arr, out))
        return out

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        out = self.fresh(name)
        tensor = numpy_helper.from_array(np.asarray(value, dtype=dtype), out)
        self.nodes.append(helper.make_node("Constant", [], [out], name=out, value=tensor))
        return out

    def op(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        out = self.fresh(name)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def x(self, call: Call, i: int = 0) -> tuple[str, Shape]:
        name = self.tensors[call.inputs[i]]
        return name, self.shapes[name]

    def set(self, call: Call, name: str, shape: Shape) -> None:
        self.tensors[call.output] = name
        self.shapes[name] = list(shape)

    def to_nhwc(self, y: str, shape: Shape, name: str) -> tuple[str, Shape]:
        """An NCHW result back to channels last, remembering where it came from."""
        self.shapes[y] = shape
        out = self.transpose(y, [0, 2, 3, 1], name)
        self.nchw[out] = y
        return out, [shape[0], shape[2], shape[3], shape[1]]

    def prune(self, outputs: list[str]) -> None:
        """Drop the nodes nothing uses (a transpose back to channels last that the next
        convolution skipped, reading the NCHW value directly)."""
        needed = set(outputs)
        kept: list[onnx.NodeProto] = []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                kept.append(node)
                needed.update(i for i in node.input if i)
        self.nodes = kept[::-1]
        self.inits = [t for t in self.inits if t.name in needed]

    def transpose(self, x: str, perm: list[int], name: str) -> str:
        out = self.op("Transpose", [x], name, perm=perm)
        self.shapes[out] = [self.shapes[x][p] for p in perm] if x in self.shapes else []
        return out


def keras_axis(axis: Any, rank: int, call: Call) -> int:
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if not isinstance(axis, int) or not -rank <= axis < rank:
        raise call.unsupported(f"axis {axis!r}")
    return axis % rank


def pair(value: Any, call: Call, what: str) -> tuple[int, int]:
    vals = [value, value] if isinstance(value, int) else value
    if (
        not isinstance(vals, list | tuple)
        or len(vals) != 2
        or not all(isinstance(v, int) and v > 0 for v in vals)
    ):
        raise call.unsupported(f"{what} {value!r}")
    return int(vals[0]), int(vals[1])


def channels_first(call: Call) -> bool:
    fmt = call.get("data_format", "channels_last")
    if fmt not in ("channels_last", "channels_first"):
        raise call.unsupported(f"data_format {fmt!r}")
    return bool(fmt == "channels_first")
