"""Who may see and do what. Missing or foreign objects raise NotFound (the same to the user:
pages and the API answer 404, never 403)."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from competitions.errors import NotFound
from competitions.models import Competition, Course, Membership, Submission, TeamMembership
from competitions.text import text_problem

type AnyUser = User | AnonymousUser


def course_list_for_user(*, user: AnyUser) -> QuerySet[Course]:
    if not user.is_authenticated:
        return Course.objects.none()
    return Course.objects.filter(memberships__user=user).distinct().order_by("name")


def course_list_taught(*, user: AnyUser) -> QuerySet[Course]:
    if not user.is_authenticated:
        return Course.objects.none()
    if user.is_staff:
        return Course.objects.order_by("name")
    return Course.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.INSTRUCTOR
    ).order_by("name")


def course_is_instructor(*, user: AnyUser, course: Course | None) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    if course is None:
        return False
    return Membership.objects.filter(
        course=course, user=user, role=Membership.Role.INSTRUCTOR
    ).exists()


def competition_is_instructor(*, user: AnyUser, competition: Competition) -> bool:
    return course_is_instructor(user=user, course=competition.course)


def competition_list_visible(*, user: AnyUser) -> QuerySet[Competition]:
    qs = Competition.objects.select_related("course", "dataset")
    if user.is_authenticated and user.is_staff:
        return qs
    visible = Q(visibility=Competition.Visibility.PUBLIC)
    if user.is_authenticated:
        visible |= Q(course__memberships__user=user)
    return qs.filter(visible).distinct()


def competition_get_visible(*, user: AnyUser, slug: str) -> Competition:
    if text_problem(slug):  # no slug has one; the database would fail on it (API paths)
        raise NotFound("No such competition")
    competition = competition_list_visible(user=user).filter(slug=slug).first()
    if competition is None:
        raise NotFound("No such competition")
    return competition


def competition_get_for_instructor(*, user: AnyUser, slug: str) -> Competition:
    competition = competition_get_visible(user=user, slug=slug)
    if not competition_is_instructor(user=user, competition=competition):
        raise NotFound("No such competition")
    return competition


def competition_can_submit(*, user: AnyUser, competition: Competition) -> bool:
    if not user.is_authenticated:
        return False
    if competition.visibility == Competition.Visibility.PUBLIC or user.is_staff:
        return True
    if competition.course_id is None:
        return False
    return Membership.objects.filter(course_id=competition.course_id, user=user).exists()


def submission_get_visible(*, user: AnyUser, submission_id: uuid.UUID | str) -> Submission:
    """The owner, team-mates and the competition's instructors see a submission; baselines are
    visible to whoever sees the competition. Everyone else gets 404."""
    if not user.is_authenticated:
        raise NotFound("No such submission")
    try:
        sub = Submission.objects.select_related(
            "competition__course", "competition__dataset", "team", "user"
        ).get(pk=submission_id)
    except (Submission.DoesNotExist, ValidationError, ValueError):
        raise NotFound("No such submission") from None
    if sub.user_id == user.pk:
        return sub
    if competition_is_instructor(user=user, competition=sub.competition):
        return sub
    if sub.team_id and TeamMembership.objects.filter(team_id=sub.team_id, user=user).exists():
        return sub
    if sub.is_baseline and not sub.hidden:
        competition_get_visible(user=user, slug=sub.competition.slug)
        return sub
    raise NotFound("No such submission")


def submission_shows_private(*, user: AnyUser, submission: Submission) -> bool:
    """Private split scores: everyone after the close, the competition's instructors always."""
    competition = submission.competition
    return competition.is_finished() or competition_is_instructor(
        user=user, competition=competition
    )
