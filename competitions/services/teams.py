"""Teams: create, join with a code, leave before the team's first submission."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from competitions.errors import Refused
from competitions.models import Competition, Submission, Team, TeamMembership
from competitions.services.courses import code_generate
from competitions.services.locks import lock_entrant
from competitions.text import text_checked


def team_for_user(*, competition: Competition, user: User) -> Team | None:
    membership = (
        TeamMembership.objects.select_related("team")
        .filter(competition=competition, user=user)
        .first()
    )
    return membership.team if membership else None


def _check_can_join(*, competition: Competition, user: User) -> None:
    if competition.max_team_size < 2:
        raise Refused("no_teams", "This competition is for individuals only.")
    if competition.past_deadline():
        raise Refused("closed", "This competition is closed.")
    if team_for_user(competition=competition, user=user) is not None:
        raise Refused("in_team", "You are already in a team for this competition.")
    if Submission.objects.filter(competition=competition, user=user, team__isnull=True).exists():
        raise Refused("has_submissions", "You have already submitted alone; teams form before.")


def team_create(*, competition: Competition, user: User, name: str) -> Team:
    text_checked(name=name)
    _check_can_join(competition=competition, user=user)
    name = name.strip()[:80]
    if not name:
        raise Refused("bad_name", "Give the team a name.")
    try:
        with transaction.atomic():
            team = Team.objects.create(
                competition=competition, name=name, join_code=code_generate(10)
            )
            TeamMembership.objects.create(team=team, user=user, competition=competition)
    except IntegrityError:
        raise Refused("name_taken", "A team with this name already exists.") from None
    return team


def team_join(*, competition: Competition, user: User, code: str) -> Team:
    _check_can_join(competition=competition, user=user)
    team = Team.objects.filter(competition=competition, join_code=code.strip().upper()).first()
    if team is None:
        raise Refused("bad_code", "No team of this competition has this code.")
    with transaction.atomic():
        lock_entrant(user=user, team=team)  # joins of one team one at a time: count, then add
        if team.memberships.count() >= competition.max_team_size:
            raise Refused("team_full", f"The team is full ({competition.max_team_size} members).")
        TeamMembership.objects.create(team=team, user=user, competition=competition)
    return team


def team_leave(*, competition: Competition, user: User) -> None:
    team = team_for_user(competition=competition, user=user)
    if team is None:
        raise Refused("no_team", "You are not in a team.")
    if Submission.objects.filter(team=team).exists():
        raise Refused("team_submitted", "The team has submitted: members can no longer leave.")
    with transaction.atomic():
        TeamMembership.objects.filter(team=team, user=user).delete()
        if not team.memberships.exists():
            team.delete()
