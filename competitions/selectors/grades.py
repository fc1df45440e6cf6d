"""Students' grades for a competition: the one computation behind the grades CSV and the LMS
passback (competitions/lti/grades.py). The rule itself is competitions/grade_policy.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from competitions.grade_policy import Entry, grade_of
from competitions.models import Competition, Membership, Submission, TeamMembership
from competitions.selectors.leaderboard import leaderboard_get


@dataclass
class StudentGrade:
    user: User
    team: str
    score: float | None  # final private score; None: no scored entry
    rank: int | None  # among students and teams, baselines not counted
    late_days: int
    grade: float | None  # by the policy; None when there is no policy


def late_days_of(submission_ids: list[str]) -> dict[str, int]:
    """{submission id: days late} for the late ones among `submission_ids` (one query)."""
    late = Submission.objects.filter(pk__in=submission_ids, late_days__gt=0)
    return {str(pk): days for pk, days in late.values_list("pk", "late_days")}


def grades_list(*, competition: Competition, policy: dict[str, Any]) -> list[StudentGrade]:
    """One row per student (course roster plus anyone who entered), by username, graded by
    `policy` (normally competition.grade_policy, already checked by grade_policy.policy_check)."""
    rows = [r for r in leaderboard_get(competition=competition, private=True) if not r.is_baseline]
    for place, r in enumerate(rows, start=1):  # rank among students and teams, baselines left out
        r.rank = place
    by_user = {uid: r for r in rows for uid in r.user_ids}
    late = late_days_of([r.submission_id for r in rows])
    team_members = TeamMembership.objects.filter(competition=competition).select_related("team")
    team_of = {m.user_id: m.team.name for m in team_members}
    user_ids = set(by_user) | set(team_of)
    if competition.course_id:
        user_ids |= set(
            Membership.objects.filter(
                course_id=competition.course_id, role=Membership.Role.STUDENT
            ).values_list("user_id", flat=True)
        )
    out = []
    for u in get_user_model().objects.filter(pk__in=user_ids).order_by("username"):
        entry = by_user.get(u.pk)
        days = late.get(entry.submission_id, 0) if entry else 0
        score = entry.score if entry else None
        rank = entry.rank if entry else None
        grade = grade_of(
            policy,
            Entry(score=score, rank=rank, entrants=len(rows), late_days=days),
            late_penalty_pct=competition.late_penalty_pct,
        )
        out.append(
            StudentGrade(
                user=u,
                team=team_of.get(u.pk, ""),
                score=score,
                rank=rank,
                late_days=days,
                grade=grade,
            )
        )
    return out
