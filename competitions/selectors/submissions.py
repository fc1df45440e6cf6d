"""Reads about submissions: lists and what a submission page may show to whom."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

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
