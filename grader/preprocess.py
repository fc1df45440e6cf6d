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
    # torchvision's documented normalisation for its ImageNet-trained models
    # (https://pytorch.org/vision/stable/models.html), copied into much CIFAR-10 code.
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
CHANNEL_PRESETS = ("cifar10", "imagenet")  # one value per RGB channel: 3-channel images only
DESCRIPTIONS = {
    "unit": "[0,1] inputs",
    "raw": "0..255 inputs",
    "symmetric": "[-1,1] inputs",
    "mnist": "MNIST mean/std normalisation",
    "cifar10": "CIFAR-10 per-channel mean/std normalisation",
    "imagenet": "ImageNet per-channel mean/std normalisation",
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


Declared = tuple[str, tuple[float, ...] | None, tuple[float, ...] | None]


def _given(value: str | Sequence[float] | None, what: str) -> tuple[float, ...] | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _floats(value, what)


def declaration_checked(
    preset: str | None,
    mean: str | Sequence[float] | None,
    std: str | Sequence[float] | None,
) -> Declared:
    """The one judgement of a declared preprocessing, wherever it is declared (upload form, API,
    `podium submit`, `grader check`): ('' automatic | a preset | 'custom', mean, std). Refuses
    what contradicts itself or is incomplete, before anything is uploaded or run."""
    key = (preset or "").strip().lower()
    key = "" if key == "auto" else key
    if key and key != "custom" and key not in PRESETS:
        raise Rejected(
            "bad_preprocess",
            f"unknown preprocessing {preset!r}; one of {', '.join(PRESETS)}, or custom with a "
            "mean and std",
        )
    m, s = _given(mean, "mean"), _given(std, "std")
    if key in PRESETS and (m is not None or s is not None):
        raise Rejected(
            "bad_preprocess",
            f"the {key!r} preset sets its own mean and std: leave mean and std empty, or choose "
            "custom to use yours",
        )
    if m is None and s is None:
        if key == "custom":
            raise Rejected(
                "bad_preprocess",
                "custom preprocessing needs a mean and a std (e.g. mean 0.5, std 0.5), "
                "or choose a preset",
            )
        return key, None, None
    if m is None or s is None:
        raise Rejected("bad_preprocess", "give both a mean and a std (custom), or a preset")
    return "custom", m, s


def make_preprocess(
    name: str | None,
    mean: str | Sequence[float] | None,
    std: str | Sequence[float] | None,
    *,
    channels: int,
    source: str,
) -> Preprocess | None:
    """A Preprocess from a preset name or explicit mean/std; None when nothing is declared."""
    label, m_given, s_given = declaration_checked(name, mean, std)
    if not label:
        return None
    if label == "custom":
        assert m_given is not None and s_given is not None
        m, s = m_given, s_given
    else:
        m, s = PRESETS[label]
    where = "" if source == "upload" else f" (declared in the {source})"
    # The preset check comes first: its 3 values would otherwise be reported as a count mismatch.
    if label in CHANNEL_PRESETS and channels != 3:
        raise Rejected(
            "bad_preprocess",
            f"the {label} preset is for 3-channel (colour) images; this competition's images "
            f"have {channels} channel{'s' if channels != 1 else ''}{where}",
        )
    for vals, what in ((m, "mean"), (s, "std")):
        if len(vals) not in (1, channels):
            wanted = "1 value" if channels == 1 else f"1 or {channels} values (one per channel)"
            raise Rejected("bad_preprocess", f"{what} needs {wanted}, not {len(vals)}{where}")
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
    # A file's mean and std win over its preset name (older exports wrote both).
    has_values = "podium.mean" in metadata or "podium.std" in metadata
    from_file = make_preprocess(
        None if has_values else metadata.get("podium.preprocess"),
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
