"""The grading queue's order, a queued submission's place in it, and its expected wait.

Fair share: round-robin by entrant, oldest first within an entrant. Each submission gets a
round when it is queued (`queue_round_for`): one more than its entrant's latest pending
submission, but never below the round being served now (the highest round in flight). Waiting
submissions go by (rescore, round, created_at): another entrant's first submission is served
within the current round, before a burst's next one (at most one grading per slot later),
and a lone entrant's burst still fills every slot. Staff rescores come after every student
submission. Submissions already sent (`dispatched_at`) are ahead of all waiting ones. This is
start-time fair queuing with unit cost per submission (Goyal, Vin and Cheng, SIGCOMM 1996).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Max, Q

from competitions.models import Submission

S = Submission.Status


def in_flight() -> Q:
    """Submissions holding a grading slot: sent to a worker and not finished."""
    return Q(status=S.RUNNING) | Q(status=S.QUEUED, dispatched_at__isnull=False)


@dataclass(frozen=True)
class QueueOrder:
    sent: list[uuid.UUID]  # sent to a worker, not started (oldest message first)
    waiting: list[uuid.UUID]  # not sent yet, in the order they will be

    @property
    def ahead(self) -> list[uuid.UUID]:
        return self.sent + self.waiting


def _pending(queue: str) -> Any:
    return Submission.objects.filter(in_flight() | Q(status=S.QUEUED), competition__queue=queue)


def _same_entrant(sub: Submission) -> Q:
    if sub.is_baseline:
        return Q(pk=sub.pk)
    if sub.team_id:
        return Q(competition_id=sub.competition_id, team_id=sub.team_id, is_baseline=False)
    return Q(
        competition_id=sub.competition_id,
        user_id=sub.user_id,
        team__isnull=True,
        is_baseline=False,
    )


def queue_round_for(*, submission: Submission) -> int:
    """The round a submission being queued joins (see the module)."""
    pending = _pending(submission.competition.queue).exclude(pk=submission.pk)
    current = pending.filter(in_flight()).aggregate(m=Max("queue_round"))["m"] or 0
    last = pending.filter(_same_entrant(submission)).aggregate(m=Max("queue_round"))["m"]
    return max(current, 0 if last is None else last + 1)


def queue_order(*, queue: str) -> QueueOrder:
    """The queue's submissions in the order they get a worker (one query)."""
    rows = list(
        _pending(queue)
        .filter(status=S.QUEUED)
        .values("pk", "created_at", "dispatched_at", "is_rescore", "queue_round")
    )
    sent = sorted(
        (r for r in rows if r["dispatched_at"]), key=lambda r: (r["dispatched_at"], r["created_at"])
    )
    fifo = settings.PODIUM_QUEUE_ORDER == "fifo"  # arrival order: for comparison (bench.rush)
    waiting = sorted(
        (r for r in rows if not r["dispatched_at"]),
        key=lambda r: (
            (r["created_at"], str(r["pk"]))
            if fifo
            else (r["is_rescore"], r["queue_round"], r["created_at"], str(r["pk"]))
        ),
    )
    return QueueOrder(sent=[r["pk"] for r in sent], waiting=[r["pk"] for r in waiting])


def grading_seconds(*, queue: str) -> float | None:
    """Mean wall time of the queue's recent gradings (None before the first)."""
    recent = (
        Submission.objects.filter(
            competition__queue=queue,
            status__in=(S.SCORED, S.FAILED),
            started_at__isnull=False,
            finished_at__isnull=False,
        )
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[: settings.PODIUM_ETA_SAMPLE]
    )
    spans = [(end - start).total_seconds() for start, end in recent if start and end]
    spans = [s for s in spans if s >= 0]
    return sum(spans) / len(spans) if spans else None


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1: the next to start
    eta_s: float | None  # seconds until it starts, estimated from recent gradings


def queue_places(*, submissions: Iterable[Submission]) -> dict[uuid.UUID, QueuePlace]:
    """Where each queued submission stands (others are left out); one order per queue."""
    places = {}
    orders: dict[str, tuple[list[uuid.UUID], float | None]] = {}
    for sub in submissions:
        if sub.status != S.QUEUED:
            continue
        queue = sub.competition.queue
        if queue not in orders:
            orders[queue] = (queue_order(queue=queue).ahead, grading_seconds(queue=queue))
        ahead, per = orders[queue]
        position = ahead.index(sub.pk) + 1 if sub.pk in ahead else len(ahead) + 1
        slots = settings.PODIUM_GRADING_SLOTS.get(queue, 1)
        # Each slot takes one submission per grading; the running ones are half done on average.
        eta = None if per is None else max(0.0, per * (math.ceil(position / slots) - 0.5))
        places[sub.pk] = QueuePlace(position=position, eta_s=eta)
    return places


def queue_place(*, submission: Submission) -> QueuePlace | None:
    """Where a queued submission stands (None unless it is queued)."""
    return queue_places(submissions=[submission]).get(submission.pk)
