"""The standings table behind the leaderboard: always equal to a recomputation from the
submissions, whatever changed them; the page and the API paginate it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from competitions.models import Membership, Standing, Submission
from competitions.selectors.leaderboard import leaderboard_compute, leaderboard_get
from competitions.services.grading import submission_grade
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import (
    baseline_create,
    submission_choose_final,
    submission_create,
    submission_rescore,
    submission_set_flags,
)
from competitions.services.teams import team_create, team_join
from competitions.services.tokens import token_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _carol_enrolled(course, users):
    Membership.objects.create(course=course, user=users["carol"])


def _snapshot(rows):
    return [
        (r.rank, r.name, r.score, r.submission_id, r.entries, r.is_team, sorted(r.user_ids))
        for r in rows
    ]


def _assert_consistent(competition):
    for private in (False, True):
        assert _snapshot(leaderboard_get(competition=competition, private=private)) == _snapshot(
            leaderboard_compute(competition=competition, private=private)
        ), f"private={private}"


def _score(sub, public, private=None):
    Submission.objects.filter(pk=sub.pk).update(
        status="scored", public_score=public, private_score=public if private is None else private
    )
    standing_refresh_for(submission=sub)  # the update above bypasses the grading service


def test_standings_equal_a_recomputation_after_every_kind_of_change(users, competition, models):
    def make(user, name="weak", **kw):
        return submission_create(
            user=users[user], competition=competition, upload=upload(models[name]), **kw
        )

    a1 = make("alice", "good")
    assert leaderboard_get(competition=competition) == []  # queued: no row yet
    assert submission_grade(submission_id=a1.pk) == "scored"  # the real grading write path
    _assert_consistent(competition)
    a2 = make("alice")
    _assert_consistent(competition)  # a queued entry changes the entry count only
    assert leaderboard_get(competition=competition)[0].entries == 2
    assert submission_grade(submission_id=a2.pk) == "scored"
    team = team_create(competition=competition, user=users["bob"], name="Owls")
    team_join(competition=competition, user=users["carol"], code=team.join_code)
    t1 = make("carol")
    _score(t1, 0.99, 0.10)
    base = baseline_create(
        user=users["teacher"],
        competition=competition,
        upload=upload(models["weak"]),
        label="Logistic baseline",
    )
    assert submission_grade(submission_id=base.pk) == "scored"
    _assert_consistent(competition)
    rows = leaderboard_get(competition=competition)
    owls = {users["bob"].pk, users["carol"].pk}
    assert rows[0].name == "Owls" and rows[0].is_team and rows[0].user_ids == owls
    assert {r.name for r in rows} == {"Owls", "alice", "Logistic baseline"}

    a2.refresh_from_db()
    submission_choose_final(user=users["alice"], submission=a2)  # the weaker one
    _assert_consistent(competition)
    alice = next(r for r in leaderboard_get(competition=competition) if r.name == "alice")
    assert alice.submission_id == str(a2.pk)
    submission_set_flags(submission=t1, hidden=True)
    _assert_consistent(competition)
    assert "Owls" not in [r.name for r in leaderboard_get(competition=competition)]
    submission_set_flags(submission=t1, hidden=False)
    submission_set_flags(submission=base, disqualified=True)
    _assert_consistent(competition)
    assert "Logistic baseline" not in [r.name for r in leaderboard_get(competition=competition)]
    assert submission_rescore(submission=a2)  # its score is gone until graded again
    _assert_consistent(competition)
    alice = next(r for r in leaderboard_get(competition=competition) if r.name == "alice")
    assert alice.submission_id == str(a1.pk)
    assert submission_grade(submission_id=a2.pk) == "scored"
    _assert_consistent(competition)


def test_rebuild_standings_command_repairs_edits_made_behind_the_services(
    users, competition, models
):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["weak"])
    )
    _score(sub, 0.5)
    Submission.objects.filter(pk=sub.pk).update(public_score=0.75)  # e.g. a database shell
    assert leaderboard_get(competition=competition)[0].score == 0.5
    out = io.StringIO()
    call_command("rebuild_standings", competition.slug, stdout=out)
    assert out.getvalue().strip() == "digits: 1 entrants"
    assert leaderboard_get(competition=competition)[0].score == 0.75
    assert Standing.objects.count() == 1


def _entrants(users, competition, models, scores):
    for user, score in zip(("alice", "bob", "carol"), scores, strict=True):
        sub = submission_create(
            user=users[user], competition=competition, upload=upload(models["weak"])
        )
        _score(sub, score)


def test_leaderboard_page_paginates_and_links_to_my_row(users, competition, models, monkeypatch):
    from competitions.views import leaderboard as view

    _entrants(users, competition, models, (0.7, 0.9, 0.8))  # bob 1st, carol 2nd, alice 3rd
    monkeypatch.setattr(view, "PAGE_SIZE", 2)
    client = Client()
    client.force_login(users["alice"])
    url = reverse("competitions:leaderboard", args=[competition.slug])
    first = client.get(url).content.decode()
    assert 'data-name="bob"' in first and 'data-name="carol"' in first
    assert 'data-name="alice"' not in first
    assert "page 1 of 2 (3 entrants)" in first and 'href="?page=2"' in first
    assert "Your entry: <strong>#3</strong> of 3" in first and "go to its page" in first
    second = client.get(url + "?page=2").content.decode()
    assert 'data-name="alice"' in second and 'data-name="bob"' not in second
    assert "go to its page" not in second
    for bad in ("0", "99", "x"):  # the nearest page, never an error
        assert client.get(url + f"?page={bad}").status_code == 200
    assert 'data-name="alice"' in client.get(url + "?page=99").content.decode()


def test_api_leaderboard_pages_with_offset_and_limit(client, users, competition, models):
    _entrants(users, competition, models, (0.7, 0.9, 0.8))
    _, key = token_create(user=users["alice"])
    auth = {"Authorization": f"Bearer {key}"}
    url = f"/api/competitions/{competition.slug}/leaderboard"
    board = client.get(url, {"offset": 1, "limit": 1}, headers=auth).json()
    assert (board["total"], board["offset"], board["limit"]) == (3, 1, 1)
    assert [(r["rank"], r["name"]) for r in board["rows"]] == [(2, "carol")]
    full = client.get(url, headers=auth).json()
    assert [r["name"] for r in full["rows"]] == ["bob", "carol", "alice"]
    assert client.get(url, {"limit": 10**6}, headers=auth).json()["limit"] == 1000


@pytest.mark.django_db(transaction=True)
def test_a_result_and_an_upload_of_one_student_at_once_do_not_deadlock(users, competition, models):
    """A result's transaction holds the competition lock and, at commit, checks its new
    standing's foreign key to the student (a key-share lock); the same student's upload locks
    their row, then waits for the competition lock. With FOR UPDATE on the student that was a
    deadlock on PostgreSQL (found by bench.load); FOR NO KEY UPDATE lets the commit through."""
    import threading
    import time

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row-lock modes are PostgreSQL's; SQLite serializes writers")
    first = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["weak"])
    )
    Submission.objects.filter(pk=first.pk).update(
        status="scored", public_score=0.5, private_score=0.5
    )
    holding = threading.Event()
    errors: list[BaseException] = []

    def result() -> None:
        try:
            with transaction.atomic():
                standing_refresh_for(submission=first)  # competition locked, standing inserted
                holding.set()
                time.sleep(1.0)  # the upload below locks alice and queues on the competition
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    def second_upload() -> None:
        try:
            holding.wait(10)
            submission_create(
                user=users["alice"], competition=competition, upload=upload(models["weak"])
            )
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=result), threading.Thread(target=second_upload)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert not errors, errors
    assert leaderboard_get(competition=competition)[0].entries == 2


def test_an_upload_counts_an_entry_without_comparing_the_rows_predictions_again(
    users, competition, models, monkeypatch
):
    """An upload changes the entries and the last submission, not the scores or the order of the
    rows: no tie flag is recomputed (a grading's are)."""
    from competitions.services import standings

    first = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert submission_grade(submission_id=first.pk) == "scored"
    calls: list[object] = []
    real = standings.ties_refresh
    monkeypatch.setattr(
        standings, "ties_refresh", lambda **kw: calls.append(kw["changed"]) or real(**kw)
    )
    second = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["weak"])
    )
    row = Standing.objects.get(competition=competition, user=users["alice"])
    assert (row.entries, row.submission_id) == (2, first.pk)
    assert row.last_submission == second.created_at
    assert calls == []  # same submission, same place: no flag to recompute
    assert submission_grade(submission_id=second.pk) == "scored"
    assert calls == [{first.pk}]  # a grading compares the row with its neighbours again
