"""The one place that sends work to Celery: tasks are named, never imported.

Services must not import `competitions.tasks` (the tasks import the services: a cycle). A message
sent by name reaches the same task; its options (acks_late, retries) live on the worker's side.

The database holds the grading queue; the broker holds at most one message per free grading
slot (settings.PODIUM_GRADING_SLOTS). `submissions_dispatch` fills the free slots in the fair
order of competitions.selectors.queue when a submission is queued, when a grading ends (the
worker calls it) and when the sweeper runs. A worker whose grading ended first takes the next
submission of its queue itself (`submission_take_next`, same order, same slot count): no round
trip through the broker between two gradings. A message sent twice still grades once: the claim
is a conditional UPDATE (services/grading.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from competitions.models import Submission
from competitions.selectors.queue import in_flight, queue_order
from competitions.services.locks import lock_dispatch

logger = logging.getLogger(__name__)

GRADE_TASK = "competitions.tasks.grade_submission"
LTI_GRADES_TASK = "competitions.tasks.lti_push_grades"
LTI_ROSTERS_TASK = "competitions.tasks.lti_sync_rosters"


def _send_task(name: str, *, args: tuple[object, ...] = (), queue: str, later: str) -> bool:
    """Send one message by task name; a broker that is down is logged with who sends it later."""
    try:
        current_app.send_task(name, args=args, queue=queue, retry=False)
    except Exception as e:  # broker down: `later` says what catches it up
        logger.warning("could not enqueue %s%s (%s); %s", name, args, e, later)
        return False
    return True


def grading_send(*, submission_id: str, queue: str) -> bool:
    """Send the grading message; a broker failure is logged and left to the sweeper."""
    return _send_task(
        GRADE_TASK, args=(submission_id,), queue=queue, later="the sweeper will retry"
    )


def _send(submission_id: uuid.UUID, queue: str, at: dt.datetime) -> None:
    if not grading_send(submission_id=str(submission_id), queue=queue):
        # Not sent: give the slot back so the next dispatch (the sweeper's at the latest) retries.
        Submission.objects.filter(
            pk=submission_id, status=Submission.Status.QUEUED, dispatched_at=at
        ).update(dispatched_at=None)


def _free_slots(queue: str) -> int:
    """Under lock_dispatch: slots of the queue no submission holds (a queue not in
    PODIUM_GRADING_SLOTS has one)."""
    busy = Submission.objects.filter(in_flight(), competition__queue=queue).count()
    return settings.PODIUM_GRADING_SLOTS.get(queue, 1) - busy


def submissions_dispatch(*, queue: str | None = None) -> int:
    """Send the next submissions of the queue (every queue with waiting submissions when None),
    one per free slot, once this transaction commits; returns how many."""
    sent = 0
    waiting = Submission.objects.filter(status=Submission.Status.QUEUED, dispatched_at=None)
    names = [queue] if queue else sorted(set(waiting.values_list("competition__queue", flat=True)))
    for name in names:
        with transaction.atomic():
            lock_dispatch()
            free = _free_slots(name)
            if free <= 0:
                continue
            picks = queue_order(queue=name).waiting[:free]
            now = timezone.now()
            Submission.objects.filter(
                pk__in=picks, status=Submission.Status.QUEUED, dispatched_at__isnull=True
            ).update(dispatched_at=now)
            for pk in picks:
                transaction.on_commit(functools.partial(_send, pk, name, now))
            sent += len(picks)
    return sent


def submission_take_next(*, queue: str, time_left_s: float) -> uuid.UUID | None:
    """For a worker whose grading just ended: the queue's next submission in the dispatcher's
    order, marked as in flight like a sent message, for this worker to grade now; None when
    nothing waits, no slot is free, or the next one's time limit does not fit in `time_left_s`
    (then the worker sends a message instead: a new task, with its whole time limit).

    Nothing is lost if the worker dies holding it: unclaimed, it is given back by the sweeper as
    a lost message is; claimed, it is retried as any lost attempt."""
    with transaction.atomic():
        lock_dispatch()
        if _free_slots(queue) <= 0:
            return None
        picks = queue_order(queue=queue).waiting[:1]
        if not picks:
            return None
        limit = (
            Submission.objects.filter(pk=picks[0])
            .values_list("competition__time_limit_s", flat=True)
            .first()
        )
        if limit is None or limit > time_left_s:
            return None
        taken = Submission.objects.filter(
            pk=picks[0], status=Submission.Status.QUEUED, dispatched_at__isnull=True
        ).update(dispatched_at=timezone.now())
        return picks[0] if taken == 1 else None


def submissions_dispatch_later() -> None:
    """Dispatch once the surrounding transaction commits (a submission was queued in it); once
    per transaction, however many it queued (a rescore of a whole competition)."""
    pending = getattr(transaction.get_connection(), "run_on_commit", [])
    if any(entry[1] is submissions_dispatch_quietly for entry in pending):
        return
    transaction.on_commit(submissions_dispatch_quietly)


def submissions_dispatch_quietly() -> None:
    """`submissions_dispatch`, logging instead of raising (after a grading, after an upload)."""
    try:
        submissions_dispatch()
    except Exception as e:  # the database went away: the sweeper dispatches later
        logger.warning("dispatch failed (%s); the sweeper will retry", e)


def lti_grades_send(*, competition_id: int, actor_id: int | None = None) -> None:
    """Grade passback to the LMS, after a close or an instructor's click (`actor_id`, for the
    audit log); the task retries failed posts itself."""
    _send_task(
        LTI_GRADES_TASK,
        args=(competition_id, actor_id),
        queue="cpu",
        later="`manage.py lti_push_grades` or the hourly pass sends them",
    )


NOTIFY_TASK = "competitions.tasks.send_notifications"


def notifications_send() -> None:
    """Ask a worker to e-mail waiting notifications (the periodic pass catches a lost message)."""
    _send_task(NOTIFY_TASK, queue="cpu", later="the periodic pass sends them")


DEADLINES_TASK = "competitions.tasks.notify_deadlines"


def deadlines_send() -> None:
    """Ask a worker for the reminders and final standings now (e.g. right after a close)."""
    _send_task(DEADLINES_TASK, queue="cpu", later="the periodic pass does it")
