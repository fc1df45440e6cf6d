"""Deadlines per entrant: the competition's, or the later one an exception grants; and whether an
upload now is on time, late (with how many days, under a penalty policy) or refused."""

from __future__ import annotations

import datetime as dt
import math

from django.contrib.auth.models import User
from django.utils import timezone

from competitions.errors import Refused
from competitions.models import Competition, Extension, Team

DAY = dt.timedelta(days=1)


def extension_for(*, competition: Competition, user: User, team: Team | None) -> Extension | None:
    """The entrant's exception: the team's when they are in one, else their own."""
    qs = Extension.objects.filter(competition=competition)
    if team is not None:
        return qs.filter(team=team).first()
    return qs.filter(user=user, team__isnull=True).first()


def entrant_deadline(
    *, competition: Competition, user: User, team: Team | None
) -> tuple[dt.datetime, Extension | None]:
    ext = extension_for(competition=competition, user=user, team=team)
    if ext is not None and ext.closes_at is not None and ext.closes_at > competition.closes_at:
        return ext.closes_at, ext
    return competition.closes_at, ext


def late_window_end(*, competition: Competition, deadline: dt.datetime) -> dt.datetime:
    """Until when late work is taken after `deadline` (= deadline when the policy refuses it)."""
    if competition.late_policy == Competition.LatePolicy.PENALTY:
        return deadline + competition.late_days_max * DAY
    return deadline


def submission_lateness(
    *, competition: Competition, user: User, team: Team | None, now: dt.datetime
) -> int:
    """0 on time, else whole days late (started days count); Refused when it cannot be taken."""
    if competition.closed:
        raise Refused("closed", "This competition is closed.")
    deadline, _ = entrant_deadline(competition=competition, user=user, team=team)
    if now < deadline:
        return 0
    end = late_window_end(competition=competition, deadline=deadline)
    if now < end:
        return max(1, math.ceil((now - deadline) / DAY))
    local = timezone.localtime(deadline)
    late = " and the late window" if end > deadline else ""
    raise Refused(
        "closed",
        f"This competition is closed: the deadline ({local:%Y-%m-%d %H:%M %Z}){late} has passed.",
    )


def entrant_window(
    *, competition: Competition, user: User, team: Team | None, now: dt.datetime
) -> dict[str, object]:
    """What the competition page tells one entrant: their deadline and exception, whether they
    can submit now, and how late an upload now would be."""
    deadline, ext = entrant_deadline(competition=competition, user=user, team=team)
    end = late_window_end(competition=competition, deadline=deadline)
    open_now = not competition.closed and competition.opens_at <= now < end
    late_now = max(1, math.ceil((now - deadline) / DAY)) if open_now and now >= deadline else 0
    return {
        "my_deadline": deadline,
        "my_extension": ext,
        "late_until": end if end > deadline else None,
        "open_for_me": open_now,
        "late_now": late_now,
    }
