"""Reads for the instructor's LMS pages: the course's LMS contexts, the grade posts' states."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from competitions.lti.models import LtiContext, LtiGradePost, LtiIdentity, LtiPlatform
from competitions.models import Competition, Course


def lti_contexts_for_course(*, course: Course) -> QuerySet[LtiContext]:
    return LtiContext.objects.filter(course=course).select_related("platform").order_by("pk")


def lti_grade_posts(*, competition: Competition) -> list[LtiGradePost]:
    """Failed posts first (what the instructor must see), then the rest by student."""
    posts = LtiGradePost.objects.filter(link__competition=competition).select_related(
        "user", "link__context__platform"
    )
    return sorted(posts, key=lambda p: (not p.error, p.user.username))


def lti_user_ids(*, course: Course) -> set[int]:
    """Members who sign in from the LMS (no password, no invitation needed)."""
    return set(
        LtiIdentity.objects.filter(user__memberships__course=course).values_list(
            "user_id", flat=True
        )
    )


def lti_platforms_registered_by(*, user: User) -> QuerySet[LtiPlatform]:
    return (
        LtiPlatform.objects.filter(registered_by=user)
        .prefetch_related("deployments__course")
        .order_by("issuer", "client_id")
    )
