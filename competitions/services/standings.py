"""The standings table: one leaderboard row per entrant, rewritten whenever one of the entrant's
submissions changes in a way the leaderboard shows (created, scored, rescored, chosen, hidden,
disqualified, deleted), with the tie flags of the rows around it (competitions.services.ties).

Every refresh runs inside the transaction of the write that caused it and first locks the
competition's row (competitions.services.locks, taken last in the lock order): refreshes of one competition are serialized, and each one
reads the submissions after the previous one committed, so two workers finishing two submissions
of the same student at once cannot leave a stale row (PostgreSQL: row lock, then READ COMMITTED sees
both; SQLite: transactions are IMMEDIATE, writers are serialized anyway).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Greatest

from competitions.events import channel_competition, events_publish
from competitions.models import Competition, Standing, Submission
from competitions.selectors.leaderboard import entrant_rows, standing_fields
from competitions.services.locks import lock_competition
from competitions.services.ties import ties_refresh


def entrant_key(*, submission_id: Any, is_baseline: bool, team_id: int | None, user_id: int) -> str:
    if is_baseline:
        return f"b:{submission_id}"
    return f"t:{team_id}" if team_id else f"u:{user_id}"


def _entrant_filter(key: str) -> Q:
    kind, _, value = key.partition(":")
    if kind == "b":
        return Q(pk=uuid.UUID(value), is_baseline=True)
    if kind == "t":
        return Q(team_id=int(value), is_baseline=False)
    return Q(user_id=int(value), team__isnull=True, is_baseline=False)


def standing_refresh(*, competition_id: int, entrant: str) -> None:
    """Recompute one entrant's row from its submissions (no row while none is scored), and the
    tie flags around it. (An upload only counts an entry: standing_count_upload.)"""
    with transaction.atomic():
        lock_competition(competition_id=competition_id)
        events_publish(channel_competition(competition_id))  # on commit: open boards reload
        row = entrant_rows(competition_id=competition_id, where=_entrant_filter(entrant)).first()
        if row is None or not row["scored"]:
            gone, _ = Standing.objects.filter(
                competition_id=competition_id, entrant=entrant
            ).delete()
            if gone:  # the rows below it have another neighbour now
                ties_refresh(competition_id=competition_id, changed=())
            return
        Standing.objects.update_or_create(
            competition_id=competition_id, entrant=entrant, defaults=standing_fields(row)
        )
        ties_refresh(competition_id=competition_id, changed={row["id"]})


def _entrant_of(submission: Submission) -> str:
    return entrant_key(
        submission_id=submission.pk,
        is_baseline=submission.is_baseline,
        team_id=submission.team_id,
        user_id=submission.user_id,
    )


def standing_refresh_for(*, submission: Submission) -> None:
    """Refresh the row of the entrant a submission belongs to (standing_refresh)."""
    standing_refresh(competition_id=submission.competition_id, entrant=_entrant_of(submission))


def standing_count_upload(*, submission: Submission) -> None:
    """A new upload: its entrant's row, if there is one, counts one more entry and a later last
    submission, in one UPDATE. Nothing else of the row can change: a queued submission is never
    chosen over a scored one (selectors.leaderboard._entries), and without a scored one there is
    no row. The whole recomputation (standing_refresh) took 7-13 ms of each upload's
    transaction, on the single writer SQLite shares with the workers (measured in-process)."""
    with transaction.atomic():
        lock_competition(competition_id=submission.competition_id)  # as standing_refresh
        changed = Standing.objects.filter(
            competition_id=submission.competition_id, entrant=_entrant_of(submission)
        ).update(
            entries=F("entries") + 1,
            last_submission=Greatest(
                F("last_submission"), Value(submission.created_at, output_field=DateTimeField())
            ),
        )
        if changed:
            events_publish(channel_competition(submission.competition_id))


def standings_rebuild(*, competition: Competition) -> int:
    """Rewrite every row of a competition from its submissions; returns the number of rows."""
    with transaction.atomic():
        lock_competition(competition_id=competition.pk)
        events_publish(channel_competition(competition.pk))
        Standing.objects.filter(competition=competition).delete()
        rows = [
            Standing(
                competition=competition,
                entrant=entrant_key(
                    submission_id=r["id"],
                    is_baseline=r["is_baseline"],
                    team_id=r["team_id"],
                    user_id=r["user_id"],
                ),
                **standing_fields(r),
            )
            for r in entrant_rows(competition_id=competition.pk)
            if r["scored"]
        ]
        Standing.objects.bulk_create(rows, batch_size=500)
        ties_refresh(competition_id=competition.pk)
    return len(rows)
