"""The leaderboard: one row per entrant, chosen in SQL (window functions) when a submission
changes and kept in the standings table, so that reading it costs the number of entrants.

One row per team (or student alone) using the entry they chose, else their best public score;
baselines are rows of their own. Public split while the competition runs, private after close.
Ties rank the earlier submission first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Q,
    UUIDField,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber

from competitions.models import Competition, Standing, Submission, TeamMembership
from competitions.selectors.ties import rank_order, ties_compute

_FIELDS = (
    "id",
    "user_id",
    "user__username",
    "team_id",
    "team__name",
    "is_baseline",
    "label",
    "public_score",
    "private_score",
    "params",
    "macs",
    "file_bytes",
    "created_at",
    "public_ci",
    "private_ci",
    "public_robust",
    "private_robust",
)


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
    late_days: int = 0  # filled in by the pages that mark late entries
    score_ci: list[float] | None = None  # 95% bootstrap interval of `score`
    tied_with_previous: bool = False  # not significantly different from the row above
    rank_change: int | None = None  # private leaderboard: public rank - private rank
    score_change: float | None = None  # private leaderboard: private - public score
    robust_accuracy: float | None = None  # mean accuracy under corruptions (robustness track)

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
        ),
    ]
    scored = Case(
        When(status=Submission.Status.SCORED, public_score__isnull=False, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    # The entrant's row: a scored entry, the one they chose, else the best public score, and
    # among equal scores the earliest.
    order = [
        scored.desc(),
        F("is_final").desc(),
        F("public_score").desc(nulls_last=True),
        F("created_at").asc(),
    ]
    return {
        "scored": scored,
        "pick": Window(RowNumber(), partition_by=partition, order_by=order),
        "entries": Window(Count("id"), partition_by=partition),
        "last": Window(Max("created_at"), partition_by=partition),
    }


def entrant_rows(*, competition_id: int, where: Q | None = None) -> Any:
    """Each entrant's chosen submission (window functions over the visible submissions), as
    dicts with `scored`, `entries` and `last`; `where` narrows it to one entrant."""
    qs = Submission.objects.filter(competition_id=competition_id, hidden=False, disqualified=False)
    if where is not None:
        qs = qs.filter(where)
    # keyword names from _entries(): the django-stubs plugin cannot see through the **
    return (
        qs.annotate(**_entries())
        .filter(**{"pick": 1})
        .values(*_FIELDS, "scored", "entries", "last")
    )


def entrant_name(row: dict[str, Any]) -> str:
    if row["is_baseline"]:
        return row["label"] or "baseline"
    return row["team__name"] if row["team_id"] else row["user__username"]


def standing_fields(row: dict[str, Any]) -> dict[str, Any]:
    """An `entrant_rows` row as the Standing fields that keep it."""
    return {
        "submission_id": row["id"],
        "user_id": row["user_id"],
        "team_id": row["team_id"],
        "name": entrant_name(row)[:150],
        "is_baseline": row["is_baseline"],
        "public_score": row["public_score"],
        "private_score": row["private_score"],
        "params": row["params"],
        "macs": row["macs"],
        "file_bytes": row["file_bytes"],
        "entries": row["entries"],
        "last_submission": row["last"],
        "submitted_at": row["created_at"],
        "public_ci": row["public_ci"],
        "private_ci": row["private_ci"],
        "public_robust": row["public_robust"],
        "private_robust": row["private_robust"],
    }


def _ranked(
    competition: Competition, standings: Sequence[Mapping[str, Any]], private: bool
) -> list[Row]:
    """Ranked rows from standing fields (stored or recomputed), plus the teams' rosters."""
    team_ids = {s["team_id"] for s in standings if s["team_id"]}
    members: dict[int, set[int]] = {}
    if team_ids:
        pairs = TeamMembership.objects.filter(
            competition=competition, team_id__in=team_ids
        ).values_list("team_id", "user_id")
        for team_id, user_id in pairs:
            members.setdefault(team_id, set()).add(user_id)
    split = "private" if private else "public"
    rows: list[Row] = []
    for s in rank_order(standings, private=private):
        entrant_team = None if s["is_baseline"] else s["team_id"]
        rows.append(
            Row(
                rank=len(rows) + 1,
                name=s["name"],
                score=s[f"{split}_score"],
                submission_id=str(s["submission_id"]),
                params=s["params"],
                macs=s["macs"],
                file_bytes=s["file_bytes"],
                entries=s["entries"],
                last_submission=s["last_submission"],
                submitted_at=s["submitted_at"],
                is_baseline=s["is_baseline"],
                is_team=entrant_team is not None,
                user_ids=members.get(entrant_team or 0, set()) | {s["user_id"]},
                team_id=s["team_id"],
                public_score=s["public_score"],
                private_score=s["private_score"] if private else None,
                score_ci=s[f"{split}_ci"],
                tied_with_previous=bool(s.get(f"tied_{split}")),
                robust_accuracy=s.get(f"{split}_robust"),
            )
        )
    if private:
        _mark_shakeup(rows)
    _mark_pareto(rows)
    return rows


def leaderboard_get(*, competition: Competition, private: bool | None = None) -> list[Row]:
    """The leaderboard from the standings table (one row per entrant, kept by
    competitions.services.standings): two queries, whatever the number of submissions."""
    if private is None:
        private = competition.is_finished()
    stored = list(Standing.objects.filter(competition=competition).values())
    return _ranked(competition, stored, private)


def leaderboard_compute(*, competition: Competition, private: bool | None = None) -> list[Row]:
    """The same leaderboard recomputed from the submissions themselves (the standings table's
    definition; used to rebuild and check it)."""
    if private is None:
        private = competition.is_finished()
    chosen = [
        standing_fields(r) for r in entrant_rows(competition_id=competition.pk) if r["scored"]
    ]
    ties_compute(competition_id=competition.pk, standings=chosen)
    return _ranked(competition, chosen, private)


def _mark_shakeup(rows: list[Row]) -> None:
    """Each private row's move from its public rank (among the same rows) and score change."""
    public = sorted(
        (r for r in rows if r.public_score is not None),
        key=lambda r: (-(r.public_score or 0.0), r.submitted_at),
    )
    for public_rank, row in enumerate(public, start=1):
        row.rank_change = public_rank - row.rank
        row.score_change = row.score - (row.public_score or 0.0)


def _mark_pareto(rows: list[Row]) -> None:
    """Pareto front of (fewer params, higher score)."""
    best = float("-inf")
    for row in sorted(
        (r for r in rows if r.params is not None), key=lambda r: (r.params, -r.score)
    ):
        if row.score > best:
            row.pareto = True
            best = row.score


@dataclass
class Page:
    rows: list[Row]
    number: int
    pages: int
    total: int
    mine: Row | None  # the viewer's own row, wherever it is
    mine_page: int | None

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def leaderboard_page(
    *, rows: list[Row], page: str | int | None, size: int, user_id: int | None
) -> Page:
    """One page of ranked rows (a bad or out-of-range page number gives the nearest page)."""
    pages = max(1, -(-len(rows) // size))
    try:
        number = min(max(int(page or 1), 1), pages)
    except (TypeError, ValueError):
        number = 1
    mine = next(
        (r for r in rows if user_id is not None and user_id in r.user_ids and not r.is_baseline),
        None,
    )
    return Page(
        rows=rows[(number - 1) * size : number * size],
        number=number,
        pages=pages,
        total=len(rows),
        mine=mine,
        mine_page=None if mine is None else (mine.rank - 1) // size + 1,
    )
