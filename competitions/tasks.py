"""Celery tasks: thin wrappers around services (settings: acks_late, prefetch 1, time limits)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError, connection

from competitions.services.dispatch import submissions_dispatch_quietly
from competitions.services.grading import (
    AttemptLost,
    submission_grade,
    submission_requeue_lost,
    submissions_sweep,
)


@shared_task(
    bind=True,
    name="competitions.tasks.grade_submission",
    acks_late=True,
    ignore_result=True,
    max_retries=20,
)
def grade_submission(self: Any, submission_id: str, lost_attempt: int | None = None) -> str:
    try:
        if lost_attempt is not None:
            submission_requeue_lost(submission_id=submission_id, attempt=lost_attempt)
        outcome = submission_grade(submission_id=submission_id)
        submissions_dispatch_quietly()  # this slot is free: send the next submission
        return outcome
    except (AttemptLost, OperationalError, InterfaceError) as e:
        # The database went away: drop the dead connection and try again shortly; the retry puts
        # the lost attempt back in the queue first (a conditional update, so never twice).
        connection.close()
        lost = e.attempt if isinstance(e, AttemptLost) else lost_attempt
        if isinstance(e, AttemptLost) and e.attempt is None:
            lost = lost_attempt
        raise self.retry(
            countdown=3, kwargs={"submission_id": submission_id, "lost_attempt": lost}
        ) from e
    except SoftTimeLimitExceeded:
        # The row stays "running"; the sweeper retries or fails it with the reason.
        return "soft_time_limit"


@shared_task(name="competitions.tasks.sweep_submissions", ignore_result=True)
def sweep_submissions() -> dict[str, int]:
    return submissions_sweep()
