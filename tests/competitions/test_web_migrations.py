"""Migrations use the historical models only: 0002 fills the standings of existing data exactly as
the standings service of the same release computes them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from podium_testing import upload

from competitions.models import Standing, Submission
from competitions.services.standings import standing_refresh_for, standings_rebuild
from competitions.services.submissions import baseline_create, submission_create
from competitions.services.teams import team_create, team_join


def _rows() -> list[tuple]:
    fields = ("competition_id", "entrant", "submission_id", "name", "public_score", "entries")
    return sorted(Standing.objects.values_list(*fields))


def _migrate(target: str) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("competitions", target)])


@pytest.mark.django_db(transaction=True)
def test_0002_fills_the_standings_of_existing_submissions_as_the_service_does(
    users, competition, models
):
    def scored(sub: Submission, public: float) -> None:
        Submission.objects.filter(pk=sub.pk).update(
            status="scored", public_score=public, private_score=public
        )
        standing_refresh_for(submission=sub)

    a = [
        submission_create(user=users["alice"], competition=competition, upload=upload(models[m]))
        for m in ("weak", "good", "weak")
    ]
    scored(a[0], 0.7)
    scored(a[1], 0.6)  # alice's row: her best public score (0.7), three entries (one queued)
    team = team_create(competition=competition, user=users["bob"], name="Owls")
    team_join(competition=competition, user=users["teacher"], code=team.join_code)
    scored(
        submission_create(
            user=users["bob"], competition=competition, upload=upload(models["weak"])
        ),
        0.8,
    )
    base = baseline_create(
        user=users["teacher"], competition=competition, upload=upload(models["weak"]), label="b"
    )
    scored(base, 0.75)
    submission_create(user=users["carol"], competition=competition, upload=upload(models["weak"]))
    standings_rebuild(competition=competition)
    expected = _rows()
    assert len(expected) == 3  # alice, Owls, the baseline; carol has nothing scored

    _migrate("0001_initial")  # drops the table; the submissions stay
    _migrate("0002_standings")
    assert _rows() == expected
