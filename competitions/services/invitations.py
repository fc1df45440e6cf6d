"""Onboarding e-mail: invitations for accounts a roster import created, notices for the rest.

Mail goes out through Django's mail backend (console in the demo, SMTP by env in production) on
one connection per import, after the roster's transaction committed. A failure to send is kept on
the invitation and shown on the roster page, where the instructor can send it again: the import
itself never fails because the mail server is down.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from competitions.errors import Refused
from competitions.models import Course, Invitation
from competitions.selectors.onboarding import USED, invitation_find, token_hash
from competitions.services.audit import Actor, audit_record


def invitation_issue(*, user: User, course: Course) -> tuple[Invitation, str]:
    """A new link for `user`; earlier unused links of theirs stop working."""
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        Invitation.objects.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
        inv = Invitation.objects.create(
            user=user,
            course=course,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + dt.timedelta(days=settings.PODIUM_INVITATION_DAYS),
        )
    return inv, token


@dataclass
class Sent:
    sent: int = 0
    failed: int = 0


def _greeting(user: User) -> str:
    return f"Hello {user.first_name or user.username},"


def _invitation_message(inv: Invitation, link: str) -> EmailMessage:
    user, course = inv.user, inv.course
    expires = timezone.localtime(inv.expires_at).strftime("%Y-%m-%d %H:%M %Z")
    body = (
        f"{_greeting(user)}\n\n"
        f"you have been added to the course {course.name} on Podium, where the course's "
        f"machine-learning competitions run.\n\nYour username: {user.username}\n\n"
        f"Choose your password here (the link works once, until {expires}):\n{link}\n\n"
        "If the link has expired, use 'Forgot your password?' on the login page with this "
        "e-mail address, or ask your instructor to send a new invitation.\n"
    )
    return EmailMessage(f"Podium: your account for {course.name}", body, to=[user.email])


def _notice_message(user: User, course: Course, site: str) -> EmailMessage:
    body = (
        f"{_greeting(user)}\n\nyou have been enrolled in the course {course.name} on Podium. "
        f"Log in as {user.username} to see its competitions:\n{site}\n"
    )
    return EmailMessage(f"Podium: you are enrolled in {course.name}", body, to=[user.email])


def _send(pairs: list[tuple[Invitation | None, EmailMessage]]) -> Sent:
    """Send each message on one connection; record each invitation's outcome."""
    result = Sent()
    if not pairs:
        return result
    connection = mailers.default  # a fresh backend instance from MAILERS["default"]
    try:
        connection.open()
    except OSError as e:
        for inv, _ in pairs:
            _record(inv, error=f"mail server unreachable: {e}")
        return Sent(failed=len(pairs))
    try:
        for inv, message in pairs:
            try:
                connection.send_messages([message])
            except Exception as e:  # one bad address must not stop the others
                _record(inv, error=str(e))
                result.failed += 1
            else:
                _record(inv, error="")
                result.sent += 1
    finally:
        connection.close()
    return result


def _record(inv: Invitation | None, *, error: str) -> None:
    if inv is None:
        return
    fields: dict[str, object] = {"send_error": error[:300]}
    if not error:
        fields["sent_at"] = timezone.now()
    Invitation.objects.filter(pk=inv.pk).update(**fields)


def onboarding_send(
    *, course: Course, invited: Iterable[User], enrolled: Iterable[User], site: str
) -> Sent:
    """Invite each new account (a fresh link each) and tell each existing account it was enrolled.
    `site` is the absolute URL of the site's root, e.g. https://podium.example.org/."""
    pairs: list[tuple[Invitation | None, EmailMessage]] = []
    for user in invited:
        inv, token = invitation_issue(user=user, course=course)
        if not user.email:
            _record(inv, error="no e-mail address in the roster")
            continue
        link = site.rstrip("/") + reverse("competitions:invitation", args=[token])
        pairs.append((inv, _invitation_message(inv, link)))
    pairs += [(None, _notice_message(u, course, site)) for u in enrolled if u.email]
    return _send(pairs)


def invitation_accept(*, token: str, password: str) -> User:
    """Set the first password. The conditional UPDATE makes the link single-use even when two
    requests race: exactly one of them marks it used."""
    inv = invitation_find(token=token)
    now = timezone.now()
    with transaction.atomic():
        claimed = Invitation.objects.filter(
            pk=inv.pk, used_at=None, revoked_at=None, expires_at__gt=now
        ).update(used_at=now)
        if claimed != 1:
            raise Refused("invitation_invalid", USED)
        user = inv.user
        user.set_password(password)
        user.save(update_fields=["password"])
        Invitation.objects.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
    return user


def invitation_resend(*, course: Course, user: User, site: str, actor: Actor = None) -> Sent:
    """A new link for an account that has not set a password yet (the old links stop working)."""
    if user.has_usable_password():
        raise Refused("invitation_invalid", f"{user.username} has already set a password.")
    audit_record(actor=actor, action="invite", course=course, details={"user": user.username})
    return onboarding_send(course=course, invited=[user], enrolled=[], site=site)
