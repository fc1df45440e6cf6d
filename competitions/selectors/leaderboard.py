"""The leaderboard: one row per entrant chosen in SQL (window functions), a bounded query count.

One row per team (or student alone) using the entry they chose, else their best public score;
baselines are rows of their own. Public split while the competition runs, private after close.
Ties rank the earlier submission first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    IntegerField,
    Max,
    UUIDField,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber

from competitions.models import Competition, Submission, TeamMembership

_FIELDS = (
    "id", "user_id", "user__username", "team_id", "team__name", "is_baseline", "label",
    "public_score", "private_score", "params", "macs", "file_bytes", "created_at",
)  # fmt: skip


@dataclass
class Row:
    rank: int
    name: str
    score: float
    submission_id: str
    params: int | None
    macs: int | None
    file_bytes: int
    entries: int
    last_submission: dt.datetime
    submitted_at: dt.datetime
    is_baseline: bool = False
    is_team: bool = False
    user_ids: set[int] = field(default_factory=set)
    team_id: int | None = None
    public_score: float | None = None
    private_score: float | None = None
    pareto: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "user_ids"}
        d["last_submission"] = self.last_submission.isoformat()
        d["submitted_at"] = self.submitted_at.isoformat()
        return d


def _entries() -> dict[str, Any]:
    """Window annotations, one partition per entrant: baseline (its own id), team, or student."""
    no_uuid = Value(None, output_field=UUIDField())
    big = BigIntegerField()
    no_int = Value(None, output_field=big)
    partition = [
        Case(When(is_baseline=True, then=F("id")), default=no_uuid, output_field=UUIDField()),
        Case(When(is_baseline=False, then=F("team_id")), default=no_int, output_field=big),
        Case(
            When(is_baseline=False, team__isnull=True, then=F("user_id")),
            default=no_int,
            output_field=big,
        ),  # fmt: skip
    ]
    scored = Case(
        When(status=Submission.Status.SCORED, public_score__isnull=False, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    # The entrant's row: a scored entry, the one they chose, else the best public score, and
    # among equal scores the earliest.
    order = [scored.desc(), F("is_final").desc(), F("public_score").desc(nulls_last=True),
             F("created_at").asc()]  # fmt: skip
    return {
        "scored": scored,
        "pick": Window(RowNumber(), partition_by=partition, order_by=order),
        "entries": Window(Count("id"), partition_by=partition),
        "last": Window(Max("created_at"), partition_by=partition),
    }


def leaderboard_get(*, competition: Competition, private: bool | None = None) -> list[Row]:
    """Two queries whatever the number of submissions: the entrants' chosen rows (window
    functions over this competition's visible submissions) and the team rosters."""
    if private is None:
        private = competition.is_finished()
    chosen_rows = (
        Submission.objects.filter(competition=competition, hidden=False, disqualified=False)
        .annotate(**_entries())
        .filter(pick=1)
        .values(*_FIELDS, "scored", "entries", "last")
    )
    members: dict[int, set[int]] = {}
    for team_id, user_id in TeamMembership.objects.filter(competition=competition).values_list(
        "team_id", "user_id"
    ):
        members.setdefault(team_id, set()).add(user_id)
    rows = []
    for c in chosen_rows:
        score = c["private_score"] if private else c["public_score"]
        if not c["scored"] or score is None:
            continue
        if c["is_baseline"]:
            name = c["label"] or "baseline"
        else:
            name = c["team__name"] if c["team_id"] else c["user__username"]
        rows.append(
            Row(
                rank=0,
                name=name,
                score=score,
                submission_id=str(c["id"]),
                params=c["params"],
                macs=c["macs"],
                file_bytes=c["file_bytes"],
                entries=c["entries"],
                last_submission=c["last"],
                submitted_at=c["created_at"],
                is_baseline=c["is_baseline"],
                is_team=bool(c["team_id"]) and not c["is_baseline"],
                user_ids=members.get(c["team_id"], set()) | {c["user_id"]},
                team_id=c["team_id"],
                public_score=c["public_score"],
                private_score=c["private_score"] if private else None,
            )
        )
    rows.sort(key=lambda r: (-r.score, r.submitted_at))
    for i, row in enumerate(rows, start=1):
        row.rank = i
    _mark_pareto(rows)
    return rows


def _mark_pareto(rows: list[Row]) -> None:
    """Pareto front of (fewer params, higher score)."""
    best = float("-inf")
    for row in sorted(
        (r for r in rows if r.params is not None), key=lambda r: (r.params, -r.score)
    ):
        if row.score > best:
            row.pareto = True
            best = row.score
