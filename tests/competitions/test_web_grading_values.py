"""Values from an untrusted model that the database cannot store never leave a submission
running: they are cleaned before the final write, and a write the database still refuses fails
the submission with the reason (not `worker_lost` after three attempts)."""

from __future__ import annotations

import json

import onnx
import pytest
from django.db import DataError

from competitions.models import Submission
from competitions.services import grading
from competitions.services.grading import submission_grade
from competitions.services.submissions import submission_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db


def _with_nul_names(data: bytes) -> bytes:
    model = onnx.load_from_string(data)
    for i, node in enumerate(model.graph.node):
        node.name = f"layer\x00{i}"
    onnx.helper.set_model_props(model, {"author": "me\x00you"})
    return model.SerializeToString()


def test_nul_characters_in_a_models_names_are_stored_without_them(users, competition, models):
    data = _with_nul_names(models["good"])
    sub = submission_create(user=users["alice"], competition=competition, upload=upload(data))
    assert submission_grade(submission_id=sub.pk) == "scored"
    sub.refresh_from_db()
    stored = json.dumps(sub.result)
    assert "\\u0000" not in stored and "\x00" not in stored
    assert any(row["layer"].startswith("layer") for row in sub.result["summary"])


def test_a_result_the_database_refuses_fails_the_submission_with_the_reason(
    users, competition, models, monkeypatch
):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )

    def refuse(**kw):
        raise DataError("unsupported Unicode escape sequence")

    monkeypatch.setattr(grading, "_write_result", refuse)
    assert submission_grade(submission_id=sub.pk) == "failed"
    sub = Submission.objects.get(pk=sub.pk)
    assert sub.status == "failed" and sub.error_code == "result_unstorable"
    assert "unsupported Unicode escape" in sub.error_message
    assert not sub.counts_toward_quota  # the platform's failure, not the student's
