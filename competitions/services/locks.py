"""Every row lock the services take, in one place and one order.

Order: the entrant first (the team, or the student alone), then submissions, then the
competition. A transaction that holds a lock never asks for one earlier in this order, so writers
can only wait on each other in one direction and no cycle of row locks can form. The grading
write follows it too: its conditional UPDATE locks the submission row, then the standings refresh
locks the competition.

Mode: FOR NO KEY UPDATE, never FOR UPDATE. Django's foreign-key constraints are deferred, so every
transaction that inserts a row pointing at a competition, a team or a user takes a key-share lock
on that row at commit. FOR UPDATE conflicts with key-share and closed a cycle on PostgreSQL (an
upload held its student FOR UPDATE while a result holding the competition lock needed key-share
on the same student: f9c6d21); FOR NO KEY UPDATE serializes the lock holders themselves just the
same and lets those commits through. SQLite has no row locks: its IMMEDIATE transactions
serialize writers, and these calls are no-ops there.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import models, transaction

from competitions.models import Competition, Submission, Team


def _lock_row(model: type[models.Model], pk: int) -> None:
    # Outside a transaction the lock would be released at once (and Django refuses it).
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("row locks are taken inside transaction.atomic()")
    list(model._default_manager.select_for_update(no_key=True).filter(pk=pk).values_list("pk"))


def lock_entrant(*, user: User, team: Team | None) -> None:
    """One write of an entrant at a time (their uploads, a team's joins); take it before
    `lock_competition` in the same transaction."""
    if team is not None:
        _lock_row(Team, team.pk)
    else:
        _lock_row(get_user_model(), user.pk)


def lock_submissions_queued(*, competition_id: int) -> int:
    """A competition's queued submissions: a worker's claim of one of them waits until this
    transaction ends, and then reads what it committed (used when a settings change must reach
    every grading that has not started). Returns how many were locked."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("row locks are taken inside transaction.atomic()")
    queued = Submission.objects.filter(
        competition_id=competition_id, status=Submission.Status.QUEUED
    )
    return len(queued.select_for_update(no_key=True).values_list("pk"))


def lock_competition(*, competition_id: int) -> None:
    """Serializes the writes of one competition's standings and settings; taken last."""
    _lock_row(Competition, competition_id)


def lock_user_tokens(*, user: User) -> None:
    """One creation of a user's API tokens at a time, so two cannot both pass the per-user cap.
    The user's row (the same row as `lock_entrant` for a student alone); token creation takes
    no other lock in its transaction."""
    _lock_row(get_user_model(), user.pk)


_DISPATCH_LOCK = 0x506F6469  # "Podi": PostgreSQL advisory lock key of the dispatcher


def lock_dispatch() -> None:
    """One dispatcher at a time (it counts the messages in flight, then sends more), so two
    cannot both fill the same free slot. A transaction-scoped advisory lock on PostgreSQL, taken
    in a transaction of its own that takes no other lock; SQLite's IMMEDIATE transactions
    already serialize it."""
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        raise RuntimeError("the dispatch lock is taken inside transaction.atomic()")
    if conn.vendor == "postgresql":
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DISPATCH_LOCK])
