"""A grading runs with the threads the deployment gives it (PODIUM_GRADER_THREADS: a machine's
cores over its grading slots), and a grading under a second writes no progress on the way (each
write is a commit and an event that makes open pages fetch their status, taking CPU from the
model)."""

from __future__ import annotations

import pytest

from competitions import events
from competitions.services import grading
from competitions.services.grading import submission_grade
from competitions.services.submissions import submission_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db


def test_the_engine_gets_the_configured_threads(users, competition, models, settings, monkeypatch):
    settings.PODIUM_GRADER_THREADS = 1
    seen = []
    engine = grading.grade

    def spy(*args, **kwargs):
        seen.append(kwargs["limits"].threads)
        return engine(*args, **kwargs)

    monkeypatch.setattr(grading, "grade", spy)
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert submission_grade(submission_id=sub.pk) == "scored"
    assert seen == [1]


def test_a_fast_grading_publishes_claim_and_result_only(
    users, competition, models, monkeypatch, django_capture_on_commit_callbacks
):
    published: list[str] = []
    monkeypatch.setattr(events, "_publish", lambda channels: published.extend(channels))
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert submission_grade(submission_id=sub.pk) == "scored"
    # The claim and the result; no progress write between them.
    assert published.count(events.channel_submission(sub.pk)) == 2
