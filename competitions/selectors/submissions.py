"""Reads about submissions: lists and what a submission page may show to whom."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import User
from django.db.models import F, Q, QuerySet

from competitions.models import Competition, Standing, Submission, Team, TeamMembership
from competitions.services.standings import entrant_key


def submission_list_for_entrant(
    *, competition: Competition, user: User, team: Team | None
) -> QuerySet[Submission]:
    qs = Submission.objects.filter(competition=competition, is_baseline=False).select_related(
        "user"
    )
    qs = qs.filter(team=team) if team is not None else qs.filter(user=user, team__isnull=True)
    return qs.defer("predictions", "result", "log", "public_scores", "private_scores")


def submission_list_mine(*, user: User) -> QuerySet[Submission]:
    """The user's own submissions and their teams', in every competition."""
    teams = TeamMembership.objects.filter(user=user).values("team_id")
    return (
        Submission.objects.filter(Q(user=user) | Q(team_id__in=teams), is_baseline=False)
        .select_related("competition")
        .defer("predictions", "log", "public_scores", "private_scores")
    )


def submission_list_for_competition(*, competition: Competition) -> QuerySet[Submission]:
    return (
        Submission.objects.filter(competition=competition)
        .select_related("user", "team")
        .defer("predictions", "result", "public_scores", "private_scores")
    )


def submission_counted(
    *, competition: Competition, user: User, team: Team | None
) -> Submission | None:
    """The submission that counts for the entrant now (its standings row): the final choice while
    it is neither hidden nor disqualified, else the best scored one; None before any is scored."""
    key = entrant_key(
        submission_id=None, is_baseline=False, team_id=team.pk if team else None, user_id=user.pk
    )
    standing = (
        Standing.objects.filter(competition=competition, entrant=key)
        .select_related("submission")
        .first()
    )
    return standing.submission if standing else None


# The instructor list's sort keys: what the page offers, and the ORDER BY each means.
SUBMISSION_SORTS = {
    "newest": ("-created_at",),
    "oldest": ("created_at",),
    "best": (F("public_score").desc(nulls_last=True), "-created_at"),
    "worst": (F("public_score").asc(nulls_last=True), "-created_at"),
    "who": ("user__username", "-created_at"),
}
SUBMISSION_FLAGS = {
    "final": Q(is_final=True),
    "hidden": Q(hidden=True),
    "disqualified": Q(disqualified=True),
    "baseline": Q(is_baseline=True),
    "students": Q(is_baseline=False),
}


def submission_list_filtered(
    *, competition: Competition, q: str = "", status: str = "", flag: str = "", sort: str = ""
) -> QuerySet[Submission]:
    """The instructor's list: `q` searches usernames, team names, file names, notes and the
    SHA-256 (a prefix); `status` and `flag` filter; `sort` is one of SUBMISSION_SORTS."""
    qs = submission_list_for_competition(competition=competition)
    q = q.strip()
    if q:
        qs = qs.filter(
            Q(user__username__icontains=q)
            | Q(team__name__icontains=q)
            | Q(original_name__icontains=q)
            | Q(note__icontains=q)
            | Q(label__icontains=q)
            | Q(sha256__startswith=q.lower())
        )
    if status in Submission.Status.values:
        qs = qs.filter(status=status)
    if flag in SUBMISSION_FLAGS:
        qs = qs.filter(SUBMISSION_FLAGS[flag])
    return qs.order_by(*SUBMISSION_SORTS.get(sort, SUBMISSION_SORTS["newest"]))


def submission_push_state(*, status: str, attempts: int, progress: float) -> str:
    """What the submission page shows of a submission's progress, as a token: the page is
    rendered with it, and its event stream sends the opening refresh only when the row's token
    differs by the time the stream is subscribed (something changed in between)."""
    return f"{status}.{attempts}.{round(progress * 1000)}"


def submission_push_state_now(*, submission_id: uuid.UUID | str) -> str | None:
    row = Submission.objects.filter(pk=submission_id).values("status", "attempts", "progress")
    found = row.first()
    return None if found is None else submission_push_state(**found)
