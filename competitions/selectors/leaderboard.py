"""The leaderboard: one SQL query for all of a competition's entries, grouped in Python.

One row per team (or student alone) using the entry they chose, else their best public score;
baselines are rows of their own. Public split while the competition runs, private after close.
Ties rank the earlier submission first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from competitions.models import Competition, Submission

_FIELDS = (
    "id", "user_id", "user__username", "team_id", "team__name", "is_baseline", "label", "status",
    "public_score", "private_score", "params", "macs", "file_bytes", "created_at", "is_final",
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


def _better(a: dict[str, Any], b: dict[str, Any] | None) -> bool:
    if b is None:
        return True
    return (-a["public_score"], a["created_at"]) < (-b["public_score"], b["created_at"])


def leaderboard_get(*, competition: Competition, private: bool | None = None) -> list[Row]:
    if private is None:
        private = competition.is_finished()
    subs = Submission.objects.filter(
        competition=competition, hidden=False, disqualified=False
    ).values(*_FIELDS)
    groups: dict[tuple[str, Any], dict[str, Any]] = {}
    for s in subs:
        key = ("b", s["id"]) if s["is_baseline"] else ("t", s["team_id"]) if s["team_id"] else (
            "u", s["user_id"])  # fmt: skip
        g = groups.setdefault(key, {"entries": 0, "last": s["created_at"], "best": None,
                                    "final": None, "users": set(), "first": s})  # fmt: skip
        g["entries"] += 1
        g["last"] = max(g["last"], s["created_at"])
        g["users"].add(s["user_id"])
        if s["status"] != Submission.Status.SCORED or s["public_score"] is None:
            continue
        if s["is_final"]:
            g["final"] = s
        if _better(s, g["best"]):
            g["best"] = s
    rows = []
    for key, g in groups.items():
        chosen = g["final"] or g["best"]
        if chosen is None:
            continue
        score = chosen["private_score"] if private else chosen["public_score"]
        if score is None:
            continue
        if key[0] == "b":
            name = chosen["label"] or "baseline"
        else:
            name = chosen["team__name"] if key[0] == "t" else chosen["user__username"]
        rows.append(
            Row(
                rank=0,
                name=name,
                score=score,
                submission_id=str(chosen["id"]),
                params=chosen["params"],
                macs=chosen["macs"],
                file_bytes=chosen["file_bytes"],
                entries=g["entries"],
                last_submission=g["last"],
                submitted_at=chosen["created_at"],
                is_baseline=key[0] == "b",
                is_team=key[0] == "t",
                user_ids=g["users"],
                team_id=chosen["team_id"],
                public_score=chosen["public_score"],
                private_score=chosen["private_score"] if private else None,
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
