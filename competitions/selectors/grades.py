"""Students' grades for a competition: the one computation the grades CSV and the LMS passback
(competitions/lti/grades.py) share."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from competitions.models import Competition, Membership, Submission, TeamMembership
from competitions.selectors.leaderboard import leaderboard_get


@dataclass
class StudentGrade:
    user: User
    team: str
    score: float | None  # final private score; None: no scored entry
    rank: int | None  # among students and teams, baselines left out
    grade: float | None  # 0..100 when a rule was given, else None


def grade_linear(*, score: float | None, low: float, high: float) -> float:
    """0 at `low`, 100 at `high`, linear between, clamped; no scored entry gets 0."""
    share = 0.0 if score is None else (score - low) / (high - low)
    return min(max(share, 0.0), 1.0) * 100


def grades_list(
    *, competition: Competition, low: float | None = None, high: float | None = None
) -> list[StudentGrade]:
    """One row per student (course roster plus anyone who entered), by username; with
    low < high, each gets `grade_linear`."""
    rows = [r for r in leaderboard_get(competition=competition, private=True) if not r.is_baseline]
    for rank, r in enumerate(rows, start=1):
        r.rank = rank
    by_user = {uid: r for r in rows for uid in r.user_ids}
    team_members = TeamMembership.objects.filter(competition=competition).select_related("team")
    team_of = {m.user_id: m.team.name for m in team_members}
    user_ids = set(by_user) | set(team_of)
    if competition.course_id:
        user_ids |= set(
            Membership.objects.filter(
                course_id=competition.course_id, role=Membership.Role.STUDENT
            ).values_list("user_id", flat=True)
        )
    rule = low is not None and high is not None and high > low
    out = []
    for u in get_user_model().objects.filter(pk__in=user_ids).order_by("username"):
        entry = by_user.get(u.pk)
        score = entry.score if entry else None
        grade = None
        if rule:
            assert low is not None and high is not None
            grade = grade_linear(score=score, low=low, high=high)
        out.append(
            StudentGrade(
                user=u,
                team=team_of.get(u.pk, ""),
                score=score,
                rank=entry.rank if entry else None,
                grade=grade,
            )
        )
    return out


def grade_bounds_for_passback(*, competition: Competition) -> tuple[float, float]:
    """The LMS gets the CSV's grade between the lowest and the highest scored baseline; with
    fewer than two distinct baselines, 0 to 1 (the accuracy as a percentage)."""
    scores: list[float] = list(
        Submission.objects.filter(
            competition=competition,
            is_baseline=True,
            status=Submission.Status.SCORED,
            private_score__isnull=False,
        ).values_list("private_score", flat=True)  # type: ignore[arg-type]
    )
    if len(scores) >= 2 and min(scores) < max(scores):
        return min(scores), max(scores)
    return 0.0, 1.0
