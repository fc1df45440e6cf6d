"""In-process helpers for the Django test suite: uploads as Django sees them, waiting on real grading."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from testsupport.procs import wait_for


def upload(data: bytes, name: str = "model.onnx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def wait_done(submission_id: Any, timeout: float = 60.0) -> Any:
    """The submission once its grading (by the real worker) has finished."""
    from competitions.models import Submission

    def done() -> Submission | None:
        s = Submission.objects.get(pk=submission_id)
        return s if s.is_done else None

    return wait_for(done, timeout, f"submission {submission_id} to be graded")
