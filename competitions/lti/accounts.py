"""Accounts and enrolments from the platform's word: launches and NRPS roster syncs."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from competitions.lti.models import LtiIdentity
from competitions.models import Course, Membership
from competitions.text import text_problem


def _clean(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else ""
    return "" if text_problem(text) else text.strip()[:limit]


def _free_username(fields: dict[str, str], *, issuer: str, sub: str) -> str:
    """A readable username (leaderboards show it): the e-mail's local part, else the names, else
    one derived from (issuer, sub); a number is added when it is taken. Chosen once: the account
    is found by (issuer, sub) afterwards, never by this name or the e-mail."""
    local = fields["email"].split("@")[0]
    names = ".".join(n for n in (fields["first_name"], fields["last_name"]) if n)
    digest = hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()[:10]
    base = re.sub(r"[^\w.@+-]", "", local or names)[:140] or f"lti-{digest}"
    name, n = base, 1
    while User.objects.filter(username=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


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
    try:
        with transaction.atomic():  # a savepoint: a concurrent first launch may win the race
            user = User(username=_free_username(fields, issuer=issuer, sub=sub), **fields)
            user.set_unusable_password()
            user.save()
            LtiIdentity.objects.create(user=user, issuer=issuer, sub=sub)
    except IntegrityError:
        identity = LtiIdentity.objects.select_related("user").filter(issuer=issuer, sub=sub).first()
        if identity is None:  # the name was taken meanwhile, not the identity: try once more
            return identity_user(issuer=issuer, sub=sub, claims=claims)
        return identity.user
    return user


def enrol(*, course: Course, user: User, instructor: bool) -> Membership:
    """The LMS's role wins: an LMS instructor teaches the Podium course, a learner is a student."""
    role = Membership.Role.INSTRUCTOR if instructor else Membership.Role.STUDENT
    membership, _ = Membership.objects.update_or_create(
        course=course, user=user, defaults={"role": role}
    )
    return membership
