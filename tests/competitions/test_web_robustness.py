"""The robustness track: corrupted copies of held-out images graded in the same run as the clean
score, split back, scored per split and corruption, shown on the leaderboard (a column and a
sorted view), in the API and on the submission page."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from competitions.dataset_cache import dataset_load, robustness_load
from competitions.models import Competition, Membership, Submission
from competitions.selectors.leaderboard import leaderboard_get
from competitions.services.competitions import competition_update
from competitions.services.grading import submission_grade
from competitions.services.submissions import submission_create
from competitions.services.tokens import token_create
from competitions.splits import split_indices
from grader.corruptions import CORRUPTIONS
from testsupport.web import upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _robust(course, users, competition):
    Membership.objects.create(course=course, user=users["carol"])
    Competition.objects.filter(pk=competition.pk).update(robustness=True)
    competition.refresh_from_db()


def test_grading_scores_the_corrupted_copies_per_split_in_the_same_run(users, competition, models):
    subs = {
        user: submission_create(
            user=users[user], competition=competition, upload=upload(models[name])
        )
        for user, name in (("alice", "good"), ("bob", "weak"))
    }
    for sub in subs.values():
        assert submission_grade(submission_id=sub.pk) == "scored"
    alice = Submission.objects.get(pk=subs["alice"].pk)
    n = competition.dataset.n_images
    # The clean result is the clean images' alone: predictions, image count, accuracy.
    assert len(alice.predictions) == 2 * n and alice.result["n_images"] == n
    ds = dataset_load(record=competition.dataset)
    preds = np.frombuffer(bytes(alice.predictions), dtype=np.int16)
    assert alice.result["accuracy"] == pytest.approx(float((preds == ds.labels).mean()))
    # Robustness per split, from the corrupted copies of that split's images.
    robust, source, kind = robustness_load(record=competition.dataset, seed=competition.split_seed)
    public, _ = split_indices(n, competition.public_fraction, competition.split_seed)
    for split in ("public", "private"):
        per = alice.robust_scores[split]["per_corruption"]
        # (jsonb keeps no key order: the page orders them by CORRUPTIONS itself)
        assert sorted(per) == sorted(CORRUPTIONS) and all(0.0 <= v <= 1.0 for v in per.values())
        assert alice.robust_scores[split]["mean"] == pytest.approx(np.mean(list(per.values())))
    assert alice.public_robust == alice.robust_scores["public"]["mean"]
    assert np.isin(source[kind == 0], public).any() and len(robust) == len(source)

    rows = leaderboard_get(competition=competition)
    assert {r.name: r.robust_accuracy for r in rows} == {
        "alice": alice.public_robust,
        "bob": Submission.objects.get(pk=subs["bob"].pk).public_robust,
    }
    client = Client()
    client.force_login(users["carol"])
    url = reverse("competitions:leaderboard", args=[competition.slug])
    page = client.get(url).content.decode()
    assert "Robust accuracy</a>" in page and 'class="robust"' in page
    by_robust = client.get(url, {"sort": "robust"})
    expected = sorted(rows, key=lambda r: -(r.robust_accuracy or 0))
    assert [r.name for r in by_robust.context["rows"]] == [r.name for r in expected]
    _, key = token_create(user=users["carol"])
    board = client.get(
        f"/api/competitions/{competition.slug}/leaderboard",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert {r["name"]: r["robust_accuracy"] for r in board["rows"]}["alice"] == alice.public_robust

    client.force_login(users["alice"])
    detail = client.get(reverse("competitions:submission", args=[alice.pk])).content.decode()
    assert "Robustness (public split)" in detail and "gaussian_noise" in detail
    assert 'data-testid="robust-accuracy">' + f"{alice.public_robust:.4f}" in detail


def test_the_corrupted_set_is_cached_by_content_hash_and_seed(competition):
    first = robustness_load(record=competition.dataset, seed=5)
    again = robustness_load(record=competition.dataset, seed=5)  # from the cache file
    assert np.array_equal(first[0].images, again[0].images)
    assert np.array_equal(first[1], again[1]) and np.array_equal(first[2], again[2])
    assert not np.array_equal(first[1], robustness_load(record=competition.dataset, seed=6)[1])


def test_turning_the_track_on_grades_every_submission_again(users, competition, models):
    Competition.objects.filter(pk=competition.pk).update(robustness=False)
    competition.refresh_from_db()
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["weak"])
    )
    assert submission_grade(submission_id=sub.pk) == "scored"
    assert Submission.objects.get(pk=sub.pk).robust_scores is None
    change = competition_update(
        competition=competition, user=users["teacher"], values={"robustness": True}
    )
    assert change.requeued == 1
    assert Submission.objects.get(pk=sub.pk).status == "queued"
