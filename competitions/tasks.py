"""Celery tasks: thin wrappers around services (settings: acks_late, prefetch 1, time limits)."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from competitions.services.grading import submission_grade, submissions_sweep


@shared_task(name="competitions.tasks.grade_submission", acks_late=True, ignore_result=True)
def grade_submission(submission_id: str) -> str:
    try:
        return submission_grade(submission_id=submission_id)
    except SoftTimeLimitExceeded:
        # The row stays "running"; the sweeper retries or fails it with the reason.
        return "soft_time_limit"


@shared_task(name="competitions.tasks.sweep_submissions", ignore_result=True)
def sweep_submissions() -> dict[str, int]:
    return submissions_sweep()
