"""End to end through a real Celery worker process, the real engine and a real database."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from competitions.models import Submission
from competitions.services.grading import submissions_sweep
from competitions.services.submissions import submission_create, submission_rescore
from competitions.splits import split_indices
from competitions.tasks import grade_submission
from grader.metrics import compute_scores
from testsupport.mnist import fit_logreg, logreg_onnx
from testsupport.web import upload, wait_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_web_submit_is_graded_by_the_worker(client, users, competition, models, celery_worker):
    client.force_login(users["alice"])
    response = client.post(
        reverse("competitions:submit", args=[competition.slug]),
        {"file": upload(models["good"], "my model.onnx"), "preprocess": "unit", "note": "first"},
    )
    assert response.status_code == 302
    sub = Submission.objects.get(user=users["alice"])
    assert response["Location"] == reverse("competitions:submission", args=[sub.pk])
    assert sub.status in ("queued", "running", "scored")
    assert sub.original_name == "my model.onnx"
    assert sub.file.name.startswith(f"submissions/{competition.pk}/")
    assert "my model" not in sub.file.name  # stored under a UUID name

    sub = wait_done(sub.pk)
    assert sub.status == "scored", (sub.error_code, sub.error_message, sub.log)
    assert sub.attempts == 1
    assert 0.5 < sub.public_score <= 1.0 and 0.5 < sub.private_score <= 1.0
    assert sub.params == 784 * 10 + 10

    # The split scores are the engine's per-image predictions scored on the seeded split.
    preds = np.frombuffer(bytes(sub.predictions), dtype=np.int16).astype(np.int64)
    from competitions.dataset_cache import dataset_load

    ds = dataset_load(record=competition.dataset)
    public, private = split_indices(len(ds.labels), 0.5, 7)
    assert sub.public_score == pytest.approx(
        compute_scores(ds.labels[public], preds[public])["accuracy"]
    )
    assert sub.private_score == pytest.approx(
        compute_scores(ds.labels[private], preds[private])["accuracy"]
    )
    overall = sub.result["accuracy"]
    weighted = (sub.public_score * len(public) + sub.private_score * len(private)) / len(preds)
    assert overall == pytest.approx(weighted)

    page = client.get(reverse("competitions:submission", args=[sub.pk])).content.decode()
    assert "scored" in page and f"{sub.public_score:.4f}" in page
    assert f"{sub.private_score:.4f}" not in page  # private hidden until close
    assert "Confusion matrix" in page and "Model summary" in page
    board = client.get(
        reverse("competitions:leaderboard", args=[competition.slug])
    ).content.decode()
    assert 'data-name="alice"' in board and f"{sub.public_score:.4f}" in board


def test_redelivered_message_never_grades_twice(users, competition, models, celery_worker):
    sub = submission_create(
        user=users["bob"], competition=competition, upload=upload(models["weak"])
    )
    grade_submission.apply_async(args=[str(sub.pk)], queue="cpu")  # a duplicate delivery
    grade_submission.apply_async(args=[str(sub.pk)], queue="cpu")
    sub = wait_done(sub.pk)
    assert sub.status == "scored" and sub.attempts == 1
    assert sub.log.count("started on") == 1


def test_lost_worker_is_retried_by_the_sweeper(users, competition, models, celery_worker, settings):
    import datetime as dt

    from django.utils import timezone

    sub = submission_create(
        user=users["bob"], competition=competition, upload=upload(models["weak"])
    )
    sub = wait_done(sub.pk)
    # Simulate a worker that died mid-run during a rescore: running, attempt 1, long ago.
    long_ago = timezone.now() - dt.timedelta(hours=3)
    Submission.objects.filter(pk=sub.pk).update(
        status="running", attempts=1, started_at=long_ago, public_score=None
    )
    assert submissions_sweep()["retried"] == 1
    sub = wait_done(sub.pk)
    assert sub.status == "scored" and sub.attempts == 2 and sub.public_score is not None
    assert "lost" in sub.log

    # At the last attempt the sweeper gives up and says why (without using the quota).
    Submission.objects.filter(pk=sub.pk).update(
        status="running", attempts=settings.PODIUM_MAX_ATTEMPTS, started_at=long_ago
    )
    assert submissions_sweep()["failed"] == 1
    sub.refresh_from_db()
    assert sub.status == "failed" and sub.error_code == "worker_lost"
    assert "interrupted" in sub.error_message and not sub.counts_toward_quota


def test_queued_while_broker_was_down_is_sent_again(users, competition, models, celery_worker):
    import datetime as dt

    from django.utils import timezone

    sub = submission_create(
        user=users["bob"], competition=competition, upload=upload(models["weak"])
    )
    sub = wait_done(sub.pk)
    # As if the message had been lost on the way: queued, sent long ago, never claimed.
    long_ago = timezone.now() - dt.timedelta(hours=1)
    Submission.objects.filter(pk=sub.pk).update(
        status="queued", attempts=0, enqueued_at=long_ago, dispatched_at=long_ago
    )
    assert submissions_sweep()["requeued"] == 1
    sub = wait_done(sub.pk)
    assert sub.status == "scored" and sub.attempts == 1


def test_rescore_scores_the_same_again(users, competition, models, celery_worker):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    first = wait_done(sub.pk).public_score
    assert submission_rescore(submission=sub)
    again = wait_done(sub.pk)
    assert again.status == "scored" and again.public_score == pytest.approx(first)
    assert again.attempts == 1  # a rescore starts a fresh grading, not a retry


def test_failure_found_only_when_run_is_reported_with_its_code(
    users, competition, mnist_train, celery_worker
):
    """NaN weights pass the upload check (the file is well formed) and fail in the worker."""
    w, b = fit_logreg(mnist_train.images[:1000], mnist_train.labels[:1000], 3)
    w[:, 3] = np.nan
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(logreg_onnx(w, b))
    )
    done = wait_done(sub.pk)
    assert done.status == "failed" and done.error_code == "non_finite", done.error_message
    assert "NaN" in done.error_message
    assert done.public_score is None
    assert done.counts_toward_quota  # the model's own fault, unlike a lost worker
