"""CSV exports: standings (one row per leaderboard entry) and grades (one row per student)."""

from __future__ import annotations

import csv
import io

from competitions.grade_policy import policy_check, policy_describe
from competitions.models import Competition, Submission
from competitions.selectors.grades import grades_list
from competitions.selectors.grades import late_days_of as late_days_of
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


def grades_csv(
    *, competition: Competition, low: float | None = None, high: float | None = None
) -> str:
    """One row per student (course roster plus anyone who entered): team, final private score,
    rank among students and teams (baselines not counted), days late, and the grade by the
    competition's grade policy (grade_policy.py, through selectors/grades.py as the LMS passback);
    low < high asks for a linear grade from 0 at `low` to 100 at `high` instead (the submissions
    page's quick choice)."""
    policy = competition.grade_policy
    if low is not None and high is not None and high > low:
        policy = policy_check({"kind": "linear", "low": low, "high": high})
    out = io.StringIO()
    w = csv.writer(out)
    header = ["username", "email", "name", "team", "final_private_score", "rank"]
    header += ["rank_counts_baselines", "late_days"]
    w.writerow(header + (["grade", "grade_policy"] if policy else []))
    for g in grades_list(competition=competition, policy=policy):
        line = [
            _text(g.user.username),
            _text(g.user.email),
            _text(g.user.get_full_name()),
            _text(g.team),
            _fmt(g.score),
            "" if g.rank is None else g.rank,
            "no",
            g.late_days,
        ]
        if policy and g.grade is not None:
            line += [f"{g.grade:.1f}", policy_describe(policy)]
        w.writerow(line)
    return out.getvalue()
