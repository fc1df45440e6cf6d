"""Submission quotas (per team, or per student when alone) and the refused-upload flood limit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from competitions.errors import QuotaExceeded, Refused
from competitions.models import Competition, RefusedUpload, Submission, Team
from competitions.selectors.deadlines import extension_for


def _when(moment: dt.datetime, now: dt.datetime) -> str:
    local = timezone.localtime(moment)
    minutes = max(int((moment - now).total_seconds() // 60) + 1, 1)
    span = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} (in {span})"


@dataclass(frozen=True)
class Quota:
    daily_used: int
    daily_limit: int
    total_used: int
    total_limit: int
    resets_at: dt.datetime

    @property
    def daily_left(self) -> int:
        return max(self.daily_limit - self.daily_used, 0)

    @property
    def total_left(self) -> int:
        return max(self.total_limit - self.total_used, 0)

    def check(self, now: dt.datetime) -> None:
        if self.total_used >= self.total_limit:
            raise QuotaExceeded(
                "total_quota",
                f"You have used all {self.total_limit} submissions of this competition.",
            )
        if self.daily_used >= self.daily_limit:
            raise QuotaExceeded(
                "daily_quota",
                f"Daily limit of {self.daily_limit} submissions reached; "
                f"it resets at {_when(self.resets_at, now)}.",
            )


def quota_get(
    *, competition: Competition, user: User, team: Team | None, now: dt.datetime
) -> Quota:
    """Counted: accepted submissions (refused uploads and our own failures don't count)."""
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    qs = Submission.objects.filter(
        competition=competition, is_baseline=False, counts_toward_quota=True
    )
    qs = qs.filter(team=team) if team is not None else qs.filter(user=user, team__isnull=True)
    total = qs.count()
    daily = qs.filter(created_at__gte=start).count()
    ext = extension_for(competition=competition, user=user, team=team)
    return Quota(
        daily_used=daily,
        daily_limit=competition.daily_limit + (ext.extra_daily if ext else 0),
        total_used=total,
        total_limit=competition.total_limit + (ext.extra_total if ext else 0),
        resets_at=start + dt.timedelta(days=1),
    )


def flood_check(*, user: User, now: dt.datetime) -> None:
    since = now - dt.timedelta(hours=1)
    recent = RefusedUpload.objects.filter(user=user, created_at__gte=since).order_by("created_at")
    limit = settings.PODIUM_FLOOD_LIMIT_PER_HOUR
    if recent.count() >= limit:
        oldest = recent.values_list("created_at", flat=True)[0]
        raise Refused(
            "flood",
            f"Too many refused uploads ({limit} in the last hour); "
            f"try again after {_when(oldest + dt.timedelta(hours=1), now)}.",
        )
