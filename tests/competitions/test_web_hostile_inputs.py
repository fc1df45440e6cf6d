"""Hostile input on the instructor and account pages: formulas in CSV exports, off-site or
malformed `next` targets, revoke ids that are not the user's token. Each gets a safe answer."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from competitions.models import ApiToken, Submission
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import submission_create
from competitions.services.teams import team_create
from competitions.services.tokens import token_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example","x")'


def _scored(user, competition, model, score):
    sub = submission_create(user=user, competition=competition, upload=upload(model))
    Submission.objects.filter(pk=sub.pk).update(
        status="scored", public_score=score, private_score=score
    )
    standing_refresh_for(submission=sub)
    return sub


def _rows(response):
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def teacher(users):
    client = Client()
    client.force_login(users["teacher"])
    return client


def test_exports_quote_formula_text_but_keep_negative_scores_and_ranks_numbers(
    users, competition, models, teacher
):
    alice = users["alice"]
    alice.username, alice.email, alice.first_name = "@alice", "+1@example.org", FORMULA
    alice.save()
    team_create(competition=competition, user=users["bob"], name=FORMULA)
    _scored(alice, competition, models["weak"], -0.5)
    _scored(users["bob"], competition, models["weak"], 0.25)

    slug = competition.slug
    standings = _rows(teacher.get(reverse("competitions:export_standings", args=[slug])))
    by_name = {r["name"]: r for r in standings}
    assert set(by_name) == {"'" + FORMULA, "'@alice"}
    assert by_name["'@alice"]["score"] == "-0.500000"  # a number we wrote: not quoted
    assert [r["rank"] for r in standings] == ["1", "2"]

    grades = {
        r["username"]: r
        for r in _rows(teacher.get(reverse("competitions:export_grades", args=[slug])))
    }
    assert grades["'@alice"]["email"] == "'+1@example.org"
    assert grades["'@alice"]["name"] == "'" + FORMULA
    assert grades["'@alice"]["final_private_score"] == "-0.500000"
    assert grades["bob"]["team"] == "'" + FORMULA
    assert {r["rank"] for r in grades.values()} == {"1", "2"}


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/x",
        "//evil.example/x",
        "///evil.example/x",
        "/\\evil.example/x",
        "http://testserver/teach/",  # absolute, even to this host: only a relative path
        "javascript:alert(1)",
        "competitions:home",  # a URL name was a NoReverseMatch (500)
        "",
    ],
)
def test_submission_action_ignores_a_next_that_is_not_a_path_on_this_site(
    users, competition, models, teacher, target
):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["weak"])
    )
    url = reverse("competitions:submission_action", args=[sub.pk, "hide"])
    response = teacher.post(url, {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("competitions:submission", args=[sub.pk])
    assert Submission.objects.get(pk=sub.pk).hidden


def test_submission_action_follows_a_relative_next(users, competition, models, teacher):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["weak"])
    )
    url = reverse("competitions:submission_action", args=[sub.pk, "hide"])
    target = reverse("competitions:submissions", args=[competition.slug])
    response = teacher.post(url, {"next": target})
    assert response.status_code == 302 and response["Location"] == target


@pytest.mark.parametrize(
    "revoke", ["abc", "", "-1", "0", "1e3", "\uff11", "9" * 30, str(2**63), "theirs"]
)
def test_revoking_a_token_id_that_is_not_yours_says_so_and_revokes_nothing(users, revoke):
    mine, _ = token_create(user=users["alice"], name="mine")
    theirs, _ = token_create(user=users["bob"], name="theirs")
    client = Client()
    client.force_login(users["alice"])
    value = str(theirs.pk) if revoke == "theirs" else revoke
    response = client.post(reverse("competitions:tokens"), {"revoke": value}, follow=True)
    assert response.status_code == 200
    assert "No such token of yours: nothing was revoked." in response.content.decode()
    assert set(ApiToken.objects.values_list("pk", flat=True)) == {mine.pk, theirs.pk}


def test_revoking_your_own_token_removes_it(users):
    mine, _ = token_create(user=users["alice"], name="mine")
    client = Client()
    client.force_login(users["alice"])
    response = client.post(reverse("competitions:tokens"), {"revoke": str(mine.pk)}, follow=True)
    assert "Token revoked." in response.content.decode()
    assert not ApiToken.objects.filter(pk=mine.pk).exists()
