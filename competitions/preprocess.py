"""How a submission's declared preprocessing is stored, and turned back into the engine's arguments.

Stored as (preprocess, mean, std): '' for automatic (the engine reads the file's metadata), a preset
name, or 'custom' with the mean and std lists. The engine owns the presets and validates the values.
Used by the upload services (encoding) and the grading service (decoding).
"""

from __future__ import annotations

from typing import Any


def preprocess_normalize(
    *, preprocess: str, mean: list[float] | None, std: list[float] | None
) -> tuple[str, list[float] | None, list[float] | None]:
    """('' = automatic | preset | 'custom', mean, std); the engine validates the values."""
    preprocess = (preprocess or "").strip().lower()
    if mean is not None or std is not None or preprocess == "custom":
        return "custom", mean, std
    if preprocess in ("", "auto"):
        return "", None, None
    return preprocess, None, None


def preprocess_engine_args(
    *, preprocess: str, mean: list[float] | None, std: list[float] | None
) -> dict[str, Any]:
    """The engine's keyword arguments for a stored ('' | preset | 'custom', mean, std)."""
    if preprocess == "custom":
        return {"preprocess": None, "mean": mean, "std": std}
    return {"preprocess": preprocess or None, "mean": None, "std": None}
