"""Competition create and edit go through services: an edited split is rescored from the stored
predictions (no model runs), a changed dataset queues every submission again; pages and admin
use the same services."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from competitions.dataset_cache import dataset_load
from competitions.errors import ServiceError
from competitions.models import Competition, Submission
from competitions.selectors.leaderboard import leaderboard_compute, leaderboard_get
from competitions.services.competitions import competition_create, competition_update
from competitions.services.datasets import dataset_import
from competitions.services.grading import submission_grade
from competitions.services.submissions import baseline_create, submission_create
from competitions.splits import split_indices
from grader.metrics import compute_scores
from testsupport.web import upload

pytestmark = pytest.mark.django_db


def _assert_standings_match_a_recomputation(competition: Competition) -> None:
    competition.refresh_from_db()
    for private in (False, True):
        stored = leaderboard_get(competition=competition, private=private)
        computed = leaderboard_compute(competition=competition, private=private)
        assert [r.to_dict() for r in stored] == [r.to_dict() for r in computed]


def _graded(users, competition, models, who="alice", name="good") -> Submission:
    sub = submission_create(user=users[who], competition=competition, upload=upload(models[name]))
    assert submission_grade(submission_id=sub.pk) == "scored"
    sub.refresh_from_db()
    return sub


def test_instructor_needs_a_course_staff_does_not(users, dataset):
    values = {
        "slug": "free",
        "title": "Free",
        "dataset": dataset,
        "closes_at": timezone.now() + dt.timedelta(days=1),
    }
    with pytest.raises(ServiceError) as refused:
        competition_create(user=users["teacher"], values=values)
    assert refused.value.code == "course_required"
    staff = get_user_model().objects.create_user("root", is_staff=True)
    made = competition_create(user=staff, values=values)
    assert made.created_by == staff and made.course is None


def test_split_edit_recomputes_scores_from_predictions_as_grading_again_would(
    users, competition, models, monkeypatch
):
    first = _graded(users, competition, models)
    bob = _graded(users, competition, models, who="bob", name="weak")
    base = baseline_create(
        user=users["teacher"], competition=competition, upload=upload(models["good"]), label="b"
    )
    assert submission_grade(submission_id=base.pk) == "scored"
    old_public = first.public_scores
    monkeypatch.setattr("competitions.services.grading.grade", None)  # no model may run now

    change = competition_update(
        competition=competition,
        user=users["teacher"],
        values={"public_fraction": 0.3, "split_seed": 99},
    )

    assert change.split_rescored == 3 and change.requeued == 0
    first.refresh_from_db()
    labels = dataset_load(record=competition.dataset).labels
    public, private = split_indices(len(labels), 0.3, 99)
    preds = np.frombuffer(bytes(first.predictions), dtype=np.int16)
    assert first.public_scores["n_images"] == len(public) != old_public["n_images"]
    assert first.public_score == compute_scores(labels[public], preds[public])["accuracy"]
    assert first.private_score == compute_scores(labels[private], preds[private])["accuracy"]
    _assert_standings_match_a_recomputation(competition)

    monkeypatch.undo()  # the same model graded afresh under the new split scores the same
    again = _graded(users, competition, models, who="carol")
    for field in ("public_score", "private_score"):
        assert getattr(again, field) == getattr(first, field)
    assert again.public_scores["confusion"] == first.public_scores["confusion"]
    bob.refresh_from_db()
    assert bob.public_scores["n_images"] == len(public)


def test_dataset_change_queues_every_submission_for_rescoring(
    users, competition, models, heldout_npz
):
    sub = _graded(users, competition, models)
    copy = dataset_import(path=heldout_npz, name="MNIST copy")

    change = competition_update(
        competition=competition, user=users["teacher"], values={"dataset": copy}
    )

    assert change.requeued == 1
    sub.refresh_from_db()
    assert sub.status == Submission.Status.QUEUED and sub.public_score is None
    assert leaderboard_get(competition=competition) == []
    _assert_standings_match_a_recomputation(competition)
    assert submission_grade(submission_id=sub.pk) == "scored"  # graded on the new dataset
    _assert_standings_match_a_recomputation(competition)


def test_split_or_dataset_edit_refused_while_a_submission_is_being_graded(
    users, competition, models
):
    sub = _graded(users, competition, models)
    Submission.objects.filter(pk=sub.pk).update(status=Submission.Status.RUNNING)
    with pytest.raises(ServiceError) as refused:
        competition_update(competition=competition, user=users["teacher"], values={"split_seed": 1})
    assert refused.value.code == "grading_in_progress"
    assert Competition.objects.get(pk=competition.pk).split_seed == 7
    # Other edits do not touch the scores and go through.
    competition.refresh_from_db()
    competition_update(competition=competition, user=users["teacher"], values={"title": "New"})
    assert Competition.objects.get(pk=competition.pk).title == "New"


def test_edit_page_saves_through_the_service_and_says_what_was_recomputed(
    client, users, competition, models
):
    _graded(users, competition, models)
    client.force_login(users["teacher"])
    url = reverse("competitions:competition_edit", args=[competition.slug])
    form = client.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and k != "id"}
    data |= {
        "course": competition.course_id,
        "dataset": competition.dataset_id,
        "split_seed": 123,
        "opens_at": timezone.localtime(competition.opens_at).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": timezone.localtime(competition.closes_at).strftime("%Y-%m-%dT%H:%M"),
    }
    page = client.post(url, data, follow=True).content.decode()
    assert "Split scores of 1 submissions recomputed." in page
    assert Competition.objects.get(pk=competition.pk).split_seed == 123
    _assert_standings_match_a_recomputation(competition)


def test_admin_save_goes_through_the_service(users, competition, models):
    first = _graded(users, competition, models)
    staff = get_user_model().objects.create_superuser("root", "root@example.org", "pw-root-123")
    request = RequestFactory().post("/admin/")
    request.user = staff
    request._messages = SimpleNamespace(add=lambda *a, **k: None)  # type: ignore[attr-defined]
    model_admin = admin.site._registry[Competition]
    competition.public_fraction = 0.25  # as the admin's form leaves the instance
    form = SimpleNamespace(cleaned_data={"public_fraction": 0.25, "title": competition.title})
    model_admin.save_model(request, competition, form, change=True)
    first.refresh_from_db()
    n_public = len(split_indices(len(first.predictions) // 2, 0.25, 7)[0])
    assert first.public_scores["n_images"] == n_public
    _assert_standings_match_a_recomputation(competition)
