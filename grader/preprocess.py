"""The preprocessing contract: the model receives x = (pixel / 255 - mean) / std.

Declared on upload, or inside the ONNX file as metadata_props (`podium.preprocess`,
`podium.mean`, `podium.std`); the upload's declaration wins, then the file's, then `unit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from grader.errors import Rejected
from grader.types import Preprocess

PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "unit": ((0.0,), (1.0,)),  # [0, 1]
    "raw": ((0.0,), (1.0 / 255.0,)),  # 0..255
    "symmetric": ((0.5,), (0.5,)),  # [-1, 1]
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
DESCRIPTIONS = {
    "unit": "[0,1] inputs",
    "raw": "0..255 inputs",
    "symmetric": "[-1,1] inputs",
    "mnist": "MNIST mean/std normalisation",
    "cifar10": "CIFAR-10 per-channel mean/std normalisation",
    "custom": "custom mean/std",
}


def parse_values(text: str | None, what: str) -> tuple[float, ...] | None:
    """The one reading of a typed mean or std (web form, API, CLI, ONNX metadata): numbers
    separated by commas or semicolons, brackets ignored, each finite; None when blank."""
    text = (text or "").replace("[", "").replace("]", "").replace(";", ",").strip()
    if not text:
        return None
    return _checked([v for v in text.split(",") if v.strip()], what)


def _checked(values: Sequence[object], what: str) -> tuple[float, ...]:
    try:
        items = tuple(float(v) for v in values)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise Rejected(
            "bad_preprocess", f"{what} must be numbers, e.g. 0.5 or 0.49,0.48,0.45"
        ) from e
    if not items:
        raise Rejected("bad_preprocess", f"{what} is empty")
    if not all(math.isfinite(v) for v in items):
        raise Rejected("bad_preprocess", f"{what} must be finite numbers")
    return items


def _floats(value: str | Sequence[float], what: str) -> tuple[float, ...]:
    if isinstance(value, str):
        parsed = parse_values(value, what)
        if parsed is None:
            raise Rejected("bad_preprocess", f"{what} is empty")
        return parsed
    try:
        values = list(value)
    except TypeError as e:  # a bare number is not a sequence: refused with a clear reason
        raise Rejected("bad_preprocess", f"{what} must be a list of numbers, e.g. [0.5]") from e
    return _checked(values, what)


def make_preprocess(
    name: str | None,
    mean: str | Sequence[float] | None,
    std: str | Sequence[float] | None,
    *,
    channels: int,
    source: str,
) -> Preprocess | None:
    """A Preprocess from a preset name or explicit mean/std; None when nothing is declared."""
    if mean is not None or std is not None:
        if mean is None or std is None:
            raise Rejected("bad_preprocess", "give both mean and std, or a preset")
        m, s = _floats(mean, "mean"), _floats(std, "std")
        label = "custom"
    elif name:
        key = name.strip().lower()
        if key not in PRESETS:
            raise Rejected(
                "bad_preprocess",
                f"unknown preprocessing {name!r}; one of {', '.join(PRESETS)} or a mean and std",
            )
        m, s = PRESETS[key]
        label = key
    else:
        return None
    # The preset check comes first: its 3 values would otherwise be reported as a count mismatch.
    if label == "cifar10" and channels != 3:
        raise Rejected("bad_preprocess", "the cifar10 preset is for 3-channel images")
    for vals, what in ((m, "mean"), (s, "std")):
        if len(vals) not in (1, channels):
            wanted = "1 value" if channels == 1 else f"1 or {channels} values (one per channel)"
            raise Rejected("bad_preprocess", f"{what} needs {wanted}, not {len(vals)}")
    if any(not v > 0 for v in s):
        raise Rejected("bad_preprocess", "std must be positive")
    return Preprocess(label, m, s, source)


def resolve_preprocess(
    *,
    name: str | None,
    mean: str | Sequence[float] | None,
    std: str | Sequence[float] | None,
    metadata: dict[str, str],
    channels: int,
) -> Preprocess:
    declared = make_preprocess(name, mean, std, channels=channels, source="upload")
    if declared:
        return declared
    from_file = make_preprocess(
        metadata.get("podium.preprocess"),
        metadata.get("podium.mean"),
        metadata.get("podium.std"),
        channels=channels,
        source="model metadata",
    )
    if from_file:
        return from_file
    m, s = PRESETS["unit"]
    return Preprocess("unit", m, s, "default")


def describe(p: Preprocess) -> str:
    return DESCRIPTIONS.get(p.name, p.name)
