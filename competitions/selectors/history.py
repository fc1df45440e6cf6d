"""Score histories for the competition page's plots: an entrant's own submissions over time, and
the leaderboard's top k over time (public scores: the split shown while the competition runs).

The top k replays the visible scored submissions in the order they were scored and keeps each
entrant's best public score so far (an entrant's chosen final entry is not replayed: the plot
shows how far the class had got, not the final standings). A point is kept only when the top k
changed. One query, linear in the competition's submissions.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from competitions.models import Competition, Submission, Team

TOP_K = 3


def history_mine(
    *, competition: Competition, user: User, team: Team | None
) -> list[dict[str, Any]]:
    """The entrant's scored submissions, oldest first: {"t": ms since the epoch, "y": score}."""
    qs = Submission.objects.filter(
        competition=competition, is_baseline=False, status=Submission.Status.SCORED
    )
    qs = qs.filter(team=team) if team is not None else qs.filter(user=user, team__isnull=True)
    rows = (
        qs.exclude(public_score=None)
        .order_by("created_at")
        .values_list("created_at", "public_score")
    )
    return [{"t": int(at.timestamp() * 1000), "y": score} for at, score in rows]


def history_top(*, competition: Competition, k: int = TOP_K) -> list[list[dict[str, Any]]]:
    """For rank 1..k, the score at that rank each time the top k changed."""
    rows = (
        Submission.objects.filter(
            competition=competition,
            status=Submission.Status.SCORED,
            hidden=False,
            disqualified=False,
        )
        .exclude(public_score=None)
        .order_by("finished_at", "created_at")
        .values_list(
            "pk", "is_baseline", "team_id", "user_id", "finished_at", "created_at", "public_score"
        )
    )
    best: dict[str, float] = {}
    top: list[float] = []
    lines: list[list[dict[str, Any]]] = [[] for _ in range(k)]
    for pk, baseline, team_id, user_id, finished, created, score in rows:
        entrant = f"b:{pk}" if baseline else (f"t:{team_id}" if team_id else f"u:{user_id}")
        if score is None or score <= best.get(entrant, float("-inf")):
            continue
        best[entrant] = score
        new_top = sorted(best.values(), reverse=True)[:k]
        if new_top == top:
            continue
        top = new_top
        t = int((finished or created).timestamp() * 1000)
        for rank, value in enumerate(top):
            lines[rank].append({"t": t, "y": value})
    return lines
