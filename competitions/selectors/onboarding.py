"""Reads for onboarding: whether an invitation link can be used, and the roster's rows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.utils import timezone

from competitions.errors import Refused
from competitions.models import Course, Invitation, Membership

INVALID = "This link is not valid (it may have been mistyped, or replaced by a newer one)."
USED = "This link was already used. Log in, or reset your password if you forgot it."
EXPIRED = "This link has expired. Ask your instructor to send a new one, or reset your password."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_find(*, token: str) -> Invitation:
    """The invitation a link names, if it can still be used; Refused with the reason if not."""
    inv = (
        Invitation.objects.select_related("user", "course")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if inv is None or inv.revoked_at is not None:
        raise Refused("invitation_invalid", INVALID)
    if inv.used_at is not None:
        raise Refused("invitation_invalid", USED)
    if inv.expires_at <= timezone.now():
        raise Refused("invitation_invalid", EXPIRED)
    return inv


@dataclass(frozen=True)
class RosterRow:
    membership: Membership
    activated: bool
    invitation: Invitation | None  # the latest one, if any
    invitation_state: str  # "", or used / revoked / expired / failed / pending


def roster_rows(*, course: Course) -> list[RosterRow]:
    """Every member, with whether the account can log in and its latest invitation (3 queries)."""
    members = list(course.memberships.select_related("user").order_by("role", "user__username"))
    latest: dict[int, Invitation] = {}
    for inv in Invitation.objects.filter(course=course).order_by("created_at"):
        latest[inv.user_id] = inv
    now = timezone.now()
    rows = []
    for m in members:
        last = latest.get(m.user_id)
        rows.append(
            RosterRow(
                membership=m,
                activated=m.user.has_usable_password(),
                invitation=last,
                invitation_state=last.state(now) if last else "",
            )
        )
    return rows
