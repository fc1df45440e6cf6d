"""Celery tasks: thin wrappers around services (settings: acks_late, prefetch 1, time limits)."""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import InterfaceError, OperationalError, connection

from competitions.lti.grades import lti_grades_due, lti_grades_push
from competitions.lti.roster import lti_roster_sync
from competitions.models import Competition
from competitions.services.dispatch import submission_take_next, submissions_dispatch_quietly
from competitions.services.grading import (
    AttemptLost,
    submission_grade,
    submission_queue,
    submission_requeue_lost,
    submissions_sweep,
)
from competitions.services.notify import notifications_email_send
from competitions.services.notify import notify_deadlines as notify_deadlines_pass
from competitions.services.status import queue_alert_check

# Time a grading needs beyond its competition's limit (dataset, checks, writes): a worker takes
# the next submission itself only while its task has that much left under the soft limit.
CHAIN_MARGIN_S = 60.0
# And only for this long: then the slot goes back through the broker, so the other messages of
# the queue (the sweeper, notification e-mails) get a worker even during a long rush.
CHAIN_FOR_S = 30.0


@shared_task(
    bind=True,
    name="competitions.tasks.grade_submission",
    acks_late=True,
    ignore_result=True,
    max_retries=20,
)
def grade_submission(self: Any, submission_id: str, lost_attempt: int | None = None) -> str:
    started = time.monotonic()
    current, lost_now = submission_id, lost_attempt
    try:
        if lost_attempt is not None:
            submission_requeue_lost(submission_id=submission_id, attempt=lost_attempt)
        outcome = submission_grade(submission_id=submission_id)
        # This slot is free: take the next submission here while the task has time for it (no
        # round trip through the broker), then hand the slot back by a message.
        queue = submission_queue(submission_id=submission_id)
        while queue is not None and time.monotonic() - started < CHAIN_FOR_S:
            left = settings.CELERY_TASK_SOFT_TIME_LIMIT - (time.monotonic() - started)
            taken = submission_take_next(queue=queue, time_left_s=left - CHAIN_MARGIN_S)
            if taken is None:
                break
            current, lost_now = str(taken), None
            submission_grade(submission_id=taken)
        submissions_dispatch_quietly()
        return outcome
    except (AttemptLost, OperationalError, InterfaceError) as e:
        # The database went away: drop the dead connection and try again shortly; the retry puts
        # the lost attempt back in the queue first (a conditional update, so never twice).
        connection.close()
        lost = e.attempt if isinstance(e, AttemptLost) else lost_now
        if isinstance(e, AttemptLost) and e.attempt is None:
            lost = lost_now
        raise self.retry(
            countdown=3, kwargs={"submission_id": current, "lost_attempt": lost}
        ) from e
    except SoftTimeLimitExceeded:
        # The row stays "running"; the sweeper retries or fails it with the reason.
        return "soft_time_limit"


@shared_task(name="competitions.tasks.sweep_submissions", ignore_result=True)
def sweep_submissions() -> dict[str, int]:
    counts = submissions_sweep()
    counts["alerted"] = int(queue_alert_check() is not None)  # after the re-sends
    return counts


@shared_task(
    bind=True, name="competitions.tasks.lti_push_grades", ignore_result=True, max_retries=5
)
def lti_push_grades(self: Any, competition_id: int, actor_id: int | None = None) -> dict[str, int]:
    """LMS grade passback after a close; failed posts are retried with backoff (and by the
    periodic pass), and stay on the instructor's page until one succeeds."""
    competition = Competition.objects.filter(pk=competition_id).first()
    if competition is None:
        return {}
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    report = lti_grades_push(competition=competition, actor=actor)
    if report.failed:
        raise self.retry(countdown=60 * 2**self.request.retries)
    return {"posted": report.posted, "unchanged": report.unchanged}


@shared_task(name="competitions.tasks.lti_sync_rosters", ignore_result=True)
def lti_sync_rosters() -> dict[str, int]:
    """Periodic (beat): every LMS context's roster (NRPS), then grades of recent closes."""
    report = lti_roster_sync()
    lti_grades_due()
    return {"contexts": report.contexts, "added": report.added, "errors": report.errors}


@shared_task(name="competitions.tasks.send_notifications", ignore_result=True)
def send_notifications() -> int:
    return notifications_email_send()


@shared_task(name="competitions.tasks.notify_deadlines", ignore_result=True)
def notify_deadlines() -> dict[str, int]:
    counts = notify_deadlines_pass()
    notifications_email_send()
    return counts
