"""Reads behind the "=" of a leaderboard row: each row against the row directly above it in a
split's order, by an exact McNemar test on the two submissions' per-image correctness on that
split's images (competitions.significance). Ties are not transitive: each row is compared with
its neighbour only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np

from competitions.models import Competition, Submission
from competitions.significance import correct_unpack, tied
from competitions.splits import split_indices

SPLITS = ("public", "private")


def rank_order(standings: Iterable[Mapping[str, Any]], *, private: bool) -> list[Any]:
    """The rows that have a score on the split, best first; the earlier submission first among
    equal scores. The one ranking rule, for the leaderboard and for its ties."""
    key = "private_score" if private else "public_score"
    scored = [s for s in standings if s[key] is not None]
    return sorted(scored, key=lambda s: (-s[key], s["submitted_at"]))


def split_correctness(
    *, competition_id: int, submission_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, np.ndarray]]:
    """Each submission's correctness on the public and the private images (submissions scored
    before correctness was stored, or on another dataset size, are left out)."""
    ids = set(submission_ids)
    if not ids:
        return {}
    comp = Competition.objects.values("public_fraction", "split_seed", "dataset__n_images").get(
        pk=competition_id
    )
    n = comp["dataset__n_images"]
    public, private = split_indices(n, comp["public_fraction"], comp["split_seed"])
    out = {}
    stored = Submission.objects.filter(pk__in=ids, correct__isnull=False).values_list(
        "pk", "correct"
    )
    for sid, data in stored:
        try:
            correct = correct_unpack(bytes(data or b""), n)
        except ValueError:
            continue
        out[sid] = {"public": correct[public], "private": correct[private]}
    return out


def pair_tied(
    correctness: Mapping[uuid.UUID, Mapping[str, np.ndarray]],
    row: uuid.UUID,
    above: uuid.UUID | None,
    split: str,
) -> bool:
    """Whether `row` ties the submission above it on `split` (False when either is unknown)."""
    if above is None or row not in correctness or above not in correctness:
        return False
    return tied(correctness[row][split], correctness[above][split])


def ties_compute(*, competition_id: int, standings: Sequence[MutableMapping[str, Any]]) -> None:
    """Set `tied_public` and `tied_private` on standing dicts from scratch (the definition the
    stored flags are checked against; loads every row's correctness)."""
    ids = [s["submission_id"] for s in standings]
    correctness = split_correctness(competition_id=competition_id, submission_ids=ids)
    for split in SPLITS:
        above = None
        for s in rank_order(standings, private=split == "private"):
            s[f"tied_{split}"] = pair_tied(correctness, s["submission_id"], above, split)
            above = s["submission_id"]
