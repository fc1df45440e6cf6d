"""How a submission's declared preprocessing and layout are stored, and turned back into the
engine's arguments.

Stored as (preprocess, mean, std, layout): preprocess '' for automatic (the engine reads the file's
metadata), a preset name, or 'custom' with the mean and std lists; layout '' for automatic or one
of the engine's layouts. The engine owns the presets and layouts and judges every declaration
(grader.preprocess.declaration_checked, grader.adapt.layout_checked), so the form, the API and
the CLI refuse the same contradictions with the same messages. Used by the upload services
(encoding) and the grading service (decoding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.adapt import layout_checked
from grader.preprocess import declaration_checked


@dataclass(frozen=True)
class Declared:
    """What a student declared with an upload, as stored on the submission."""

    preprocess: str = ""
    mean: list[float] | None = None
    std: list[float] | None = None
    layout: str = ""


def declaration_normalize(
    *,
    preprocess: str | None,
    mean: str | Sequence[float] | None,
    std: str | Sequence[float] | None,
    layout: str | None = None,
) -> Declared:
    """The declaration as stored; raises grader.errors.Rejected (`bad_preprocess`, `bad_layout`)
    when it contradicts itself or is incomplete."""
    name, m, s = declaration_checked(preprocess, mean, std)
    return Declared(
        preprocess=name,
        mean=None if m is None else list(m),
        std=None if s is None else list(s),
        layout=layout_checked(layout) or "",
    )


def preprocess_engine_args(
    *, preprocess: str, mean: list[float] | None, std: list[float] | None, layout: str = ""
) -> dict[str, Any]:
    """The engine's keyword arguments for a stored declaration."""
    args: dict[str, Any] = {"layout": layout or None}
    if preprocess == "custom":
        return args | {"preprocess": None, "mean": mean, "std": std}
    return args | {"preprocess": preprocess or None, "mean": None, "std": None}
