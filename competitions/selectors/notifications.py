"""Reads of a person's notifications: the bell's count and the list."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from competitions.models import Notification, NotifyPrefs
from competitions.selectors.access import AnyUser


def notifications_unread(*, user: AnyUser) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(user_id=user.pk or 0, read_at=None).count()


def notification_list(*, user: User, limit: int = 100) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")[:limit]


def notify_prefs_get(*, user: User) -> bool:
    """Whether results are e-mailed (the default) for this person."""
    prefs = NotifyPrefs.objects.filter(user=user).first()
    return prefs.results_by_email if prefs else True
