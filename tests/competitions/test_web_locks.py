"""Row locks are taken in one module, in one documented order (competitions/services/locks.py)."""

from __future__ import annotations

import pytest
from django.conf import settings

from competitions.services.locks import lock_competition, lock_entrant


def test_no_row_lock_is_taken_outside_the_locks_module():
    app = settings.BASE_DIR / "competitions"
    takers = [
        str(p.relative_to(app))
        for p in app.rglob("*.py")
        if "select_for_update" in p.read_text() and p.name != "locks.py"
    ]
    assert takers == []


@pytest.mark.django_db
def test_a_lock_outside_a_transaction_is_refused(users, competition):
    # Django runs each test in a transaction: leave it to see a lock that would not hold.
    from django.db import transaction

    connection = transaction.get_connection()
    was = connection.in_atomic_block
    connection.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError):
            lock_entrant(user=users["alice"], team=None)
        with pytest.raises(RuntimeError):
            lock_competition(competition_id=competition.pk)
    finally:
        connection.in_atomic_block = was
