"""A Keras model config (JSON) as an ordered list of layer calls, one input and one output.

Read as Keras wrote it, never through Keras (no class is looked up, no code runs):
- Sequential: `{"layers": [...]}` (a bare list before Keras 2.2); the input shape from an
  InputLayer (`batch_shape` in Keras 3, `batch_input_shape` before), else from the first layer's
  `batch_input_shape` (Keras 2.2 files have no InputLayer) or the model's `build_input_shape`;
- Functional (`Functional`, or `Model` before Keras 3): each layer's `inbound_nodes`, Keras 3's
  `{"args": [keras tensors]}` or Keras 2's `[[layer, node, tensor, kwargs], ...]`.
Refused here, before anything is built: Lambda layers, custom classes, models nested as layers,
anything but one input and one output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.errors import Rejected
from grader.keras.entries import (
    batch_shape,
    check_class,
    layer_name,
    shape_of,
    unsupported,
    weight_keys,
)
from grader.keras.net import Call

MAX_LAYERS = 1000


@dataclass
class Weights:
    arrays: dict[str, list[np.ndarray]]  # per group: a layer name (HDF5) or class key (zip)
    by_class: bool


WEIGHTED = {
    "Dense",
    "Conv2D",
    "Convolution2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "BatchNormalization",
    "LayerNormalization",
    "PReLU",
}


def _inner_layers(entry: dict[str, Any]) -> list[Any]:
    cfg = entry.get("config")
    inner = cfg if isinstance(cfg, list) else cfg.get("layers") if isinstance(cfg, dict) else None
    if not isinstance(inner, list) or len(inner) > MAX_LAYERS:
        raise Rejected("keras_invalid", f"the nested model {layer_name(entry, 0)!r} has no layers")
    return inner


def _nested(
    entry: dict[str, Any],
    position: int,
    inputs: list[str],
    output: str,
    *,
    known: set[str],
    k: int = 0,
) -> list[Call]:
    """A Sequential nested as a layer whose layers hold no weights (an augmentation or a
    preprocessing block, as Keras tutorials build them): its layers, inlined."""
    outer = layer_name(entry, position)
    inner = [
        e
        for e in _inner_layers(entry)
        if not (isinstance(e, dict) and e.get("class_name") == "InputLayer")
    ]
    calls: list[Call] = []
    prev = inputs
    for j, e in enumerate(inner):
        cls, cfg = check_class(e, position, known)
        name = f"{outer}/{layer_name(e, j + 1)}"
        if cls in WEIGHTED or (cls == "Normalization" and cfg.get("mean") is None):
            raise unsupported(
                f"layer {position} {outer!r} is a model nested as a layer, and its layer "
                f"{name!r} has weights; build one flat model"
            )
        out = output if j == len(inner) - 1 else f"{name}:{k}:0"
        calls.append(Call(name, cls, cfg, prev, out, position, []))
        prev = [out]
    return calls or [Call(outer, "Identity", {}, inputs, output, position, [])]


def _first_shape(first: dict[str, Any], config: Any) -> list[int | None] | None:
    cfg0 = first.get("config") if isinstance(first.get("config"), dict) else {}
    shape = batch_shape(cfg0 or {})
    if shape is None and isinstance(config, dict):
        shape = shape_of(config.get("build_input_shape"))
    if shape is None:
        build = first.get("build_config") if isinstance(first.get("build_config"), dict) else {}
        shape = shape_of((build or {}).get("input_shape"))
    if shape is None and first.get("class_name") == "Sequential":  # a nested block comes first
        inner = _inner_layers(first)
        if inner and isinstance(inner[0], dict):
            shape = _first_shape(inner[0], first.get("config"))
    return shape


def _sequential(
    config: Any, weights: Weights, known: set[str]
) -> tuple[list[Call], list[int | None], str]:
    layers = config if isinstance(config, list) else (config or {}).get("layers")
    if not isinstance(layers, list) or not layers:
        raise Rejected("keras_invalid", "the Sequential model has no layers")
    first = layers[0] if isinstance(layers[0], dict) else {}
    shape = _first_shape(first, config)
    if shape is None:
        raise Rejected(
            "keras_invalid",
            "the model's input shape is not in the file (give the first layer an input shape, or start with keras.Input)",
        )
    input_name = layer_name(first, 1) if first.get("class_name") == "InputLayer" else "input"
    calls: list[Call] = []
    prev = input_name
    keys = weight_keys(layers, weights.by_class)
    for i, entry in enumerate(layers, start=1):
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            if i != 1:
                raise unsupported(f"layer {i} is a second InputLayer")
            continue
        name = layer_name(entry, i)
        if isinstance(entry, dict) and entry.get("class_name") == "Sequential":
            calls += _nested(entry, i, [prev], name, known=known)
            prev = name
            continue
        cls, cfg = check_class(entry, i, known)
        calls.append(Call(name, cls, cfg, [prev], name, i, weights.arrays.get(keys[i - 1], [])))
        prev = name
    return calls, shape, input_name


def _keras3_tensors(value: Any, out: list[tuple[str, int, int]]) -> None:
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            hist = (value.get("config") or {}).get("keras_history")
            if not isinstance(hist, list) or len(hist) != 3:
                raise Rejected("keras_invalid", "a layer input has no keras_history")
            out.append((str(hist[0]), int(hist[1]), int(hist[2])))
    elif isinstance(value, list):
        for v in value:
            _keras3_tensors(v, out)


def _node_inputs(node: Any) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    if isinstance(node, dict):  # Keras 3
        _keras3_tensors(node.get("args", []), out)
        extra: list[tuple[str, int, int]] = []
        _keras3_tensors(node.get("kwargs", {}), extra)
        if extra:
            raise unsupported(
                "a layer called with tensors as keyword arguments (masks, initial states)"
            )
    elif isinstance(node, list):  # Keras 2: [[layer, node index, tensor index, kwargs], ...]
        for item in node:
            if not isinstance(item, list) or len(item) < 3:
                raise Rejected("keras_invalid", "an inbound node is malformed")
            out.append((str(item[0]), int(item[1]), int(item[2])))
    return out


def _ends(value: Any, what: str) -> tuple[str, int, int]:
    items = value if isinstance(value, list) else []
    if len(items) == 3 and isinstance(items[0], str):
        items = [items]  # Keras 3 writes a single input as one triple
    if len(items) != 1:
        raise unsupported(
            f"the model has {len(items)} {what}s; Podium grades models with exactly one"
        )
    item = items[0]
    if not isinstance(item, list) or len(item) < 3:
        raise Rejected("keras_invalid", f"the model's {what} is malformed")
    return str(item[0]), int(item[1]), int(item[2])


def _tid(layer: str, node: int, tensor: int) -> str:
    return f"{layer}:{node}:{tensor}"


def _order(pending: list[Call], input_id: str) -> list[Call]:
    """The calls in an order where each one's inputs come first (each pass places every call
    whose inputs are ready; a model has at most MAX_LAYERS of them)."""
    ready = {input_id}
    ordered: list[Call] = []
    while pending:
        rest = [c for c in pending if not all(t in ready for t in c.inputs)]
        for c in pending:
            if c not in rest:
                ordered.append(c)
                ready.add(c.output)
        if len(rest) == len(pending):
            raise unsupported(
                f"{rest[0].where()} takes an input that is not computed from the model's input"
            )
        pending = rest
    return ordered


def _functional(
    config: Any, weights: Weights, known: set[str]
) -> tuple[list[Call], list[int | None], str, str]:
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise Rejected("keras_invalid", "the functional model has no layer list")
    inp = _ends(config.get("input_layers"), "input")
    out = _ends(config.get("output_layers"), "output")
    pending: list[Call] = []
    shape = None
    keys = weight_keys(config["layers"], weights.by_class)
    for i, entry in enumerate(config["layers"], start=1):
        name = layer_name(entry, i) if isinstance(entry, dict) else f"layer_{i}"
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            if name == inp[0]:
                shape = batch_shape(entry.get("config") or {})
            continue
        nodes = entry.get("inbound_nodes") if isinstance(entry, dict) else None
        if not isinstance(nodes or [], list):
            raise Rejected("keras_invalid", f"layer {i} {name!r} has malformed inbound nodes")
        if isinstance(entry, dict) and entry.get("class_name") == "Sequential":
            for k, node in enumerate(nodes or []):
                ins = [_tid(*t) for t in _node_inputs(node)]
                pending += _nested(entry, i, ins, _tid(name, k, 0), known=known, k=k)
            continue
        cls, cfg = check_class(entry, i, known)
        for k, node in enumerate(nodes or []):
            ins = [_tid(*t) for t in _node_inputs(node)]
            pending.append(
                Call(name, cls, cfg, ins, _tid(name, k, 0), i, weights.arrays.get(keys[i - 1], []))
            )
    if shape is None:
        raise Rejected("keras_invalid", f"the input layer {inp[0]!r} has no shape")
    ordered = _order(pending, _tid(*inp))
    if _tid(*out) not in {c.output for c in ordered}:
        raise Rejected(
            "keras_invalid", f"the model's output {out[0]!r} is not computed from its input"
        )
    return ordered, shape, _tid(*inp), _tid(*out)


def parse(
    model_config: dict[str, Any], weights: Weights, known: set[str]
) -> tuple[list[Call], list[int | None], str, str]:
    """(calls in order, the input's batch shape, input tensor id, output tensor id)."""
    cls = str(model_config.get("class_name", ""))[:100]
    config = model_config.get("config")
    layers = (
        config
        if isinstance(config, list)
        else (config or {}).get("layers")
        if isinstance(config, dict)
        else None
    )
    if isinstance(layers, list) and len(layers) > MAX_LAYERS:
        raise Rejected("keras_invalid", f"{len(layers)} layers; at most {MAX_LAYERS}")
    if cls == "Sequential":
        calls, shape, inp = _sequential(config, weights, known)
        return calls, shape, inp, calls[-1].output if calls else inp
    if cls in ("Functional", "Model"):
        return _functional(config, weights, known)
    registered = str(model_config.get("registered_name") or cls)
    raise unsupported(
        f"the model is a subclassed or custom class {registered!r}: its code is not in the file. "
        "Build it with keras.Sequential or the functional API and save it with model.save"
    )
