"""Keeps the standings' tie flags (competitions.selectors.ties) current, recomputing only the
pairs that changed: each flag remembers the submission it was compared with, so a refresh
compares a row again only when the row above it is another submission, or when one of the two
submissions was graded again (`changed`). Runs inside the standings refresh, under its lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from competitions.models import Standing
from competitions.selectors.ties import SPLITS, pair_tied, rank_order, split_correctness

_READ = (
    "pk",
    "submission_id",
    "public_score",
    "private_score",
    "submitted_at",
    "public_prev",
    "private_prev",
)


def ties_refresh(*, competition_id: int, changed: Collection[uuid.UUID] | None = None) -> int:
    """Recompute the flags whose pair changed (`changed=None`: every flag); returns how many
    pairs were compared. Costs one query on the standings (no blobs) when nothing moved."""
    rows = list(Standing.objects.filter(competition_id=competition_id).values(*_READ))
    todo: list[tuple[dict[str, Any], str, uuid.UUID | None]] = []
    for split in SPLITS:
        above: uuid.UUID | None = None
        for row in rank_order(rows, private=split == "private"):
            sid = row["submission_id"]
            again = changed is None or sid in changed or above in changed
            if again or row[f"{split}_prev"] != above:
                todo.append((row, split, above))
            above = sid
    if not todo:
        return 0
    ids = {row["submission_id"] for row, _, _ in todo} | {a for _, _, a in todo if a}
    correctness = split_correctness(competition_id=competition_id, submission_ids=ids)
    for split in SPLITS:
        objs = [
            Standing(
                pk=row["pk"],
                **{
                    f"tied_{split}": pair_tied(correctness, row["submission_id"], above, split),
                    f"{split}_prev": above,
                },
            )
            for row, s, above in todo
            if s == split
        ]
        if objs:
            Standing.objects.bulk_update(objs, [f"tied_{split}", f"{split}_prev"], batch_size=500)
    return len(todo)
