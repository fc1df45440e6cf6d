"""The staff audit log: who did what, when and why, to which competition or submission.

Append-only: an entry is never changed or deleted, not by the ORM (save of an existing row,
QuerySet.update and delete raise) nor by a cascade (no foreign keys: ids and names are copied in,
so deleting a competition or an account leaves its history readable).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone


class AppendOnly(Exception):
    """Someone tried to change or delete an audit entry."""


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("audit entries are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit entries are never deleted")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CLOSE = "close", "closed the competition"
        REOPEN = "reopen", "reopened the competition"
        EDIT = "edit", "edited the competition"
        RESCORE = "rescore", "rescored a submission"
        RESCORE_ALL = "rescore_all", "rescored every submission"
        DISQUALIFY = "disqualify", "disqualified a submission"
        REQUALIFY = "requalify", "lifted a disqualification"
        HIDE = "hide", "hid a submission"
        UNHIDE = "unhide", "showed a hidden submission"
        EXCEPTION = "exception", "granted an exception"
        ROSTER = "roster", "imported a roster"
        INVITE = "invite", "sent an invitation"
        GRADES = "grades", "pushed grades"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.IntegerField(null=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=20, choices=Action.choices)
    course_id = models.IntegerField(null=True, db_index=True)
    competition_id = models.IntegerField(null=True, db_index=True)
    competition = models.CharField(max_length=200, blank=True)  # its title, as it was
    submission_id = models.CharField(max_length=36, blank=True, db_index=True)
    subject_id = models.IntegerField(null=True)  # the student (or team owner) concerned
    subject = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        app_label = "competitions"
        ordering = ["-at", "-id"]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit entries are never deleted")
