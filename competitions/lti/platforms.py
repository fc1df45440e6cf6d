"""Registering a platform (an LMS): `manage.py lti_platform_add`, and the instructor UI later."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from competitions.errors import NotAllowed, Refused
from competitions.lti.models import LtiDeployment, LtiPlatform
from competitions.models import Course
from competitions.selectors.access import course_is_instructor

_url = URLValidator(schemes=["https", "http"])


def _check_url(name: str, value: str) -> str:
    try:
        _url(value)
    except ValidationError:
        raise Refused("lti_bad_platform", f"{name}: not an http(s) URL: {value!r}") from None
    parts = urlsplit(value)
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        # Keys and tokens travel over these: plain HTTP only for a platform on this machine.
        raise Refused("lti_bad_platform", f"{name}: use https:// (http only for localhost)")
    return value


def platform_add(
    *,
    issuer: str,
    client_id: str,
    deployment_id: str,
    auth_url: str,
    token_url: str,
    jwks_url: str,
    course_slug: str | None = None,
    frame_origins: list[str] | None = None,
    by: User | None = None,
) -> LtiDeployment:
    """Adds (or updates) the platform and one of its deployments. With `course_slug`, every
    context launched from that deployment maps to that course; without, each LMS course gets its
    own Podium course on its first instructor launch. `by`: an instructor on the LTI page, who
    may only add registrations (or change their own) and map them to courses they teach."""
    for name, value in (
        ("issuer", issuer),
        ("client id", client_id),
        ("deployment id", deployment_id),
    ):
        if not value.strip() or len(value) > 255:
            raise Refused("lti_bad_platform", f"{name}: 1 to 255 characters")
    urls = {
        "auth_url": _check_url("--auth-url", auth_url),
        "token_url": _check_url("--token-url", token_url),
        "jwks_url": _check_url("--jwks-url", jwks_url),
        "frame_origins": [_check_url("--frame-origin", o) for o in frame_origins or []],
    }
    course = None
    if course_slug:
        course = Course.objects.filter(slug=course_slug).first()
        if course is None:
            raise Refused("bad_code", f"--course: no course has the slug {course_slug!r}")
        if by is not None and not course_is_instructor(user=by, course=course):
            raise Refused("course_required")
    with transaction.atomic():
        existing = LtiPlatform.objects.filter(issuer=issuer, client_id=client_id).first()
        if by is not None and existing is not None and existing.registered_by_id != by.pk:
            raise NotAllowed("lti_platform_taken")
        platform, created = LtiPlatform.objects.update_or_create(
            issuer=issuer, client_id=client_id, defaults=urls
        )
        if created and by is not None:
            platform.registered_by = by
            platform.save(update_fields=["registered_by"])
        deployment, _ = LtiDeployment.objects.update_or_create(
            platform=platform, deployment_id=deployment_id, defaults={"course": course}
        )
    return deployment
