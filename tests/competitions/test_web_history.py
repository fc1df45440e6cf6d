"""Score histories on the competition page: the viewer's own submissions and the top k over
time, replayed from the scored submissions (hand-checked)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from competitions.models import Membership, Submission
from competitions.selectors.history import history_mine, history_top
from competitions.services.submissions import submission_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db
T0 = timezone.now() - dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _carol_enrolled(course, users):
    Membership.objects.create(course=course, user=users["carol"])


def _scored(users, competition, models, user, minute, score, **flags):
    sub = submission_create(
        user=users[user], competition=competition, upload=upload(models["weak"])
    )
    at = T0 + dt.timedelta(minutes=minute)
    Submission.objects.filter(pk=sub.pk).update(
        status="scored", public_score=score, created_at=at, finished_at=at, **flags
    )
    return sub


def _ms(minute):
    return int((T0 + dt.timedelta(minutes=minute)).timestamp() * 1000)


def test_top_k_over_time_keeps_each_entrants_best_and_changes_only(users, competition, models):
    _scored(users, competition, models, "alice", 1, 0.5)
    _scored(users, competition, models, "bob", 2, 0.7)
    _scored(users, competition, models, "alice", 3, 0.4)  # worse than her best: no change
    _scored(users, competition, models, "carol", 4, 0.6)
    _scored(users, competition, models, "alice", 5, 0.9)
    _scored(users, competition, models, "carol", 6, 0.99, disqualified=True)  # not shown
    first, second = history_top(competition=competition, k=2)
    assert first == [
        {"t": _ms(1), "y": 0.5},
        {"t": _ms(2), "y": 0.7},
        {"t": _ms(4), "y": 0.7},
        {"t": _ms(5), "y": 0.9},
    ]
    assert second == [{"t": _ms(2), "y": 0.5}, {"t": _ms(4), "y": 0.6}, {"t": _ms(5), "y": 0.7}]


def test_my_history_and_the_page_carry_the_plots_data(users, competition, models):
    _scored(users, competition, models, "alice", 1, 0.5)
    _scored(users, competition, models, "bob", 2, 0.7)
    _scored(users, competition, models, "alice", 3, 0.4)
    assert history_mine(competition=competition, user=users["alice"], team=None) == [
        {"t": _ms(1), "y": 0.5},
        {"t": _ms(3), "y": 0.4},
    ]
    client = Client()
    client.force_login(users["alice"])
    response = client.get(reverse("competitions:detail", args=[competition.slug]))
    page = response.content.decode()
    assert 'id="history-chart"' in page and "podium/history.js" in page
    assert json.loads(
        page.split('<script id="history-mine" type="application/json">')[1].split("</script>")[0]
    ) == [{"t": _ms(1), "y": 0.5}, {"t": _ms(3), "y": 0.4}]
    assert response.context["history_top"][0][-1] == {"t": _ms(2), "y": 0.7}
