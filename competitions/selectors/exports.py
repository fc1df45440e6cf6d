"""CSV exports: standings (one row per leaderboard entry) and grades (one row per student)."""

from __future__ import annotations

import csv
import io

from competitions.models import Competition, Submission
from competitions.selectors.grades import grades_list
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
        ]
    )
    for r in leaderboard_get(competition=competition, private=private):
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
    rank among entrants; with low < high, a grade linear from 0 at `low` to 100 at `high`, clamped
    (competitions.selectors.grades, which the LMS passback uses too)."""
    out = io.StringIO()
    w = csv.writer(out)
    header = ["username", "email", "name", "team", "final_private_score", "rank"]
    rule = low is not None and high is not None and high > low
    w.writerow(header + (["grade"] if rule else []))
    for g in grades_list(competition=competition, low=low, high=high):
        line = [
            _text(g.user.username),
            _text(g.user.email),
            _text(g.user.get_full_name()),
            _text(g.team),
            _fmt(g.score),
            "" if g.rank is None else g.rank,
        ]
        if g.grade is not None:
            line.append(f"{g.grade:.1f}")
        w.writerow(line)
    return out.getvalue()
