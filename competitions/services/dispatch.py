"""The one place that sends work to Celery: tasks are named, never imported.

Services must not import `competitions.tasks` (the tasks import the services: a cycle). A message
sent by name reaches the same task; its options (acks_late, retries) live on the worker's side.
"""

from __future__ import annotations

import logging

from celery import current_app

logger = logging.getLogger(__name__)

GRADE_TASK = "competitions.tasks.grade_submission"
LTI_GRADES_TASK = "competitions.tasks.lti_push_grades"
LTI_ROSTERS_TASK = "competitions.tasks.lti_sync_rosters"


def grading_send(*, submission_id: str, queue: str) -> None:
    """Send the grading message; a broker failure is logged and left to the sweeper."""
    try:
        current_app.send_task(GRADE_TASK, args=(submission_id,), queue=queue, retry=False)
    except Exception as e:  # broker down: the sweeper sends it again later
        logger.warning("could not enqueue %s (%s); the sweeper will retry", submission_id, e)


def lti_grades_send(*, competition_id: int, actor_id: int | None = None) -> None:
    """Grade passback to the LMS, after a close or an instructor's click (`actor_id`, for the
    audit log); the task retries failed posts itself."""
    try:
        current_app.send_task(
            LTI_GRADES_TASK, args=(competition_id, actor_id), queue="cpu", retry=False
        )
    except Exception as e:  # broker down: `manage.py lti_push_grades` or the next close sends it
        logger.warning("could not enqueue the LMS grades of %s (%s)", competition_id, e)


NOTIFY_TASK = "competitions.tasks.send_notifications"


def notifications_send() -> None:
    """Ask a worker to e-mail waiting notifications (the periodic pass catches a lost message)."""
    try:
        current_app.send_task(NOTIFY_TASK, queue="cpu", retry=False)
    except Exception as e:  # broker down: the periodic pass sends them later
        logger.warning("could not ask for notification e-mails (%s); the periodic pass will", e)


DEADLINES_TASK = "competitions.tasks.notify_deadlines"


def deadlines_send() -> None:
    """Ask a worker for the reminders and final standings now (e.g. right after a close)."""
    try:
        current_app.send_task(DEADLINES_TASK, queue="cpu", retry=False)
    except Exception as e:  # broker down: the periodic pass does it later
        logger.warning("could not ask for the deadline notifications (%s)", e)
