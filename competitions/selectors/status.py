"""The staff status page's reads: queue depth per queue, the oldest waiting submission and its
age, the workers seen lately. Stuck queues are the competitors' most common complaint."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import Coalesce

from competitions.models import Competition, Submission, WorkerSeen

SEEN_WITHIN = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class QueueStatus:
    name: str
    queued: int
    running: int
    oldest: Submission | None
    oldest_wait_s: float | None


def _waiting_since() -> Coalesce:
    return Coalesce("queued_since", "enqueued_at", "created_at")


def queue_status_list(*, now: dt.datetime) -> list[QueueStatus]:
    counts = dict.fromkeys(Competition.Queue.values, (0, 0))
    rows = (
        Submission.objects.filter(status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING])
        .values("competition__queue")
        .annotate(
            queued=Count("pk", filter=Q(status=Submission.Status.QUEUED)),
            running=Count("pk", filter=Q(status=Submission.Status.RUNNING)),
        )
    )
    for row in rows:
        counts[row["competition__queue"]] = (row["queued"], row["running"])
    out = []
    for name, (queued, running) in counts.items():
        oldest = (
            Submission.objects.filter(status=Submission.Status.QUEUED, competition__queue=name)
            .annotate(waiting_since=_waiting_since())
            .select_related("competition", "user")
            .defer("predictions", "result", "log", "public_scores", "private_scores")
            .order_by("waiting_since")
            .first()
        )
        wait = (now - oldest.waiting_since).total_seconds() if oldest else None
        out.append(QueueStatus(name, queued, running, oldest, wait))
    return out


def worker_list_seen(*, now: dt.datetime) -> tuple[list[WorkerSeen], list[WorkerSeen]]:
    """Workers seen within the last minute, and the others (stopped, or stuck)."""
    workers = list(WorkerSeen.objects.order_by("hostname"))
    recent = [w for w in workers if w.last_seen >= now - SEEN_WITHIN]
    return recent, [w for w in workers if w.last_seen < now - SEEN_WITHIN]
