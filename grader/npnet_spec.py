"""Reading a NumPy network's JSON spec with bounded work, and what it declares about its input.

Bounds come before `json.loads` builds anything (size, nesting), then the counts (layers). Version
2 adds options (grader.npnet documents them) and refuses keys it does not know, so that a typo
such as `weight_layot` is an error rather than a silently different network. Version 1 files
read as they always did.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from grader.errors import Rejected
from grader.preprocess import parse_values

MAX_LAYERS = 500
MAX_SPEC_BYTES = 1 << 20  # the JSON spec of 500 layers fits in a few KB
MAX_SPEC_DEPTH = 8  # {layers: [{mean: [..]}]} is 4 deep
MAX_PAD = 256  # explicit padding; more is no network anyone trained on 28x28 or 32x32 images
VERSIONS = (1, 2)
INPUT_LAYOUTS = ("hwc", "chw")
SPEC_KEYS = {
    "format",
    "version",
    "name",
    "description",
    "input_shape",
    "input_layout",
    "preprocess",
    "layers",
}


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """`padding: same` as Keras/TensorFlow: the total padding, the smaller half before."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


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


def _check_version(spec: dict[str, Any]) -> int:
    version = spec.get("version", 1)
    if isinstance(version, bool) or version not in VERSIONS:
        raise Rejected(
            "npz_invalid",
            f"'version' is {version!r}; this grader reads versions 1 and 2 of the spec",
        )
    if version == 2 and set(spec) - SPEC_KEYS:
        unknown = ", ".join(sorted(set(spec) - SPEC_KEYS))
        raise Rejected(
            "npz_invalid", f"unknown spec key(s) {unknown}; known: {', '.join(sorted(SPEC_KEYS))}"
        )
    return int(version)


def input_layout(spec: dict[str, Any]) -> str:
    """`hwc` (channel-last, the default) or `chw`: how `input_shape` and flat inputs are ordered."""
    value = spec.get("input_layout", "hwc")
    if value not in INPUT_LAYOUTS:
        raise Rejected("npz_invalid", f"'input_layout' must be 'hwc' or 'chw', not {value!r}")
    return str(value)


def parse_spec(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if "architecture" not in arrays:
        raise Rejected("npz_invalid", "the .npz has no 'architecture' entry (the JSON layer spec)")
    try:
        spec = json.loads(_spec_text(arrays))
    except (ValueError, TypeError, RecursionError) as e:
        raise Rejected("npz_invalid", f"'architecture' is not valid JSON: {e}") from e
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        raise Rejected("npz_invalid", "'architecture' must be an object with a 'layers' list")
    _check_version(spec)
    order = (
        "[channels, height, width]" if input_layout(spec) == "chw" else "[height, width, channels]"
    )
    shape = spec.get("input_shape")
    if (
        not isinstance(shape, list)
        or len(shape) not in (1, 3)
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
    ):
        raise Rejected("npz_invalid", f"'input_shape' must be [features] or {order}")
    if len(spec["layers"]) > MAX_LAYERS:
        raise Rejected("npz_invalid", f"{len(spec['layers'])} layers; at most {MAX_LAYERS}")
    return spec


def _values_text(value: Any, what: str) -> str:
    """A spec's mean or std (a number, a list of numbers or text) read by the one parser that
    reads them everywhere else (grader.preprocess.parse_values), back as metadata text."""
    if isinstance(value, list):
        text = ",".join(str(v) for v in value)
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        text = str(value)
    else:
        raise Rejected("bad_preprocess", f"{what} must be numbers, e.g. [0.1307]")
    parsed = parse_values(text, what)
    if parsed is None:
        raise Rejected("bad_preprocess", f"{what} is empty")
    return ",".join(repr(v) for v in parsed)


def metadata(spec: dict[str, Any]) -> dict[str, str]:
    """The spec's declarations as the ONNX metadata an exported file would carry (`podium.*`), so
    that they are honoured exactly as a file's own are: an upload's declaration still wins."""
    flat = len(spec["input_shape"]) == 1
    layout = input_layout(spec)
    meta = {"podium.layout": ("flat_" if flat else "n") + layout}
    pre = spec.get("preprocess")
    if isinstance(pre, str):
        meta["podium.preprocess"] = pre
    elif isinstance(pre, dict):
        unknown = set(pre) - {"mean", "std"}
        if unknown or set(pre) != {"mean", "std"}:
            raise Rejected(
                "npz_invalid",
                '\'preprocess\' is a preset name or {"mean": [...], "std": [...]} with both, '
                f"not keys {sorted(pre)}",
            )
        meta["podium.mean"] = _values_text(pre["mean"], "the spec's preprocess mean")
        meta["podium.std"] = _values_text(pre["std"], "the spec's preprocess std")
    elif pre is not None:
        raise Rejected(
            "npz_invalid",
            f'\'preprocess\' must be a preset name or {{"mean": ..., "std": ...}}, not {pre!r}',
        )
    return meta


# --- layer options, read by grader.npnet_layers -------------------------------------------------


def pair(v: Any, what: str, *, least: int = 1) -> tuple[int, int]:
    vals = [v, v] if isinstance(v, int) else list(v) if isinstance(v, list) else None
    if (
        not vals
        or len(vals) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) and x >= least for x in vals)
    ):
        kind = "positive" if least else "non-negative"
        raise Rejected("npz_invalid", f"{what} must be a {kind} integer or a pair, not {v!r}")
    return vals[0], vals[1]


def choice(spec: dict[str, Any], key: str, choices: tuple[str, ...], lname: str) -> str:
    value = spec.get(key, choices[0])
    if value not in choices:
        raise Rejected(
            "npz_invalid", f"{lname}: {key} must be {' or '.join(choices)}, not {value!r}"
        )
    return str(value)


def pads(
    padding: Any,
    lname: str,
    size: tuple[int, int],
    kernel: tuple[int, ...],
    stride: tuple[int, int],
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(top, bottom), (left, right): 'same' as Keras computes it, 'valid', or explicit rows and
    columns on each side (an int, or [rows, columns]) as PyTorch's `padding=`."""
    if isinstance(padding, str) and padding.lower() == "same":
        return same_pads(size[0], kernel[0], stride[0]), same_pads(size[1], kernel[1], stride[1])
    if isinstance(padding, str) and padding.lower() == "valid":
        return (0, 0), (0, 0)
    if isinstance(padding, int | list) and not isinstance(padding, bool):
        ph, pw = pair(padding, f"{lname} padding", least=0)
        if max(ph, pw) > MAX_PAD:
            raise Rejected("npz_invalid", f"{lname}: padding {padding!r} is over {MAX_PAD}")
        return (ph, ph), (pw, pw)
    raise Rejected(
        "npz_invalid",
        f"{lname}: padding must be 'same', 'valid', an integer or [rows, columns], not {padding!r}",
    )
