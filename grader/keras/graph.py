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

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.errors import Rejected
from grader.keras.net import Call

MAX_LAYERS = 1000


@dataclass
class Weights:
    arrays: dict[str, list[np.ndarray]]  # per group: a layer name (HDF5) or class key (zip)
    by_class: bool


MODELS = ("Sequential", "Functional", "Model")


def _unsupported(message: str) -> Rejected:
    return Rejected("keras_unsupported", message)


def _layer_name(entry: dict[str, Any], i: int) -> str:
    cfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    name = entry.get("name") or (cfg or {}).get("name") or f"layer_{i}"
    return str(name)[:200]


def check_class(entry: Any, position: int, known: set[str]) -> tuple[str, dict[str, Any]]:
    """The class name and config of a layer entry; a refusal naming what Podium cannot run."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
        raise Rejected("keras_invalid", f"layer {position} is not a layer config")
    cls = str(entry.get("class_name", ""))[:100]
    name = _layer_name(entry, position)
    where = f"layer {position} {name!r}"
    module = str(entry.get("module") or "")
    registered = str(entry.get("registered_name") or "")
    if cls in ("Lambda", "TFOpLambda", "SlicingOpLambda"):
        raise _unsupported(
            f"{where} is a {cls} layer: it holds Python code, which Podium never runs; "
            "use built-in layers instead"
        )
    custom = ">" in registered or (module and not module.startswith(("keras", "tf_keras")))
    if custom:
        raise _unsupported(
            f"{where} is a custom class {registered or cls!r} (module {module or '?'}): its code "
            "is not in the file and Podium runs none; use built-in Keras layers"
        )
    if cls in MODELS:
        raise _unsupported(
            f"{where} is a whole model nested as a layer ({cls}); flatten it into one model"
        )
    if cls not in known:
        raise _unsupported(f"{where}: the layer type {cls!r} is not supported")
    return cls, entry.get("config") or {}


def class_key(cls: str) -> str:
    """The group a `.keras` weights file gives a layer: not its name but its class in snake
    case, numbered in the model's layer order (`conv2d`, `conv2d_1`, ...; `PReLU` is `p_re_lu`):
    Keras' saving_lib names them so, with keras.src.utils.naming.to_snake_case."""
    text = re.sub(r"\W+", "", cls)
    text = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", text)
    return re.sub("([a-z])([A-Z])", r"\1_\2", text).lower()


def _weight_keys(entries: list[Any], by_class: bool) -> list[str]:
    used: dict[str, int] = {}
    keys = []
    for i, entry in enumerate(entries, start=1):
        entry = entry if isinstance(entry, dict) else {}
        if not by_class:
            keys.append(_layer_name(entry, i))
            continue
        base = class_key(str(entry.get("class_name", ""))[:100])
        used[base] = used.get(base, -1) + 1
        keys.append(base if used[base] == 0 else f"{base}_{used[base]}")
    return keys


def _shape(value: Any) -> list[int | None] | None:
    if not isinstance(value, list) or not value or len(value) > 6:
        return None
    if not all(d is None or (isinstance(d, int) and d > 0) for d in value):
        return None
    return list(value)


def _batch_shape(cfg: dict[str, Any]) -> list[int | None] | None:
    for key in ("batch_shape", "batch_input_shape"):
        shape = _shape(cfg.get(key))
        if shape:
            return shape
    return None


def _sequential(
    config: Any, weights: Weights, known: set[str]
) -> tuple[list[Call], list[int | None], str]:
    layers = config if isinstance(config, list) else (config or {}).get("layers")
    if not isinstance(layers, list) or not layers:
        raise Rejected("keras_invalid", "the Sequential model has no layers")
    shape = None
    first = layers[0] if isinstance(layers[0], dict) else {}
    cfg0 = first.get("config") if isinstance(first.get("config"), dict) else {}
    shape = _batch_shape(cfg0 or {})
    if shape is None and isinstance(config, dict):
        shape = _shape(config.get("build_input_shape"))
    if shape is None:
        build = first.get("build_config") if isinstance(first.get("build_config"), dict) else {}
        shape = _shape((build or {}).get("input_shape"))
    if shape is None:
        raise Rejected(
            "keras_invalid",
            "the model's input shape is not in the file (give the first layer an input shape, or start with keras.Input)",
        )
    input_name = _layer_name(first, 1) if first.get("class_name") == "InputLayer" else "input"
    calls: list[Call] = []
    prev = input_name
    keys = _weight_keys(layers, weights.by_class)
    for i, entry in enumerate(layers, start=1):
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            if i != 1:
                raise _unsupported(f"layer {i} is a second InputLayer")
            continue
        cls, cfg = check_class(entry, i, known)
        name = _layer_name(entry, i)
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
            raise _unsupported(
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
        raise _unsupported(
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
            raise _unsupported(
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
    keys = _weight_keys(config["layers"], weights.by_class)
    for i, entry in enumerate(config["layers"], start=1):
        name = _layer_name(entry, i) if isinstance(entry, dict) else f"layer_{i}"
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            if name == inp[0]:
                shape = _batch_shape(entry.get("config") or {})
            continue
        cls, cfg = check_class(entry, i, known)
        nodes = entry.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise Rejected("keras_invalid", f"layer {i} {name!r} has malformed inbound nodes")
        for k, node in enumerate(nodes):
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
    raise _unsupported(
        f"the model is a subclassed or custom class {registered!r}: its code is not in the file. "
        "Build it with keras.Sequential or the functional API and save it with model.save"
    )
