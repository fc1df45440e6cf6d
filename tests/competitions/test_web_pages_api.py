"""Issue 15, the API's gaps and the small things: my submissions, quota left, the public
leaderboard without a token, blank token names, offline API docs, baselines offered to new
competitions, favicon, thousands separators, file names, limits shown to students."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from competitions.models import Competition, Submission
from competitions.services.reference_baselines import (
    baselines_attach_reference,
    reference_baselines_matching,
)
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import submission_create
from competitions.services.tokens import token_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db


def _auth(key):
    return {"authorization": f"Bearer {key}"}


def test_api_lists_my_submissions_everywhere_and_quota_left(client, users, competition, models):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    submission_create(user=users["bob"], competition=competition, upload=upload(models["good"]))
    _, key = token_create(user=users["alice"], name="laptop")
    mine = client.get("/api/submissions", headers=_auth(key))
    assert mine.status_code == 200 and [s["id"] for s in mine.json()] == [str(sub.pk)]
    quota = client.get(f"/api/competitions/{competition.slug}/quota", headers=_auth(key)).json()
    assert (quota["daily_left"], quota["total_left"], quota["blocked"]) == (2, 9, None)
    assert "do not count" in quota["rule"]


def test_public_leaderboard_needs_no_token_but_a_bad_token_is_refused(client, competition):
    url = f"/api/competitions/{competition.slug}/leaderboard"
    assert client.get(url).status_code == 404  # a course competition: not for visitors
    Competition.objects.filter(pk=competition.pk).update(visibility="public")
    board = client.get(url)
    assert board.status_code == 200 and board.json()["split"] == "public"
    refused = client.get(url, headers=_auth("pod_wrong"))
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


def test_blank_token_name_refused_on_the_api_and_the_page(client, users):
    answer = client.post(
        "/api/tokens",
        {"username": "alice", "password": "pw-alice-123", "name": "  "},
        content_type="application/json",
    )
    assert answer.status_code == 400 and answer.json()["code"] == "bad_name"
    client.force_login(users["alice"])
    page = client.post(reverse("competitions:tokens"), {"name": ""}, follow=True).content
    assert b"Give the token a name" in page and not users["alice"].api_tokens.exists()


def test_api_docs_use_local_assets(client):
    page = client.get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page


def test_new_competition_offered_the_matching_reference_baselines(client, users, course, dataset):
    names = {m["name"] for m in reference_baselines_matching(dataset=dataset)}
    assert "mnist_logreg" in names and not any(n.startswith("cifar10") for n in names)
    client.force_login(users["teacher"])
    page = client.get(reverse("competitions:competition_new")).content.decode()
    assert 'name="attach_baselines"' in page and "checked" in page
    form = {
        "course": course.pk,
        "slug": "with-baselines",
        "title": "With baselines",
        "dataset": dataset.pk,
        "metric": "accuracy",
        "public_fraction": 0.5,
        "split_seed": 0,
        "opens_at": "2026-01-01T00:00",
        "closes_at": "2099-01-01T00:00",
        "daily_limit": 5,
        "total_limit": 100,
        "max_team_size": 1,
        "allowed_formats": ["onnx", "npz"],
        "time_limit_s": 60,
        "memory_mb": 3072,
        "visibility": "course",
        "queue": "cpu",
        "attach_baselines": "on",
    }
    page = client.post(reverse("competitions:competition_new"), form, follow=True).content
    competition = Competition.objects.get(slug="with-baselines")
    labels = set(
        Submission.objects.filter(competition=competition, is_baseline=True).values_list(
            "label", flat=True
        )
    )
    assert labels == names and f"{len(names)} reference baselines queued".encode() in page
    assert baselines_attach_reference(competition=competition) == []  # not twice


def test_numbers_names_limits_and_favicon(client, users, competition, models):
    sub = submission_create(
        user=users["alice"],
        competition=competition,
        upload=upload(models["good"], "cnn (final).onnx"),
    )
    Submission.objects.filter(pk=sub.pk).update(
        status="scored", public_score=0.9, private_score=0.9, params=61706, macs=1234567
    )
    standing_refresh_for(submission=sub)
    client.force_login(users["alice"])
    page = client.get(reverse("competitions:submission", args=[sub.pk])).content.decode()
    assert "cnn (final).onnx" in page
    assert "61,706" in page and "1,234,567" in page
    assert re.search(r'<link rel="icon" href="/static/podium/favicon\.svg(\?v=[0-9a-f-]+)?"', page)
    assert finders.find("podium/favicon.svg")
    detail = client.get(reverse("competitions:detail", args=[competition.slug])).content.decode()
    assert "graded within 60 s and 3,072 MB of memory" in detail
    board = client.get(reverse("competitions:leaderboard", args=[competition.slug])).content
    assert b"61,706" in board


def test_submission_list_filters_by_status_and_sorts_by_score(users, competition, models):
    from competitions.selectors.submissions import submission_list_filtered

    subs = [
        submission_create(user=users[u], competition=competition, upload=upload(models["good"]))
        for u in ("alice", "bob", "bob")
    ]
    for sub, score in zip(subs[:2], (0.4, 0.8), strict=True):
        Submission.objects.filter(pk=sub.pk).update(status="scored", public_score=score)
    queued = submission_list_filtered(competition=competition, status="queued")
    assert [s.pk for s in queued] == [subs[2].pk]
    best = submission_list_filtered(competition=competition, sort="best")
    assert [s.pk for s in best][:2] == [subs[1].pk, subs[0].pk]  # unscored last
    assert [
        s.pk for s in submission_list_filtered(competition=competition, q=subs[0].sha256[:8])
    ] != []
    assert submission_list_filtered(competition=competition, q="nobody").count() == 0
