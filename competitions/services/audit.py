"""Recording staff actions (competitions/models_audit.py). Called by the services that carry the
actions out, inside their transaction: an action and its record commit together or not at all."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from competitions.models import AuditEntry, Competition, Course, Submission
from competitions.text import text_checked

Actor = AbstractBaseUser | AnonymousUser | None


def _name(user: Any) -> str:
    return str(getattr(user, "username", "") or "system")


def audit_record(
    *,
    actor: Actor,
    action: str,
    competition: Competition | None = None,
    submission: Submission | None = None,
    course: Course | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """One entry. `actor` None is the system (a command, a periodic task)."""
    if submission is not None and competition is None:
        competition = submission.competition
    if competition is not None and course is None:
        course = competition.course
    team = submission.team if submission is not None else None
    subject = team.name if team is not None else ""
    subject_user = submission.user if submission else None
    reason = reason.strip()[:2000]
    text_checked(reason=reason)  # inside the action's transaction: refused, nothing is done
    return AuditEntry.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor=_name(actor),
        action=action,
        course_id=course.pk if course else None,
        competition_id=competition.pk if competition else None,
        competition=competition.title if competition else "",
        submission_id=str(submission.pk) if submission else "",
        subject_id=subject_user.pk if subject_user else None,
        subject=subject or (_name(subject_user) if subject_user else ""),
        reason=reason,
        details=details or {},
    )
