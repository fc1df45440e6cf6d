"""The platform's own records: API tokens, workers seen, alerts sent to staff."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

User = settings.AUTH_USER_MODEL


class ApiToken(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, blank=True)
    prefix = models.CharField(max_length=12, help_text="first characters, shown to the owner")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class WorkerSeen(models.Model):
    """A Celery worker's last heartbeat (config.celery's Heartbeat step): the status page."""

    hostname = models.CharField(max_length=200, unique=True)
    queues = models.CharField(max_length=200, blank=True)
    last_seen = models.DateTimeField()


class StaffAlert(models.Model):
    """When staff were last e-mailed about one kind of problem (at most one mail per interval)."""

    kind = models.CharField(max_length=40, unique=True)
    sent_at = models.DateTimeField()
    message = models.TextField(blank=True)
