"""Per-entrant exceptions an instructor grants (a later deadline, extra submissions), and the
instructors' announcements on a competition's page."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Extension(models.Model):
    """One exception for one student (or one team) in one competition, with its reason. Granting
    another for the same entrant replaces it (the audit log keeps the history)."""

    competition = models.ForeignKey(
        "competitions.Competition", on_delete=models.CASCADE, related_name="extensions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="extensions",
    )
    team = models.ForeignKey(
        "competitions.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="extensions",
    )
    closes_at = models.DateTimeField(null=True, blank=True, help_text="a later deadline")
    extra_daily = models.PositiveIntegerField(default=0)
    extra_total = models.PositiveIntegerField(default=0)
    reason = models.TextField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "competitions"
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "user"],
                condition=models.Q(team__isnull=True),
                name="one_extension_per_student",
            ),
            models.UniqueConstraint(
                fields=["competition", "team"],
                condition=models.Q(team__isnull=False),
                name="one_extension_per_team",
            ),
        ]


class Announcement(models.Model):
    """A dated note from the instructors on a competition's page (Markdown)."""

    competition = models.ForeignKey(
        "competitions.Competition", on_delete=models.CASCADE, related_name="announcements"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
