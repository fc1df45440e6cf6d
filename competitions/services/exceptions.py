"""Exceptions an instructor grants one student or team (a later deadline, extra submissions), and
the competition's last deadline that they and the late policy push back (nothing the close
reveals is shown before it: Competition.is_finished)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from competitions.errors import Refused
from competitions.models import Competition, Extension, Team
from competitions.selectors.deadlines import late_window_end
from competitions.services.audit import Actor, audit_record
from competitions.services.notify import notify_exception
from competitions.services.teams import team_for_user


def competition_deadline_refresh(*, competition: Competition) -> dt.datetime:
    """Store the last moment anyone may submit: the latest deadline (the competition's or an
    extension's) plus the late window. Called by every write that changes one of them."""
    latest = Extension.objects.filter(competition=competition).aggregate(m=Max("closes_at"))["m"]
    deadline = max(competition.closes_at, latest or competition.closes_at)
    last = late_window_end(competition=competition, deadline=deadline)
    Competition.objects.filter(pk=competition.pk).update(last_deadline=last)
    competition.last_deadline = last
    return last


def extension_grant(
    *,
    competition: Competition,
    user: User,
    actor: Actor,
    reason: str,
    closes_at: dt.datetime | None = None,
    extra_daily: int = 0,
    extra_total: int = 0,
) -> Extension:
    """Grant (or replace) `user`'s exception — their team's, when they are in one."""
    reason = reason.strip()
    if not reason:
        raise Refused("bad_exception", "Say why the exception is granted (the student sees it).")
    if closes_at is not None and closes_at <= competition.closes_at:
        raise Refused("bad_exception", "A new deadline must be later than the competition's.")
    if closes_at is None and not (extra_daily or extra_total):
        raise Refused("bad_exception", "Grant a later deadline or extra submissions.")
    if competition.closed:
        raise Refused("closed", "The competition is closed: reopen it first.")
    team: Team | None = team_for_user(competition=competition, user=user)
    with transaction.atomic():
        ext, _ = Extension.objects.update_or_create(
            competition=competition,
            team=team,
            user=None if team else user,
            defaults={
                "closes_at": closes_at,
                "extra_daily": extra_daily,
                "extra_total": extra_total,
                "reason": reason,
                "granted_by": actor if isinstance(actor, User) else None,
                "granted_at": timezone.now(),
            },
        )
        competition_deadline_refresh(competition=competition)
        entry = audit_record(
            actor=actor,
            action="exception",
            competition=competition,
            reason=reason,
            details={
                "for": team.name if team else user.username,
                "closes_at": closes_at.isoformat() if closes_at else None,
                "extra_daily": extra_daily,
                "extra_total": extra_total,
            },
        )
        parts = [f"deadline {timezone.localtime(closes_at):%Y-%m-%d %H:%M %Z}"] if closes_at else []
        parts += [f"{extra_daily} more submissions per day"] if extra_daily else []
        parts += [f"{extra_total} more submissions in all"] if extra_total else []
        people = [m.user for m in team.memberships.select_related("user")] if team else [user]
        notify_exception(
            competition=competition,
            people=people,
            text=f"{', '.join(parts)}. Reason: {reason}",
            key=str(entry.pk),
        )
    return ext
