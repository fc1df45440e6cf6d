"""Notifications: the in-app list (a bell with the unread count) and the e-mail copies.

One row per event and person, keyed: the key is unique, so an event that is reported twice (a
redelivered task, a sweep that runs again) is stored once and e-mailed at most once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Notification(models.Model):
    class Kind(models.TextChoices):
        SCORED = "scored", "submission scored"
        FAILED = "failed", "submission failed"
        FLAGGED = "flagged", "submission disqualified or hidden"
        EXCEPTION = "exception", "exception granted"
        REMINDER = "reminder", "24 hours before the close"
        FINAL = "final", "final standings"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key = models.CharField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_wanted = models.BooleanField(default=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.CharField(max_length=300, blank=True)

    class Meta:
        app_label = "competitions"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at"]),
            models.Index(fields=["email_wanted", "emailed_at"]),
        ]


class NotifyPrefs(models.Model):
    """A student's choices; no row = the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_prefs"
    )
    results_by_email = models.BooleanField(default=True)

    class Meta:
        app_label = "competitions"
