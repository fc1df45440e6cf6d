"""Each leaderboard row's interval and its tie with the row above, kept in the standings as the
submissions change; the public→private moves after the close; calibration on the page."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from competitions.models import Competition, Membership, Submission
from competitions.selectors.leaderboard import leaderboard_compute, leaderboard_get
from competitions.services.competitions import competition_update
from competitions.services.grading import submission_grade
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import submission_create, submission_set_flags
from competitions.services.ties import ties_refresh
from competitions.services.tokens import token_create
from competitions.significance import bootstrap_ci, correct_pack, correct_unpack
from competitions.splits import split_indices
from testsupport.web import upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _carol_enrolled(course, users):
    Membership.objects.create(course=course, user=users["carol"])


def _splits(competition):
    n = competition.dataset.n_images
    return n, *split_indices(n, competition.public_fraction, competition.split_seed)


def _entry(users, competition, models, user, correct, minutes):
    """A submission whose stored per-image correctness is `correct` (scores to match)."""
    sub = submission_create(
        user=users[user], competition=competition, upload=upload(models["weak"])
    )
    _, public, private = _splits(competition)
    Submission.objects.filter(pk=sub.pk).update(
        status="scored",
        created_at=timezone.now() - dt.timedelta(minutes=minutes),
        public_score=float(correct[public].mean()),
        private_score=float(correct[private].mean()),
        public_ci=bootstrap_ci(correct[public]),
        private_ci=bootstrap_ci(correct[private]),
        correct=correct_pack(correct),
    )
    standing_refresh_for(submission=sub)
    return sub


def _ties(competition, private=False):
    return [
        (r.name, r.tied_with_previous)
        for r in leaderboard_get(competition=competition, private=private)
    ]


def _assert_consistent(competition):
    for private in (False, True):
        stored = leaderboard_get(competition=competition, private=private)
        computed = leaderboard_compute(competition=competition, private=private)
        assert [(r.name, r.tied_with_previous, r.score_ci) for r in stored] == [
            (r.name, r.tied_with_previous, r.score_ci) for r in computed
        ]


def test_each_row_is_tested_against_the_row_above_only_and_ties_are_not_transitive(
    users, competition, models
):
    n, public, _ = _splits(competition)
    a = np.ones(n, dtype=bool)
    b = a.copy()
    b[public[:6]] = False  # a vs b: 6 discordant images, all for a: p = 2/64 < 0.05
    c = b.copy()
    c[public[6:11]] = False  # b vs c: 5 for b: p = 2/32 >= 0.05; a vs c: 11 to 0
    _entry(users, competition, models, "alice", a, 30)
    sub_b = _entry(users, competition, models, "bob", b, 20)
    _entry(users, competition, models, "carol", c, 10)
    assert _ties(competition) == [("alice", False), ("bob", False), ("carol", True)]
    # The private split is identical for all three (every image right): each ties the one above.
    assert _ties(competition, private=True) == [("alice", False), ("bob", True), ("carol", True)]
    _assert_consistent(competition)
    assert ties_refresh(competition_id=competition.pk, changed=()) == 0  # nothing moved

    submission_set_flags(submission=sub_b, disqualified=True)  # carol now sits under alice
    assert _ties(competition) == [("alice", False), ("carol", False)]
    _assert_consistent(competition)
    submission_set_flags(submission=sub_b, disqualified=False)
    assert _ties(competition) == [("alice", False), ("bob", False), ("carol", True)]
    _assert_consistent(competition)


def test_graded_submissions_get_an_interval_ties_and_calibration_on_page_and_api(
    users, competition, models
):
    subs = {
        user: submission_create(
            user=users[user], competition=competition, upload=upload(models[name])
        )
        for user, name in (("alice", "good"), ("bob", "good"), ("carol", "weak"))
    }
    for sub in subs.values():
        assert submission_grade(submission_id=sub.pk) == "scored"  # the real grading path
    rows = leaderboard_get(competition=competition)
    assert [r.name for r in rows][:2] == ["alice", "bob"]  # same model: alice was first
    assert [r.tied_with_previous for r in rows] == [False, True, False]  # weak is far below
    for r in rows:
        low, high = r.score_ci
        assert low <= r.score <= high and high - low > 0.01
    _assert_consistent(competition)

    alice = Submission.objects.get(pk=subs["alice"].pk)
    assert alice.public_scores["score_ci"] == alice.public_ci
    assert 0.0 <= alice.public_scores["ece"] <= 1.0  # the logistic models give probabilities
    assert sum(b["count"] for b in alice.public_scores["reliability"]) == len(
        _splits(competition)[1]
    )

    client = Client()
    client.force_login(users["carol"])
    page = client.get(reverse("competitions:leaderboard", args=[competition.slug])).content.decode()
    assert page.count('<abbr class="tie"') == 1 and "Ties are not transitive" in page
    client.force_login(users["alice"])  # her own submission's page
    detail = client.get(reverse("competitions:submission", args=[alice.pk]))
    assert detail.status_code == 200
    assert (
        'id="public-ci"' in detail.content.decode()
        and 'id="reliability"' in detail.content.decode()
    )
    assert detail.context["reliability"] == alice.public_scores["reliability"]

    _, key = token_create(user=users["carol"])
    board = client.get(
        f"/api/competitions/{competition.slug}/leaderboard",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert [r["tied_with_previous"] for r in board["rows"]] == [False, True, False]
    assert board["rows"][0]["score_ci"] == pytest.approx(rows[0].score_ci)
    assert board["rows"][0]["rank_change"] is None  # before the close


def test_a_split_edit_recomputes_the_intervals_from_the_stored_correctness(
    users, competition, models
):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert submission_grade(submission_id=sub.pk) == "scored"
    before = Submission.objects.get(pk=sub.pk)
    competition_update(competition=competition, user=users["teacher"], values={"split_seed": 99})
    after = Submission.objects.get(pk=sub.pk)
    competition.refresh_from_db()
    n, public, _ = _splits(competition)
    assert after.correct == before.correct  # per image, whatever the split
    correct = correct_unpack(bytes(after.correct), n)
    assert after.public_score == pytest.approx(correct[public].mean())
    assert after.public_ci == bootstrap_ci(correct[public]) != before.public_ci
    assert leaderboard_get(competition=competition)[0].score_ci == after.public_ci


def test_after_the_close_each_entrant_sees_its_move_from_public_to_private(
    users, competition, models
):
    for user, public, private, minutes in (
        ("alice", 0.9, 0.6, 30),
        ("bob", 0.8, 0.9, 20),
        ("carol", 0.7, 0.8, 10),
    ):
        sub = submission_create(
            user=users[user], competition=competition, upload=upload(models["weak"])
        )
        Submission.objects.filter(pk=sub.pk).update(
            status="scored",
            public_score=public,
            private_score=private,
            created_at=timezone.now() - dt.timedelta(minutes=minutes),
        )
        standing_refresh_for(submission=sub)
    Competition.objects.filter(pk=competition.pk).update(closed=True)
    competition.refresh_from_db()
    rows = leaderboard_get(competition=competition)
    assert [(r.name, r.rank_change) for r in rows] == [("bob", 1), ("carol", 1), ("alice", -2)]
    assert [round(r.score_change, 6) for r in rows] == [0.1, 0.1, -0.3]

    client = Client()
    client.force_login(users["alice"])
    response = client.get(reverse("competitions:leaderboard", args=[competition.slug]))
    page = response.content.decode()
    assert '<td class="moved">-2</td>' in page and '<td class="moved">+1</td>' in page
    assert response.context["shakeup"][2] == {
        "x": 1,
        "y": 3,
        "name": "alice",
        "score_change": pytest.approx(-0.3),
    }
    assert 'id="shakeup-chart"' in page
