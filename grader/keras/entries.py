"""One layer entry of a Keras config: its name, its class (refused when it is code, a custom
class or unknown), the weight group it reads, its declared input shape."""

from __future__ import annotations

import re
from typing import Any

from grader.errors import Rejected

MODELS = ("Sequential", "Functional", "Model")


def unsupported(message: str) -> Rejected:
    return Rejected("keras_unsupported", message)


def layer_name(entry: dict[str, Any], i: int) -> str:
    cfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    name = entry.get("name") or (cfg or {}).get("name") or f"layer_{i}"
    return str(name)[:200]


def check_class(entry: Any, position: int, known: set[str]) -> tuple[str, dict[str, Any]]:
    """The class name and config of a layer entry; a refusal naming what Podium cannot run."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
        raise Rejected("keras_invalid", f"layer {position} is not a layer config")
    cls = str(entry.get("class_name", ""))[:100]
    name = layer_name(entry, position)
    where = f"layer {position} {name!r}"
    module = str(entry.get("module") or "")
    registered = str(entry.get("registered_name") or "")
    if cls in ("Lambda", "TFOpLambda", "SlicingOpLambda"):
        raise unsupported(
            f"{where} is a {cls} layer: it holds Python code, which Podium never runs; "
            "use built-in layers instead"
        )
    custom = ">" in registered or (module and not module.startswith(("keras", "tf_keras")))
    if custom:
        raise unsupported(
            f"{where} is a custom class {registered or cls!r} (module {module or '?'}): its code "
            "is not in the file and Podium runs none; use built-in Keras layers"
        )
    if cls in MODELS:
        raise unsupported(
            f"{where} is a whole model nested as a layer ({cls}); flatten it into one model"
        )
    if cls not in known:
        raise unsupported(f"{where}: the layer type {cls!r} is not supported")
    return cls, entry.get("config") or {}


def class_key(cls: str) -> str:
    """The group a `.keras` weights file gives a layer: not its name but its class in snake
    case, numbered in the model's layer order (`conv2d`, `conv2d_1`, ...; `PReLU` is `p_re_lu`):
    Keras' saving_lib names them so, with keras.src.utils.naming.to_snake_case."""
    text = re.sub(r"\W+", "", cls)
    text = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", text)
    return re.sub("([a-z])([A-Z])", r"\1_\2", text).lower()


def weight_keys(entries: list[Any], by_class: bool) -> list[str]:
    used: dict[str, int] = {}
    keys = []
    for i, entry in enumerate(entries, start=1):
        entry = entry if isinstance(entry, dict) else {}
        if not by_class:
            keys.append(layer_name(entry, i))
            continue
        base = class_key(str(entry.get("class_name", ""))[:100])
        used[base] = used.get(base, -1) + 1
        keys.append(base if used[base] == 0 else f"{base}_{used[base]}")
    return keys


def shape_of(value: Any) -> list[int | None] | None:
    if not isinstance(value, list) or not value or len(value) > 6:
        return None
    if not all(d is None or (isinstance(d, int) and d > 0) for d in value):
        return None
    return list(value)


def batch_shape(cfg: dict[str, Any]) -> list[int | None] | None:
    for key in ("batch_shape", "batch_input_shape"):
        shape = shape_of(cfg.get(key))
        if shape:
            return shape
    return None
