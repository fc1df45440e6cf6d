"""A grading runs with the threads the deployment gives it (PODIUM_GRADER_THREADS: a machine's
cores over its grading slots)."""

from __future__ import annotations

import pytest

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
