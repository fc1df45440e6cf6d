"""`grader.npnet.save`: a NumPy network written from a plain Python list, spec and arrays together.

    from grader.npnet import save
    save("net.npz", [("dense", W1, b1), "relu", ("dense", W2, b2), "softmax"],
         input_shape=[784], preprocess="unit", weight_layout="out_in")

An entry is a layer type ("relu", "flatten", "maxpool2d", ...), or a tuple of the type, its
arrays and optionally a dict of options last: ("dense", W, b), ("dense", W) or ("dense", W, None)
for no bias, ("conv2d", K, b, {"padding": 2}), ("batchnorm", gamma, beta, mean, var),
("normalize", mean, std), ("dropout", {"rate": 0.5, "mode": "scale"}), ("flatten", {"order":
"chw"}). Needs NumPy only; `check=True` converts the result as the grader will (that needs
onnx), so a mistake is reported here, with the grader's own message.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

# The arrays each layer type takes, in order, and the prefix of its generated name.
ARRAYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dense": ("fc", ("W", "b")),
    "conv2d": ("conv", ("W", "b")),
    "batchnorm": ("bn", ("gamma", "beta", "mean", "var")),
    "normalize": ("norm", ("mean", "std")),
}
WEIGHT_LAYOUTS = {"in_out": {}, "out_in": {"dense": "out_in", "conv2d": "oihw"}}


def _entry(entry: Any, i: int) -> tuple[str, list[Any], dict[str, Any]]:
    if isinstance(entry, str):
        return entry.lower(), [], {}
    if not isinstance(entry, tuple | list) or not entry or not isinstance(entry[0], str):
        raise TypeError(f"layer {i}: expected a type name or a tuple like ('dense', W, b)")
    rest = list(entry[1:])
    options = rest.pop() if rest and isinstance(rest[-1], dict) else {}
    return entry[0].lower(), rest, dict(options)


def _layer(
    entry: Any, i: int, counts: dict[str, int], arrays: dict[str, np.ndarray]
) -> dict[str, Any]:
    kind, values, options = _entry(entry, i)
    layer: dict[str, Any] = {"type": kind}
    if kind not in ARRAYS:
        if values:
            raise TypeError(f"layer {i}: a {kind} layer takes no arrays")
        return {**layer, **options}
    prefix, names = ARRAYS[kind]
    counts[kind] = counts.get(kind, 0) + 1
    name = str(options.pop("name", f"{prefix}{counts[kind]}"))
    layer["name"] = name
    if len(values) > len(names) or (kind in ("dense", "conv2d") and not values):
        raise TypeError(f"layer {i}: a {kind} layer takes the arrays {', '.join(names)}")
    if kind not in ("dense", "conv2d") and len(values) != len(names):
        raise TypeError(f"layer {i}: a {kind} layer takes the arrays {', '.join(names)}")
    for key, value in zip(names, values, strict=False):
        if value is not None:
            try:
                arrays[f"{name}.{key}"] = np.ascontiguousarray(value, dtype=np.float32)
            except (TypeError, ValueError) as e:
                raise TypeError(f"layer {i}: {name}.{key} is not a numeric array ({e})") from e
    if kind in ("dense", "conv2d") and f"{name}.b" not in arrays:
        layer["bias"] = False
    return {**layer, **options}


def _preprocess(value: Any) -> Any:
    if value is None or isinstance(value, str | dict):
        return value
    mean, std = value  # a (mean, std) pair
    return {"mean": np.atleast_1d(mean).tolist(), "std": np.atleast_1d(std).tolist()}


def save(
    path: str | Path | IO[bytes],
    layers: Sequence[Any],
    *,
    input_shape: Sequence[int],
    input_layout: str = "hwc",
    preprocess: Any = None,
    weight_layout: str = "in_out",
    flatten_order: str | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Write a version 2 `.npz` network and return its spec.

    input_layout: "hwc" (channel-last, input_shape [H, W, C]) or "chw" ([C, H, W], PyTorch).
    preprocess: a preset name ("unit", "mnist", ...), (mean, std), or {"mean": .., "std": ..}.
    weight_layout: "in_out" (y = x @ W; conv kernels (kh, kw, in, out)) or "out_in" (PyTorch and
    column-vector code: W is (out, in), y = W @ x; conv kernels (out, in, kh, kw)); an entry's
    own {"weight_layout": ...} wins. flatten_order: "hwc" or "chw" for every flatten that does
    not say (default: the input_layout)."""
    if weight_layout not in WEIGHT_LAYOUTS:
        raise ValueError(f"weight_layout must be 'in_out' or 'out_in', not {weight_layout!r}")
    arrays: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    spec_layers = []
    for i, entry in enumerate(layers):
        layer = _layer(entry, i, counts, arrays)
        default = WEIGHT_LAYOUTS[weight_layout].get(layer["type"])
        if default and "weight_layout" not in layer:
            layer["weight_layout"] = default
        if flatten_order and layer["type"] == "flatten":
            layer.setdefault("order", flatten_order)
        spec_layers.append(layer)
    spec: dict[str, Any] = {
        "format": "podium.npnet",
        "version": 2,
        "input_shape": [int(d) for d in input_shape],
        "input_layout": input_layout,
        "layers": spec_layers,
    }
    if preprocess is not None:
        spec["preprocess"] = _preprocess(preprocess)
    buf = io.BytesIO()
    members: dict[str, Any] = {"architecture": np.array(json.dumps(spec)), **arrays}
    np.savez(buf, **members)
    data = buf.getvalue()
    if check:
        from grader.npnet_convert import npz_to_onnx  # onnx, loaded only to check

        npz_to_onnx(data)
    if isinstance(path, str | Path):
        Path(path).write_bytes(data)
    else:
        path.write(data)
    return spec
