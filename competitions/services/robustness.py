"""The robustness track (optional per competition): the held-out images are also scored under
fixed corruptions (grader.corruptions), in the same sandbox run as the clean score: the
corrupted copies are appended to the held-out set, graded once, and the predictions split
back. Each corrupted image belongs to the split of the image it was made from, so students see
the public split's robustness while the competition runs, like the clean score.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from competitions.dataset_cache import robustness_load
from competitions.models import Competition
from competitions.splits import split_indices
from grader.corruptions import CORRUPTIONS
from grader.datasets import Dataset
from grader.types import GradeResult


@dataclasses.dataclass(frozen=True)
class Robust:
    dataset: Dataset  # the corrupted copies
    source: np.ndarray  # index of each one's original image
    kind: np.ndarray  # index of each one's corruption in CORRUPTIONS


def robust_dataset(*, competition: Competition, clean: Dataset) -> tuple[Dataset, Robust | None]:
    """What to grade: the clean set, followed by its corrupted copies when the track is on."""
    if not competition.robustness:
        return clean, None
    data, source, kind = robustness_load(record=competition.dataset, seed=competition.split_seed)
    robust = Robust(data, source, kind)
    both = Dataset(
        clean.name,
        np.concatenate([clean.images, data.images]),
        np.concatenate([clean.labels, data.labels]),
        list(clean.classes),
        sha256=f"{clean.sha256}+{data.name}",  # not hashed again: both parts are known
        scored=len(clean),  # the engine scores (and diagnoses) the clean images alone
    )
    return both, robust


def robust_split(
    *, competition: Competition, clean: Dataset, result: GradeResult, robust: Robust | None
) -> tuple[GradeResult, dict[str, Any] | None]:
    """The engine's result on the clean images only (it scored those alone: Dataset.scored),
    and the robustness scores per split from the predictions that follow them."""
    if robust is None:
        return result, None
    n = len(clean)
    preds = np.asarray(result.predictions)
    probs = result.probabilities
    cleaned = dataclasses.replace(
        result, predictions=preds[:n], probabilities=None if probs is None else probs[:n]
    )
    right = preds[n:] == robust.dataset.labels
    public, private = split_indices(n, competition.public_fraction, competition.split_seed)
    out: dict[str, Any] = {}
    for split, idx in (("public", public), ("private", private)):
        in_split = np.isin(robust.source, idx)
        per = {}
        for j, name in enumerate(CORRUPTIONS):
            sel = in_split & (robust.kind == j)
            if sel.any():
                per[name] = float(right[sel].mean())
        out[split] = {
            "per_corruption": per,
            "mean": float(np.mean(list(per.values()))) if per else None,
        }
    return cleaned, out
