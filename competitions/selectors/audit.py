"""Reads of the staff audit log: the course's instructors see all of it, filtered; a student sees
the entries about their own submissions, with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from competitions.models import AuditEntry, Course, Submission

PAGE = 500


@dataclass(frozen=True)
class AuditFilter:
    competition_id: int | None = None
    action: str = ""
    actor: str = ""
    subject: str = ""


def audit_entries(*, course: Course, where: AuditFilter) -> QuerySet[AuditEntry]:
    """The course's entries, newest first, at most PAGE of them."""
    qs = AuditEntry.objects.filter(course_id=course.pk)
    if where.competition_id is not None:
        qs = qs.filter(competition_id=where.competition_id)
    if where.action:
        qs = qs.filter(action=where.action)
    if where.actor:
        qs = qs.filter(actor__iexact=where.actor)
    if where.subject:
        qs = qs.filter(subject__iexact=where.subject)
    return qs[:PAGE]


def audit_for_submission(*, submission: Submission) -> list[AuditEntry]:
    """What staff did to this submission, oldest first (shown to its author with the reasons)."""
    return list(
        AuditEntry.objects.filter(submission_id=str(submission.pk)).order_by("at", "id")[:100]
    )
