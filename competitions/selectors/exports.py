"""CSV exports: standings (one row per leaderboard entry) and grades (one row per student)."""

from __future__ import annotations

import csv
import io

from django.contrib.auth import get_user_model

from competitions.grade_policy import Entry, grade_of, policy_check, policy_describe
from competitions.models import Competition, Membership, Submission, TeamMembership
from competitions.selectors.leaderboard import leaderboard_get


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.6f}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A cell of text people typed (a name, a username, an e-mail): one that a spreadsheet would
    run as a formula gets a leading single quote (OWASP's CSV injection advice). Numbers we
    format ourselves (scores, ranks) never go through here, so they stay numbers."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def standings_csv(*, competition: Competition, private: bool = True) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "rank",
            "name",
            "kind",
            "score",
            "public_score",
            "params",
            "macs",
            "file_bytes",
            "entries",
            "last_submission",
            "submission_id",
            "late_days",
        ]
    )
    rows = leaderboard_get(competition=competition, private=private)
    late = late_days_of([r.submission_id for r in rows])
    for r in rows:
        kind = "baseline" if r.is_baseline else "team" if r.is_team else "student"
        w.writerow(
            [
                r.rank,
                _text(r.name),
                kind,
                _fmt(r.score),
                _fmt(r.public_score),
                r.params,
                r.macs,
                r.file_bytes,
                r.entries,
                r.last_submission.isoformat(),
                r.submission_id,
                late.get(r.submission_id, 0),
            ]
        )
    return out.getvalue()


def baseline_choices(*, competition: Competition) -> list[tuple[str, str, float]]:
    subs = Submission.objects.filter(
        competition=competition, is_baseline=True, status=Submission.Status.SCORED
    ).order_by("private_score")
    return [(str(s.pk), s.label or s.original_name, s.private_score or 0.0) for s in subs]


def late_days_of(submission_ids: list[str]) -> dict[str, int]:
    """{submission id: days late} for the late ones among `submission_ids` (one query)."""
    late = Submission.objects.filter(pk__in=submission_ids, late_days__gt=0)
    return {str(pk): days for pk, days in late.values_list("pk", "late_days")}


def grades_csv(
    *, competition: Competition, low: float | None = None, high: float | None = None
) -> str:
    """One row per student (course roster plus anyone who entered): team, final private score,
    rank among students and teams (baselines not counted), days late, and the grade by the
    competition's grade policy (grade_policy.py); low < high asks for a linear grade from 0 at
    `low` to 100 at `high` instead (the submissions page's quick choice)."""
    rows = [r for r in leaderboard_get(competition=competition, private=True) if not r.is_baseline]
    for rank, r in enumerate(rows, start=1):  # rank among students and teams, baselines left out
        r.rank = rank
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
    users = get_user_model().objects.filter(pk__in=user_ids).order_by("username")
    policy = competition.grade_policy
    if low is not None and high is not None and high > low:
        policy = policy_check({"kind": "linear", "low": low, "high": high})
    out = io.StringIO()
    w = csv.writer(out)
    header = ["username", "email", "name", "team", "final_private_score", "rank"]
    header += ["rank_counts_baselines", "late_days"]
    w.writerow(header + (["grade", "grade_policy"] if policy else []))
    for u in users:
        entry = by_user.get(u.pk)
        days = late.get(entry.submission_id, 0) if entry else 0
        line = [
            _text(u.username),
            _text(u.email),
            _text(u.get_full_name()),
            _text(team_of.get(u.pk, "")),
            _fmt(entry.score if entry else None),
            entry.rank if entry else "",
            "no",
            days,
        ]
        if policy:
            grade = grade_of(
                policy,
                Entry(
                    score=entry.score if entry else None,
                    rank=entry.rank if entry else None,
                    entrants=len(rows),
                    late_days=days,
                ),
                late_penalty_pct=competition.late_penalty_pct,
            )
            line += [f"{grade:.1f}", policy_describe(policy)]
        w.writerow(line)
    return out.getvalue()
