"""Invitations: how an account created by a roster import gets its first password.

Kept beside models.py (which re-exports it) so the course features grow without one huge module.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone


class Invitation(models.Model):
    """A single-use, expiring link to set a first password. Only the token's SHA-256 is stored:
    the link itself exists only in the e-mail. A resend revokes the earlier links."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    course = models.ForeignKey(
        "competitions.Course", on_delete=models.CASCADE, related_name="invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.CharField(max_length=300, blank=True)

    class Meta:
        app_label = "competitions"
        indexes = [models.Index(fields=["user", "course", "-created_at"])]

    def state(self, now: dt.datetime | None = None) -> str:
        """One word for the roster page: used, revoked, expired, failed or pending."""
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= (now or timezone.now()):
            return "expired"
        return "failed" if self.send_error and not self.sent_at else "pending"
