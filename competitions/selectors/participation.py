"""Participation, for a competition's instructors: who has entered and who has not, submissions
per day, and one student's (or team's) scores over time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from competitions.models import Competition, Membership, Submission, TeamMembership


@dataclass(frozen=True)
class StudentRow:
    user: User
    team: str
    submissions: int
    scored: int
    best: float | None
    last: dt.datetime | None


def participation_rows(*, competition: Competition) -> list[StudentRow]:
    """Every student of the competition's course (and anyone else who submitted), those without
    a scored entry first: they are the ones to reach out to."""
    members = Membership.objects.filter(
        course=competition.course, role=Membership.Role.STUDENT
    ).values("user_id")
    submitted = Submission.objects.filter(competition=competition, is_baseline=False).values(
        "user_id"
    )
    users = User.objects.filter(Q(pk__in=members) | Q(pk__in=submitted)).annotate(
        n=Count("submissions", filter=Q(submissions__competition=competition)),
        n_scored=Count(
            "submissions",
            filter=Q(submissions__competition=competition, submissions__status="scored"),
        ),
        best=Max("submissions__public_score", filter=Q(submissions__competition=competition)),
        last=Max("submissions__created_at", filter=Q(submissions__competition=competition)),
    )
    teams = dict(
        TeamMembership.objects.filter(competition=competition).values_list("user_id", "team__name")
    )
    rows = [
        StudentRow(u, teams.get(u.pk, ""), u.n, u.n_scored, u.best, u.last)
        for u in users.order_by("username")
    ]
    return sorted(rows, key=lambda r: (r.scored > 0, r.user.username))


def submissions_per_day(*, competition: Competition) -> list[dict[str, Any]]:
    """Students' submissions per calendar day (server time zone), days without any included."""
    counts = dict(
        Submission.objects.filter(competition=competition, is_baseline=False)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    if not counts:
        return []
    day, last = min(counts), max(counts)
    out = []
    while day <= last:
        out.append({"x": day.isoformat(), "y": counts.get(day, 0)})
        day += dt.timedelta(days=1)
    return out


def student_submissions(*, competition: Competition, user: User) -> QuerySet[Submission]:
    return (
        Submission.objects.filter(competition=competition, user=user, is_baseline=False)
        .select_related("team")
        .defer("predictions", "result", "log", "public_scores", "private_scores")
        .order_by("created_at")
    )


def score_over_time(subs: list[Submission]) -> list[dict[str, Any]]:
    """Each scored submission's public score, and the best so far, in order."""
    points, best = [], None
    for s in subs:
        if s.public_score is None:
            continue
        best = s.public_score if best is None else max(best, s.public_score)
        points.append({"x": s.created_at.isoformat(), "y": s.public_score, "best": best})
    return points
