"""Worker heartbeats, and the e-mail to staff when a submission has waited too long in a queue
(staff should know before the students do). The check runs with the periodic sweeper."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from competitions.models import StaffAlert, WorkerSeen
from competitions.selectors.status import queue_status_list

logger = logging.getLogger(__name__)


def worker_heartbeat(*, hostname: str, queues: str, now: dt.datetime | None = None) -> None:
    WorkerSeen.objects.update_or_create(
        hostname=hostname[:200],
        defaults={"queues": queues[:200], "last_seen": now or timezone.now()},
    )


def queue_alert_check(*, now: dt.datetime | None = None) -> str | None:
    """Mail the staff when the oldest queued submission has waited longer than
    PODIUM_QUEUE_ALERT_AFTER_S, at most once per PODIUM_QUEUE_ALERT_EVERY_S; the message sent."""
    now = now or timezone.now()
    limit = settings.PODIUM_QUEUE_ALERT_AFTER_S
    late = [q for q in queue_status_list(now=now) if (q.oldest_wait_s or 0) > limit]
    if not late:
        return None
    recipients = list(
        User.objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return None
    lines = [
        f"Queue {q.name}: {q.queued} waiting; the oldest ({q.oldest.original_name if q.oldest else '?'}, "
        f"{q.oldest.competition.slug if q.oldest else '?'}) has waited "
        f"{int((q.oldest_wait_s or 0) // 60)} min, over the {limit // 60} min alert limit."
        for q in late
    ]
    message = "\n".join(
        [*lines, "", "Are the workers for these queues running? See /teach/status/."]
    )
    # One mail per interval, even with several sweepers: a conditional UPDATE claims the turn
    # (as grading claims a submission), and the unique `kind` makes the first row one only.
    every = dt.timedelta(seconds=settings.PODIUM_QUEUE_ALERT_EVERY_S)
    with transaction.atomic():
        claimed = StaffAlert.objects.filter(kind="queue_wait", sent_at__lte=now - every).update(
            sent_at=now, message=message
        )
        if not claimed:
            _, created = StaffAlert.objects.get_or_create(
                kind="queue_wait", defaults={"sent_at": now, "message": message}
            )
            if not created:
                return None
    send_mail("[Podium] submissions are waiting in the queue", message, None, recipients)
    logger.warning("queue alert sent to %d staff: %s", len(recipients), lines[0])
    return message
