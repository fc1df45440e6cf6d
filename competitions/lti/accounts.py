"""Accounts and enrolments from the platform's word: launches and NRPS roster syncs."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.models import User

from competitions.lti.models import LtiIdentity
from competitions.models import Course, Membership
from competitions.text import text_problem


def _clean(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else ""
    return "" if text_problem(text) else text.strip()[:limit]


def identity_user(*, issuer: str, sub: str, claims: dict[str, Any]) -> User:
    """The account keyed by (issuer, sub), created on first sight with the names and e-mail the
    platform gives (and no password: the LMS signs it in). Names and e-mail follow the platform."""
    identity = LtiIdentity.objects.select_related("user").filter(issuer=issuer, sub=sub).first()
    fields = {
        "email": _clean(claims.get("email"), 254),
        "first_name": _clean(claims.get("given_name"), 150),
        "last_name": _clean(claims.get("family_name"), 150),
    }
    if identity is not None:
        user = identity.user
        changed = [k for k, v in fields.items() if v and getattr(user, k) != v]
        for k in changed:
            setattr(user, k, fields[k])
        if changed:
            user.save(update_fields=changed)
        return user
    # The username is stable, unique and says nothing about the person; names show beside it.
    digest = hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()[:16]
    user = User(username=f"lti-{digest}", **fields)
    user.set_unusable_password()
    user.save()
    LtiIdentity.objects.create(user=user, issuer=issuer, sub=sub)
    return user


def enrol(*, course: Course, user: User, instructor: bool) -> Membership:
    """The LMS's role wins: an LMS instructor teaches the Podium course, a learner is a student."""
    role = Membership.Role.INSTRUCTOR if instructor else Membership.Role.STUDENT
    membership, _ = Membership.objects.update_or_create(
        course=course, user=user, defaults={"role": role}
    )
    return membership
