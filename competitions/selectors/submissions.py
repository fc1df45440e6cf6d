"""Reads about submissions: lists and what a submission page may show to whom."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from competitions.models import Competition, Submission, Team


def submission_list_for_entrant(
    *, competition: Competition, user: User, team: Team | None
) -> QuerySet[Submission]:
    qs = Submission.objects.filter(competition=competition, is_baseline=False).select_related(
        "user"
    )
    qs = qs.filter(team=team) if team is not None else qs.filter(user=user, team__isnull=True)
    return qs.defer("predictions", "result", "log", "public_scores", "private_scores")


def submission_list_for_competition(*, competition: Competition) -> QuerySet[Submission]:
    return (
        Submission.objects.filter(competition=competition)
        .select_related("user", "team")
        .defer("predictions", "result", "public_scores", "private_scores")
    )
