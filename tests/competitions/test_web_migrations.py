"""Migrations use the historical models only: 0002 fills the standings of existing data exactly as
the standings service of the same release computes them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from competitions.models import Standing, Submission
from competitions.services.standings import standings_rebuild
from competitions.services.teams import team_create, team_join


def _rows() -> list[tuple]:
    fields = ("competition_id", "entrant", "submission_id", "name", "public_score", "entries")
    return sorted(Standing.objects.values_list(*fields))


def _migrate(target: str) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("competitions", target)])


def _sub(competition, user, public=None, **fields) -> Submission:
    # Rows written directly: no grading task is sent, so no worker of another test can change
    # them while the migrations run.
    status = "queued" if public is None else "scored"
    return Submission.objects.create(
        competition=competition,
        user=user,
        file="submissions/x.onnx",
        file_format="onnx",
        sha256="0" * 64,
        original_name="m.onnx",
        status=status,
        public_score=public,
        private_score=public,
        **fields,
    )


@pytest.mark.django_db(transaction=True)
def test_0002_fills_the_standings_of_existing_submissions_as_the_service_does(users, competition):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    _sub(competition, alice, 0.7)
    _sub(competition, alice, 0.6)
    _sub(competition, alice)  # alice: her best public score, three entries (one queued)
    team = team_create(competition=competition, user=bob, name="Owls")
    team_join(competition=competition, user=users["teacher"], code=team.join_code)
    _sub(competition, bob, 0.8, team=team)
    _sub(competition, users["teacher"], 0.75, is_baseline=True, label="b")
    _sub(competition, carol)
    _sub(competition, carol, 0.9, hidden=True)  # hidden: no row for carol
    standings_rebuild(competition=competition)
    expected = _rows()
    assert len(expected) == 3  # alice, Owls, the baseline

    # Back to the latest migration afterwards, whatever happens: later tests need every column.
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("competitions")[0][1]
    try:
        _migrate("0001_initial")  # drops the table; the submissions stay
        _migrate("0002_standings")
        assert _rows() == expected
    finally:
        _migrate(latest)
